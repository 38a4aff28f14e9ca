"""The model registry's table: one row per trained model version of a tenant's asset type.

The fitted model is stored in the row itself (joblib bytes in a binary column) with its
SHA-256. Keeping it in the metadata store rather than in a folder means one backup and
one transaction hold the version and its file together, every cloud replica and job
worker sees the same bytes without a shared file system, and a version can never point
at a file that was moved or deleted. The models are small (an IsolationForest over a few
dozen window features is a few hundred kilobytes, compressed), well within what
PostgreSQL's ``bytea`` and SQLite blobs handle. The digest is checked on every load, so
a damaged or swapped blob is refused instead of being unpickled.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from maintenance.utc_datetime import UtcDateTime, utcnow
from tenants.db import Base


class ModelState(StrEnum):
    CANDIDATE = "candidate"  # trained and registered, not used for scoring
    PROMOTED = "promoted"  # the one version scoring uses (at most one per type and kind)
    RETIRED = "retired"  # was promoted once; kept for roll-back and audit


class ModelKind(StrEnum):
    ANOMALY = "anomaly"  # unsupervised: learnt from healthy operation only
    RUL = "rul"  # remaining useful life, learnt from run-to-failure histories


class ModelVersion(Base):
    __tablename__ = "maintenance_model_versions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "asset_type", "kind", "version"),
        # The database, not only the code, guarantees one promoted version per tenant,
        # asset type and kind, so two concurrent promotions cannot both win.
        Index(
            "uq_maintenance_model_versions_promoted",
            "tenant_id",
            "asset_type",
            "kind",
            unique=True,
            sqlite_where=text("state = 'promoted'"),
            postgresql_where=text("state = 'promoted'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    asset_type: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    version: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(20), default=ModelState.CANDIDATE.value)
    trained_from: Mapped[datetime] = mapped_column(UtcDateTime())
    trained_until: Mapped[datetime] = mapped_column(UtcDateTime())
    # [{"site", "line", "asset"}]: the assets it learnt from, and by default scores.
    assets: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    tags: Mapped[list[str]] = mapped_column(JSON)
    features: Mapped[list[str]] = mapped_column(JSON)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    artifact: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    artifact_sha256: Mapped[str] = mapped_column(String(64))
    artifact_size: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    promoted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    retired_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # The version that was promoted when this one was: where a roll-back returns to.
    previous_id: Mapped[int | None] = mapped_column(ForeignKey("maintenance_model_versions.id"))
