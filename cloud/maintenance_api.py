"""Predictive maintenance for a tenant: models, predictions, alerts, work orders and the
service contracts that say who hears about what.

Mounted at ``/api/tenants/{key}/maintenance``. TenantScope decides every access: the
tenant's people (and whoever may read its raw data) read; its service engineers
acknowledge alerts and move work orders; its admin manages contracts and models. A
tenant the caller may not read answers 404, the same as one that does not exist; a
tenant the caller may read but not change answers 403 saying who may.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from pydantic import AwareDatetime, BaseModel, Field, field_validator, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.principals import DbSession, Scope, require_person
from maintenance import registry
from maintenance.alert_models import Alert, AlertDelivery, AlertStatus, ServiceContract
from maintenance.alerts import AlertError, acknowledge, alerts
from maintenance.causes import causes_for
from maintenance.registry import RegistryError
from maintenance.registry_models import ModelKind
from maintenance.scoring import open_predictions
from maintenance.utc_datetime import utcnow
from maintenance.webhook_destinations import (
    DestinationPolicy,
    DestinationRefused,
    DestinationUnresolved,
)
from maintenance.work_order_models import WorkOrder, WorkOrderStatus
from maintenance.work_orders import (
    WorkOrderError,
    open_from_alert,
    training_labels,
    transition,
    work_orders,
)
from tenants.models import AuditEvent, Tenant
from tenants.scope import Principal, TenantScope

router = APIRouter(prefix="/api/tenants/{key}/maintenance", tags=["maintenance"])
Person = Annotated[Principal, Depends(require_person)]
_EMAIL = re.compile(r"^[^@\s,<>]+@[^@\s,<>]+\.[^@\s,<>]+$")


# --- access ------------------------------------------------------------------------------


def _readable_tenant(session: Session, key: str, scope: TenantScope) -> Tenant:
    tenant = session.scalar(select(Tenant).where(Tenant.key == key))
    # One answer for "no such tenant" and "not yours": tenant keys are not to be probed.
    if tenant is None or not scope.can_read_raw(tenant.id):
        raise HTTPException(404, f"no tenant {key!r} whose data you may see")
    return tenant


def reader(key: str, session: DbSession, scope: Scope, caller: Person) -> Tenant:
    return _readable_tenant(session, key, scope)


def service_engineer(key: str, session: DbSession, scope: Scope, caller: Person) -> Tenant:
    tenant = _readable_tenant(session, key, scope)
    if not scope.can_service(tenant.id):
        raise HTTPException(403, "only the tenant's service engineers work alerts and work orders")
    return tenant


def tenant_admin(key: str, session: DbSession, scope: Scope, caller: Person) -> Tenant:
    tenant = _readable_tenant(session, key, scope)
    if not scope.can_manage(tenant.id):
        raise HTTPException(403, "only the tenant's admin manages service contracts and models")
    return tenant


Reader = Annotated[Tenant, Depends(reader)]
Engineer = Annotated[Tenant, Depends(service_engineer)]
Admin = Annotated[Tenant, Depends(tenant_admin)]


# --- schemas -----------------------------------------------------------------------------


class ModelOut(BaseModel):
    id: int
    asset_type: str
    kind: str
    version: int
    state: str
    trained_from: datetime
    trained_until: datetime
    assets: list[dict[str, str]]
    tags: list[str]
    features: list[str]
    metrics: dict[str, Any]
    params: dict[str, Any]
    artifact_sha256: str
    artifact_size: int
    created_by: str
    created_at: datetime
    promoted_at: datetime | None
    retired_at: datetime | None
    previous_id: int | None


class RollbackIn(BaseModel):
    asset_type: str = Field(min_length=1, max_length=100)
    kind: ModelKind = ModelKind.ANOMALY


class EvidenceOut(BaseModel):
    signal: str
    feature: str
    deviation: float
    healthy_extreme_ratio: float | None = None
    share: float
    drifting_since: datetime | None


class PredictionOut(BaseModel):
    id: int
    site: str
    line: str
    asset: str
    asset_type: str
    failure_kind: str
    risk: float
    rul_hours: float | None
    rul_low_hours: float | None
    rul_high_hours: float | None
    evidence: list[EvidenceOut]
    window_start: datetime
    window_end: datetime
    model_version_id: int
    rul_model_version_id: int | None
    made_at: datetime


class DeliveryOut(BaseModel):
    channel: str
    event: str
    status: str
    attempts: int
    last_error: str | None
    sent_at: datetime | None


class AlertOut(BaseModel):
    id: int
    status: str
    team: str
    site: str
    line: str
    asset: str
    asset_type: str
    failure_kind: str
    risk: float
    peak_risk: float
    rul_hours: float | None
    rul_low_hours: float | None
    prediction_id: int
    predictions_seen: int
    raised_at: datetime
    updated_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    escalated_at: datetime | None
    closed_at: datetime | None
    work_order_id: int | None
    deliveries: list[DeliveryOut]


class WorkOrderOut(BaseModel):
    id: int
    alert_id: int | None
    site: str
    line: str
    asset: str
    asset_type: str
    status: str
    scheduled_for: date | None
    cause: str | None
    notes: str | None
    failed_at: datetime | None
    created_by: str
    created_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    scheduled_at: datetime | None
    done_at: datetime | None
    done_by: str | None
    causes: list[str]


class TransitionIn(BaseModel):
    to: Literal["acknowledged", "scheduled", "done"]
    scheduled_for: date | None = None
    cause: str | None = Field(default=None, max_length=64)
    notes: str | None = Field(default=None, max_length=10_000)
    failed_at: AwareDatetime | None = None


class LabelOut(BaseModel):
    site: str
    line: str
    asset: str
    asset_type: str
    time: datetime
    cause: str
    failure: bool


def _emails(values: list[str]) -> list[str]:
    for value in values:
        if not _EMAIL.match(value):
            raise ValueError(f"{value!r} is not an e-mail address")
    return values


class ContractFields(BaseModel):
    """Shared rules of a new contract and of a change to one."""

    @field_validator("emails", "escalation_emails", check_fields=False)
    @classmethod
    def _valid_emails(cls, values: list[str] | None) -> list[str] | None:
        return None if values is None else _emails(values)

    @field_validator("webhook_url", check_fields=False)
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must start with http:// or https:// and name a host")
        return value


class ContractIn(ContractFields):
    team: str = Field(min_length=1, max_length=200)
    asset_types: list[Annotated[str, Field(min_length=1, max_length=100)]] = []
    asset_keys: list[Annotated[str, Field(min_length=1, max_length=600)]] = []
    risk_threshold: float = Field(default=0.8, gt=0, le=1)
    rul_threshold_hours: float | None = Field(default=None, gt=0)
    webhook_url: str | None = Field(default=None, max_length=2000)
    webhook_secret: str | None = Field(default=None, min_length=16, max_length=200)
    emails: list[str] = []
    escalate_after_minutes: int | None = Field(default=None, ge=1, le=60 * 24 * 30)
    escalation_emails: list[str] = []

    @model_validator(mode="after")
    def _complete(self) -> ContractIn:
        _check_contract(
            self.asset_types, self.asset_keys, self.webhook_url, self.webhook_secret,
            self.emails, self.escalate_after_minutes, self.escalation_emails,
        )  # fmt: skip
        return self


class ContractPatch(ContractFields):
    team: str | None = Field(default=None, min_length=1, max_length=200)
    asset_types: list[Annotated[str, Field(min_length=1, max_length=100)]] | None = None
    asset_keys: list[Annotated[str, Field(min_length=1, max_length=600)]] | None = None
    risk_threshold: float | None = Field(default=None, gt=0, le=1)
    rul_threshold_hours: float | None = Field(default=None, gt=0)
    webhook_url: str | None = Field(default=None, max_length=2000)
    webhook_secret: str | None = Field(default=None, min_length=16, max_length=200)
    emails: list[str] | None = None
    escalate_after_minutes: int | None = Field(default=None, ge=1, le=60 * 24 * 30)
    escalation_emails: list[str] | None = None
    active: bool | None = None


class ContractOut(BaseModel):
    id: int
    team: str
    asset_types: list[str]
    asset_keys: list[str]
    risk_threshold: float
    rul_threshold_hours: float | None
    webhook_url: str | None
    has_webhook_secret: bool
    emails: list[str]
    escalate_after_minutes: int | None
    escalation_emails: list[str]
    active: bool
    created_at: datetime


def _check_contract(
    asset_types: list[str],
    asset_keys: list[str],
    webhook_url: str | None,
    webhook_secret: str | None,
    emails: list[str],
    escalate_after_minutes: int | None,
    escalation_emails: list[str],
) -> None:
    if not asset_types and not asset_keys:
        raise ValueError("asset_types or asset_keys: say which assets the contract covers")
    if webhook_url and not webhook_secret:
        raise ValueError("webhook_secret: a webhook needs a secret (16+ characters) to sign with")
    if not webhook_url and not emails:
        raise ValueError("webhook_url or emails: say how the team is reached")
    if escalate_after_minutes is not None and not escalation_emails:
        raise ValueError("escalation_emails: say whom an unacknowledged alert escalates to")


# --- models ------------------------------------------------------------------------------


@router.get("/models", response_model=list[ModelOut])
def list_models(
    tenant: Reader,
    session: DbSession,
    asset_type: Annotated[str | None, Query(max_length=100)] = None,
    kind: ModelKind | None = None,
) -> list[ModelOut]:
    rows = registry.versions(session, tenant.id, asset_type, kind)
    return [ModelOut.model_validate(row, from_attributes=True) for row in rows]


@router.post("/models/{version_id}/promote", response_model=ModelOut)
def promote_model(version_id: int, tenant: Admin, session: DbSession, caller: Person) -> ModelOut:
    try:
        row = registry.promote(session, tenant.id, version_id, caller.name)
    except RegistryError as exc:
        raise HTTPException(_registry_status(exc), str(exc)) from None
    return ModelOut.model_validate(row, from_attributes=True)


@router.post("/models/rollback", response_model=ModelOut)
def rollback_model(body: RollbackIn, tenant: Admin, session: DbSession, caller: Person) -> ModelOut:
    """Retire the promoted version of the asset type and promote the one it replaced."""
    try:
        row = registry.rollback(session, tenant.id, body.asset_type, body.kind, caller.name)
    except RegistryError as exc:
        raise HTTPException(_registry_status(exc), str(exc)) from None
    return ModelOut.model_validate(row, from_attributes=True)


def _registry_status(exc: RegistryError) -> int:
    return 404 if str(exc).startswith("no model version") else 409


# --- predictions -------------------------------------------------------------------------


@router.get("/predictions", response_model=list[PredictionOut])
def list_predictions(tenant: Reader, session: DbSession) -> list[PredictionOut]:
    """Each asset's current prediction, highest risk first, then shortest remaining life,
    with the evidence: the signals that contributed most and since when they drift."""
    return [
        PredictionOut.model_validate(row, from_attributes=True)
        for row in open_predictions(session, tenant.id)
    ]


# --- alerts ------------------------------------------------------------------------------


@router.get("/alerts", response_model=list[AlertOut])
def list_alerts(
    tenant: Reader, session: DbSession, status: AlertStatus | None = None
) -> list[AlertOut]:
    return [_alert_out(session, alert) for alert in alerts(session, tenant.id, status)]


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertOut)
def acknowledge_alert(
    alert_id: int, tenant: Engineer, session: DbSession, caller: Person
) -> AlertOut:
    try:
        alert = acknowledge(session, tenant.id, alert_id, caller.name, utcnow())
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from None
    except AlertError as exc:
        raise HTTPException(409, str(exc)) from None
    return _alert_out(session, alert)


@router.post("/alerts/{alert_id}/work-order", response_model=WorkOrderOut, status_code=201)
def open_work_order(
    alert_id: int, tenant: Engineer, session: DbSession, caller: Person
) -> WorkOrderOut:
    """Open the work order that follows the alert (one per alert)."""
    try:
        order = open_from_alert(session, tenant.id, alert_id, caller.name, utcnow())
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from None
    except WorkOrderError as exc:
        raise HTTPException(409, str(exc)) from None
    return _work_order_out(order)


def _alert_out(session: Session, alert: Alert) -> AlertOut:
    contract = session.get(ServiceContract, alert.contract_id)
    order_id = session.scalar(select(WorkOrder.id).where(WorkOrder.alert_id == alert.id))
    sent = session.scalars(
        select(AlertDelivery).where(AlertDelivery.alert_id == alert.id).order_by(AlertDelivery.id)
    )
    return AlertOut.model_validate(
        {
            **{c: getattr(alert, c) for c in AlertOut.model_fields if hasattr(alert, c)},
            "team": contract.team if contract is not None else "",
            "work_order_id": order_id,
            "deliveries": [DeliveryOut.model_validate(d, from_attributes=True) for d in sent],
        }
    )


# --- work orders -------------------------------------------------------------------------


@router.get("/work-orders", response_model=list[WorkOrderOut])
def list_work_orders(
    tenant: Reader, session: DbSession, status: WorkOrderStatus | None = None
) -> list[WorkOrderOut]:
    return [_work_order_out(order) for order in work_orders(session, tenant.id, status)]


@router.post("/work-orders/{order_id}/transition", response_model=WorkOrderOut)
def move_work_order(
    order_id: int, body: TransitionIn, tenant: Engineer, session: DbSession, caller: Person
) -> WorkOrderOut:
    """open → acknowledged → scheduled (scheduled_for) → done (cause, notes, failed_at)."""
    try:
        order = transition(
            session, tenant.id, order_id, WorkOrderStatus(body.to), caller.name, utcnow(),
            scheduled_for=body.scheduled_for, cause=body.cause, notes=body.notes,
            failed_at=body.failed_at,
        )  # fmt: skip
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from None
    except WorkOrderError as exc:
        raise HTTPException(409, str(exc)) from None
    return _work_order_out(order)


@router.get("/causes", response_model=list[str])
def list_causes(
    tenant: Reader, asset_type: Annotated[str, Query(min_length=1, max_length=100)]
) -> list[str]:
    """The causes a work order on this asset type may close with."""
    return list(causes_for(asset_type))


@router.get("/training-labels", response_model=list[LabelOut])
def list_training_labels(
    tenant: Reader,
    session: DbSession,
    asset_type: Annotated[str | None, Query(max_length=100)] = None,
) -> list[LabelOut]:
    """The causes finished work orders found: (asset, time, cause) rows for training."""
    return [
        LabelOut(
            site=label.site,
            line=label.line,
            asset=label.asset,
            asset_type=label.asset_type,
            time=label.time,
            cause=label.cause,
            failure=label.is_failure,
        )
        for label in training_labels(session, tenant.id, asset_type)
    ]


def _work_order_out(order: WorkOrder) -> WorkOrderOut:
    fields = {c: getattr(order, c) for c in WorkOrderOut.model_fields if hasattr(order, c)}
    return WorkOrderOut.model_validate({**fields, "causes": list(causes_for(order.asset_type))})


# --- service contracts -------------------------------------------------------------------


@router.get("/contracts", response_model=list[ContractOut])
def list_contracts(tenant: Admin, session: DbSession) -> list[ContractOut]:
    rows = session.scalars(
        select(ServiceContract)
        .where(ServiceContract.tenant_id == tenant.id)
        .order_by(ServiceContract.id)
    )
    return [_contract_out(row) for row in rows]


@router.post("/contracts", response_model=ContractOut, status_code=201)
def create_contract(
    body: ContractIn, tenant: Admin, session: DbSession, caller: Person
) -> ContractOut:
    _check_destination(body.webhook_url)
    row = ServiceContract(tenant_id=tenant.id, active=True, **body.model_dump())
    session.add(row)
    session.flush()
    _audit(session, caller, tenant, "maintenance.contract.create", row)
    return _contract_out(row)


@router.patch("/contracts/{contract_id}", response_model=ContractOut)
def change_contract(
    contract_id: int, body: ContractPatch, tenant: Admin, session: DbSession, caller: Person
) -> ContractOut:
    row = _contract(session, tenant, contract_id)
    _check_destination(body.webhook_url)
    for name, value in body.model_dump(exclude_unset=True).items():
        if value is None and name not in ("rul_threshold_hours", "escalate_after_minutes",
                                          "webhook_url", "webhook_secret"):  # fmt: skip
            raise HTTPException(422, f"{name}: may not be null")
        setattr(row, name, value)
    try:
        _check_contract(
            row.asset_types, row.asset_keys, row.webhook_url, row.webhook_secret, row.emails,
            row.escalate_after_minutes, row.escalation_emails,
        )  # fmt: skip
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    _audit(session, caller, tenant, "maintenance.contract.change", row)
    return _contract_out(row)


@router.delete("/contracts/{contract_id}", status_code=204)
def end_contract(contract_id: int, tenant: Admin, session: DbSession, caller: Person) -> Response:
    """End the contract: it stops matching new alerts; its past alerts keep their team."""
    row = _contract(session, tenant, contract_id)
    row.active = False
    _audit(session, caller, tenant, "maintenance.contract.end", row)
    return Response(status_code=204)


def _check_destination(url: str | None) -> None:
    """A webhook may not point into the platform's own network (server-side request
    forgery). Here, in the endpoint's worker thread, not in a body validator: resolving
    the host blocks, and validators run on the event loop. Delivery checks again."""
    if not url:
        return
    try:
        policy = DestinationPolicy.from_environment()
    except ValueError as exc:  # the operator's setting, not the caller's input
        raise HTTPException(500, f"the platform is misconfigured: {exc}") from None
    try:
        policy.check(url)
    except DestinationRefused as exc:
        raise HTTPException(422, str(exc)) from None
    except DestinationUnresolved:
        pass  # not resolvable yet (a receiver being set up): checked at every delivery


def _contract(session: Session, tenant: Tenant, contract_id: int) -> ServiceContract:
    row = session.get(ServiceContract, contract_id)
    if row is None or row.tenant_id != tenant.id:
        raise HTTPException(404, f"no service contract {contract_id} in this tenant")
    return row


def _contract_out(row: ServiceContract) -> ContractOut:
    fields = {c: getattr(row, c) for c in ContractOut.model_fields if hasattr(row, c)}
    return ContractOut.model_validate({**fields, "has_webhook_secret": bool(row.webhook_secret)})


def _audit(
    session: Session, caller: Principal, tenant: Tenant, action: str, row: ServiceContract
) -> None:
    session.flush()
    session.add(
        AuditEvent(
            actor=caller.name,
            tenant_id=tenant.id,
            action=action,
            detail={"contract": row.id, "team": row.team, "active": row.active},
        )
    )
