"""Per-tenant ingest quotas, shared by every API replica when kept in Redis."""

from __future__ import annotations

import math
import time

from limits import RateLimitItemPerSecond, storage, strategies

# Quotas are points per second, enforced over 10-second windows: an agent that sends a
# 5-second backlog in one batch is within its rate, and a counter per window (INCRBY in
# Redis) costs one round trip whatever the batch size.
WINDOW_SECONDS = 10


class TenantRateLimiter:
    def __init__(self, uri: str) -> None:
        self._storage = storage.storage_from_string(uri)
        self._limiter = strategies.FixedWindowRateLimiter(self._storage)

    def admit(self, tenant_key: str, points: int, per_second: int) -> float | None:
        """None when ``points`` fit the tenant's quota now; else seconds to wait."""
        item = RateLimitItemPerSecond(per_second * WINDOW_SECONDS, WINDOW_SECONDS)
        if self._limiter.hit(item, "ingest", tenant_key, cost=points):
            return None
        reset_at, _ = self._limiter.get_window_stats(item, "ingest", tenant_key)
        return max(1.0, math.ceil(reset_at - time.time()))

    @staticmethod
    def window_capacity(per_second: int) -> int:
        return per_second * WINDOW_SECONDS
