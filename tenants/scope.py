"""TenantScope: the one place that decides what a caller may see or write.

Every query and write path asks it; nothing else in the platform compares tenant ids.
Raw data (series, dashboards of one enterprise) and aggregates (KPIs pooled over
several enterprises) are separate permissions: the economic bureau sees aggregates only,
an industry cloud's operator sees its members' aggregates and a member's own dashboards
only when that member grants it.

An outside service team (an equipment maker or maintenance contractor serving many
tenants) sees and works a tenant exactly as that tenant's own service engineers do, but
only while the tenant grants the team (a ``ServiceTeamGrant`` row); a revoked grant takes
effect on the next request, since every request asks here.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from tenants.models import ServiceTeamGrant, Tenant
from tenants.roles import Role


class ScopeError(Exception):
    """The caller may not do this; the message says what is refused (never whose data)."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: a signed-in user, or an edge agent holding a token."""

    name: str
    role: Role | None = None  # None for an agent
    tenant_id: int | None = None
    industry_cloud_id: int | None = None
    agent_site: str | None = None
    agent_token_id: int | None = None  # which token, for the agent registry
    service_team_id: int | None = None  # a service engineer of an outside team

    @property
    def is_agent(self) -> bool:
        return self.role is None

    @property
    def is_service_team(self) -> bool:
        """A service engineer of an outside team, not of one tenant."""
        return self.role is Role.SERVICE_ENGINEER and self.service_team_id is not None


class TenantScope:
    def __init__(self, session: Session, principal: Principal) -> None:
        self.session = session
        self.principal = principal

    def _tenant(self, tenant_id: int) -> Tenant:
        tenant = self.session.get(Tenant, tenant_id)
        if tenant is None:
            raise ScopeError("no such tenant")
        return tenant

    def can_read_raw(self, tenant_id: int) -> bool:
        p = self.principal
        if p.is_agent or p.role is Role.BUREAU_ANALYST:
            return False
        if p.role is Role.PLATFORM_ADMIN:
            return True
        if p.role is Role.INDUSTRY_OPERATOR:
            tenant = self._tenant(tenant_id)
            return (
                tenant.industry_cloud_id == p.industry_cloud_id
                and tenant.grants_operator_dashboards
            )
        if p.is_service_team:
            return self._granted_to_team(tenant_id)
        return p.tenant_id == tenant_id

    def can_read_aggregates(self, tenant_id: int) -> bool:
        p = self.principal
        if p.role in (Role.PLATFORM_ADMIN, Role.BUREAU_ANALYST):
            return True
        if p.role is Role.INDUSTRY_OPERATOR:
            return self._tenant(tenant_id).industry_cloud_id == p.industry_cloud_id
        return self.can_read_raw(tenant_id)

    def can_read_region_aggregates(self) -> bool:
        """The bureau's figures over every enterprise (groups of at least k, never one
        enterprise): the bureau analyst's own view, and the platform admin's."""
        return self.principal.role in (Role.PLATFORM_ADMIN, Role.BUREAU_ANALYST)

    def can_write(self, tenant_id: int, site: str) -> bool:
        """Only an agent writes points, and only into its own tenant and site."""
        p = self.principal
        return p.is_agent and p.tenant_id == tenant_id and p.agent_site == site

    def can_manage(self, tenant_id: int) -> bool:
        """Users, agent tokens and settings of a tenant."""
        p = self.principal
        return p.role is Role.PLATFORM_ADMIN or (
            p.role is Role.TENANT_ADMIN and p.tenant_id == tenant_id
        )

    def can_read_usage(self, tenant_id: int) -> bool:
        """How much of its plan's quotas a tenant uses: its own people (who plan its
        series, agents and users; reading changes nothing) and platform admins. Not the
        industry cloud's operator nor a granted service team: they may see its data, not
        its account."""
        p = self.principal
        if p.role is Role.PLATFORM_ADMIN:
            return True
        return (
            p.role is not None
            and p.role.belongs_to_tenant
            and not p.is_service_team
            and p.tenant_id == tenant_id
        )

    def can_operate_industry_cloud(self, industry_cloud_id: int) -> bool:
        """Change what an industry cloud carries for its members (its templates): its
        operators and platform admins."""
        p = self.principal
        return p.role is Role.PLATFORM_ADMIN or (
            p.role is Role.INDUSTRY_OPERATOR and p.industry_cloud_id == industry_cloud_id
        )

    def can_read_industry_cloud(self, industry_cloud_id: int) -> bool:
        """See what an industry cloud carries for its members (its templates, none of
        their data): who operates it, and the people of its member tenants."""
        if self.can_operate_industry_cloud(industry_cloud_id):
            return True
        p = self.principal
        if p.role is None or not p.role.belongs_to_tenant or p.tenant_id is None:
            return False  # agents, service teams and the bureau belong to no member
        tenant = self.session.get(Tenant, p.tenant_id)
        return tenant is not None and tenant.industry_cloud_id == industry_cloud_id

    def can_service(self, tenant_id: int) -> bool:
        """Work a tenant's maintenance alerts and work orders: its service engineers, and
        the engineers of a service team it grants."""
        p = self.principal
        if p.is_service_team:
            return self._granted_to_team(tenant_id)
        return p.role is Role.SERVICE_ENGINEER and p.tenant_id == tenant_id

    def can_start_job(self, tenant_id: int, roles: Collection[Role]) -> bool:
        """Start or cancel a tenant's job of a kind open to ``roles``: platform admins; the
        tenant's people in those roles; a granted service team's engineers where the kind
        is open to service engineers (they service the tenant as its own would)."""
        p = self.principal
        if p.role is Role.PLATFORM_ADMIN:
            return True
        if p.role not in roles:
            return False
        if p.tenant_id == tenant_id:
            return True
        return p.role is Role.SERVICE_ENGINEER and self.can_service(tenant_id)

    def _granted_to_team(self, tenant_id: int) -> bool:
        grant = self.session.scalar(
            select(ServiceTeamGrant.id).where(
                ServiceTeamGrant.tenant_id == tenant_id,
                ServiceTeamGrant.service_team_id == self.principal.service_team_id,
            )
        )
        return grant is not None

    def service_team_tenant_ids(self) -> list[int]:
        """The tenants that grant the caller's service team, for its fleet view; none for
        anyone else (the fleet is a team's view, not a listing of everything one may
        read)."""
        if not self.principal.is_service_team:
            return []
        return list(
            self.session.scalars(
                select(ServiceTeamGrant.tenant_id)
                .where(ServiceTeamGrant.service_team_id == self.principal.service_team_id)
                .order_by(ServiceTeamGrant.tenant_id)
            )
        )

    def raw_tenant_ids(self) -> list[int]:
        """Every tenant whose raw data this caller may read, for listings."""
        ids = self.session.scalars(select(Tenant.id).order_by(Tenant.id)).all()
        return [tenant_id for tenant_id in ids if self.can_read_raw(tenant_id)]

    def require(self, allowed: bool, what: str) -> None:
        if not allowed:
            raise ScopeError(f"not allowed: {what}")
