"""How much of each day an edge agent was in contact with the cloud.

The agent registry keeps only an agent's last status report, which says nothing about
last month. Collection availability (the bureau's "agent uptime") needs the share of a
month the agents were reporting, so each status report also adds to a row per agent and
local day: the reports received, and the seconds they vouch for.

Two consecutive reports vouch for the time between them when they are no further apart
than ``STALE_AFTER_INTERVALS`` report intervals (the registry's own rule for a stale
agent): an agent reporting every 30 s is taken to have been up between two reports 60 s
apart, and down between two reports an hour apart. The first report after a silence
vouches for nothing before it, so an agent reporting without a break all day covers the
day less its first interval. Days are local days of ``CONTACT_TIMEZONE`` because the
bureau's months are local months; a span that crosses midnight is split between the two
days.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, Float, ForeignKey, Integer, func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from tenants.agent_registry import STALE_AFTER_INTERVALS, RegisteredAgent, as_utc
from tenants.db import Base
from tenants.models import AgentToken

# The platform's local time (the plant pages and the bureau's months use the same).
CONTACT_TIMEZONE = "Asia/Shanghai"


class AgentContactDay(Base):
    __tablename__ = "agent_contact_days"

    agent_id: Mapped[int] = mapped_column(
        ForeignKey("registered_agents.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)  # local day (CONTACT_TIMEZONE)
    reports: Mapped[int] = mapped_column(Integer, default=0)
    covered_s: Mapped[float] = mapped_column(Float, default=0.0)


def _local_day_spans(start: datetime, end: datetime, zone: ZoneInfo) -> list[tuple[date, float]]:
    """[start, end) cut at local midnights: (local day, seconds in it)."""
    out = []
    cursor = start
    while cursor < end:
        day = cursor.astimezone(zone).date()
        midnight = datetime.combine(day + timedelta(days=1), time(), zone).astimezone(UTC)
        stop = min(end, midnight)
        out.append((day, (stop - cursor).total_seconds()))
        cursor = stop
    return out


@cache
def _upsert(dialect: str) -> Any:
    """INSERT … ON CONFLICT DO UPDATE adding to the counts: one statement, so replicas
    recording reports of one agent at once never lose a count. Built once per dialect
    (the statement takes its values as parameters), as status reports are frequent."""
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    table = AgentContactDay.__table__
    statement = insert(table)
    return statement.on_conflict_do_update(
        index_elements=[table.c.agent_id, table.c.day],
        set_={
            "reports": table.c.reports + statement.excluded.reports,
            "covered_s": table.c.covered_s + statement.excluded.covered_s,
        },
    )


def record_contact(
    session: Session, agent: RegisteredAgent, at: datetime, interval_s: float
) -> None:
    """Count a status report of ``agent`` received ``at`` (aware), announcing that the
    next comes in ``interval_s``. Call it before ``record_status`` moves the agent's
    ``reported_at`` to ``at``: the time since the previous report is what it covers."""
    if at.tzinfo is None:
        raise ValueError("at needs a time zone (UTC)")
    at = at.astimezone(UTC)
    zone = ZoneInfo(CONTACT_TIMEZONE)
    if agent.id is None:
        session.flush()  # a registration made by this very report needs its id
    previous = as_utc(agent.reported_at) if agent.reported_at is not None else None
    # The interval the agent announced with its previous report is what it promised.
    promised = agent.report_interval_s or interval_s
    days: dict[date, list[float]] = {at.astimezone(zone).date(): [1, 0.0]}
    if previous is not None and previous < at:
        gap = (at - previous).total_seconds()
        if gap <= STALE_AFTER_INTERVALS * promised:
            for day, seconds in _local_day_spans(previous, at, zone):
                days.setdefault(day, [0, 0.0])[1] += seconds
    rows = [
        {"agent_id": agent.id, "day": day, "reports": int(n), "covered_s": seconds}
        for day, (n, seconds) in sorted(days.items())
    ]
    session.execute(_upsert(session.get_bind().dialect.name), rows)


@dataclass(frozen=True)
class AgentUptime:
    """Contact of one tenant's agents over a range."""

    agents: int  # agents expected to run in the range
    expected_s: float  # Σ per agent: the part of the range it was expected to run
    covered_s: float  # Σ per agent: seconds vouched for by its reports, at most expected

    @property
    def share(self) -> float | None:
        """covered ÷ expected; None when no agent was expected to run."""
        return self.covered_s / self.expected_s if self.expected_s > 0 else None


def tenant_agent_uptime(
    session: Session, tenant_id: int, start: datetime, end: datetime
) -> AgentUptime:
    """How much of [start, end) the tenant's agents were reporting.

    ``start`` and ``end`` should be local midnights (or ``end`` = now): contact is kept per
    local day. An agent is expected to run from its registration until its token was
    revoked (an agent retired with its token is not held against the tenant afterwards).
    """
    zone = ZoneInfo(CONTACT_TIMEZONE)
    rows = session.execute(
        select(RegisteredAgent.id, RegisteredAgent.created_at, AgentToken.revoked_at)
        .join(AgentToken, AgentToken.id == RegisteredAgent.token_id)
        .where(RegisteredAgent.tenant_id == tenant_id)
    ).all()
    expected: dict[int, float] = {}
    for agent_id, created_at, revoked_at in rows:
        lo = max(start, as_utc(created_at))
        hi = min(end, as_utc(revoked_at)) if revoked_at is not None else end
        if hi > lo:
            expected[agent_id] = (hi - lo).total_seconds()
    if not expected:
        return AgentUptime(0, 0.0, 0.0)
    first_day = start.astimezone(zone).date()
    last_day = (end - timedelta(microseconds=1)).astimezone(zone).date()
    covered = dict(
        session.execute(
            select(AgentContactDay.agent_id, func.sum(AgentContactDay.covered_s))
            .where(
                AgentContactDay.agent_id.in_(list(expected)),
                AgentContactDay.day >= first_day,
                AgentContactDay.day <= last_day,
            )
            .group_by(AgentContactDay.agent_id)
        ).all()
    )
    total_covered = sum(min(float(covered.get(a) or 0.0), s) for a, s in expected.items())
    return AgentUptime(len(expected), sum(expected.values()), total_covered)


def contact_days(session: Session, agent_ids: Iterable[int]) -> list[AgentContactDay]:
    """The rows of these agents, by agent and day (for checks and tests)."""
    return list(
        session.scalars(
            select(AgentContactDay)
            .where(AgentContactDay.agent_id.in_(list(agent_ids)))
            .order_by(AgentContactDay.agent_id, AgentContactDay.day)
        )
    )
