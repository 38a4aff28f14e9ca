"""Helpers that put enterprises into a real metadata store and their historians, as the
platform would have them after a month of use: assets onboarded from the templates, edge
agents that reported (or not), maintenance models, alerts and work orders, reported
output. For the bureau's facts, job and API tests."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from sklearn.dummy import DummyRegressor
from sqlalchemy import select
from sqlalchemy.orm import Session

from analytics.bureau.reported_output import OutputReport, set_reported_output
from maintenance import registry
from maintenance.alert_models import Alert, ServiceContract
from maintenance.prediction_models import Prediction
from maintenance.registry_models import ModelKind, ModelVersion
from maintenance.work_order_models import WorkOrder
from tenants.agent_contact_days import record_contact
from tenants.agent_registry import RegisteredAgent
from tenants.agent_tokens import create_agent_token
from tenants.asset_onboarding import AssetOnboarding, onboard_asset
from tenants.models import IndustryCloud, Tenant
from tenants.onboarding import create_industry_cloud, create_tenant, ensure_default_plans

ACTOR = "test"


def industry_cloud(session: Session, key: str) -> IndustryCloud:
    cloud = session.scalar(select(IndustryCloud).where(IndustryCloud.key == key))
    return cloud or create_industry_cloud(session, key, key.upper(), ACTOR)


def tenant(
    session: Session,
    key: str,
    *,
    name: str | None = None,
    district: str | None = None,
    cloud: str | None = None,
) -> Tenant:
    ensure_default_plans(session)
    found = industry_cloud(session, cloud) if cloud else None
    return create_tenant(session, key, name or key.upper(), "standard", ACTOR, found, district)


def onboard(
    session: Session,
    owner: Tenant,
    site: str,
    line: str,
    asset: str,
    template: str,
    **fields: object,
) -> None:
    request = AssetOnboarding(site=site, line=line, asset=asset, template=template, **fields)
    onboard_asset(session, owner, request, ACTOR)


def agent(
    session: Session,
    owner: Tenant,
    site: str,
    name: str,
    created_at: datetime,
    reports: Iterable[datetime],
    interval_s: float,
) -> RegisteredAgent:
    """An agent registered at ``created_at`` that reported at each of ``reports``, as the
    status endpoint records them (contact first, then the registry's last contact)."""
    issued = create_agent_token(session, owner.id, site, name, None, ACTOR)
    row = RegisteredAgent(
        tenant_id=owner.id, site=site, name=name, token_id=issued.id, created_at=created_at
    )
    session.add(row)
    session.flush()
    for at in reports:
        record_contact(session, row, at, interval_s)
        row.reported_at, row.report_interval_s = at, interval_s
    session.flush()
    return row


def every(start: datetime, end: datetime, step_s: float) -> list[datetime]:
    out, at = [], start
    while at < end:
        out.append(at)
        at += timedelta(seconds=step_s)
    return out


def model_version(
    session: Session,
    owner: Tenant,
    asset_type: str,
    assets: list[tuple[str, str, str]],
    promoted_at: datetime,
    retired_at: datetime | None = None,
) -> ModelVersion:
    """A registered, promoted model version whose promotion (and retirement) happened at
    the times given, not when the test ran."""
    model = DummyRegressor().fit([[0.0]], [0.0])
    version = registry.register(
        session, owner.id, asset_type, ModelKind.ANOMALY, model,
        trained_from=promoted_at - timedelta(days=7), trained_until=promoted_at,
        assets=[{"site": s, "line": ln, "asset": a} for s, ln, a in assets],
        tags=["melt_temp"], features=["melt_temp.level"], metrics={}, actor=ACTOR,
    )  # fmt: skip
    version.state = "retired" if retired_at else "promoted"
    version.promoted_at, version.retired_at = promoted_at, retired_at
    session.flush()
    return version


def alert(
    session: Session,
    owner: Tenant,
    version: ModelVersion,
    asset: str,
    raised_at: datetime,
    work_order_at: datetime | None = None,
) -> Alert:
    """An alert raised at ``raised_at`` (closed, so several per asset may exist), with a
    work order opened at ``work_order_at`` when given."""
    contract = session.scalar(select(ServiceContract).where(ServiceContract.tenant_id == owner.id))
    if contract is None:
        contract = ServiceContract(
            tenant_id=owner.id, team="service", asset_types=[version.asset_type],
            asset_keys=[], risk_threshold=0.5, emails=[], escalation_emails=[],
        )  # fmt: skip
        session.add(contract)
        session.flush()
    prediction = Prediction(
        tenant_id=owner.id, site="s", line="l", asset=asset, asset_type=version.asset_type,
        failure_kind="anomaly", risk=0.9, anomaly_score=0.8, evidence=[],
        window_start=raised_at - timedelta(minutes=15), window_end=raised_at,
        model_version_id=version.id, made_at=raised_at,
    )  # fmt: skip
    session.add(prediction)
    session.flush()
    row = Alert(
        tenant_id=owner.id, contract_id=contract.id, site="s", line="l", asset=asset,
        asset_type=version.asset_type, failure_kind="anomaly", status="closed", risk=0.9,
        peak_risk=0.9, prediction_id=prediction.id, raised_at=raised_at, updated_at=raised_at,
        closed_at=raised_at + timedelta(days=10),
    )  # fmt: skip
    session.add(row)
    session.flush()
    if work_order_at is not None:
        session.add(
            WorkOrder(
                tenant_id=owner.id,
                alert_id=row.id,
                site="s",
                line="l",
                asset=asset,
                asset_type=version.asset_type,
                created_by=ACTOR,
                created_at=work_order_at,
            )
        )
        session.flush()
    return row


def report_output(
    session: Session,
    owner: Tenant,
    period: str,
    value_10k_yuan: float | None = None,
    quantity: float | None = None,
    unit: str | None = None,
) -> None:
    set_reported_output(
        session, owner.id, period, OutputReport(value_10k_yuan, quantity, unit), ACTOR
    )


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)
