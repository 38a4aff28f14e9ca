"""The work orders table: the service visit that follows an alert."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Date, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from maintenance.utc_datetime import UtcDateTime, utcnow
from tenants.db import Base


class WorkOrderStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    SCHEDULED = "scheduled"
    DONE = "done"


class WorkOrder(Base):
    """open → acknowledged → scheduled (a date) → done (the cause found, notes). The cause
    and when the failure happened become a training label for the asset type."""

    __tablename__ = "maintenance_work_orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("maintenance_alerts.id"), unique=True)
    site: Mapped[str] = mapped_column(String(200))
    line: Mapped[str] = mapped_column(String(200))
    asset: Mapped[str] = mapped_column(String(200))
    asset_type: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), default=WorkOrderStatus.OPEN.value)
    scheduled_for: Mapped[date | None] = mapped_column(Date)
    cause: Mapped[str | None] = mapped_column(String(64))
    notes: Mapped[str | None] = mapped_column(Text)
    # When the failure happened (or the part was found failed); defaults to completion.
    failed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_by: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    acknowledged_by: Mapped[str | None] = mapped_column(String(254))
    scheduled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    done_by: Mapped[str | None] = mapped_column(String(254))
