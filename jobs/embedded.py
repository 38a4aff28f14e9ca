"""Jobs with no broker server: a Celery worker and the beat schedule inside the platform.

Why this design (checked against the installed Celery 5.7 / kombu 5.7 sources):

- Broker: kombu's ``memory://`` transport. Its queues are a process-wide dict of
  ``queue.Queue`` ("messages can be passed only between threads"), so the platform's
  request threads publish and a worker thread in the same process consumes, with no
  server, no file and no locking beside the metadata store. It is polled (we poll every
  0.1 s), not pushed. The alternative, kombu's SQLAlchemy transport on a SQLite file,
  would keep queued jobs across a restart but polls a second database that shares the
  disk (and, in SQLite, the write lock) with the metadata store, and its
  ``polling_interval`` option is passed to ``create_engine`` by mistake in this version.
  What a restart loses is only the queue: the job rows stay, and the unfinished ones
  are marked failed ("interrupted") when the platform starts again.
- Worker: ``celery.worker.WorkController`` (the worker without the command-line
  program's signal handlers, which only the main thread may install) started in a
  thread, as Celery's own ``celery.contrib.testing.worker`` does, with the ``threads``
  pool: jobs run in their own threads, the API stays responsive, and a job's progress
  is visible while it runs. The threads pool looks tasks up through ``current_app``,
  which is per thread; our pool makes this app current in each of its threads, so
  several platforms in one process (the tests) each run their own tasks.
  The worker's loop waits up to 2 s for a message before it looks whether to stop; our
  transport subclass waits 0.1 s, so stopping the platform takes a fraction of a second.
- Schedule: ``celery.beat.Scheduler`` (in memory) ticked by a thread of ours, waiting on
  an event between ticks, so stopping is immediate; Celery's ``EmbeddedService`` thread
  sleeps up to five minutes between ticks and cannot be woken.
- Limits: the threads pool cannot enforce Celery's time limits (they need signals in
  child processes), so each job's time limit is also checked at every progress report.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from celery.beat import Scheduler
from celery.concurrency.thread import TaskPool as ThreadTaskPool
from celery.worker import WorkController
from kombu.transport import memory

from jobs.celery_app import JobsCelery
from jobs.records import fail_unfinished
from jobs.runtime import JobRuntime

log = logging.getLogger(__name__)

RESTARTED = "interrupted: the platform restarted before the job finished; start it again"
START_TIMEOUT_S = 20
STOP_TIMEOUT_S = 15


class QuickStopMemoryTransport(memory.Transport):
    """kombu's memory transport, returning from each wait within 0.1 s.

    The worker's loop for polled transports waits up to 2 s per turn for a message and
    only then sees that it should stop; shorter turns make a platform stop promptly.
    """

    def drain_events(self, connection, timeout=None):
        return super().drain_events(connection, timeout=min(timeout or 0.1, 0.1))


class AppBoundThreadPool(ThreadTaskPool):
    """Celery's threads pool whose threads see this pool's app as ``current_app``."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.executor.shutdown(wait=False)
        self.executor = ThreadPoolExecutor(
            max_workers=self.limit,
            thread_name_prefix="mingzhou-job",
            initializer=self.app.set_current,
        )


class _EmbeddedWorkController(WorkController):
    def __init__(self, *args, **kwargs) -> None:
        self.ready = threading.Event()
        super().__init__(*args, **kwargs)

    def on_consumer_ready(self, consumer) -> None:
        self.ready.set()


class EmbeddedScheduler:
    """Ticks Celery's in-memory beat scheduler until stopped."""

    def __init__(self, app: JobsCelery) -> None:
        self.app = app
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mingzhou-beat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        scheduler = Scheduler(app=self.app, lazy=False, max_interval=60)
        try:
            while not self._stop.is_set():
                try:
                    wait = scheduler.tick()
                except Exception:  # a failed send is retried at the next tick
                    log.exception("the job schedule could not start a periodic job")
                    wait = 5.0
                self._stop.wait(max(0.05, min(wait, 60.0)))
        finally:
            scheduler.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(STOP_TIMEOUT_S)


class EmbeddedJobWorker:
    """The worker thread (and the schedule, if any periodic job is declared) of a platform."""

    def __init__(self, app: JobsCelery, runtime: JobRuntime) -> None:
        if not app.jobs_config.embedded:
            raise ValueError(f"an embedded worker needs memory://, not {app.conf.broker_url}")
        self.app = app
        self.runtime = runtime
        app.use_runtime(runtime)
        self._controller: _EmbeddedWorkController | None = None
        self._thread: threading.Thread | None = None
        self._scheduler: EmbeddedScheduler | None = None

    def start(self) -> None:
        failed = fail_unfinished(self.runtime.sessions, RESTARTED)
        if failed:
            log.warning("%d unfinished jobs of an earlier run were marked failed", failed)
        controller = _EmbeddedWorkController(
            app=self.app,
            pool_cls=AppBoundThreadPool,
            concurrency=self.app.jobs_config.embedded_concurrency,
            hostname=f"embedded-{self.app.conf.task_default_queue}@localhost",
            queues=self.app.queues,
            loglevel=logging.WARNING,
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
        )
        self._controller = controller
        self._thread = threading.Thread(
            target=controller.start, name="mingzhou-job-worker", daemon=True
        )
        self._thread.start()
        if not controller.ready.wait(START_TIMEOUT_S):
            raise RuntimeError("the embedded job worker did not start")
        if self.app.catalog.periodic:
            self._scheduler = EmbeddedScheduler(self.app)
            self._scheduler.start()
        log.info(
            "jobs: embedded worker running (%d threads, %d periodic jobs)",
            self.app.jobs_config.embedded_concurrency,
            len(self.app.catalog.periodic),
        )

    def stop(self) -> None:
        """Stop the schedule, then the worker; running jobs end at their next report."""
        self.runtime.stopping.set()
        if self._scheduler is not None:
            self._scheduler.stop()
        if self._controller is not None:
            self._controller.stop(in_sighandler=False)
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT_S)
            if self._thread.is_alive():
                log.warning("the embedded job worker did not stop within %d s", STOP_TIMEOUT_S)
        # The memory transport's queues outlive the worker: drop ours.
        with self.app.connection_for_write() as connection:
            connection.default_channel.queue_delete(self.app.conf.task_default_queue)
