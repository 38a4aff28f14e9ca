"""Shrinks each tenant's series-quota set to the series its store still holds.

A thread of the platform process, the sibling of ``cloud.rollup_maintainer``: every
``interval_s`` it reconciles every tenant's set (``SeriesRegistry.reconcile``), so series
whose data the tenant's retention dropped stop counting against its plan's
``max_series``. Every replica runs one; a reconcile takes a per-tenant lock in Redis and
leaves a "done recently" mark for half the interval, so replicas take turns rather than
repeating the work, and a repeat would only redo it. A store or Redis away is logged and
tried again next pass.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud.periodic_pass import TenantStorePass
from cloud.series_quota import SeriesRegistry, TenantSeries
from cloud.tenant_storage import TenantStorage
from historian import Historian, SeriesKey
from tenants.models import Tenant

log = logging.getLogger(__name__)


class SeriesReconciler(TenantStorePass):
    duty = "series reconcile pass"

    def __init__(
        self,
        sessions: sessionmaker[Session],
        storage: TenantStorage,
        registry: SeriesRegistry,
        interval_s: float,
    ) -> None:
        super().__init__(sessions, storage, interval_s)
        self.registry = registry

    def run_once(self) -> dict[str, int]:
        """One pass over every tenant; returns the series in use of each tenant reconciled
        (tenants never admitted to, or reconciled lately by another replica, are absent)."""
        with self.sessions() as session:
            rows = session.execute(
                select(Tenant.key, Tenant.id, Tenant.created_at, Tenant.storage_database)
            ).all()
        reconciled: dict[str, int] = {}
        for key, tenant_id, created_at, database in rows:
            if self.stopping:
                break
            historian = self.storage.historian(database)
            try:
                in_use = self.registry.reconcile(
                    TenantSeries(key, tenant_id, created_at),
                    _lister(historian),
                    not_within_s=self.interval_s / 2,
                )
            except Exception:  # a tenant's store, or Redis, away must not stop the others
                log.warning("reconciling the series of %s failed; retried next pass", key,
                            exc_info=True)  # fmt: skip
                continue
            if in_use is not None:
                reconciled[key] = in_use
                log.info("tenant %s: %d series counted against its quota", key, in_use)
        return reconciled


def _lister(historian: Historian) -> Callable[[], list[SeriesKey]]:
    def existing() -> list[SeriesKey]:
        return [info.key for info in historian.list_series()]

    return existing
