"""Alerts: a prediction over a service contract's threshold alerts the team holding the
contract for that asset. One alert stays open per asset and failure kind; later
predictions update it. Alerts nobody acknowledged in time are escalated.

Raising and escalating only queue deliveries (see :mod:`maintenance.alert_delivery`):
scoring never waits on a webhook or a mail server.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from maintenance.alert_models import (
    Alert,
    AlertDelivery,
    AlertStatus,
    DeliveryStatus,
    ServiceContract,
)
from maintenance.prediction_models import Prediction
from tenants.models import AuditEvent, Tenant

RAISED = "alert.raised"
ESCALATED = "alert.escalated"


class AlertError(Exception):
    """A request an alert cannot follow; the message says what and why."""


@dataclass(frozen=True)
class AlertChange:
    alert: Alert
    change: str  # "raised" or "updated"


def contract_for(session: Session, prediction: Prediction) -> ServiceContract | None:
    """The active contract covering the prediction's asset: one naming the asset beats
    one covering its asset type; among equals the oldest contract wins."""
    contracts = session.scalars(
        select(ServiceContract)
        .where(ServiceContract.tenant_id == prediction.tenant_id, ServiceContract.active)
        .order_by(ServiceContract.id)
    )
    by_type = None
    full_key = f"{prediction.site}/{prediction.line}/{prediction.asset}"
    for contract in contracts:
        if prediction.asset in contract.asset_keys or full_key in contract.asset_keys:
            return contract
        if by_type is None and prediction.asset_type in contract.asset_types:
            by_type = contract
    return by_type


def over_threshold(contract: ServiceContract, prediction: Prediction) -> bool:
    if prediction.risk >= contract.risk_threshold:
        return True
    life = prediction.rul_low_hours if prediction.rul_low_hours is not None else None
    return (
        contract.rul_threshold_hours is not None
        and life is not None
        and life <= contract.rul_threshold_hours
    )


def open_alert(session: Session, prediction: Prediction) -> Alert | None:
    return session.scalar(
        select(Alert).where(
            Alert.tenant_id == prediction.tenant_id,
            Alert.site == prediction.site,
            Alert.line == prediction.line,
            Alert.asset == prediction.asset,
            Alert.failure_kind == prediction.failure_kind,
            Alert.status != AlertStatus.CLOSED.value,
        )
    )


def on_prediction(session: Session, prediction: Prediction, now: datetime) -> AlertChange | None:
    """Update the asset's open alert with the prediction, or raise one when the
    prediction is over the threshold of the contract covering the asset."""
    alert = open_alert(session, prediction)
    if alert is not None:
        alert.risk = prediction.risk
        alert.peak_risk = max(alert.peak_risk, prediction.risk)
        alert.rul_hours = prediction.rul_hours
        alert.rul_low_hours = prediction.rul_low_hours
        alert.prediction_id = prediction.id
        alert.predictions_seen += 1
        alert.updated_at = now
        return AlertChange(alert, "updated")
    contract = contract_for(session, prediction)
    if contract is None or not over_threshold(contract, prediction):
        return None
    alert = Alert(
        tenant_id=prediction.tenant_id,
        contract_id=contract.id,
        site=prediction.site,
        line=prediction.line,
        asset=prediction.asset,
        asset_type=prediction.asset_type,
        failure_kind=prediction.failure_kind,
        status=AlertStatus.OPEN.value,
        risk=prediction.risk,
        peak_risk=prediction.risk,
        rul_hours=prediction.rul_hours,
        rul_low_hours=prediction.rul_low_hours,
        prediction_id=prediction.id,
        predictions_seen=1,
        raised_at=now,
        updated_at=now,
    )
    # A savepoint: if another scoring run raised the same alert a moment ago, the
    # unique index refuses this one and that alert is updated instead.
    try:
        with session.begin_nested():
            session.add(alert)
    except IntegrityError:
        if open_alert(session, prediction) is None:
            raise
        return on_prediction(session, prediction, now)
    payload = alert_payload(session, alert, prediction, RAISED, contract)
    _queue(session, alert, contract, RAISED, payload, contract.emails, now)
    session.add(
        AuditEvent(
            actor="maintenance scoring",
            tenant_id=alert.tenant_id,
            action="maintenance.alert.raise",
            detail={"alert": alert.id, "asset": alert.asset, "risk": round(alert.risk, 3)},
        )
    )
    return AlertChange(alert, "raised")


def get_alert(session: Session, tenant_id: int, alert_id: int) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None or alert.tenant_id != tenant_id:
        raise LookupError(f"no alert {alert_id} in this tenant")
    return alert


def acknowledge(
    session: Session, tenant_id: int, alert_id: int, actor: str, now: datetime
) -> Alert:
    alert = get_alert(session, tenant_id, alert_id)
    if alert.status != AlertStatus.OPEN.value:
        raise AlertError(f"alert {alert_id} is {alert.status}; only an open alert is acknowledged")
    alert.status = AlertStatus.ACKNOWLEDGED.value
    alert.acknowledged_at = now
    alert.acknowledged_by = actor
    session.add(
        AuditEvent(
            actor=actor,
            tenant_id=tenant_id,
            action="maintenance.alert.acknowledge",
            detail={"alert": alert.id, "asset": alert.asset},
        )
    )
    return alert


def escalate_due(session: Session, now: datetime) -> list[Alert]:
    """Escalate every open alert, of any tenant, left unacknowledged for longer than its
    contract allows: mark it and queue messages to the escalation addresses (and the
    team's webhook). Each alert escalates once. A periodic job calls this."""
    rows = session.execute(
        select(Alert, ServiceContract)
        .join(ServiceContract, Alert.contract_id == ServiceContract.id)
        .where(
            Alert.status == AlertStatus.OPEN.value,
            Alert.escalated_at.is_(None),
            ServiceContract.escalate_after_minutes.is_not(None),
        )
        .order_by(Alert.id)
    ).all()
    escalated = []
    for alert, contract in rows:
        # Computed here rather than in SQL: interval arithmetic differs between engines.
        if alert.raised_at + timedelta(minutes=contract.escalate_after_minutes) > now:
            continue
        alert.escalated_at = now
        prediction = session.get(Prediction, alert.prediction_id)
        payload = alert_payload(session, alert, prediction, ESCALATED, contract)
        _queue(session, alert, contract, ESCALATED, payload, contract.escalation_emails, now)
        session.add(
            AuditEvent(
                actor="maintenance escalation",
                tenant_id=alert.tenant_id,
                action="maintenance.alert.escalate",
                detail={"alert": alert.id, "asset": alert.asset},
            )
        )
        escalated.append(alert)
    session.flush()
    return escalated


def alerts(session: Session, tenant_id: int, status: AlertStatus | None = None) -> list[Alert]:
    query = select(Alert).where(Alert.tenant_id == tenant_id)
    if status is not None:
        query = query.where(Alert.status == status.value)
    return list(session.scalars(query.order_by(Alert.risk.desc(), Alert.id)))


def alert_payload(
    session: Session,
    alert: Alert,
    prediction: Prediction | None,
    event: str,
    contract: ServiceContract,
) -> dict[str, Any]:
    """What a webhook receives and an e-mail says (the secret is never in it)."""
    tenant = session.get(Tenant, alert.tenant_id)
    return {
        "event": event,
        "tenant": tenant.key if tenant is not None else None,
        "team": contract.team,
        "alert": {
            "id": alert.id,
            "status": alert.status,
            "site": alert.site,
            "line": alert.line,
            "asset": alert.asset,
            "asset_type": alert.asset_type,
            "failure_kind": alert.failure_kind,
            "risk": round(alert.risk, 4),
            "rul_hours": alert.rul_hours,
            "rul_low_hours": alert.rul_low_hours,
            "raised_at": alert.raised_at.isoformat(),
        },
        "evidence": prediction.evidence if prediction is not None else [],
        "window": None
        if prediction is None
        else {
            "start": prediction.window_start.isoformat(),
            "end": prediction.window_end.isoformat(),
        },
    }


def _queue(
    session: Session,
    alert: Alert,
    contract: ServiceContract,
    event: str,
    payload: dict[str, Any],
    emails: list[str],
    now: datetime,
) -> None:
    if contract.webhook_url:
        session.add(_delivery(alert, "webhook", event, contract.webhook_url, payload, now))
    if emails:
        session.add(_delivery(alert, "email", event, ", ".join(emails), payload, now))


def _delivery(
    alert: Alert, channel: str, event: str, target: str, payload: dict[str, Any], now: datetime
) -> AlertDelivery:
    return AlertDelivery(
        alert_id=alert.id,
        channel=channel,
        event=event,
        target=target,
        payload=payload,
        status=DeliveryStatus.PENDING.value,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
