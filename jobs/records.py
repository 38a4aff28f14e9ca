"""A job's row through its life: created (queued), claimed (running), finished.

Every change of state is one conditional UPDATE (``WHERE state IN …``), so a cancel from
the API and a worker claiming or finishing the same job cannot overwrite each other,
on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from jobs.catalog import JobCatalog
from jobs.errors import one_line
from jobs.models import UNFINISHED, Job, JobState, utcnow
from jobs.progress import Progress


class UnknownJobKind(ValueError):
    """No such kind on this platform; the message lists the kinds there are."""


def validate_params(catalog: JobCatalog, kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """The kind's params, checked and normalised (pydantic ValidationError when wrong)."""
    spec = catalog.kind(kind)
    if spec is None:
        known = ", ".join(sorted(catalog.kinds)) or "none"
        raise UnknownJobKind(f"unknown job kind {kind!r}; this platform runs: {known}")
    return spec.params.model_validate(params).model_dump(mode="json")


def new_job(
    session: Session,
    catalog: JobCatalog,
    tenant_id: int,
    kind: str,
    params: dict[str, Any],
    created_by: str,
) -> Job:
    """A queued job row (flushed, not committed): commit it before sending the task, or
    a fast worker could look for a row that is not there yet."""
    job = Job(
        id=str(uuid.uuid4()),
        tenant_id=tenant_id,
        kind=kind,
        params=validate_params(catalog, kind, params),
        state=JobState.QUEUED.value,
        progress_done=0,
        created_by=created_by,
    )
    session.add(job)
    session.flush()
    return job


def claim(sessions: sessionmaker, job_id: str) -> Job | None:
    """Mark the job running; None when it is finished or cancelled already (skip it).

    A job found running was delivered again after its worker died: it runs again.
    """
    with sessions() as session:
        now = utcnow()
        claimed = session.execute(
            update(Job)
            .where(Job.id == job_id, Job.state.in_(UNFINISHED))
            .values(state=JobState.RUNNING.value, started_at=now, updated_at=now)
        ).rowcount
        session.commit()
        return session.get(Job, job_id) if claimed else None


def finish(
    sessions: sessionmaker,
    job_id: str,
    state: JobState,
    *,
    result: dict[str, Any] | None = None,
    error: str | None = None,
    progress: Progress | None = None,
) -> bool:
    """Record the end of an unfinished job; False when it had ended already."""
    values: dict[str, Any] = {
        "state": state.value,
        "result": result,
        "error": one_line(error) if error is not None else None,
        "finished_at": utcnow(),
        "updated_at": utcnow(),
    }
    if progress is not None:
        values.update(
            progress_done=progress.done,
            progress_total=progress.total,
            progress_message=progress.message,
        )
    with sessions() as session:
        changed = session.execute(
            update(Job).where(Job.id == job_id, Job.state.in_(UNFINISHED)).values(**values)
        ).rowcount
        session.commit()
    return bool(changed)


def request_cancel(session: Session, job: Job, by: str) -> Job:
    """A queued job is cancelled at once; a running one is asked to stop at its next
    progress report. Cancelling a finished job changes nothing."""
    now = utcnow()
    session.execute(
        update(Job)
        .where(Job.id == job.id, Job.state == JobState.QUEUED.value)
        .values(state=JobState.CANCELLED.value, finished_at=now, updated_at=now)
    )
    session.execute(
        update(Job)
        .where(Job.id == job.id, Job.state.in_(UNFINISHED), Job.cancel_requested_at.is_(None))
        .values(cancel_requested_at=now, cancel_requested_by=by, updated_at=now)
    )
    session.flush()
    session.refresh(job)
    return job


def fail_unfinished(sessions: sessionmaker, reason: str) -> int:
    """Fail every queued or running job: the embedded queue lived in memory and is gone."""
    with sessions() as session:
        now = utcnow()
        count = session.execute(
            update(Job)
            .where(Job.state.in_(UNFINISHED))
            .values(state=JobState.FAILED.value, error=reason, finished_at=now, updated_at=now)
        ).rowcount
        session.commit()
    return count
