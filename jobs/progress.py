"""Progress of a running job, written to its row and to Celery's task state.

A job may report from a tight loop (one call per series, per row, per model fit), so
writes are throttled: at most one every ``interval_s``. A report that arrives between
two writes is kept and written by the next report or ``checkpoint()`` after the interval,
so the last word is never lost; ``finish`` writes whatever is pending. Whether someone
asked the job to stop is read at the same moments, so cancelling costs no extra queries.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import sessionmaker

from jobs.errors import JobCancelled, JobInterrupted, JobTimedOut
from jobs.models import Job, JobState, utcnow

MESSAGE_LIMIT = 500


@dataclass(frozen=True, slots=True)
class Progress:
    done: int
    total: int | None
    message: str | None

    def as_meta(self) -> dict[str, Any]:
        return {"done": self.done, "total": self.total, "message": self.message}


class ProgressReporter:
    def __init__(
        self,
        job_id: str,
        sessions: sessionmaker,
        *,
        interval_s: float = 0.5,
        publish: Callable[[Progress], None] | None = None,
        stopping: threading.Event | None = None,
        deadline: float | None = None,
        time_limit_s: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.job_id = job_id
        self._sessions = sessions
        self._interval = interval_s
        self._publish = publish
        self._stopping = stopping
        self._deadline = deadline
        self._time_limit_s = time_limit_s
        self._clock = clock
        self._last_write: float | None = None
        self._pending: Progress | None = None
        self.current = Progress(0, None, None)
        self.writes = 0  # rows written, for tests of the throttle

    def report(self, done: int, total: int | None = None, message: str | None = None) -> None:
        """Record progress: ``done`` of ``total`` steps (total None when unknown)."""
        if done < 0 or (total is not None and total < 0):
            raise ValueError(f"progress must not be negative: {done}/{total}")
        if message is not None and len(message) > MESSAGE_LIMIT:
            message = message[: MESSAGE_LIMIT - 1] + "…"
        self.current = Progress(done, total, message)
        self._pending = self.current
        self.checkpoint()

    def checkpoint(self) -> None:
        """Write pending progress if its turn has come; raise if the job must stop."""
        if self._stopping is not None and self._stopping.is_set():
            raise JobInterrupted("the worker is stopping")
        now = self._clock()
        if self._deadline is not None and now > self._deadline:
            raise JobTimedOut(f"stopped: ran longer than its time limit of {self._time_limit_s} s")
        if self._last_write is not None and now - self._last_write < self._interval:
            return
        self._last_write = now
        cancelled = self._write(self._pending)
        self._pending = None
        if cancelled:
            raise JobCancelled("cancelled on request")

    def flush(self) -> None:
        """Write what is pending now (at the end of a job), without the cancellation check."""
        if self._pending is not None:
            self._write(self._pending)
            self._pending = None

    def _write(self, progress: Progress | None) -> bool:
        """Store ``progress`` (if any) and answer whether a cancel was requested."""
        # Celery's state first: whoever sees the row's progress finds Celery's as far.
        if progress is not None and self._publish is not None:
            self._publish(progress)
        with self._sessions() as session:
            if progress is not None:
                session.execute(
                    update(Job)
                    .where(Job.id == self.job_id, Job.state == JobState.RUNNING.value)
                    .values(
                        progress_done=progress.done,
                        progress_total=progress.total,
                        progress_message=progress.message,
                        updated_at=utcnow(),
                    )
                )
                self.writes += 1
            cancel = session.scalar(select(Job.cancel_requested_at).where(Job.id == self.job_id))
            session.commit()
        return cancel is not None
