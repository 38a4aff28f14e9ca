"""Keeps each tenant's InfluxDB rollups current (``historian.influxdb_rollups``).

A thread of the platform process: every ``interval_s`` it asks each tenant's store to
roll the hours written since their last roll. Reads never wait for it: an hour not yet
rolled is read raw. Every replica runs one; rolling is idempotent, so two replicas
rolling one hour only repeat work. The SQLite stores of the embedded mode have no rollups
(one site's data, aggregated by SQLite in milliseconds) and are skipped.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud.tenant_storage import TenantStorage
from tenants.models import Tenant

log = logging.getLogger(__name__)
# Hours rolled per tenant per pass: a tenant backfilling a year cannot starve the others.
HOURS_PER_PASS = 24


class RollupMaintainer:
    def __init__(
        self, sessions: sessionmaker[Session], storage: TenantStorage, interval_s: float
    ) -> None:
        self.sessions = sessions
        self.storage = storage
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mingzhou-rollups", daemon=True)

    def start(self) -> None:
        if self.interval_s > 0 and not self.storage.storage.startswith("sqlite:"):
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def run_once(self) -> int:
        """One pass over every tenant; returns the hours rolled."""
        with self.sessions() as session:
            databases = session.scalars(select(Tenant.storage_database)).all()
        rolled = 0
        for database in databases:
            if self._stop.is_set():
                break
            historian = self.storage.historian(database)
            roll = getattr(historian, "roll_up_pending", None)
            if roll is None:
                continue
            try:
                rolled += roll(max_hours=HOURS_PER_PASS)
            except Exception:  # a tenant's store away must not stop the others' rollups
                log.warning("rolling up %s failed; retried next pass", database, exc_info=True)
        return rolled

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.run_once()
            except Exception:  # the metadata store away: try again next pass
                log.warning("the rollup pass failed; retried next pass", exc_info=True)
