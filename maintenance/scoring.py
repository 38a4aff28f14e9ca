"""Scoring a tenant's assets with the promoted models: a Prediction per asset, and the
alerts that follow from it.

``score`` is a plain function with a progress callback, for the job layer and the CLI.
It reads the historian and computes everything before it writes, so the metadata
store's write transaction stays short; it queues alert messages but never sends them
(``alert_delivery.deliver_due`` does), so a receiver that is down cannot slow it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from historian import Historian
from maintenance import registry
from maintenance.alerts import AlertChange, on_prediction
from maintenance.asset_anomaly_model import AssetAnomalyModel
from maintenance.asset_history import AssetRef, instant_ns, ns_instant, read_samples
from maintenance.asset_windows import window_table
from maintenance.prediction_models import ANOMALY, Prediction
from maintenance.registry_models import ModelKind, ModelState, ModelVersion
from maintenance.utc_datetime import utcnow

Progress = Callable[[float, str], None]
DEFAULT_LOOKBACK = timedelta(hours=24)


@dataclass
class ScoringOutcome:
    predictions: list[Prediction] = field(default_factory=list)
    alerts: list[AlertChange] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (asset, why)


@dataclass(frozen=True)
class _Target:
    asset: AssetRef
    asset_type: str
    anomaly: ModelVersion


def score(
    session: Session,
    historian: Historian,
    tenant_id: int,
    *,
    asset_type: str | None = None,
    assets: Sequence[AssetRef] | None = None,
    until: datetime | None = None,
    lookback: timedelta = DEFAULT_LOOKBACK,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> ScoringOutcome:
    """Score ``assets`` of ``asset_type`` (default: every asset each promoted anomaly
    model of the tenant learnt from) on [until - lookback, until), store the predictions
    and raise or update alerts. The caller commits."""
    report = progress or (lambda share, message: None)
    now = now or utcnow()
    until = until or now
    if until.tzinfo is None:
        raise ValueError("until needs a time zone (UTC: ...Z)")
    if lookback <= timedelta(0):
        raise ValueError("lookback must be positive")
    targets = _targets(session, tenant_id, asset_type, assets)
    outcome = ScoringOutcome()
    models: dict[int, Any] = {}
    life_models: dict[str, registry.LoadedModel | None] = {}
    computed = []
    end_ns = instant_ns(until)
    start_ns = end_ns - round(lookback.total_seconds() * 1e9)
    for i, target in enumerate(targets):
        report(0.9 * i / len(targets), f"scoring {target.asset}")
        version = target.anomaly
        if version.id not in models:
            models[version.id] = registry.load_model(version)
        model: AssetAnomalyModel = models[version.id]
        if target.asset_type not in life_models:
            life_models[target.asset_type] = registry.load_promoted(
                session, tenant_id, target.asset_type, ModelKind.RUL
            )
        life = life_models[target.asset_type]
        tags = set(model.roles.tags) | (set(life.model.anomaly.roles.tags) if life else set())
        samples = read_samples(
            historian, target.asset, sorted(tags), start_ns, end_ns,
            resolution_s=version.params.get("resolution_s"),
        )  # fmt: skip
        scored = model.score(_windows(samples, model, start_ns, end_ns))
        if scored.scores.empty:
            outcome.skipped.append(
                (str(target.asset), "no complete window in a known operating state in range")
            )
            continue
        remaining = None
        if life is not None:
            # The life model scores with the anomaly model it was trained on.
            own = life.model.anomaly.score(_windows(samples, life.model.anomaly, start_ns, end_ns))
            if not own.scores.empty:
                remaining = (life.model.predict(own), life.version.id)
        computed.append((target, model, scored, remaining))
    report(0.9, f"storing {len(computed)} prediction(s)")
    for target, model, scored, remaining in computed:
        prediction = _prediction(tenant_id, target, model, scored, now)
        if remaining is not None:
            (estimate, low, high), life_version = remaining
            prediction.rul_hours = round(estimate, 1)
            prediction.rul_low_hours = round(low, 1)
            prediction.rul_high_hours = round(high, 1)
            prediction.rul_model_version_id = life_version
        _supersede(session, prediction, now)
        session.add(prediction)
        session.flush()
        outcome.predictions.append(prediction)
        change = on_prediction(session, prediction, now)
        if change is not None:
            outcome.alerts.append(change)
    session.flush()
    report(1.0, f"{len(outcome.predictions)} prediction(s), {len(outcome.alerts)} alert change(s)")
    return outcome


def _windows(samples, model: AssetAnomalyModel, start_ns: int, end_ns: int):  # type: ignore[no-untyped-def]
    return window_table(
        samples, model.roles, start_ns, end_ns, model.config.window_s, model.config.min_samples
    )


def _targets(
    session: Session,
    tenant_id: int,
    asset_type: str | None,
    assets: Sequence[AssetRef] | None,
) -> list[_Target]:
    if assets is not None and asset_type is None:
        raise ValueError("asset_type: say which asset type's model scores these assets")
    query = select(ModelVersion).where(
        ModelVersion.tenant_id == tenant_id,
        ModelVersion.kind == ModelKind.ANOMALY.value,
        ModelVersion.state == ModelState.PROMOTED.value,
    )
    if asset_type is not None:
        query = query.where(ModelVersion.asset_type == asset_type)
    promoted = list(session.scalars(query.order_by(ModelVersion.asset_type)))
    if asset_type is not None and not promoted:
        raise LookupError(f"no anomaly model is promoted for asset type {asset_type!r}")
    targets = []
    for version in promoted:
        chosen = assets if assets is not None else [AssetRef.from_dict(a) for a in version.assets]
        targets += [_Target(asset, version.asset_type, version) for asset in chosen]
    return targets


def _prediction(
    tenant_id: int,
    target: _Target,
    model: AssetAnomalyModel,
    scored,
    now: datetime,  # type: ignore[no-untyped-def]
) -> Prediction:
    scores = scored.scores
    window_ns = round(model.config.window_s * 1e9)
    last = scores.iloc[-1]
    recent = scores.index[-model.config.smoothing_windows :]
    evidence = []
    for item in model.evidence(scored):
        since = item.pop("drifting_since_ns")
        item.pop("window_ns")
        item["drifting_since"] = None if since is None else ns_instant(since).isoformat()
        evidence.append(item)
    return Prediction(
        tenant_id=tenant_id,
        site=target.asset.site,
        line=target.asset.line,
        asset=target.asset.asset,
        asset_type=target.asset_type,
        failure_kind=ANOMALY,
        risk=round(float(last["risk"]), 4),
        anomaly_score=round(float(last["smoothed"]), 4),
        evidence=evidence,
        window_start=ns_instant(int(recent[0])),
        window_end=ns_instant(int(scores.index[-1]) + window_ns),
        model_version_id=target.anomaly.id,
        made_at=now,
    )


def _supersede(session: Session, prediction: Prediction, now: datetime) -> None:
    for old in session.scalars(
        select(Prediction).where(
            Prediction.tenant_id == prediction.tenant_id,
            Prediction.site == prediction.site,
            Prediction.line == prediction.line,
            Prediction.asset == prediction.asset,
            Prediction.failure_kind == prediction.failure_kind,
            Prediction.superseded_at.is_(None),
        )
    ):
        old.superseded_at = now


def prediction_rank(p: Prediction) -> tuple[float, float, str]:
    """The order the service team works in: highest risk first, then shortest remaining
    life (none known: last among equal risks), then by asset."""
    return (-p.risk, p.rul_hours if p.rul_hours is not None else float("inf"), p.asset)


def open_predictions(session: Session, tenant_id: int) -> list[Prediction]:
    """The current prediction of each asset, highest risk first, then shortest life."""
    rows = session.scalars(
        select(Prediction).where(
            Prediction.tenant_id == tenant_id, Prediction.superseded_at.is_(None)
        )
    )
    return sorted(rows, key=prediction_rank)
