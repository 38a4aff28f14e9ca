"""Helpers that put tenants, a model version, contracts and predictions in a metadata
store, for the alert, work-order and API tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sklearn.dummy import DummyRegressor
from sqlalchemy import select
from sqlalchemy.orm import Session

from maintenance import registry
from maintenance.alert_models import ServiceContract
from maintenance.prediction_models import Prediction
from maintenance.registry_models import ModelKind, ModelVersion
from tenants.models import Tenant
from tenants.onboarding import create_tenant, ensure_default_plans

NOW = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
SITE, LINE = "zhenhai-petrochem", "pump-station-1"


def tenants(session: Session, *keys: str) -> dict[str, int]:
    ensure_default_plans(session)
    for key in keys:
        if session.scalar(select(Tenant).where(Tenant.key == key)) is None:
            create_tenant(session, key, key.upper(), "starter", "test")
    session.flush()
    return dict(session.execute(select(Tenant.key, Tenant.id)).all())


def model_version(session: Session, tenant_id: int, asset_type: str = "pump") -> ModelVersion:
    model = DummyRegressor().fit([[0.0]], [0.0])
    version = registry.register(
        session, tenant_id, asset_type, ModelKind.ANOMALY, model,
        trained_from=NOW - timedelta(days=7), trained_until=NOW,
        assets=[{"site": SITE, "line": LINE, "asset": "P-101"}],
        tags=["vibration_rms"], features=["vibration_rms.level"], metrics={}, actor="test",
    )  # fmt: skip
    registry.promote(session, tenant_id, version.id, "test")
    return version


def contract(session: Session, tenant_id: int, **fields: object) -> ServiceContract:
    values: dict = {
        "team": "Pump service team",
        "asset_types": ["pump"],
        "asset_keys": [],
        "risk_threshold": 0.7,
        "emails": [],
        "escalation_emails": [],
    }
    values.update(fields)
    row = ServiceContract(tenant_id=tenant_id, **values)
    session.add(row)
    session.flush()
    return row


def prediction(
    session: Session,
    tenant_id: int,
    version: ModelVersion,
    asset: str = "P-101",
    risk: float = 0.9,
    rul_hours: float | None = None,
    asset_type: str = "pump",
    made_at: datetime = NOW,
) -> Prediction:
    row = Prediction(
        tenant_id=tenant_id,
        site=SITE,
        line=LINE,
        asset=asset,
        asset_type=asset_type,
        failure_kind="anomaly",
        risk=risk,
        anomaly_score=0.6,
        rul_hours=rul_hours,
        rul_low_hours=None if rul_hours is None else rul_hours * 0.7,
        rul_high_hours=None if rul_hours is None else rul_hours * 1.3,
        evidence=[
            {
                "signal": "vibration_rms",
                "feature": "level",
                "deviation": 12.5,
                "healthy_extreme_ratio": 3.9,
                "share": 0.7,
                "drifting_since": (made_at - timedelta(hours=20)).isoformat(),
            }
        ],
        window_start=made_at - timedelta(minutes=15),
        window_end=made_at,
        model_version_id=version.id,
        made_at=made_at,
    )
    session.add(row)
    session.flush()
    return row
