"""Keeps each tenant's InfluxDB rollups current (``historian.influxdb_rollups``).

A thread of the platform process: every ``interval_s`` it asks each tenant's store to
roll the hours written since their last roll. Reads never wait for it: an hour not yet
rolled is read raw. Every replica runs one; rolling is idempotent, so two replicas
rolling one hour only repeat work. The SQLite stores of the embedded mode have no rollups
(one site's data, aggregated by SQLite in milliseconds) and are skipped.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from cloud.periodic_pass import TenantStorePass
from tenants.models import Tenant

log = logging.getLogger(__name__)
# Hours rolled per tenant per pass: a tenant backfilling a year cannot starve the others.
HOURS_PER_PASS = 24


class RollupMaintainer(TenantStorePass):
    duty = "rollup pass"

    def enabled(self) -> bool:
        # SQLite stores have no rollups.
        return super().enabled() and not self.storage.storage.startswith("sqlite:")

    def run_once(self) -> int:
        """One pass over every tenant; returns the hours rolled."""
        with self.sessions() as session:
            databases = session.scalars(select(Tenant.storage_database)).all()
        rolled = 0
        for database in databases:
            if self.stopping:
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
