"""Per-tenant ingest quotas, shared by every API replica when kept in Redis."""

from __future__ import annotations

import math
import threading
import time

from limits import RateLimitItemPerSecond, storage, strategies

# Quotas are points per second, enforced over 10-second windows: an agent that sends a
# 5-second backlog in one batch is within its rate, and a counter per window (INCRBY in
# Redis) costs one round trip whatever the batch size.
WINDOW_SECONDS = 10


class _ProcessWindows:
    """The fixed windows of ``limits`` (a window opens at its first hit, every hit counts,
    a hit is admitted while the count stays within the limit) for one process.

    ``limits``' own MemoryStorage starts a timer thread to expire keys whenever its last
    timer has run out, which at a steady ingest rate is nearly every request: a tenth of
    the API process's CPU in the ingest benchmark. Here a window simply ends.
    """

    def __init__(self) -> None:
        self._windows: dict[str, tuple[float, int]] = {}  # key -> (window end, count)
        self._lock = threading.Lock()

    def hit(self, key: str, cost: int, limit: int, seconds: float) -> float | None:
        """None when admitted; else seconds until the window ends."""
        now = time.time()
        with self._lock:
            ends, count = self._windows.get(key, (0.0, 0))
            if ends <= now:
                ends, count = now + seconds, 0
            count += cost
            self._windows[key] = (ends, count)
        return None if count <= limit else ends - now


class TenantRateLimiter:
    def __init__(self, uri: str) -> None:
        # memory:// (one process: the demo, a single replica) is counted here; anything
        # else through ``limits``' storage for it, shared by every replica.
        self._windows = _ProcessWindows() if uri.startswith("memory://") else None
        if self._windows is None:
            self._storage = storage.storage_from_string(uri)
            self._limiter = strategies.FixedWindowRateLimiter(self._storage)

    def admit(self, tenant_key: str, points: int, per_second: int) -> float | None:
        """None when ``points`` fit the tenant's quota now; else seconds to wait."""
        limit = per_second * WINDOW_SECONDS
        if self._windows is not None:
            # Keyed by the limit too, as limits keys it: a plan change starts a new count.
            wait = self._windows.hit(f"{tenant_key}/{limit}", points, limit, WINDOW_SECONDS)
            return None if wait is None else max(1.0, math.ceil(wait))
        item = RateLimitItemPerSecond(limit, WINDOW_SECONDS)
        if self._limiter.hit(item, "ingest", tenant_key, cost=points):
            return None
        reset_at, _ = self._limiter.get_window_stats(item, "ingest", tenant_key)
        return max(1.0, math.ceil(reset_at - time.time()))

    @staticmethod
    def window_capacity(per_second: int) -> int:
        return per_second * WINDOW_SECONDS
