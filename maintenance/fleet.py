"""The health of a service team's fleet: every asset with something open (a prediction,
an alert, a work order) across the tenants the caller chose, in three queries however
many tenants there are.

Which tenants is not decided here: the caller passes the ones TenantScope lets it see.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from maintenance.alert_models import Alert, AlertStatus
from maintenance.prediction_models import Prediction
from maintenance.scoring import prediction_rank
from maintenance.work_order_models import WorkOrder, WorkOrderStatus

# The bands a risk is shown in: worth a visit soon, worth watching, healthy. The default
# alert threshold of a service contract is the upper one.
RISK_HIGH = 0.7
RISK_WATCH = 0.4


def risk_band(risk: float) -> str:
    """``bad`` (≥ 70 %), ``warn`` (≥ 40 %) or ``ok``: the CSS class and legend of a risk."""
    return "bad" if risk >= RISK_HIGH else "warn" if risk >= RISK_WATCH else "ok"


AssetKey = tuple[int, str, str, str]  # tenant id, site, line, asset


@dataclass
class AssetHealth:
    """One asset: its riskiest open prediction (None when not scored) and what is open."""

    tenant_id: int
    site: str
    line: str
    asset: str
    asset_type: str
    worst: Prediction | None = None
    open_alerts: int = 0
    open_work_orders: int = 0

    @property
    def key(self) -> AssetKey:
        return (self.tenant_id, self.site, self.line, self.asset)


@dataclass
class TenantHealth:
    tenant_id: int
    assets: list[AssetHealth] = field(default_factory=list)
    predictions: list[Prediction] = field(default_factory=list)  # ranked
    alerts: list[Alert] = field(default_factory=list)  # not closed
    work_orders: list[WorkOrder] = field(default_factory=list)  # not done, newest first

    @property
    def worst(self) -> Prediction | None:
        return self.predictions[0] if self.predictions else None

    @property
    def shortest_life(self) -> Prediction | None:
        """The prediction with the least remaining life, whatever its risk."""
        with_life = [p for p in self.predictions if p.rul_hours is not None]
        return min(with_life, key=lambda p: p.rul_hours) if with_life else None

    def scored_in(self, band: str) -> int:
        """How many scored assets have their worst risk in ``band``."""
        return sum(
            1 for a in self.assets if a.worst is not None and risk_band(a.worst.risk) == band
        )


@dataclass
class Fleet:
    tenants: dict[int, TenantHealth]  # in the order asked for

    @property
    def predictions(self) -> list[Prediction]:
        """Every open prediction of the fleet, ranked as on a tenant's page."""
        rows = [p for health in self.tenants.values() for p in health.predictions]
        return sorted(rows, key=lambda p: (*prediction_rank(p), p.tenant_id))

    @property
    def assets(self) -> list[AssetHealth]:
        """Scored assets by their worst prediction's rank, then the unscored ones."""
        rows = [a for health in self.tenants.values() for a in health.assets]
        scored = sorted(
            (a for a in rows if a.worst is not None),
            key=lambda a: (*prediction_rank(a.worst), a.tenant_id),  # type: ignore[arg-type]
        )
        unscored = sorted((a for a in rows if a.worst is None), key=lambda a: a.key)
        return scored + unscored

    @property
    def work_orders(self) -> list[WorkOrder]:
        rows = [w for health in self.tenants.values() for w in health.work_orders]
        return sorted(rows, key=lambda w: w.created_at, reverse=True)


def load_fleet(session: Session, tenant_ids: Sequence[int]) -> Fleet:
    """The open predictions, alerts and work orders of ``tenant_ids``, grouped by asset."""
    fleet = Fleet({tenant_id: TenantHealth(tenant_id) for tenant_id in tenant_ids})
    if not tenant_ids:
        return fleet
    ids = list(tenant_ids)
    assets: dict[AssetKey, AssetHealth] = {}

    def asset_of(row: Prediction | Alert | WorkOrder) -> AssetHealth:
        key = (row.tenant_id, row.site, row.line, row.asset)
        if key not in assets:
            assets[key] = AssetHealth(*key, asset_type=row.asset_type)
            fleet.tenants[row.tenant_id].assets.append(assets[key])
        return assets[key]

    predictions = session.scalars(
        select(Prediction).where(Prediction.tenant_id.in_(ids), Prediction.superseded_at.is_(None))
    )
    for p in sorted(predictions, key=prediction_rank):
        fleet.tenants[p.tenant_id].predictions.append(p)
        health = asset_of(p)
        if health.worst is None:  # ranked: the first one seen is the worst
            health.worst = p
    alerts = session.scalars(
        select(Alert)
        .where(Alert.tenant_id.in_(ids), Alert.status != AlertStatus.CLOSED.value)
        .order_by(Alert.id)
    )
    for a in alerts:
        fleet.tenants[a.tenant_id].alerts.append(a)
        asset_of(a).open_alerts += 1
    orders = session.scalars(
        select(WorkOrder)
        .where(WorkOrder.tenant_id.in_(ids), WorkOrder.status != WorkOrderStatus.DONE.value)
        .order_by(WorkOrder.id.desc())
    )
    for w in orders:
        fleet.tenants[w.tenant_id].work_orders.append(w)
        asset_of(w).open_work_orders += 1
    return fleet
