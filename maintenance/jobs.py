"""Predictive maintenance as jobs: train and score on demand (API, CLI) and on a schedule.

``maintenance_train`` fits an anomaly model for an asset type on a range of the tenant's
history; ``maintenance_score`` scores every asset under a promoted model over the last
hours, stores predictions, raises or updates alerts and sends the messages that are due;
``maintenance_alerts`` escalates unacknowledged alerts and sends due messages between
scoring runs. Scoring runs hourly and alert handling every 15 minutes for each tenant.

Escalation and delivery work on every tenant's due messages at once (they are few, and a
message waiting for the next tenant's run would be late); each message goes only to the
addresses of the contract that raised it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cloud.timeparams import format_instant, parse_datetime, parse_instant
from jobs.catalog import job_kind, periodic_job
from jobs.context import JobContext
from jobs.errors import JobError
from maintenance.alert_delivery import SmtpSettings, deliver_due
from maintenance.alerts import escalate_due
from maintenance.asset_history import AssetRef
from maintenance.scoring import score
from maintenance.training import train
from maintenance.utc_datetime import utcnow
from tenants.roles import Role

MODEL_KEEPERS = frozenset({Role.TENANT_ADMIN, Role.SERVICE_ENGINEER})


class AssetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    site: str = Field(min_length=1)
    line: str = Field(min_length=1)
    asset: str = Field(min_length=1)


class TrainParams(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)

    asset_type: str = Field(min_length=1, description="The template key, e.g. centrifugal_pump.")
    assets: list[AssetIn] = Field(min_length=1, description="Healthy assets of that type.")
    since: str = Field("now-30d", description="ISO 8601 or now-30d: start of the history.")
    until: str = Field("now", description="ISO 8601 or now: end of the history.")
    promote: bool = Field(False, description="Make it the model that scores.")

    @field_validator("since", "until")
    @classmethod
    def _instant(cls, value: str) -> str:
        return format_instant(parse_instant(value))  # a relative time is fixed at creation

    @model_validator(mode="after")
    def _range(self) -> TrainParams:
        if parse_instant(self.since) >= parse_instant(self.until):
            raise ValueError(f"since {self.since} must be before until {self.until}")
        return self


class ScoreParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    asset_type: str | None = Field(None, min_length=1, description="Default: every type.")
    lookback_hours: float = Field(24.0, gt=0, le=24 * 31, description="Hours scored.")
    until: str = Field("now", description="ISO 8601 or now: end of the scored window.")

    @field_validator("until")
    @classmethod
    def _instant(cls, value: str) -> str:
        return format_instant(parse_instant(value))


class AlertParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _share(job: JobContext):
    """The training and scoring code reports a share of 1; jobs count steps."""
    return lambda share, message: job.progress(round(share * 1000), 1000, message)


@job_kind(
    "maintenance_train",
    TrainParams,
    title="Train an anomaly model for an asset type on the tenant's history",
    roles=MODEL_KEEPERS,
    time_limit_s=2 * 3600,
)
def maintenance_train(job: JobContext, params: TrainParams) -> dict[str, Any]:
    assets = [AssetRef(a.site, a.line, a.asset) for a in params.assets]
    with job.session() as session:
        try:
            version = train(
                session,
                job.historian(),
                job.tenant_id,
                params.asset_type,
                assets,
                parse_datetime(params.since),
                parse_datetime(params.until),
                promote=params.promote,
                actor=f"job {job.id} by {job.created_by}",
                progress=_share(job),
            )
        except (ValueError, LookupError) as exc:
            raise JobError(str(exc)) from None
        session.commit()
        return {
            "asset_type": version.asset_type,
            "version": version.version,
            "state": version.state,
            "metrics": version.metrics,
        }


def _deliver(session) -> dict[str, int]:
    escalated = escalate_due(session, utcnow())
    session.commit()
    report = deliver_due(session, utcnow(), SmtpSettings.from_environment())
    return {
        "escalated": len(escalated),
        "sent": report.sent,
        "retrying": report.retrying,
        "failed": report.failed,
    }


@job_kind(
    "maintenance_score",
    ScoreParams,
    title="Score assets under promoted models: predictions, alerts and messages",
)
def maintenance_score(job: JobContext, params: ScoreParams) -> dict[str, Any]:
    with job.session() as session:
        outcome = score(
            session,
            job.historian(),
            job.tenant_id,
            asset_type=params.asset_type,
            until=parse_datetime(params.until),
            lookback=timedelta(hours=params.lookback_hours),
            progress=_share(job),
        )
        session.commit()
        ranked = sorted(outcome.predictions, key=lambda p: p.risk, reverse=True)
        return {
            "predictions": len(outcome.predictions),
            "highest": [
                {"asset": f"{p.site}/{p.line}/{p.asset}", "risk": round(p.risk, 3)}
                for p in ranked[:10]
            ],
            "alerts": {
                change: sum(1 for a in outcome.alerts if a.change == change)
                for change in ("raised", "updated")
            },
            "skipped": [{"asset": asset, "why": why} for asset, why in outcome.skipped],
            "messages": _deliver(session),
        }


@job_kind(
    "maintenance_alerts",
    AlertParams,
    title="Escalate unacknowledged alerts and send due alert messages",
)
def maintenance_alerts(job: JobContext, params: AlertParams) -> dict[str, Any]:
    with job.session() as session:
        return _deliver(session)


periodic_job("maintenance-scoring", "maintenance_score", every=timedelta(hours=1))
periodic_job("maintenance-alerts", "maintenance_alerts", every=timedelta(minutes=15))
