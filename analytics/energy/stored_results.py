"""The energy analyses the ``energy_analysis`` job computed, kept per tenant and site.

One row per site and run: the plant manager's energy page shows the latest row of its
site (and when it was computed) instead of recomputing a month of anomalies on every
request; earlier rows stay, so a day's result can be looked up after later runs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from maintenance.utc_datetime import UtcDateTime, utcnow
from tenants.asset_model import KEY_MAX_LENGTH
from tenants.db import Base


class EnergyResult(Base):
    __tablename__ = "energy_results"
    # The page asks for "the latest of this tenant's site": one index serves it.
    __table_args__ = (
        Index("ix_energy_results_tenant_id_site_computed_at", "tenant_id", "site", "computed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    site: Mapped[str] = mapped_column(String(KEY_MAX_LENGTH))
    period_start: Mapped[datetime] = mapped_column(UtcDateTime())
    period_end: Mapped[datetime] = mapped_column(UtcDateTime())
    computed_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    # The job that computed it (None: the command line), and who asked for it.
    job_id: Mapped[str | None] = mapped_column(String(36))
    created_by: Mapped[str] = mapped_column(String(254))
    result: Mapped[dict[str, Any]] = mapped_column(JSON)


def store_result(
    session: Session,
    tenant_id: int,
    site: str,
    period_start: datetime,
    period_end: datetime,
    result: dict[str, Any],
    created_by: str,
    job_id: str | None = None,
) -> EnergyResult:
    """Add one site's result (flushed, not committed)."""
    row = EnergyResult(
        tenant_id=tenant_id,
        site=site,
        period_start=period_start,
        period_end=period_end,
        computed_at=utcnow(),
        job_id=job_id,
        created_by=created_by,
        result=result,
    )
    session.add(row)
    session.flush()
    return row


def latest_result(session: Session, tenant_id: int, site: str) -> EnergyResult | None:
    """The site's most recently computed result, or None before the first run."""
    return session.scalar(
        select(EnergyResult)
        .where(EnergyResult.tenant_id == tenant_id, EnergyResult.site == site)
        .order_by(EnergyResult.computed_at.desc(), EnergyResult.id.desc())
        .limit(1)
    )
