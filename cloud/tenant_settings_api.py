"""``/api/tenants/{key}/settings``: what a tenant's admin decides for the whole tenant.

``unknown_tags``: whether ingestion accepts series missing from the asset model (and
reports them) or refuses them; ``grants_operator_dashboards``: whether the industry
cloud's operator may open this tenant's own dashboards and asset model.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, ConfigDict

from cloud.principals import DbSession, Scope, readable_tenant, require_person
from tenants.models import AuditEvent, Tenant
from tenants.scope import Principal

router = APIRouter(prefix="/api/tenants/{key}/settings", tags=["tenants"])
Person = Annotated[Principal, Depends(require_person)]


class TenantSettings(BaseModel):
    unknown_tags: Literal["accept", "reject"]
    grants_operator_dashboards: bool


class TenantSettingsPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    unknown_tags: Literal["accept", "reject"] | None = None
    grants_operator_dashboards: bool | None = None


def _managed(session: DbSession, key: str, scope: Scope) -> Tenant:
    tenant = readable_tenant(session, key, scope, "that you manage")
    if not scope.can_manage(tenant.id):
        raise HTTPException(403, "only the tenant's admin or a platform admin changes settings")
    return tenant


def _settings(tenant: Tenant) -> TenantSettings:
    return TenantSettings(
        unknown_tags=tenant.unknown_tags,  # type: ignore[arg-type]
        grants_operator_dashboards=tenant.grants_operator_dashboards,
    )


@router.get("", response_model=TenantSettings)
def get_settings(key: str, session: DbSession, scope: Scope, caller: Person) -> TenantSettings:
    return _settings(_managed(session, key, scope))


@router.patch("", response_model=TenantSettings)
def change_settings(
    key: str, body: TenantSettingsPatch, session: DbSession, scope: Scope, caller: Person
) -> TenantSettings:
    """Only the fields sent change; each change is in the audit log."""
    tenant = _managed(session, key, scope)
    changes = {}
    for field in body.model_fields_set:
        value = getattr(body, field)
        if value is None:
            raise HTTPException(
                422,
                [{"loc": ["body", field], "msg": "must not be null", "type": "value_error"}],
            )
        if getattr(tenant, field) != value:
            changes[field] = {"from": getattr(tenant, field), "to": value}
            setattr(tenant, field, value)
    if changes:
        session.add(
            AuditEvent(
                actor=caller.name, tenant_id=tenant.id, action="tenant.settings", detail=changes
            )
        )
    return _settings(tenant)
