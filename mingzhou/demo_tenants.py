"""The demo's enterprises, people and agent tokens, created in the metadata store.

Idempotent, so ``make demo`` can be stopped and started on the same folder: what exists
is kept, and each start issues fresh agent tokens (a token is shown only once, so the
previous run's are revoked rather than recovered).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mingzhou.demo_cloud_templates import seed_cloud_templates
from protocols.simulators.plants import Plant, Point
from tenants.agent_tokens import create_agent_token, revoke_agent_token
from tenants.asset_addressing import ModbusConnection, OpcUaConnection
from tenants.asset_onboarding import (
    AssetOnboarding,
    AssetPatch,
    find_asset,
    onboard_asset,
    update_asset,
)
from tenants.asset_templates import AssetTemplate, shipped_templates
from tenants.models import AgentToken, IndustryCloud, ServiceTeam, Tenant, User
from tenants.onboarding import (
    create_industry_cloud,
    create_service_team,
    create_tenant,
    create_user,
)
from tenants.roles import Role
from tenants.service_teams import grant

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
# An outside service team, granted by two of the three factories: its fleet page shows
# those two and never the third.
SERVICE_TEAM = ("mingzhou-service", "Mingzhou Equipment Service 明州设备服务")
SERVICE_TEAM_EMAIL = "engineer@mingzhou-service.demo"
SERVICE_TEAM_INDUSTRIES = ("mold", "petrochem")


@dataclass(frozen=True)
class DemoTenant:
    industry: str
    key: str
    name: str
    token: str


def seed(
    session: Session,
    plants: dict[str, tuple[str, str]],
    plc_addresses: dict[str, tuple[str, int]] | None = None,
) -> list[DemoTenant]:
    """``plants``: industry -> (site key, display name). Returns tenants with fresh tokens.

    ``plc_addresses``: industry -> (host, port) of its simulated PLC; each plant's
    machines are then onboarded into its tenant's asset model from their templates.
    """
    result = []
    for industry, (site, name) in plants.items():
        cloud_key, cloud_name, district = INDUSTRY_CLOUDS[industry]
        cloud = session.scalar(select(IndustryCloud).where(IndustryCloud.key == cloud_key))
        if cloud is None:
            cloud = create_industry_cloud(session, cloud_key, cloud_name, ACTOR)
        seed_cloud_templates(session, cloud, ACTOR)
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
        # Token names are unique per tenant, revoked ones included: number each start's.
        runs = session.scalar(select(func.count()).where(AgentToken.tenant_id == tenant.id))
        token_name = f"{site}-edge" + (f"-{runs + 1}" if runs else "")
        issued = create_agent_token(session, tenant.id, site, token_name, None, ACTOR)
        if plc_addresses and industry in plc_addresses:
            from protocols.simulators import PLANTS

            host, port = plc_addresses[industry]
            onboard_plant_assets(session, tenant, PLANTS[industry], host, port, district)
        result.append(DemoTenant(industry, site, name, issued.token))
    _user(session, "bureau@mingzhou.demo", Role.BUREAU_ANALYST)
    _service_team(session, result)
    return result


def _service_team(session: Session, tenants: list[DemoTenant]) -> None:
    key, name = SERVICE_TEAM
    team = session.scalar(select(ServiceTeam).where(ServiceTeam.key == key))
    if team is None:
        team = create_service_team(session, key, name, ACTOR)
    if session.scalar(select(User).where(User.email == SERVICE_TEAM_EMAIL)) is None:
        create_user(
            session, SERVICE_TEAM_EMAIL, DEMO_PASSWORD, Role.SERVICE_ENGINEER, ACTOR,
            service_team=team,
        )  # fmt: skip
    for demo in tenants:
        if demo.industry in SERVICE_TEAM_INDUSTRIES:
            tenant = session.scalar(select(Tenant).where(Tenant.key == demo.key))
            grant(session, tenant, key, ACTOR)  # granting again changes nothing


def plant_onboardings(
    plant: Plant, host: str, port: int, district: str | None = None
) -> list[AssetOnboarding]:
    """One onboarding request per machine of a simulated plant, each from the template
    whose tags are exactly the machine's; its address is read off the plant's points.

    A point that its template would address differently is a ValueError: the templates
    must describe the simulators, or the demo's agents and asset model disagree.
    """
    templates = shipped_templates()
    by_asset: dict[str, list[Point]] = {}
    for point in plant.points:
        by_asset.setdefault(point.asset, []).append(point)
    requests = []
    for asset, points in by_asset.items():
        tags = {p.tag for p in points}
        template = next((t for t in templates.values() if {x.key for x in t.tags} == tags), None)
        if template is None:
            raise ValueError(f"{plant.key}: no template has exactly the tags of {asset}: {tags}")
        if plant.protocol == "opcua":
            address: OpcUaConnection | ModbusConnection = OpcUaConnection(
                protocol="opcua",
                endpoint=f"opc.tcp://{host}:{port}",
                node_prefix=_one_base(plant, asset, [_node_prefix(template, p) for p in points]),
            )
        else:
            address = ModbusConnection(
                protocol="modbus",
                host=host,
                port=port,
                unit_id=plant.unit_id,
                base_register=_one_base(
                    plant, asset, [_base_register(template, p) for p in points]
                ),
            )
        requests.append(
            AssetOnboarding(
                site=plant.site,
                site_name=plant.display_name,
                district=district,
                line=points[0].line,
                asset=asset,
                template=template.key,
                address=address,
            )
        )
    return requests


def _one_base(plant: Plant, asset: str, bases: list) -> Any:
    if len(set(bases)) != 1:
        raise ValueError(f"{plant.key}: the tags of {asset} do not share one base: {bases}")
    return bases[0]


def _node_prefix(template: AssetTemplate, point: Point) -> str:
    spec = template.tag(point.tag)
    browse = spec.opcua.browse_name if spec and spec.opcua else None
    if not browse or not point.node_id or not point.node_id.endswith(browse):
        raise ValueError(
            f"{template.key}.{point.tag}: node {point.node_id} is not <prefix>{browse}"
        )
    return point.node_id.removesuffix(browse)


def _base_register(template: AssetTemplate, point: Point) -> int:
    spec = template.tag(point.tag)
    modbus = spec.modbus if spec else None
    if modbus is None or point.address is None:
        raise ValueError(f"{template.key}.{point.tag}: no Modbus address to compare")
    wanted = (point.table, point.data_type, point.word_order, point.scale, point.offset)
    given = (modbus.table, modbus.type, modbus.word_order, modbus.scale, modbus.offset)
    if wanted != given:
        raise ValueError(f"{template.key}.{point.tag}: template has {given}, plant has {wanted}")
    return point.address - modbus.register_offset


def onboard_plant_assets(
    session: Session, tenant: Tenant, plant: Plant, host: str, port: int, district: str | None
) -> None:
    """Onboard the plant's machines; on a later start only their address follows the
    simulator's port (what people changed in the model stays)."""
    for request in plant_onboardings(plant, host, port, district):
        existing = find_asset(session, tenant.id, request.site, request.line, request.asset)
        if existing is None:
            onboard_asset(session, tenant, request, ACTOR)
        elif request.address and existing.connection != request.address.model_dump():
            update_asset(session, tenant, existing, AssetPatch(address=request.address), ACTOR)


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
        f"  {'service team (fleet)':<26} {SERVICE_TEAM_EMAIL}",
        f"  {'bureau analyst':<26} bureau@mingzhou.demo",
        f"  every password: {DEMO_PASSWORD}",
    ]
    return rows
