"""What a job function receives: who it runs for, its store, and how to report progress."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy.orm import Session

from historian import Historian
from jobs.progress import ProgressReporter
from jobs.runtime import JobRuntime


@dataclass
class JobContext:
    id: str
    kind: str
    tenant_id: int
    tenant_key: str
    storage_database: str
    created_by: str
    runtime: JobRuntime
    reporter: ProgressReporter

    def progress(self, done: int, total: int | None = None, message: str | None = None) -> None:
        """Report ``done`` of ``total`` steps; cheap to call in a loop (writes are throttled).

        Raises JobCancelled when someone cancelled the job: let it propagate.
        """
        self.reporter.report(done, total, message)

    def checkpoint(self) -> None:
        """Call during long steps with no progress to report, so a cancel is noticed."""
        self.reporter.checkpoint()

    def historian(self) -> Historian:
        """This tenant's time series, and only this tenant's."""
        return self.runtime.storage.historian(self.storage_database)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A metadata session; commit what you write. Filter every query by ``tenant_id``."""
        with self.runtime.sessions() as session:
            yield session
