"""A run of the bureau's monthly report: one ``bureau_report`` job per enterprise gathers
its facts, and the last of them to finish writes the region's report.

The platform's jobs belong to one tenant each (their row, their historian, their
listing), which is right for gathering: each job reads only its own tenant's historian.
The report spans every tenant, so it is written at the end of the fan-out, as a Celery
chord would: every job first commits its own part (facts stored, or why not), then
counts the parts. The last job to commit sees every part; the build is claimed with one
conditional UPDATE, so exactly one job writes the report even when two finish together.

Files are kept in the row (the metadata store is shared by every replica and worker,
a folder is not): two CSV files, the HTML report and the PDF when Chromium printed it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    func,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, deferred, mapped_column

from maintenance.utc_datetime import UtcDateTime, utcnow
from tenants.db import Base

RUN_KEY_MAX = 100


class RunState(StrEnum):
    GATHERING = "gathering"  # the enterprises' jobs are gathering facts
    BUILDING = "building"  # the last job is writing the report
    DONE = "done"
    FAILED = "failed"  # the report could not be written (``error`` says why)


class ReportRun(Base):
    __tablename__ = "bureau_report_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(RUN_KEY_MAX), unique=True)  # the jobs' ``run``
    period: Mapped[str] = mapped_column(String(7), index=True)
    k: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default=RunState.GATHERING.value)
    requested_by: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    enterprises: Mapped[int | None] = mapped_column(Integer)  # with facts in the month
    failed_parts: Mapped[int | None] = mapped_column(Integer)  # whose gathering failed
    error: Mapped[str | None] = mapped_column(String(1000))
    pdf_error: Mapped[str | None] = mapped_column(String(1000))
    # The files (deferred: listings never load them).
    groups_csv: Mapped[str | None] = deferred(mapped_column(Text))
    trends_csv: Mapped[str | None] = deferred(mapped_column(Text))
    html: Mapped[str | None] = deferred(mapped_column(Text))
    pdf: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))


class ReportRunPart(Base):
    """One enterprise's part of a run: its facts were gathered (ok) or not (error)."""

    __tablename__ = "bureau_report_parts"

    run_id: Mapped[int] = mapped_column(
        ForeignKey("bureau_report_runs.id", ondelete="CASCADE"), primary_key=True
    )
    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    ok: Mapped[bool] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(String(500))
    finished_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


def run_for(session: Session, key: str, period: str, k: int, requested_by: str) -> ReportRun:
    """The run ``key``, made by whichever of its jobs (or its starter) comes first."""
    run = session.scalar(select(ReportRun).where(ReportRun.key == key))
    if run is not None:
        return run
    try:
        with session.begin_nested():
            run = ReportRun(key=key, period=period, k=k, requested_by=requested_by)
            session.add(run)
    except IntegrityError:  # another job of the run made it a moment ago
        run = session.scalar(select(ReportRun).where(ReportRun.key == key))
        assert run is not None
    return run


def record_part(
    session: Session, run: ReportRun, tenant_id: int, ok: bool, error: str | None = None
) -> None:
    """This enterprise's part of ``run`` (again, when its job was delivered twice)."""
    part = session.get(ReportRunPart, (run.id, tenant_id))
    if part is None:
        try:
            with session.begin_nested():
                session.add(ReportRunPart(run_id=run.id, tenant_id=tenant_id, ok=ok, error=error))
            return
        except IntegrityError:
            part = session.get(ReportRunPart, (run.id, tenant_id))
            assert part is not None
    part.ok, part.error, part.finished_at = ok, error, utcnow()
    session.flush()


@dataclass(frozen=True)
class RunProgress:
    expected: int  # enterprises the run was started for
    done: int  # parts recorded
    failed: int  # of those, whose gathering failed


def run_progress(session: Session, run: ReportRun) -> RunProgress:
    """How far the run's fan-out is. The expected parts are the run's job rows (they are
    all committed before the first is sent), less those cancelled before they ran."""
    from jobs.models import Job, JobState

    expected = session.scalar(
        select(func.count(Job.id)).where(
            Job.kind == "bureau_report",
            Job.params["run"].as_string() == run.key,
            Job.state != JobState.CANCELLED.value,
        )
    )
    done, failed = session.execute(
        select(
            func.count(ReportRunPart.tenant_id),
            func.count(ReportRunPart.tenant_id).filter(ReportRunPart.ok.is_(False)),
        ).where(ReportRunPart.run_id == run.id)
    ).one()
    return RunProgress(int(expected or 0), int(done or 0), int(failed or 0))


def claim_build(session: Session, run: ReportRun) -> bool:
    """True for the one caller that moves the run from gathering to building."""
    claimed = session.execute(
        update(ReportRun)
        .where(ReportRun.id == run.id, ReportRun.state == RunState.GATHERING.value)
        .values(state=RunState.BUILDING.value)
    ).rowcount
    return bool(claimed)


def latest_done(session: Session, period: str) -> ReportRun | None:
    """The newest finished report of ``period``."""
    return session.scalar(
        select(ReportRun)
        .where(ReportRun.period == period, ReportRun.state == RunState.DONE.value)
        .order_by(ReportRun.finished_at.desc(), ReportRun.id.desc())
        .limit(1)
    )


def recent_runs(session: Session, limit: int = 50) -> list[ReportRun]:
    return list(
        session.scalars(
            select(ReportRun)
            .order_by(ReportRun.created_at.desc(), ReportRun.id.desc())
            .limit(limit)
        )
    )
