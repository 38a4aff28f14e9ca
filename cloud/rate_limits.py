"""Per-tenant ingest quotas, shared by every API replica when kept in Redis."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

import redis
from limits import RateLimitItemPerSecond, storage, strategies
from limits.errors import StorageError

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

    def current(self, key: str) -> tuple[int, float]:
        """The count of the open window and seconds until it ends; (0, 0.0) when none is."""
        now = time.time()
        with self._lock:
            ends, count = self._windows.get(key, (0.0, 0))
        return (0, 0.0) if ends <= now else (count, ends - now)


class RateLimitsUnavailable(Exception):
    """The shared store of the rate limits (Redis) cannot be reached; retry later."""


@dataclass(frozen=True, slots=True)
class WindowUse:
    """A tenant's current rate window: points counted (refused ones too, as they count
    against the window), the window's limit, and seconds until it ends (0: none open)."""

    counted: int
    limit: int
    resets_in_s: float


class TenantRateLimiter:
    def __init__(self, uri: str) -> None:
        # memory:// (one process: the demo, a single replica) is counted here; anything
        # else through ``limits``' storage for it, shared by every replica.
        self._windows = _ProcessWindows() if uri.startswith("memory://") else None
        if self._windows is None:
            self._storage = storage.storage_from_string(uri)
            self._limiter = strategies.FixedWindowRateLimiter(self._storage)

    def admit(self, tenant_key: str, points: int, per_second: int) -> float | None:
        """None when ``points`` fit the tenant's quota now; else seconds to wait.
        Blocking (Redis); raises RateLimitsUnavailable while Redis is away."""
        limit = self.window_capacity(per_second)
        if self._windows is not None:
            wait = self._windows.hit(_process_key(tenant_key, limit), points, limit, WINDOW_SECONDS)
            return None if wait is None else max(1.0, math.ceil(wait))
        item = RateLimitItemPerSecond(limit, WINDOW_SECONDS)
        try:
            if self._limiter.hit(item, "ingest", tenant_key, cost=points):
                return None
            reset_at, _ = self._limiter.get_window_stats(item, "ingest", tenant_key)
        except (redis.RedisError, StorageError) as exc:
            raise RateLimitsUnavailable(f"cannot reach Redis for the rate limits: {exc}") from exc
        return max(1.0, math.ceil(reset_at - time.time()))

    def window_use(self, tenant_key: str, per_second: int) -> WindowUse:
        """What the tenant's current window has counted, without counting anything.
        Blocking (Redis); raises RateLimitsUnavailable while Redis is away."""
        limit = self.window_capacity(per_second)
        if self._windows is not None:
            counted, resets_in = self._windows.current(_process_key(tenant_key, limit))
            return WindowUse(counted, limit, resets_in)
        # The key admit's hits go to; the Storage API's get (the counter) and get_expiry,
        # not get_window_stats, whose "remaining" stops at 0 and so hides refused points.
        key = RateLimitItemPerSecond(limit, WINDOW_SECONDS).key_for("ingest", tenant_key)
        try:
            counted = self._storage.get(key)
            resets_in = max(0.0, self._storage.get_expiry(key) - time.time()) if counted else 0.0
        except (redis.RedisError, StorageError) as exc:
            raise RateLimitsUnavailable(f"cannot reach Redis for the rate limits: {exc}") from exc
        return WindowUse(counted, limit, resets_in)

    @staticmethod
    def window_capacity(per_second: int) -> int:
        return per_second * WINDOW_SECONDS


def _process_key(tenant_key: str, limit: int) -> str:
    # Keyed by the limit too, as limits keys it: a plan change starts a new count.
    return f"{tenant_key}/{limit}"
