"""Jobs: long work (analytics, maintenance, summaries) run by Celery workers, with state
and progress in the metadata store, visible through the API.

Declaring a kind, in a module listed in ``jobs.catalog.BUILTIN_JOB_MODULES`` (or in the
settings' ``job_modules``)::

    class Params(BaseModel):
        days: int = Field(7, ge=1, le=90)

    @job_kind("energy_baseline", Params, title="Fit the energy baseline")
    def energy_baseline(job: JobContext, params: Params) -> dict:
        for done, meter in enumerate(meters):
            job.progress(done, len(meters), f"meter {meter}")  # throttled; raises on cancel
            ...
        return {"meters": len(meters)}  # the job's result (JSON)

    periodic_job("nightly_baseline", kind="energy_baseline", every=crontab(hour=2, minute=0))

``raise JobError("one line for people")`` fails a job with that message.
"""

from typing import TYPE_CHECKING, Any

from jobs.catalog import JobKind, PeriodicJob, job_kind, periodic_job
from jobs.errors import JobCancelled, JobError

if TYPE_CHECKING:
    from jobs.context import JobContext


def __getattr__(name: str) -> Any:
    # JobContext brings in the historian backends: imported when a job module asks for
    # it, not by `mingzhou --help` (which imports jobs.cli, and so this package).
    if name == "JobContext":
        from jobs.context import JobContext

        return JobContext
    raise AttributeError(name)


__all__ = [
    "JobCancelled",
    "JobContext",
    "JobError",
    "JobKind",
    "PeriodicJob",
    "job_kind",
    "periodic_job",
]
