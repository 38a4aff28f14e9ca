"""The ``bureau_report`` job: one per enterprise gathers its facts of a month and stores
them; the last of a run writes the region's report (``report_runs`` explains the
fan-in). A periodic job starts a run on the first of every month for the month before.

Nobody inside an enterprise starts it (its roles are empty): the bureau's API and the
schedule do, for every tenant at once, and a platform admin may. Each enterprise's job
shows, in its own job list, the facts the platform gathered about it.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from celery.schedules import crontab
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from analytics.bureau.aggregation import DEFAULT_K, aggregate
from analytics.bureau.facts import check_period, previous_periods
from analytics.bureau.index import load_index_config
from analytics.bureau.platform_facts import gather_enterprise_facts, month_range, previous_month
from analytics.bureau.report import ReportError, write_report
from analytics.bureau.report_runs import (
    RUN_KEY_MAX,
    ReportRun,
    RunState,
    claim_build,
    record_part,
    run_for,
    run_progress,
)
from analytics.bureau.stored_facts import StoredFacts, load_facts, store_facts
from historian import HistorianError
from jobs.catalog import job_kind, periodic_job
from jobs.context import JobContext
from jobs.errors import JobError, one_line
from maintenance.utc_datetime import utcnow
from tenants.models import Tenant

KIND = "bureau_report"
TREND_MONTHS = 12  # months of trend in a report, ending with its period


class BureauReportParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period: str = Field(description="The month, YYYY-MM (bureau time zone).")
    k: int = Field(DEFAULT_K, ge=2, le=10_000, description="Smallest group shown.")
    run: str = Field(
        min_length=1,
        max_length=RUN_KEY_MAX,
        pattern=r"^[A-Za-z0-9._:-]+$",
        description="The run this job belongs to: every enterprise's job of one report.",
    )
    pdf: bool = Field(True, description="Print the report to PDF (needs Chromium).")

    @field_validator("period")
    @classmethod
    def _period(cls, value: str) -> str:
        return check_period(value)


def platform_note(period: str, enterprises: int, failed: int, complete: bool) -> str:
    """What the report says about where its facts came from."""
    note = (
        f"Facts gathered from the platform for {enterprises} enterprise(s); earlier months"
        " from the facts stored each month."
    )
    if failed:
        note += f" {failed} enterprise(s) could not be read and are left out."
    if not complete:
        note += f" {period} is still running: its facts cover the month so far."
    return note


@job_kind(
    KIND,
    BureauReportParams,
    title="Monthly facts for the economic bureau; the last enterprise's job writes the report",
    roles=(),
)
def bureau_report(job: JobContext, params: BureauReportParams) -> dict[str, Any]:
    job.progress(0, 2, f"gathering the facts of {params.period}")
    with job.session() as session:
        tenant = session.get(Tenant, job.tenant_id)
        assert tenant is not None  # the runner checked it
        error = None
        try:
            facts = gather_enterprise_facts(session, tenant, job.historian(), params.period)
        except (HistorianError, ValueError) as exc:
            facts, error = None, one_line(str(exc), 480)
        run = run_for(session, params.run, params.period, params.k, job.created_by)
        if facts is not None:
            store_facts(session, tenant.id, facts)
        record_part(session, run, tenant.id, ok=facts is not None, error=error)
        session.commit()
        run_id = run.id
    # No progress report (and so no cancellation) between the commit and the count: the
    # last job must always get to build.
    outcome = build_if_last(job.runtime.sessions, run_id, pdf=params.pdf)
    if facts is None:
        raise JobError(f"the facts of {params.period} could not be gathered: {error}")
    return {"period": params.period, "run": params.run, "report": outcome, "facts": facts.to_dict()}


def build_if_last(sessions: sessionmaker, run_id: int, *, pdf: bool = True) -> str:
    """Write the run's report if every part is in and nobody claimed it; says which."""
    with sessions() as session:
        run = session.get(ReportRun, run_id)
        assert run is not None
        progress = run_progress(session, run)
        if progress.done < progress.expected:
            return f"waiting for {progress.expected - progress.done} more enterprise(s)"
        if not claim_build(session, run):
            return "written by another enterprise's job of this run"
        session.commit()
    try:
        build_report(sessions, run_id, pdf=pdf)
    except Exception as exc:
        with sessions() as session:
            run = session.get(ReportRun, run_id)
            assert run is not None
            run.state, run.finished_at = RunState.FAILED.value, utcnow()
            run.error = one_line(f"{type(exc).__name__}: {exc}", 900)
            session.commit()
        if isinstance(exc, ReportError | KeyError | ValueError):
            raise JobError(f"the region's report could not be written: {exc}") from None
        raise
    return "written"


