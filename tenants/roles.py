"""The roles of the platform and what each may do."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    PLATFORM_ADMIN = "platform_admin"
    INDUSTRY_OPERATOR = "industry_operator"
    TENANT_ADMIN = "tenant_admin"
    PLANT_MANAGER = "plant_manager"
    SERVICE_ENGINEER = "service_engineer"
    BUREAU_ANALYST = "bureau_analyst"

    @property
    def belongs_to_tenant(self) -> bool:
        """Roles inside one enterprise; the others look across enterprises."""
        return self in (Role.TENANT_ADMIN, Role.PLANT_MANAGER, Role.SERVICE_ENGINEER)
