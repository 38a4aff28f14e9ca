"""What jobs exist: the job kinds people may start, and the periodic jobs the schedule runs.

A module declares a kind with ``@job_kind`` and, if it should also run on a schedule,
``periodic_job(...)`` beside it. A kind is known to a platform or worker once its module
is in the list it loads: ``BUILTIN_JOB_MODULES`` plus the settings' ``job_modules``. The
API and the workers load the same list, so a kind the API accepts is a kind the workers
run.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from tenants.roles import Role

if TYPE_CHECKING:
    from celery.schedules import crontab

    from jobs.context import JobContext

# Analytics and maintenance add their job modules here.
BUILTIN_JOB_MODULES: tuple[str, ...] = (
    "jobs.series_summary",
    "analytics.bureau.report_job",
    "analytics.energy.jobs",
    "maintenance.jobs",
)

# The people of a tenant who run its analyses. A platform admin may start any kind too.
TENANT_STAFF = frozenset({Role.TENANT_ADMIN, Role.PLANT_MANAGER, Role.SERVICE_ENGINEER})

DEFAULT_QUEUE = "mingzhou.jobs"
DEFAULT_TIME_LIMIT_S = 3600

JobFunction = Callable[["JobContext", Any], dict[str, Any]]


@dataclass(frozen=True)
class JobKind:
    """A kind of job: its parameters (a pydantic model), the function and who may start it.

    ``run(job, params)`` returns a JSON-able dict (the job's result), raises ``JobError``
    with a one-line reason to fail, and calls ``job.progress(...)`` as it goes.
    """

    name: str
    params: type[BaseModel]
    run: JobFunction
    title: str
    module: str
    roles: frozenset[Role] = TENANT_STAFF
    queue: str = DEFAULT_QUEUE
    time_limit_s: int = DEFAULT_TIME_LIMIT_S

    @property
    def task_name(self) -> str:
        return f"mingzhou.job.{self.name}"


ParamsSource = dict[str, Any] | Callable[[datetime], dict[str, Any]]


@dataclass(frozen=True)
class PeriodicJob:
    """A kind started on a schedule for every tenant, as ``created_by="schedule:NAME"``.

    ``params`` is a dict, or a function of the run's time (UTC) for relative ranges such
    as "the previous hour"; the params are validated like a person's.
    """

    name: str
    kind: str
    every: timedelta | crontab
    params: ParamsSource = field(default_factory=dict)
    module: str = ""  # where it was declared: loaded only with that module

    def params_at(self, now: datetime) -> dict[str, Any]:
        return self.params(now) if callable(self.params) else dict(self.params)


_KINDS: dict[str, JobKind] = {}
_PERIODIC: dict[str, PeriodicJob] = {}


def job_kind(
    name: str,
    params: type[BaseModel],
    *,
    title: str,
    roles: Iterable[Role] = TENANT_STAFF,
    queue: str = DEFAULT_QUEUE,
    time_limit_s: int = DEFAULT_TIME_LIMIT_S,
) -> Callable[[JobFunction], JobFunction]:
    """Declare a job kind; use as a decorator on ``def run(job, params) -> dict``."""
    if not name.replace("_", "").isalnum() or not name.islower():
        raise ValueError(f"job kind {name!r}: use lower-case letters, digits and _")

    def register(function: JobFunction) -> JobFunction:
        existing = _KINDS.get(name)
        if existing is not None and existing.module != function.__module__:
            raise ValueError(f"job kind {name!r} is declared twice: in {existing.module} too")
        _KINDS[name] = JobKind(
            name=name,
            params=params,
            run=function,
            title=title,
            module=function.__module__,
            roles=frozenset(roles),
            queue=queue,
            time_limit_s=time_limit_s,
        )
        return function

    return register


def periodic_job(
    name: str, kind: str, every: timedelta | crontab, params: ParamsSource | None = None
) -> PeriodicJob:
    """Run ``kind`` for every tenant on a schedule (declare it after the kind)."""
    if isinstance(every, timedelta) and every.total_seconds() <= 0:
        raise ValueError(f"periodic job {name!r}: 'every' must be positive")
    # The declaring module, as for kinds: a schedule is active only where its module is.
    module = sys._getframe(1).f_globals.get("__name__", "")
    periodic = PeriodicJob(name, kind, every, params if params is not None else {}, module)
    _PERIODIC[name] = periodic
    return periodic


@dataclass(frozen=True)
class JobCatalog:
    """The kinds and schedules of one platform or worker (those of its loaded modules)."""

    kinds: dict[str, JobKind]
    periodic: dict[str, PeriodicJob]

    def kind(self, name: str) -> JobKind | None:
        return self.kinds.get(name)


def load_catalog(extra_modules: Iterable[str] = ()) -> JobCatalog:
    """Import the job modules and return their kinds and the schedules of those kinds."""
    modules = tuple(dict.fromkeys((*BUILTIN_JOB_MODULES, *extra_modules)))
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ValueError(f"job module {module!r} cannot be imported: {exc}") from None
    kinds = {name: kind for name, kind in _KINDS.items() if kind.module in modules}
    periodic = {name: p for name, p in _PERIODIC.items() if p.module in modules and p.kind in kinds}
    return JobCatalog(kinds, periodic)
