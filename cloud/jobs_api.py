"""A tenant's jobs: start one of the registered kinds, follow its progress, read its
result, cancel it. Whoever may read the tenant's raw data sees its jobs (TenantScope);
starting and cancelling is for the roles each kind names, and for the platform admin.
Every refusal names no other tenant's job."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import select

from cloud.platform_settings import PlatformSettings
from cloud.principals import DbSession, Scope, require_person
from jobs.catalog import JobKind
from jobs.celery_app import (
    JobQueueUnavailable,
    JobsCelery,
    JobsConfig,
    create_celery_app,
    enqueue,
)
from jobs.models import Job, JobState, as_utc
from jobs.records import UnknownJobKind, finish, new_job, request_cancel
from tenants.models import Tenant
from tenants.roles import Role
from tenants.scope import Principal

router = APIRouter(prefix="/api/tenants/{key}/jobs", tags=["jobs"])
Person = Annotated[Principal, Depends(require_person)]


class JobIn(BaseModel):
    kind: str = Field(min_length=1, max_length=64, examples=["series_summary"])
    params: dict[str, Any] = Field(default_factory=dict)


class ProgressOut(BaseModel):
    done: int
    total: int | None
    percent: float | None
    message: str | None


class JobOut(BaseModel):
    id: str
    kind: str
    state: JobState
    params: dict[str, Any]
    progress: ProgressOut
    result: dict[str, Any] | None
    error: str | None
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    cancel_requested: bool


class JobKindOut(BaseModel):
    kind: str
    title: str
    params_schema: dict[str, Any]
    may_start: bool


def _job_out(job: Job, with_result: bool = True) -> JobOut:
    total = job.progress_total
    percent = None
    if total:
        percent = round(100.0 * min(job.progress_done, total) / total, 1)
    return JobOut(
        id=job.id,
        kind=job.kind,
        state=JobState(job.state),
        params=job.params,
        progress=ProgressOut(
            done=job.progress_done,
            total=total,
            percent=percent,
            message=job.progress_message,
        ),
        result=job.result if with_result else None,
        error=job.error,
        created_by=job.created_by,
        created_at=as_utc(job.created_at),  # type: ignore[arg-type]
        started_at=as_utc(job.started_at),
        finished_at=as_utc(job.finished_at),
        cancel_requested=job.cancel_requested_at is not None,
    )


def _visible_tenant(session: DbSession, key: str, scope: Scope) -> Tenant:
    tenant = session.scalar(select(Tenant).where(Tenant.key == key))
    # The same answer for "no such tenant" and "not yours": tenant keys are not probed.
    if tenant is None or not scope.can_read_raw(tenant.id):
        raise HTTPException(404, f"no tenant {key!r} whose jobs you may see")
    return tenant


def _may_start(scope: Scope, tenant: Tenant, kind: JobKind) -> bool:
    return scope.can_start_job(tenant.id, kind.roles)


def _jobs_app(request: Request) -> JobsCelery:
    return request.app.state.jobs


def _job(session: DbSession, tenant: Tenant, job_id: str) -> Job:
    try:
        # Job ids are UUIDs; anything else is not looked up (PostgreSQL refuses NUL bytes).
        job = session.get(Job, str(uuid.UUID(job_id)))
    except ValueError:
        job = None
    if job is None or job.tenant_id != tenant.id:
        raise HTTPException(404, f"no job {job_id!r} in tenant {tenant.key!r}")
    return job


@router.get("/kinds", response_model=list[JobKindOut])
def list_kinds(
    key: str, request: Request, session: DbSession, scope: Scope, caller: Person
) -> list[JobKindOut]:
    """The kinds of job this platform runs, their params and whether you may start them."""
    tenant = _visible_tenant(session, key, scope)
    return [
        JobKindOut(
            kind=kind.name,
            title=kind.title,
            params_schema=kind.params.model_json_schema(),
            may_start=_may_start(scope, tenant, kind),
        )
        for kind in sorted(_jobs_app(request).catalog.kinds.values(), key=lambda k: k.name)
    ]


@router.post("", response_model=JobOut, status_code=202)
def start_job(
    key: str, body: JobIn, request: Request, session: DbSession, scope: Scope, caller: Person
) -> JobOut:
    """Queue a job; its state and progress are at ``GET …/jobs/{id}``."""
    tenant = _visible_tenant(session, key, scope)
    jobs = _jobs_app(request)
    kind = jobs.catalog.kind(body.kind)
    if kind is not None and not _may_start(scope, tenant, kind):
        raise HTTPException(403, f"a {caller.role} may not start {kind.name!r} jobs")
    try:
        job = new_job(session, jobs.catalog, tenant.id, body.kind, body.params, caller.name)
    except UnknownJobKind as exc:
        raise RequestValidationError(
            [{"loc": ("body", "kind"), "msg": str(exc), "type": "value_error", "input": body.kind}]
        ) from None
    except ValidationError as exc:
        # The same shape FastAPI gives for the body, with the path through "params".
        raise RequestValidationError(
            [
                {**error, "loc": ("body", "params", *error["loc"])}
                for error in exc.errors(include_url=False, include_context=False)
            ]
        ) from None
    # Committed before it is sent: a quick worker must find the row.
    session.commit()
    assert kind is not None  # new_job refused unknown kinds
    try:
        enqueue(jobs, kind.task_name, job.id)
    except JobQueueUnavailable as exc:
        finish(request.app.state.sessions, job.id, JobState.FAILED, error=str(exc))
        raise HTTPException(503, str(exc), {"Retry-After": "10"}) from None
    session.refresh(job)
    return _job_out(job)


@router.get("", response_model=list[JobOut])
def list_jobs(
    key: str,
    session: DbSession,
    scope: Scope,
    caller: Person,
    state: Annotated[JobState | None, Query(description="Only jobs in this state.")] = None,
    kind: Annotated[str | None, Query(max_length=64, description="Only this kind.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[JobOut]:
    """The tenant's jobs, newest first (results left out: read them one job at a time)."""
    tenant = _visible_tenant(session, key, scope)
    query = select(Job).where(Job.tenant_id == tenant.id)
    if state is not None:
        query = query.where(Job.state == state.value)
    if kind is not None:
        query = query.where(Job.kind == kind)
    rows = session.scalars(query.order_by(Job.created_at.desc(), Job.id).limit(limit))
    return [_job_out(job, with_result=False) for job in rows]


