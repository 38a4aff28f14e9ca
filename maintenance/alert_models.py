"""Service contracts, the alerts raised under them and the deliveries of each alert."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from maintenance.utc_datetime import UtcDateTime, utcnow
from tenants.db import Base


class ServiceContract(Base):
    """A service team (equipment maker or contractor) looking after some of a tenant's
    assets: which ones (by asset type or by asset key), from what risk it wants to hear,
    and how to reach it. The webhook secret signs deliveries; it is never shown again."""

    __tablename__ = "maintenance_service_contracts"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    team: Mapped[str] = mapped_column(String(200))
    asset_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    # "P-101" (any site and line) or "site/line/P-101" (exactly that one).
    asset_keys: Mapped[list[str]] = mapped_column(JSON, default=list)
    risk_threshold: Mapped[float] = mapped_column(Float)
    rul_threshold_hours: Mapped[float | None] = mapped_column(Float)
    webhook_url: Mapped[str | None] = mapped_column(String(2000))
    webhook_secret: Mapped[str | None] = mapped_column(String(200))
    emails: Mapped[list[str]] = mapped_column(JSON, default=list)
    escalate_after_minutes: Mapped[int | None] = mapped_column(Integer)
    escalation_emails: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class AlertStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    CLOSED = "closed"


class Alert(Base):
    """One open alert per asset and failure kind: repeated predictions update it (risk,
    RUL, the latest prediction, a count) instead of raising another."""

    __tablename__ = "maintenance_alerts"
    __table_args__ = (
        # Deduplication is a database rule, so two scoring jobs racing cannot both raise.
        Index(
            "uq_maintenance_alerts_one_open",
            "tenant_id",
            "site",
            "line",
            "asset",
            "failure_kind",
            unique=True,
            sqlite_where=text("status != 'closed'"),
            postgresql_where=text("status != 'closed'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("maintenance_service_contracts.id"))
    site: Mapped[str] = mapped_column(String(200))
    line: Mapped[str] = mapped_column(String(200))
    asset: Mapped[str] = mapped_column(String(200))
    asset_type: Mapped[str] = mapped_column(String(100))
    failure_kind: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default=AlertStatus.OPEN.value)
    risk: Mapped[float] = mapped_column(Float)
    peak_risk: Mapped[float] = mapped_column(Float)
    rul_hours: Mapped[float | None] = mapped_column(Float)
    rul_low_hours: Mapped[float | None] = mapped_column(Float)
    prediction_id: Mapped[int] = mapped_column(ForeignKey("maintenance_predictions.id"))
    predictions_seen: Mapped[int] = mapped_column(Integer, default=1)
    raised_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    acknowledged_by: Mapped[str | None] = mapped_column(String(254))
    escalated_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for its next attempt
    SENT = "sent"
    FAILED = "failed"  # gave up after the last attempt


class AlertDelivery(Base):
    """One message about an alert to one channel (a webhook, or e-mail to a list), kept
    until sent: scoring only queues it, so a receiver that is down never holds scoring
    up, and its retries survive a restart of the worker."""

    __tablename__ = "maintenance_alert_deliveries"
    __table_args__ = (Index("ix_maintenance_alert_deliveries_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("maintenance_alerts.id"), index=True)
    channel: Mapped[str] = mapped_column(String(20))  # "webhook" or "email"
    event: Mapped[str] = mapped_column(String(40))  # "alert.raised", "alert.escalated"
    target: Mapped[str] = mapped_column(String(2000))  # the URL, or comma-separated addresses
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), default=DeliveryStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(String(500))
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
