"""What an enterprise reports of its own month: output value, and output it does not count
on the platform (tonnes of a process plant).

The platform measures energy and, from production counters, parts and units; it cannot
measure what the output was worth, and a pump station has no part counter. Enterprises
file these monthly figures (as they do for the statistics bureau); the facts gatherer
reads them for energy per 10,000 yuan, and for energy per unit where no counter counts
output.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Float, ForeignKey, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from analytics.bureau.facts import check_period
from maintenance.utc_datetime import UtcDateTime, utcnow
from tenants.db import Base
from tenants.models import AuditEvent

OUTPUT_UNIT_MAX = 20


class ReportedOutput(Base):
    __tablename__ = "bureau_reported_output"
    __table_args__ = (UniqueConstraint("tenant_id", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(7))
    # Gross output value of the month, 10,000 yuan (万元); None: not reported.
    output_value_10k_yuan: Mapped[float | None] = mapped_column(Float)
    # Output of the month in ``output_unit`` (e.g. 1200 t); None: not reported.
    output_quantity: Mapped[float | None] = mapped_column(Float)
    output_unit: Mapped[str | None] = mapped_column(String(OUTPUT_UNIT_MAX))
    reported_by: Mapped[str] = mapped_column(String(254))
    reported_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


@dataclass(frozen=True)
class OutputReport:
    output_value_10k_yuan: float | None
    output_quantity: float | None
    output_unit: str | None


class ReportedOutputError(ValueError):
    """A report that cannot be kept; ``field`` names the figure at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def _check(report: OutputReport) -> None:
    for name in ("output_value_10k_yuan", "output_quantity"):
        value = getattr(report, name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ReportedOutputError(name, f"must be a number, not {value!r}")
        if not math.isfinite(value) or value < 0:
            raise ReportedOutputError(name, f"must be a finite number ≥ 0, not {value!r}")
    unit = report.output_unit
    if (report.output_quantity is None) != (unit is None or not unit.strip()):
        raise ReportedOutputError(
            "output_unit", "give output_quantity and output_unit together (e.g. 1200 and 't')"
        )
    if unit is not None and len(unit) > OUTPUT_UNIT_MAX:
        raise ReportedOutputError("output_unit", f"at most {OUTPUT_UNIT_MAX} characters")


def set_reported_output(
    session: Session, tenant_id: int, period: str, report: OutputReport, actor: str
) -> ReportedOutput:
    """Keep the enterprise's figures of ``period`` (replacing what it reported before)."""
    try:
        check_period(period)
    except ValueError as exc:
        raise ReportedOutputError("period", str(exc)) from None
    _check(report)
    row = session.scalar(
        select(ReportedOutput).where(
            ReportedOutput.tenant_id == tenant_id, ReportedOutput.period == period
        )
    )
    if row is None:
        row = ReportedOutput(tenant_id=tenant_id, period=period)
        session.add(row)
    row.output_value_10k_yuan = report.output_value_10k_yuan
    row.output_quantity = report.output_quantity
    row.output_unit = report.output_unit.strip() if report.output_unit else None
    row.reported_by = actor
    row.reported_at = utcnow()
    session.add(
        AuditEvent(
            actor=actor,
            tenant_id=tenant_id,
            action="bureau.output.report",
            detail={"period": period},
        )
    )
    session.flush()
    return row


def reported_output(session: Session, tenant_id: int, period: str) -> OutputReport | None:
    row = session.scalar(
        select(ReportedOutput).where(
            ReportedOutput.tenant_id == tenant_id, ReportedOutput.period == period
        )
    )
    if row is None:
        return None
    return OutputReport(row.output_value_10k_yuan, row.output_quantity, row.output_unit)
