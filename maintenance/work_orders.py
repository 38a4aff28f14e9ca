"""Work orders: the visit that follows an alert, and the causes it finds as labels.

open → acknowledged → scheduled (a date; may be rescheduled) → done (a cause from the
asset type's list, notes). Acknowledging the work order acknowledges its alert; closing
it closes the alert, so the next prediction over the threshold raises a fresh one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from maintenance.alert_models import Alert, AlertStatus
from maintenance.asset_history import instant_ns
from maintenance.causes import NO_FAULT_FOUND, causes_for
from maintenance.work_order_models import WorkOrder, WorkOrderStatus
from tenants.models import AuditEvent

# Which status each status may move to; "done" is final.
TRANSITIONS: dict[WorkOrderStatus, tuple[WorkOrderStatus, ...]] = {
    WorkOrderStatus.OPEN: (WorkOrderStatus.ACKNOWLEDGED,),
    WorkOrderStatus.ACKNOWLEDGED: (WorkOrderStatus.SCHEDULED,),
    WorkOrderStatus.SCHEDULED: (WorkOrderStatus.SCHEDULED, WorkOrderStatus.DONE),
    WorkOrderStatus.DONE: (),
}


class WorkOrderError(Exception):
    """A request a work order cannot follow; the message says what and why."""


@dataclass(frozen=True)
class TrainingLabel:
    """A found cause: on this asset, at this time, this failure (or no fault)."""

    site: str
    line: str
    asset: str
    asset_type: str
    time: datetime
    cause: str

    @property
    def is_failure(self) -> bool:
        return self.cause != NO_FAULT_FOUND


def open_from_alert(
    session: Session, tenant_id: int, alert_id: int, actor: str, now: datetime
) -> WorkOrder:
    alert = session.get(Alert, alert_id)
    if alert is None or alert.tenant_id != tenant_id:
        raise LookupError(f"no alert {alert_id} in this tenant")
    if alert.status == AlertStatus.CLOSED.value:
        raise WorkOrderError(f"alert {alert_id} is closed; a work order follows an open alert")
    existing = session.scalar(select(WorkOrder).where(WorkOrder.alert_id == alert_id))
    if existing is not None:
        raise WorkOrderError(f"alert {alert_id} has work order {existing.id} already")
    order = WorkOrder(
        tenant_id=tenant_id,
        alert_id=alert_id,
        site=alert.site,
        line=alert.line,
        asset=alert.asset,
        asset_type=alert.asset_type,
        status=WorkOrderStatus.OPEN.value,
        created_by=actor,
        created_at=now,
    )
    session.add(order)
    try:
        session.flush()
    except IntegrityError:  # a concurrent request opened one first
        raise WorkOrderError(f"alert {alert_id} has a work order already") from None
    _audit(session, actor, order, "maintenance.work_order.open", alert=alert_id)
    return order


def get_work_order(session: Session, tenant_id: int, order_id: int) -> WorkOrder:
    order = session.get(WorkOrder, order_id)
    if order is None or order.tenant_id != tenant_id:
        raise LookupError(f"no work order {order_id} in this tenant")
    return order


def transition(
    session: Session,
    tenant_id: int,
    order_id: int,
    to: WorkOrderStatus,
    actor: str,
    now: datetime,
    *,
    scheduled_for: date | None = None,
    cause: str | None = None,
    notes: str | None = None,
    failed_at: datetime | None = None,
) -> WorkOrder:
    """Move the work order to ``to``; WorkOrderError says why a move is refused."""
    order = get_work_order(session, tenant_id, order_id)
    current = WorkOrderStatus(order.status)
    if to not in TRANSITIONS[current]:
        raise WorkOrderError(_refusal(order.id, current, to))
    if to is WorkOrderStatus.SCHEDULED:
        if scheduled_for is None:
            raise WorkOrderError("scheduled_for: a scheduled work order needs a date")
        order.scheduled_for = scheduled_for
        order.scheduled_at = now
    elif to is WorkOrderStatus.DONE:
        allowed = causes_for(order.asset_type)
        if cause is None:
            raise WorkOrderError(f"cause: say what was found, one of {', '.join(allowed)}")
        if cause not in allowed:
            raise WorkOrderError(
                f"cause: {cause!r} is not a cause for a {order.asset_type}; "
                f"choose one of {', '.join(allowed)}"
            )
        if failed_at is not None and failed_at > now:
            raise WorkOrderError("failed_at: a failure cannot be in the future")
        order.cause = cause
        order.failed_at = failed_at or now
        order.done_at = now
        order.done_by = actor
        _close_alert(session, order, now)
    elif to is WorkOrderStatus.ACKNOWLEDGED:
        order.acknowledged_at = now
        order.acknowledged_by = actor
        _acknowledge_alert(session, order, actor, now)
    if notes is not None:
        order.notes = notes
    order.status = to.value
    session.flush()
    _audit(session, actor, order, f"maintenance.work_order.{to.value}")
    return order


def _refusal(order_id: int, current: WorkOrderStatus, to: WorkOrderStatus) -> str:
    if current is WorkOrderStatus.DONE:
        return f"work order {order_id} is done; it cannot move to {to.value}"
    allowed = " or ".join(s.value for s in TRANSITIONS[current])
    return f"work order {order_id} is {current.value}: it can move to {allowed}, not to {to.value}"


def _acknowledge_alert(session: Session, order: WorkOrder, actor: str, now: datetime) -> None:
    alert = session.get(Alert, order.alert_id) if order.alert_id is not None else None
    if alert is not None and alert.status == AlertStatus.OPEN.value:
        alert.status = AlertStatus.ACKNOWLEDGED.value
        alert.acknowledged_at = now
        alert.acknowledged_by = actor


def _close_alert(session: Session, order: WorkOrder, now: datetime) -> None:
    alert = session.get(Alert, order.alert_id) if order.alert_id is not None else None
    if alert is not None and alert.status != AlertStatus.CLOSED.value:
        alert.status = AlertStatus.CLOSED.value
        alert.closed_at = now


def work_orders(
    session: Session, tenant_id: int, status: WorkOrderStatus | None = None
) -> list[WorkOrder]:
    query = select(WorkOrder).where(WorkOrder.tenant_id == tenant_id)
    if status is not None:
        query = query.where(WorkOrder.status == status.value)
    return list(session.scalars(query.order_by(WorkOrder.id.desc())))


def training_labels(
    session: Session, tenant_id: int, asset_type: str | None = None
) -> list[TrainingLabel]:
    """The causes found by finished work orders, oldest first."""
    query = select(WorkOrder).where(
        WorkOrder.tenant_id == tenant_id, WorkOrder.status == WorkOrderStatus.DONE.value
    )
    if asset_type is not None:
        query = query.where(WorkOrder.asset_type == asset_type)
    rows = session.scalars(query.order_by(WorkOrder.failed_at, WorkOrder.id))
    return [
        TrainingLabel(r.site, r.line, r.asset, r.asset_type, r.failed_at or r.done_at, r.cause)
        for r in rows
        if r.cause is not None
    ]


def labels_frame(labels: list[TrainingLabel]) -> pd.DataFrame:
    """Labels as rows (asset, time, cause) plus site, line and a 0/1 ``failure`` column:
    the shape the failure classifier's training takes (one row per labelled event)."""
    return pd.DataFrame(
        {
            "site": [label.site for label in labels],
            "line": [label.line for label in labels],
            "asset": [label.asset for label in labels],
            "time": pd.to_datetime([label.time for label in labels], utc=True),
            "cause": [label.cause for label in labels],
            "failure": [int(label.is_failure) for label in labels],
        }
    )


def _audit(session: Session, actor: str, order: WorkOrder, action: str, **extra: object) -> None:
    detail = {"work_order": order.id, "asset": order.asset, "status": order.status, **extra}
    session.add(AuditEvent(actor=actor, tenant_id=order.tenant_id, action=action, detail=detail))


def failure_targets(
    window_starts_ns: Sequence[int] | np.ndarray,
    site: str,
    line: str,
    asset: str,
    labels: Sequence[TrainingLabel],
    horizon: timedelta,
) -> np.ndarray:
    """1 for each window of the asset followed by a labelled failure within ``horizon``
    (counted from the window's start), else 0: the target of a failure classifier
    trained on window features. False alarms (no fault found) are not failures."""
    starts = np.asarray(window_starts_ns, dtype=np.int64)
    target = np.zeros(len(starts), dtype=int)
    horizon_ns = round(horizon.total_seconds() * 1e9)
    for label in labels:
        if not label.is_failure or (label.site, label.line, label.asset) != (site, line, asset):
            continue
        failed = instant_ns(label.time)
        target[(starts <= failed) & (failed - starts <= horizon_ns)] = 1
    return target
