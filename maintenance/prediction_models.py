"""The predictions table: what scoring concluded about one asset over one time window."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from maintenance.utc_datetime import UtcDateTime, utcnow
from tenants.db import Base

# Unsupervised models cannot say which failure is coming, only that the asset no longer
# behaves like its healthy self.
ANOMALY = "anomaly"


class Prediction(Base):
    """Risk 0..1, remaining useful life with an interval when a RUL model exists, and the
    evidence: the signals that contributed most and since when each has drifted.

    A new prediction for the same asset and failure kind supersedes the previous one;
    the open predictions are the ones not superseded.
    """

    __tablename__ = "maintenance_predictions"
    __table_args__ = (Index("ix_maintenance_predictions_open", "tenant_id", "superseded_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    site: Mapped[str] = mapped_column(String(200))
    line: Mapped[str] = mapped_column(String(200))
    asset: Mapped[str] = mapped_column(String(200))
    asset_type: Mapped[str] = mapped_column(String(100))
    failure_kind: Mapped[str] = mapped_column(String(64), default=ANOMALY)
    risk: Mapped[float] = mapped_column(Float)
    anomaly_score: Mapped[float] = mapped_column(Float)
    rul_hours: Mapped[float | None] = mapped_column(Float)
    rul_low_hours: Mapped[float | None] = mapped_column(Float)
    rul_high_hours: Mapped[float | None] = mapped_column(Float)
    # [{"signal", "feature", "deviation", "share", "drifting_since"}], largest first.
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    window_start: Mapped[datetime] = mapped_column(UtcDateTime())
    window_end: Mapped[datetime] = mapped_column(UtcDateTime())
    model_version_id: Mapped[int] = mapped_column(ForeignKey("maintenance_model_versions.id"))
    rul_model_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("maintenance_model_versions.id")
    )
    made_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    superseded_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
