"""The model registry: register trained versions, promote one, roll back, load for scoring.

Per tenant, asset type and kind (anomaly, RUL) at most one version is promoted; scoring
uses it. Promoting retires the version it replaces and remembers it, so a roll-back
re-promotes exactly the version that was in use before.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import joblib
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from maintenance.registry_models import ModelKind, ModelState, ModelVersion
from maintenance.utc_datetime import utcnow
from tenants.models import AuditEvent

# zlib level 3: IsolationForest trees compress about 4x at little cost.
COMPRESS = ("zlib", 3)


class RegistryError(Exception):
    """A registry request that cannot be met; the message says which version and why."""


@dataclass(frozen=True)
class LoadedModel:
    version: ModelVersion
    model: Any


def dump_model(model: Any) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(model, buffer, compress=COMPRESS)
    return buffer.getvalue()


def register(
    session: Session,
    tenant_id: int,
    asset_type: str,
    kind: ModelKind,
    model: Any,
    *,
    trained_from: datetime,
    trained_until: datetime,
    assets: list[dict[str, str]],
    tags: list[str],
    features: list[str],
    metrics: dict[str, Any],
    params: dict[str, Any] | None = None,
    actor: str,
) -> ModelVersion:
    """Store ``model`` as the next candidate version of (tenant, asset type, kind)."""
    if not asset_type.strip():
        raise RegistryError("asset_type must not be empty")
    if trained_from >= trained_until:
        raise RegistryError(
            f"training range is empty: {trained_from} is not before {trained_until}"
        )
    blob = dump_model(model)
    latest = session.scalar(
        select(func.max(ModelVersion.version)).where(
            ModelVersion.tenant_id == tenant_id,
            ModelVersion.asset_type == asset_type,
            ModelVersion.kind == kind.value,
        )
    )
    row = ModelVersion(
        tenant_id=tenant_id,
        asset_type=asset_type,
        kind=kind.value,
        version=(latest or 0) + 1,
        state=ModelState.CANDIDATE.value,
        trained_from=trained_from,
        trained_until=trained_until,
        assets=assets,
        tags=tags,
        features=features,
        params=params or {},
        metrics=metrics,
        artifact=blob,
        artifact_sha256=hashlib.sha256(blob).hexdigest(),
        artifact_size=len(blob),
        created_by=actor,
    )
    session.add(row)
    session.flush()
    _audit(session, actor, row, "maintenance.model.register")
    return row


def versions(
    session: Session, tenant_id: int, asset_type: str | None = None, kind: ModelKind | None = None
) -> list[ModelVersion]:
    """A tenant's versions, newest first (without loading the model files)."""
    query = select(ModelVersion).where(ModelVersion.tenant_id == tenant_id)
    if asset_type is not None:
        query = query.where(ModelVersion.asset_type == asset_type)
    if kind is not None:
        query = query.where(ModelVersion.kind == kind.value)
    order = (ModelVersion.asset_type, ModelVersion.kind, ModelVersion.version.desc())
    return list(session.scalars(query.order_by(*order)))


def get_version(session: Session, tenant_id: int, version_id: int) -> ModelVersion:
    row = session.get(ModelVersion, version_id)
    if row is None or row.tenant_id != tenant_id:
        raise RegistryError(f"no model version {version_id} in this tenant")
    return row


def promoted(
    session: Session, tenant_id: int, asset_type: str, kind: ModelKind
) -> ModelVersion | None:
    return session.scalar(
        select(ModelVersion).where(
            ModelVersion.tenant_id == tenant_id,
            ModelVersion.asset_type == asset_type,
            ModelVersion.kind == kind.value,
            ModelVersion.state == ModelState.PROMOTED.value,
        )
    )


def promote(session: Session, tenant_id: int, version_id: int, actor: str) -> ModelVersion:
    """Make the version the one scoring uses; the one it replaces is retired."""
    row = get_version(session, tenant_id, version_id)
    if row.state == ModelState.PROMOTED.value:
        raise RegistryError(f"model version {version_id} is promoted already")
    current = promoted(session, tenant_id, row.asset_type, ModelKind(row.kind))
    now = utcnow()
    if current is not None:
        _retire(current, now)
        _flush(session, row)
    row.previous_id = current.id if current is not None else None
    _promote(row, now)
    _flush(session, row)
    _audit(session, actor, row, "maintenance.model.promote")
    return row


def rollback(
    session: Session, tenant_id: int, asset_type: str, kind: ModelKind, actor: str
) -> ModelVersion:
    """Retire the promoted version and re-promote the one it replaced; returns that one."""
    current = promoted(session, tenant_id, asset_type, kind)
    if current is None:
        raise RegistryError(f"no {kind.value} model is promoted for asset type {asset_type!r}")
    if current.previous_id is None:
        raise RegistryError(
            f"version {current.version} of {asset_type!r} was the first promoted: "
            "there is nothing to roll back to"
        )
    previous = get_version(session, tenant_id, current.previous_id)
    now = utcnow()
    _retire(current, now)
    _flush(session, previous)
    _promote(previous, now)
    _flush(session, previous)
    _audit(session, actor, previous, "maintenance.model.rollback", rolled_back=current.version)
    return previous


def load_promoted(
    session: Session, tenant_id: int, asset_type: str, kind: ModelKind = ModelKind.ANOMALY
) -> LoadedModel | None:
    """The promoted version and its model, or None when none is promoted."""
    row = promoted(session, tenant_id, asset_type, kind)
    return None if row is None else LoadedModel(row, load_model(row))


def load_model(row: ModelVersion) -> Any:
    """Unpickle the version's file after checking it is byte for byte what was stored."""
    blob = row.artifact
    if hashlib.sha256(blob).hexdigest() != row.artifact_sha256:
        # joblib files are pickles: never unpickle bytes that are not what was trained.
        raise RegistryError(
            f"model version {row.id} ({row.asset_type} v{row.version}): the stored file "
            "does not match its SHA-256; refusing to load it"
        )
    return joblib.load(io.BytesIO(blob))


def _promote(row: ModelVersion, now: datetime) -> None:
    row.state = ModelState.PROMOTED.value
    row.promoted_at = now
    row.retired_at = None


def _retire(row: ModelVersion, now: datetime) -> None:
    row.state = ModelState.RETIRED.value
    row.retired_at = now


def _flush(session: Session, row: ModelVersion) -> None:
    # Callers flush the retirement before the promotion: the unit of work orders
    # updates by primary key, and the partial unique index refuses two promoted rows
    # even for the instant between two statements.
    try:
        session.flush()
    except IntegrityError:
        raise RegistryError(
            f"another promotion of {row.asset_type!r} happened at the same time; retry"
        ) from None


def _audit(session: Session, actor: str, row: ModelVersion, action: str, **extra: Any) -> None:
    detail = {"asset_type": row.asset_type, "kind": row.kind, "version": row.version, **extra}
    session.add(AuditEvent(actor=actor, tenant_id=row.tenant_id, action=action, detail=detail))
