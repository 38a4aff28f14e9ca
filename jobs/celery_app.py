"""The Celery app that runs the platform's jobs (analytics, maintenance, summaries).

Two modes, chosen by the broker URL in the settings (MINGZHOU_BROKER_URL):

- ``redis://host:port/db`` (production, and the test suite against the running Redis):
  the platform only sends; ``mingzhou jobs worker`` processes run the jobs, one of them
  with the beat schedule. Results go to Redis too (MINGZHOU_RESULT_BACKEND to change).
- ``memory://`` (the default, ``make demo``, single-machine installs): no server at all;
  the platform process runs a worker thread and the schedule itself (``jobs.embedded``).

Every job kind becomes one task named ``mingzhou.job.<kind>`` whose only argument is the
job's id; the job's row holds the rest. JSON is the only serializer: a message from the
broker is never unpickled.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from celery import Celery, Task, signals
from celery.backends.redis import RedisBackend
from kombu.exceptions import OperationalError

from jobs.catalog import DEFAULT_QUEUE, JobCatalog, load_catalog
from jobs.errors import JobError, one_line
from jobs.models import JobState
from jobs.records import finish
from jobs.runner import run_job, start_periodic_job
from jobs.runtime import JobRuntime

if TYPE_CHECKING:
    from cloud.platform_settings import PlatformSettings

log = logging.getLogger(__name__)

PERIODIC_TASK = "mingzhou.jobs.start_periodic"
# A hard limit this long after the soft one kills a job that ignores the soft limit.
HARD_LIMIT_GRACE_S = 60


class JobQueueUnavailable(Exception):
    """The broker cannot be reached: the job was not queued."""


@dataclass(frozen=True)
class JobsConfig:
    broker_url: str = "memory://"
    result_backend: str | None = None  # None: Redis → the broker's Redis; memory → memory
    key_prefix: str = "mingzhou:"  # every Redis key of the jobs starts with it
    job_modules: tuple[str, ...] = ()
    progress_interval_s: float = 0.5
    embedded_concurrency: int = 2

    @property
    def embedded(self) -> bool:
        return self.broker_url.startswith("memory://")

    @classmethod
    def from_settings(cls, settings: PlatformSettings) -> JobsConfig:
        return cls(
            broker_url=settings.broker_url,
            result_backend=settings.result_backend,
            key_prefix=settings.jobs_key_prefix,
            job_modules=tuple(settings.job_modules),
        )


class RowFirstRedisBackend(RedisBackend):
    """Celery's Redis result backend, minus the subscription ``send_task`` makes.

    Celery subscribes the sender to each task's result channel, expecting it to wait for
    the result; the platform never does (it reads the job's row), so the subscriptions
    would pile up in every API process. ``AsyncResult.get`` still subscribes on demand.
    """

    def on_task_call(self, producer, task_id) -> None:
        return None


class JobsCelery(Celery):
    """A Celery app that knows its job catalog and how to reach the stores."""

    def __init__(
        self,
        config: JobsConfig,
        catalog: JobCatalog,
        runtime_factory: Callable[[], JobRuntime],
        **kwargs: Any,
    ) -> None:
        super().__init__("mingzhou", set_as_current=False, **kwargs)
        self.jobs_config = config
        self.catalog = catalog
        self._runtime_factory = runtime_factory
        self._runtime: JobRuntime | None = None
        self._runtime_lock = threading.Lock()

    def job_runtime(self) -> JobRuntime:
        """The stores, built on first use in this process (after a prefork worker forked)."""
        with self._runtime_lock:
            if self._runtime is None:
                self._runtime = self._runtime_factory()
            return self._runtime

    def use_runtime(self, runtime: JobRuntime) -> None:
        """The embedded mode: jobs use the platform's own session factory and storage."""
        with self._runtime_lock:
            self._runtime = runtime

    def has_runtime(self) -> bool:
        return self._runtime is not None

    def _get_backend(self):
        url = str(self.conf.result_backend or "")
        if url.startswith(("redis://", "rediss://", "unix://")):
            return RowFirstRedisBackend(app=self, url=url)
        return super()._get_backend()

    @property
    def queues(self) -> list[str]:
        """The queues a worker of this app consumes."""
        if self.jobs_config.embedded:
            return [self.conf.task_default_queue]
        return sorted({DEFAULT_QUEUE, *(kind.queue for kind in self.catalog.kinds.values())})


class JobTask(Task):
    """Base of the job tasks: acknowledged after they ran, so a crash mid-job is seen."""

    acks_late = True
    # Expected failures are logged as one line by Celery, not with a traceback.
    throws = (JobError,)
    typing = True


def create_celery_app(config: JobsConfig, runtime_factory: Callable[[], JobRuntime]) -> JobsCelery:
    catalog = load_catalog(config.job_modules)
    app = JobsCelery(config, catalog, runtime_factory, task_cls=JobTask)
    longest = max((kind.time_limit_s for kind in catalog.kinds.values()), default=3600)
    conf: dict[str, Any] = {
        "broker_url": config.broker_url,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "timezone": "UTC",
        "enable_utc": True,
        "task_acks_late": True,
        # A job that killed its worker (out of memory) is failed, not re-run in a loop.
        "task_reject_on_worker_lost": False,
        # Jobs are long: a worker takes one at a time instead of hoarding a batch.
        "worker_prefetch_multiplier": 1,
        "task_track_started": True,
        "result_expires": timedelta(days=1),
        "broker_connection_retry_on_startup": True,
        # The API answers 503 within about a second when the broker is down.
        "task_publish_retry_policy": {
            "max_retries": 2,
            "interval_start": 0,
            "interval_step": 0.25,
            "interval_max": 0.5,
        },
        "worker_hijack_root_logger": False,
        "beat_schedule": {
            f"periodic:{p.name}": {"task": PERIODIC_TASK, "schedule": p.every, "args": [p.name]}
            for p in catalog.periodic.values()
        },
    }
    if config.embedded:
        # kombu's memory transport keeps its queues in one dict per process: a queue of
        # our own keeps two platforms in one process (tests) from taking each other's jobs.
        conf["task_default_queue"] = f"mingzhou.embedded.{uuid.uuid4().hex[:12]}"
        conf["broker_url"] = "memory://localhost/"  # kombu warns when the host is left out
        conf["broker_transport"] = "jobs.embedded:QuickStopMemoryTransport"
        # Polled, not pushed: 0.1 s keeps a queued job's start quick and idle costs nil.
        conf["broker_transport_options"] = {"polling_interval": 0.1}
        conf["result_backend"] = config.result_backend or "cache+memory://"
    else:
        conf["task_default_queue"] = DEFAULT_QUEUE
        conf["task_routes"] = {
            kind.task_name: {"queue": kind.queue} for kind in catalog.kinds.values()
        }
        conf["result_backend"] = config.result_backend or config.broker_url
        transport = {"global_keyprefix": config.key_prefix, "socket_connect_timeout": 3}
        # Redis hands an unacknowledged job to another worker after this long; it must
        # outlast the longest job, or a job still running would start a second time.
        transport["visibility_timeout"] = longest + HARD_LIMIT_GRACE_S + 600
        conf["broker_transport_options"] = transport
        conf["result_backend_transport_options"] = {"global_keyprefix": config.key_prefix}
    app.conf.update(conf)
    interval = config.progress_interval_s

    for kind in catalog.kinds.values():

        def run(task: Task, job_id: str) -> dict[str, Any] | None:
            jobs_app: JobsCelery = task.app  # type: ignore[assignment]
            return run_job(task, job_id, jobs_app.job_runtime(), jobs_app.catalog, interval)

        app.task(
            bind=True,
            shared=False,  # Celery would add shared tasks to every later app as well
            name=kind.task_name,
            soft_time_limit=kind.time_limit_s,
            time_limit=kind.time_limit_s + HARD_LIMIT_GRACE_S,
        )(run)

    @app.task(bind=True, shared=False, name=PERIODIC_TASK, acks_late=False)
    def start_periodic(task: Task, name: str) -> list[str]:
        jobs_app: JobsCelery = task.app  # type: ignore[assignment]
        runtime = jobs_app.job_runtime()

        def send(task_name: str, job_id: str) -> None:
            try:
                enqueue(jobs_app, task_name, job_id)
            except JobQueueUnavailable as exc:
                finish(runtime.sessions, job_id, JobState.FAILED, error=str(exc))

        return start_periodic_job(name, runtime, jobs_app.catalog, send)

    return app


def enqueue(app: JobsCelery, task_name: str, job_id: str) -> None:
    """Send a committed job to the workers, or raise JobQueueUnavailable (the caller
    then fails the job's row: it will never run)."""
    try:
        app.send_task(task_name, args=[job_id], task_id=job_id)
    except OperationalError as exc:
        message = "could not be queued: the job broker is unreachable"
        log.error("job %s %s: %s", job_id, message, exc)
        raise JobQueueUnavailable(message) from None


@signals.task_failure.connect
def _record_lost_job(sender: Task | None = None, task_id: str | None = None, exception=None, **_):
    """A job whose process died or hit the hard time limit never reached its own error
    handling: the worker's main process reports it here, and the row is failed with it."""
    app = getattr(sender, "app", None)
    if not isinstance(app, JobsCelery) or not str(sender.name).startswith("mingzhou.job."):
        return
    message = one_line(f"the job's worker process stopped: {type(exception).__name__}")
    if type(exception).__name__ == "TimeLimitExceeded":
        message = "stopped: ran past its hard time limit"
    # In a worker's main process no runtime exists (jobs run in its children): use one
    # briefly rather than keep connections open across the pool's forks.
    own = not app.has_runtime()
    runtime = app._runtime_factory() if own else app.job_runtime()
    try:
        finish(runtime.sessions, str(task_id), JobState.FAILED, error=message)
    except Exception:  # the row may be gone or the store down: the log still says it
        log.exception("job %s: could not record its failure", task_id)
    finally:
        if own:
            runtime.close()


def _from_environment() -> JobsCelery:
    """The app ``celery -A jobs.celery_app`` finds: configured like the platform."""
    from cloud.platform_settings import PlatformSettings

    settings = PlatformSettings.from_environment()
    return create_celery_app(
        JobsConfig.from_settings(settings), lambda: JobRuntime.from_settings(settings)
    )


_app: JobsCelery | None = None


def __getattr__(name: str) -> Any:
    # Built on first access, so importing this module (the platform does) reads no
    # environment and opens nothing.
    global _app
    if name in ("app", "celery"):
        if _app is None:
            _app = _from_environment()
        return _app
    raise AttributeError(name)
