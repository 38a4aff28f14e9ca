"""The demo's enterprises, people and agent tokens, created in the metadata store.

Idempotent, so ``make demo`` can be stopped and started on the same folder: what exists
is kept, and each start issues fresh agent tokens (a token is shown only once, so the
previous run's are revoked rather than recovered).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from tenants.agent_tokens import create_agent_token, revoke_agent_token
from tenants.models import AgentToken, IndustryCloud, Tenant, User
from tenants.onboarding import create_industry_cloud, create_tenant, create_user
from tenants.roles import Role

DEMO_PASSWORD = "mingzhou-demo"
ADMIN_EMAIL = "admin@mingzhou.demo"
ACTOR = "make demo"

# industry -> (industry cloud key, its name, district of the demo factory)
INDUSTRY_CLOUDS = {
    "mold": ("mold-cloud", "Mold-making industry cloud 模具云", "Beilun"),
    "appliance": ("appliance-cloud", "Home-appliance industry cloud 家电云", "Cixi"),
    "petrochem": ("petrochem-cloud", "Petrochemical industry cloud 石化云", "Zhenhai"),
}
TENANT_ROLES = (Role.TENANT_ADMIN, Role.PLANT_MANAGER, Role.SERVICE_ENGINEER)


@dataclass(frozen=True)
class DemoTenant:
    industry: str
    key: str
    name: str
    token: str


def seed(session: Session, plants: dict[str, tuple[str, str]]) -> list[DemoTenant]:
    """``plants``: industry -> (site key, display name). Returns tenants with fresh tokens."""
    result = []
    for industry, (site, name) in plants.items():
        cloud_key, cloud_name, district = INDUSTRY_CLOUDS[industry]
        cloud = session.scalar(select(IndustryCloud).where(IndustryCloud.key == cloud_key))
        if cloud is None:
            cloud = create_industry_cloud(session, cloud_key, cloud_name, ACTOR)
        tenant = session.scalar(select(Tenant).where(Tenant.key == site))
        if tenant is None:
            tenant = create_tenant(session, site, name, "standard", ACTOR, cloud, district)
        for role in TENANT_ROLES:
            _user(session, f"{role.value.replace('_', '-')}@{site}.demo", role, tenant=tenant)
        _user(session, f"operator@{cloud_key}.demo", Role.INDUSTRY_OPERATOR, cloud=cloud)
        for old in session.scalars(
            select(AgentToken).where(
                AgentToken.tenant_id == tenant.id, AgentToken.revoked_at.is_(None)
            )
        ):
            revoke_agent_token(session, tenant.id, old.id, ACTOR)
        issued = create_agent_token(session, tenant.id, site, f"{site}-edge", None, ACTOR)
        result.append(DemoTenant(industry, site, name, issued.token))
    _user(session, "bureau@mingzhou.demo", Role.BUREAU_ANALYST)
    return result


def _user(
    session: Session,
    email: str,
    role: Role,
    tenant: Tenant | None = None,
    cloud: IndustryCloud | None = None,
) -> None:
    if session.scalar(select(User).where(User.email == email)) is None:
        create_user(session, email, DEMO_PASSWORD, role, ACTOR, tenant, cloud)


def sign_in_table(tenants: list[DemoTenant]) -> list[str]:
    """Who can sign in with what, for the demo's banner."""
    rows = [f"  {'platform admin':<26} {ADMIN_EMAIL}"]
    for tenant in tenants:
        rows.append(f"  {'plant manager':<26} plant-manager@{tenant.key}.demo")
    rows += [
        f"  {'tenant admin, service eng.':<26} tenant-admin@… and service-engineer@… of each",
        f"  {'industry-cloud operator':<26} operator@mold-cloud.demo (and the other clouds)",
        f"  {'bureau analyst':<26} bureau@mingzhou.demo",
        f"  every password: {DEMO_PASSWORD}",
    ]
    return rows
