"""Each tenant keeps its plan's retention: older points leave its store.

A thread of the platform process: every ``interval_s`` (and once at start) it tells each
tenant's store how long to keep data. An InfluxDB database gets a default retention
policy of that length (the server deletes whole expired shard groups; its rollups live in
the same policy and leave with the points); an SQLite store deletes the older points
itself. Every replica runs one; both operations are idempotent. A plan change takes effect
at the next pass.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select

from cloud.periodic_pass import TenantStorePass
from tenants.models import Plan, Tenant

log = logging.getLogger(__name__)


class RetentionKeeper(TenantStorePass):
    duty = "retention pass"
    run_at_start = True  # a restart after a long stop catches up at once

    def run_once(self) -> int:
        """One pass over every tenant; returns the points deleted here (not by InfluxDB)."""
        with self.sessions() as session:
            tenants = session.execute(
                select(Tenant.storage_database, Plan.retention_days).join(
                    Plan, Tenant.plan_id == Plan.id
                )
            ).all()
        deleted = 0
        for database, days in tenants:
            if self.stopping:
                break
            try:
                deleted += self.storage.historian(database).enforce_retention(timedelta(days=days))
            except Exception:  # one tenant's store away must not stop the others'
                log.warning("retention of %s failed; retried next pass", database, exc_info=True)
        if deleted:
            log.info("retention: %d points past their tenants' retention deleted", deleted)
        return deleted