@router.get("/{job_id}", response_model=JobOut)
def get_job(key: str, job_id: str, session: DbSession, scope: Scope, caller: Person) -> JobOut:
    """A job's state, progress and, once it succeeded, its result (or its error)."""
    tenant = _visible_tenant(session, key, scope)
    return _job_out(_job(session, tenant, job_id))


@router.post("/{job_id}/cancel", response_model=JobOut)
def cancel_job(
    key: str, job_id: str, request: Request, session: DbSession, scope: Scope, caller: Person
) -> JobOut:
    """A queued job is cancelled at once; a running one stops at its next progress report
    (``cancel_requested`` is true until then). Cancelling a finished job changes nothing."""
    tenant = _visible_tenant(session, key, scope)
    job = _job(session, tenant, job_id)
    kind = _jobs_app(request).catalog.kind(job.kind)
    allowed = _may_start(scope, tenant, kind) if kind else caller.role is Role.PLATFORM_ADMIN
    if not allowed:
        raise HTTPException(403, f"a {caller.role} may not cancel {job.kind!r} jobs")
    return _job_out(request_cancel(session, job, caller.name))


def attach_jobs(app: FastAPI, settings: PlatformSettings) -> None:
    """The platform's Celery app (``app.state.jobs``) and the jobs routes."""
    from jobs.runtime import JobRuntime

    config = JobsConfig.from_settings(settings)
    # Without a worker of its own (Redis mode) the platform only sends; the runtime is
    # used by an embedded worker, which gets the platform's own stores in start_jobs.
    app.state.jobs = create_celery_app(config, lambda: JobRuntime.from_settings(settings))
    app.state.jobs_worker = None
    app.include_router(router)


def start_jobs(app: FastAPI) -> None:
    """In the embedded mode, run the worker (and the schedule) in this process."""
    from jobs.embedded import EmbeddedJobWorker
    from jobs.runtime import JobRuntime

    jobs: JobsCelery = app.state.jobs
    if jobs.jobs_config.embedded:
        worker = EmbeddedJobWorker(jobs, JobRuntime(app.state.sessions, app.state.storage))
        worker.start()
        app.state.jobs_worker = worker


def stop_jobs(app: FastAPI) -> None:
    worker = app.state.jobs_worker
    if worker is not None:
        worker.stop()
        app.state.jobs_worker = None
