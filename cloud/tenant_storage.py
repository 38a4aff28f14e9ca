"""Each tenant's time series in a store of its own: a SQLite file per tenant in the
embedded mode, an InfluxDB database per tenant otherwise. Nothing else maps tenants
to stores, so one tenant's queries can never be pointed at another's data."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

from historian import Historian
from historian.influxdb_v1 import InfluxV1Historian
from historian.open import open_historian


class TenantStorage:
    def __init__(self, storage: str) -> None:
        self.storage = storage
        self._open: dict[str, Historian] = {}
        self._lock = threading.Lock()
        if storage.startswith("sqlite:"):
            self._dir: Path | None = Path(storage.removeprefix("sqlite:"))
            self._dir.mkdir(parents=True, exist_ok=True)
        elif storage.startswith(("influxdb://", "influxdb+https://")):
            self._dir = None
        else:
            raise ValueError(
                f"storage {storage!r}: expected sqlite:DIR or influxdb://[user:pass@]host:port"
            )

    def historian(self, database: str) -> Historian:
        """The tenant's historian, by its ``storage_database`` name (opened once)."""
        with self._lock:
            if database not in self._open:
                self._open[database] = self._make(database)
            return self._open[database]

    def create(self, database: str, retention: timedelta | None = None) -> None:
        """Make the tenant's store now, at onboarding, not at its first point, keeping
        data for ``retention`` (its plan's) from the start."""
        historian = self.historian(database)
        if isinstance(historian, InfluxV1Historian):
            historian.ensure_database()
        if retention is not None:
            historian.enforce_retention(retention)

    def _make(self, database: str) -> Historian:
        # The storage URL names the server; the tenant's database completes it, in the
        # forms open_historian already understands.
        if self._dir is not None:
            return open_historian(f"sqlite:{self._dir / database}.db")
        return open_historian(f"{self.storage.rstrip('/')}/{database}")

    def close(self) -> None:
        with self._lock:
            for historian in self._open.values():
                historian.close()
            self._open.clear()
