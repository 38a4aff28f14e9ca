"""Each enterprise's facts of each month, kept in the metadata store.

Facts are gathered once a month (the ``bureau_report`` job) and kept: the asset register
has no history, so "machines registered at the end of March" can only be read in March,
and trends over twelve months are built from the twelve stored snapshots rather than by
reading a year of every historian again. Only the bureau's code reads this table, and it
hands the bureau aggregates, never a row.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from analytics.bureau.facts import EnterpriseFacts, check_period
from maintenance.utc_datetime import UtcDateTime, utcnow
from tenants.db import Base


class StoredFacts(Base):
    __tablename__ = "bureau_facts"
    __table_args__ = (UniqueConstraint("tenant_id", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(7), index=True)  # YYYY-MM
    facts: Mapped[dict[str, Any]] = mapped_column(JSON)  # EnterpriseFacts.to_dict()
    gathered_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


def store_facts(
    session: Session, tenant_id: int, facts: EnterpriseFacts, at: datetime | None = None
) -> None:
    """Keep ``facts`` as the tenant's facts of their month (replacing earlier ones)."""
    at = at or utcnow()
    row = session.scalar(
        select(StoredFacts).where(
            StoredFacts.tenant_id == tenant_id, StoredFacts.period == facts.period
        )
    )
    if row is not None:
        row.facts, row.gathered_at = facts.to_dict(), at
        session.flush()
        return
    try:
        # A savepoint: a job delivered twice may insert the same month at the same moment.
        with session.begin_nested():
            session.add(
                StoredFacts(
                    tenant_id=tenant_id, period=facts.period, facts=facts.to_dict(), gathered_at=at
                )
            )
    except IntegrityError:
        store_facts(session, tenant_id, facts, at)


def load_facts(session: Session, periods: Iterable[str]) -> list[EnterpriseFacts]:
    """Every enterprise's stored facts of these months."""
    wanted = sorted({check_period(p) for p in periods})
    if not wanted:
        return []
    rows = session.scalars(
        select(StoredFacts.facts)
        .where(StoredFacts.period.in_(wanted))
        .order_by(StoredFacts.period, StoredFacts.tenant_id)
    )
    return [EnterpriseFacts.from_dict(data) for data in rows]


def facts_periods(session: Session) -> list[str]:
    """The months with stored facts, oldest first."""
    return list(session.scalars(select(StoredFacts.period).distinct().order_by(StoredFacts.period)))


def facts_version(session: Session, periods: Iterable[str]) -> tuple[int, str]:
    """(rows, latest gathering) of these months: changes whenever their facts do, so a
    cache of aggregates can be keyed on it."""
    count, latest = session.execute(
        select(func.count(StoredFacts.id), func.max(StoredFacts.gathered_at)).where(
            StoredFacts.period.in_(sorted(set(periods)))
        )
    ).one()
    return int(count or 0), str(latest)
