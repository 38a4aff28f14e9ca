"""``GET /api/service/fleet``: a service team's fleet across the tenants that grant it.

For each granting tenant its health (worst open risk, shortest remaining life with its
interval, scored machines by risk band, open alerts and work orders), each machine with
something open, every open prediction ranked by risk then remaining life with its
evidence, and the open work orders; each row links to the tenant's service page.

Only engineers of a service team have a fleet (403 for anyone else); which tenants are in
it is TenantScope's ``service_team_tenant_ids``, so a tenant that never granted the team,
or revoked its grant, is not there (and its pages answer 404, as for no tenant at all).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.principals import DbSession, Scope
from maintenance.fleet import Fleet, TenantHealth, load_fleet
from maintenance.prediction_models import Prediction
from tenants.models import ServiceTeam, Tenant
from tenants.scope import TenantScope

router = APIRouter(tags=["service teams"])


@dataclass
class TeamFleet:
    team: ServiceTeam
    tenants: dict[int, Tenant]  # id -> tenant, by name
    fleet: Fleet

    def tenant(self, tenant_id: int) -> Tenant:
        return self.tenants[tenant_id]


def team_fleet(session: Session, scope: TenantScope) -> TeamFleet:
    """The caller's team and its fleet; 403 for anyone who is not a service team's."""
    caller = scope.principal
    team = session.get(ServiceTeam, caller.service_team_id) if caller.is_service_team else None
    if team is None:
        raise HTTPException(403, "only the engineers of a service team have a fleet view")
    ids = scope.service_team_tenant_ids()
    rows = session.scalars(select(Tenant).where(Tenant.id.in_(ids)).order_by(Tenant.name)).all()
    tenants = {row.id: row for row in rows}
    return TeamFleet(team, tenants, load_fleet(session, list(tenants)))


def service_page_path(tenant: Tenant) -> str:
    return f"/t/{tenant.key}/service"


class TeamOut(BaseModel):
    key: str
    name: str


class TenantHealthOut(BaseModel):
    key: str
    name: str
    service_page: str
    worst_risk: float | None
    worst_asset: str | None
    shortest_rul_hours: float | None
    shortest_rul_low_hours: float | None
    shortest_rul_high_hours: float | None
    shortest_rul_asset: str | None
    assets_scored: int
    at_risk: int
    watch: int
    healthy: int
    open_alerts: int
    open_work_orders: int
    last_scored: datetime | None


class AssetHealthOut(BaseModel):
    tenant: str
    site: str
    line: str
    asset: str
    asset_type: str
    risk: float | None
    failure_kind: str | None
    rul_hours: float | None
    rul_low_hours: float | None
    rul_high_hours: float | None
    open_alerts: int
    open_work_orders: int
    service_page: str


class FleetPredictionOut(BaseModel):
    rank: int
    tenant: str
    tenant_name: str
    site: str
    line: str
    asset: str
    asset_type: str
    failure_kind: str
    risk: float
    rul_hours: float | None
    rul_low_hours: float | None
    rul_high_hours: float | None
    # [{"signal", "feature", "deviation", "share", "drifting_since"}], largest share first
    evidence: list[dict[str, Any]]
    made_at: datetime
    service_page: str


class FleetWorkOrderOut(BaseModel):
    tenant: str
    id: int
    site: str
    line: str
    asset: str
    asset_type: str
    status: str
    scheduled_for: str | None
    alert_id: int | None
    created_at: datetime


class FleetOut(BaseModel):
    team: TeamOut
    generated_at: datetime
    tenants: list[TenantHealthOut]
    assets: list[AssetHealthOut]
    predictions: list[FleetPredictionOut]
    work_orders: list[FleetWorkOrderOut]


def tenant_health_out(tenant: Tenant, health: TenantHealth) -> TenantHealthOut:
    worst, shortest = health.worst, health.shortest_life
    made = [p.made_at for p in health.predictions]
    return TenantHealthOut(
        key=tenant.key,
        name=tenant.name,
        service_page=service_page_path(tenant),
        worst_risk=None if worst is None else worst.risk,
        worst_asset=None if worst is None else worst.asset,
        shortest_rul_hours=None if shortest is None else shortest.rul_hours,
        shortest_rul_low_hours=None if shortest is None else shortest.rul_low_hours,
        shortest_rul_high_hours=None if shortest is None else shortest.rul_high_hours,
        shortest_rul_asset=None if shortest is None else shortest.asset,
        assets_scored=sum(1 for a in health.assets if a.worst is not None),
        at_risk=health.scored_in("bad"),
        watch=health.scored_in("warn"),
        healthy=health.scored_in("ok"),
        open_alerts=len(health.alerts),
        open_work_orders=len(health.work_orders),
        last_scored=max(made) if made else None,
    )


def _evidence(p: Prediction) -> list[dict[str, Any]]:
    return sorted(p.evidence or [], key=lambda e: -float(e.get("share") or 0.0))


@router.get("/api/service/fleet", response_model=FleetOut)
def fleet(session: DbSession, scope: Scope) -> FleetOut:
    view = team_fleet(session, scope)
    tenants = [
        tenant_health_out(view.tenant(tenant_id), health)
        for tenant_id, health in view.fleet.tenants.items()
    ]
    assets = [
        AssetHealthOut(
            tenant=view.tenant(a.tenant_id).key,
            site=a.site,
            line=a.line,
            asset=a.asset,
            asset_type=a.asset_type,
            risk=None if a.worst is None else a.worst.risk,
            failure_kind=None if a.worst is None else a.worst.failure_kind,
            rul_hours=None if a.worst is None else a.worst.rul_hours,
            rul_low_hours=None if a.worst is None else a.worst.rul_low_hours,
            rul_high_hours=None if a.worst is None else a.worst.rul_high_hours,
            open_alerts=a.open_alerts,
            open_work_orders=a.open_work_orders,
            service_page=service_page_path(view.tenant(a.tenant_id)),
        )
        for a in view.fleet.assets
    ]
    predictions = [
        FleetPredictionOut(
            rank=rank,
            tenant=view.tenant(p.tenant_id).key,
            tenant_name=view.tenant(p.tenant_id).name,
            site=p.site,
            line=p.line,
            asset=p.asset,
            asset_type=p.asset_type,
            failure_kind=p.failure_kind,
            risk=p.risk,
            rul_hours=p.rul_hours,
            rul_low_hours=p.rul_low_hours,
            rul_high_hours=p.rul_high_hours,
            evidence=_evidence(p),
            made_at=p.made_at,
            service_page=service_page_path(view.tenant(p.tenant_id)),
        )
        for rank, p in enumerate(view.fleet.predictions, start=1)
    ]
    orders = [
        FleetWorkOrderOut(
            tenant=view.tenant(w.tenant_id).key,
            id=w.id,
            site=w.site,
            line=w.line,
            asset=w.asset,
            asset_type=w.asset_type,
            status=w.status,
            scheduled_for=w.scheduled_for.isoformat() if w.scheduled_for else None,
            alert_id=w.alert_id,
            created_at=w.created_at,
        )
        for w in view.fleet.work_orders
    ]
    return FleetOut(
        team=TeamOut(key=view.team.key, name=view.team.name),
        generated_at=datetime.now(UTC),
        tenants=tenants,
        assets=assets,
        predictions=predictions,
        work_orders=orders,
    )
