"""A duty every platform replica does now and then over all tenants, in a thread of its own.

Rolling rollups, shrinking the series-quota sets and applying retention are all the same
shape: every ``interval_s`` (0: never), until the platform stops, one pass; a failed pass
is logged and tried again at the next, never the end of the thread.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from cloud.tenant_storage import TenantStorage

log = logging.getLogger(__name__)


class PeriodicPass:
    """Subclasses name the duty and implement :meth:`run_once`."""

    duty = "periodic pass"
    run_at_start = False  # a first pass as soon as the thread starts, not one interval in

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._stop = threading.Event()
        name = "mingzhou-" + self.duty.replace(" ", "-")
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def enabled(self) -> bool:
        return self.interval_s > 0

    def start(self) -> None:
        if self.enabled():
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def run_once(self) -> object:
        raise NotImplementedError

    def _run(self) -> None:
        if not self.run_at_start and self._stop.wait(self.interval_s):
            return
        while True:
            try:
                self.run_once()
            except Exception:  # the metadata store away: try again next pass
                log.warning("the %s failed; retried next pass", self.duty, exc_info=True)
            if self._stop.wait(self.interval_s):
                return


class TenantStorePass(PeriodicPass):
    """A pass over the tenants (the metadata store) and their series stores."""

    def __init__(
        self, sessions: sessionmaker[Session], storage: TenantStorage, interval_s: float
    ) -> None:
        super().__init__(interval_s)
        self.sessions = sessions
        self.storage = storage