def build_report(sessions: sessionmaker, run_id: int, *, pdf: bool = True) -> None:
    """The run's report from the stored facts of its month and the months before."""
    with sessions() as session:
        run = session.get(ReportRun, run_id)
        assert run is not None
        period, k = run.period, run.k
        facts = load_facts(session, previous_periods(period, TREND_MONTHS))
        progress = run_progress(session, run)
    in_month = sum(1 for f in facts if f.period == period)
    if in_month == 0:
        raise ValueError(f"no enterprise's facts of {period} could be gathered")
    complete = month_range(period).complete
    config = load_index_config()
    aggregates = aggregate(facts, k=k, config=config)
    note = platform_note(period, in_month, progress.failed, complete)
    with tempfile.TemporaryDirectory(prefix="mingzhou-bureau-") as folder:
        files = write_report(aggregates, period, folder, config, pdf=pdf, source_note=note)
        contents = {
            "groups_csv": files.groups_csv.read_text(encoding="utf-8-sig"),
            "trends_csv": files.trends_csv.read_text(encoding="utf-8-sig"),
            "html": files.html.read_text(encoding="utf-8"),
            "pdf": files.pdf.read_bytes() if files.pdf else None,
        }
    with sessions() as session:
        run = session.get(ReportRun, run_id)
        assert run is not None
        for name, value in contents.items():
            setattr(run, name, value)
        run.pdf_error = files.pdf_error
        run.enterprises, run.failed_parts = in_month, progress.failed
        run.state, run.finished_at = RunState.DONE.value, utcnow()
        session.commit()


# --- starting a run ------------------------------------------------------------------


@dataclass(frozen=True)
class StartedRun:
    run_id: int
    key: str
    job_ids: list[str]


def new_run_key(prefix: str, period: str, now: datetime | None = None) -> str:
    moment = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%f")
    return f"{prefix}-{period}-{moment}"


def create_run_jobs(
    session: Session,
    catalog: Any,
    period: str,
    k: int,
    requested_by: str,
    *,
    pdf: bool = True,
    key: str | None = None,
) -> StartedRun:
    """The run row and one queued job per tenant (flushed, not committed: commit, then
    send each job with ``jobs.celery_app.enqueue``)."""
    from jobs.records import new_job

    month_range(period)  # a month that has not begun is refused here
    tenant_ids = list(session.scalars(select(Tenant.id).order_by(Tenant.id)))
    if not tenant_ids:
        raise ValueError("there is no enterprise on the platform to report on")
    key = key or new_run_key("run", period)
    run = run_for(session, key, period, k, requested_by)
    params = {"period": period, "k": k, "run": key, "pdf": pdf}
    job_ids = [
        new_job(session, catalog, tenant_id, KIND, params, requested_by).id
        for tenant_id in tenant_ids
    ]
    session.flush()
    return StartedRun(run.id, key, job_ids)


def send_run(jobs_app: Any, sessions: sessionmaker, started: StartedRun) -> None:
    """Send the run's committed jobs to the workers. When the broker is down, the jobs not
    sent are failed (they would never run) and JobQueueUnavailable is raised."""
    from jobs.celery_app import JobQueueUnavailable, enqueue
    from jobs.models import JobState
    from jobs.records import finish

    task = jobs_app.catalog.kinds[KIND].task_name
    for i, job_id in enumerate(started.job_ids):
        try:
            enqueue(jobs_app, task, job_id)
        except JobQueueUnavailable as exc:
            for unsent in started.job_ids[i:]:
                finish(sessions, unsent, JobState.FAILED, error=str(exc))
            raise


def periods_with_reports(session: Session) -> list[str]:
    return list(
        session.scalars(
            select(ReportRun.period)
            .where(ReportRun.state == RunState.DONE.value)
            .distinct()
            .order_by(ReportRun.period)
        )
    )


def stored_enterprises(session: Session, period: str) -> int:
    return int(
        session.scalar(select(func.count(StoredFacts.id)).where(StoredFacts.period == period)) or 0
    )


def _monthly_params(now: datetime) -> dict[str, Any]:
    period = previous_month(now)
    return {"period": period, "k": DEFAULT_K, "run": new_run_key("monthly", period, now)}


# 01:30 UTC on the 1st is 09:30 in Shanghai: the month before is complete everywhere.
periodic_job(
    "bureau_monthly_report",
    kind=KIND,
    every=crontab(minute="30", hour="1", day_of_month="1"),
    params=_monthly_params,
)


def report_path_name(period: str, kind: str) -> str:
    """The download name of a report file: bureau-PERIOD.html, bureau-PERIOD-groups.csv."""
    return {
        "html": f"bureau-{period}.html",
        "pdf": f"bureau-{period}.pdf",
        "csv": f"bureau-{period}-groups.csv",
        "trends.csv": f"bureau-{period}-trends.csv",
    }[kind]
