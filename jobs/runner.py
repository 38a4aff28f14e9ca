"""Running one job inside a Celery task, and starting the periodic jobs.

The job's row tells what to run (kind, tenant, params); the task message carries only
the job id, so the row stays the one source of truth and a message that outlived its
row (another platform's queue, a deleted tenant) is skipped, not run blind.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from celery.exceptions import Ignore, SoftTimeLimitExceeded
from pydantic import ValidationError
from sqlalchemy import select

from historian import HistorianError
from jobs.catalog import JobCatalog
from jobs.context import JobContext
from jobs.errors import JobCancelled, JobError, JobInterrupted, JobTimedOut, one_line
from jobs.models import UNFINISHED, Job, JobState
from jobs.progress import Progress, ProgressReporter
from jobs.records import claim, finish, new_job
from jobs.runtime import JobRuntime
from tenants.models import Tenant

if TYPE_CHECKING:
    from celery import Task

log = logging.getLogger(__name__)

INTERRUPTED = "interrupted: the worker stopped before the job finished; start it again"


def describe_failure(exc: BaseException) -> str:
    """One line for people. Errors meant for them (JobError, the historian's) speak for
    themselves; anything else is named by its type, the details go to the worker's log."""
    if isinstance(exc, JobError | HistorianError):
        return one_line(str(exc))
    return one_line(f"{type(exc).__name__}: {one_line(str(exc), 300)} (details in the worker log)")


def run_job(
    task: Task, job_id: str, runtime: JobRuntime, catalog: JobCatalog, interval_s: float
) -> dict[str, Any] | None:
    job = claim(runtime.sessions, job_id)
    if job is None:
        log.info("job %s: finished, cancelled or unknown here; skipped", job_id)
        raise Ignore()
    with runtime.sessions() as session:
        tenant = session.get(Tenant, job.tenant_id)
    kind = catalog.kind(job.kind)
    failure: str | None = None
    if tenant is None:
        failure = "the job's tenant no longer exists"
    elif kind is None:
        failure = f"job kind {job.kind!r} is not installed on the worker that received it"
    if failure is not None:
        finish(runtime.sessions, job_id, JobState.FAILED, error=failure)
        raise JobError(failure)
    assert tenant is not None and kind is not None

    def publish(progress: Progress) -> None:
        task.update_state(task_id=job_id, state="PROGRESS", meta=progress.as_meta())

    reporter = ProgressReporter(
        job_id,
        runtime.sessions,
        interval_s=interval_s,
        publish=publish,
        stopping=runtime.stopping,
        # The cooperative limit is what stops a job in the embedded (threads) mode, where
        # Celery's time limits do not apply; prefork workers also get the soft limit.
        deadline=time.monotonic() + kind.time_limit_s,
        time_limit_s=kind.time_limit_s,
    )
    context = JobContext(
        id=job_id,
        kind=kind.name,
        tenant_id=tenant.id,
        tenant_key=tenant.key,
        storage_database=tenant.storage_database,
        created_by=job.created_by,
        runtime=runtime,
        reporter=reporter,
    )
    try:
        params = kind.params.model_validate(job.params)
        context.progress(0, None, "started")
        result = kind.run(context, params)
        # A result that is not JSON would fail later, in the row or the result backend.
        json.dumps(result)
    except JobCancelled:
        reporter.flush()
        # Celery's own word for it first, so once the row says cancelled, Celery does too.
        task.backend.mark_as_revoked(job_id, reason="cancelled on request", request=task.request)
        finish(runtime.sessions, job_id, JobState.CANCELLED, progress=reporter.current)
        raise Ignore() from None
    except JobInterrupted:
        finish(runtime.sessions, job_id, JobState.FAILED, error=INTERRUPTED)
        raise JobError(INTERRUPTED) from None
    except SoftTimeLimitExceeded:
        message = f"stopped: ran longer than its time limit of {kind.time_limit_s} s"
        finish(runtime.sessions, job_id, JobState.FAILED, error=message)
        raise JobTimedOut(message) from None
    except ValidationError as exc:
        message = f"params are no longer valid: {one_line(str(exc), 300)}"
        finish(runtime.sessions, job_id, JobState.FAILED, error=message)
        raise JobError(message) from None
    except Exception as exc:
        # Re-raised below: Celery logs it, with the traceback unless it is a JobError.
        reporter.flush()
        finish(
            runtime.sessions,
            job_id,
            JobState.FAILED,
            error=describe_failure(exc),
            progress=reporter.current,
        )
        raise
    if not isinstance(result, dict):
        raise JobError(f"job kind {kind.name!r} returned {type(result).__name__}, not a dict")
    done = reporter.current
    final = Progress(done.total if done.total is not None else done.done, done.total, "done")
    finish(runtime.sessions, job_id, JobState.SUCCEEDED, result=result, progress=final)
    return result


def start_periodic_job(name: str, runtime: JobRuntime, catalog: JobCatalog, send: Any) -> list[str]:
    """One job of the periodic job ``name`` per tenant; a tenant whose previous run is
    still queued or running is left out, so a slow job does not pile up behind itself."""
    periodic = catalog.periodic.get(name)
    if periodic is None:
        log.warning("periodic job %r is not declared on this worker; skipped", name)
        return []
    created_by = f"schedule:{name}"
    params = periodic.params_at(datetime.now(UTC))
    started: list[str] = []
    with runtime.sessions() as session:
        busy = set(
            session.scalars(
                select(Job.tenant_id).where(Job.created_by == created_by, Job.state.in_(UNFINISHED))
            )
        )
        for tenant_id in session.scalars(select(Tenant.id).order_by(Tenant.id)):
            if tenant_id in busy:
                continue
            job = new_job(session, catalog, tenant_id, periodic.kind, params, created_by)
            started.append(job.id)
        session.commit()
    kind = catalog.kinds[periodic.kind]
    for job_id in started:
        send(kind.task_name, job_id)
    return started
