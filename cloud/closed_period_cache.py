"""An in-process LRU for results of closed periods (an hour's KPIs, a day's aggregates).

A period that has ended does not change, so its result can be kept; except that an edge
agent that was offline flushes its buffer late, so a period that ended recently may still
gain points. Hence the expiry policy:

- a period is kept only once it ended ``settle_s`` ago (the agent's heartbeat gap);
- a period that ended less than a day before it was computed is kept ``recent_ttl_s``;
- older periods are kept ``old_ttl_s``, so even a very late flush shows within a day.

One cache per process: replicas each keep their own, which only costs a recomputation.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

NS_PER_S = 1_000_000_000


class ClosedPeriodCache:
    def __init__(
        self,
        max_entries: int = 200_000,
        settle_s: float = 600.0,
        recent_ttl_s: float = 600.0,
        old_ttl_s: float = 86_400.0,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self.settle_ns = int(settle_s * NS_PER_S)
        self.recent_ttl_ns = int(recent_ttl_s * NS_PER_S)
        self.old_ttl_ns = int(old_ttl_s * NS_PER_S)
        self._entries: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def cacheable(self, period_end_ns: int, now_ns: int) -> bool:
        """Whether a period ending at ``period_end_ns`` is closed enough to keep."""
        return period_end_ns <= now_ns - self.settle_ns

    def get(self, key: Hashable, now_ns: int) -> Any | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[1] <= now_ns:
                if entry is not None:
                    del self._entries[key]
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry[0]

    def put(self, key: Hashable, value: Any, period_end_ns: int, now_ns: int) -> None:
        """Keep ``value`` if its period is closed (else do nothing)."""
        if not self.cacheable(period_end_ns, now_ns):
            return
        recent = now_ns - period_end_ns < 86_400 * NS_PER_S
        expires = now_ns + (self.recent_ttl_ns if recent else self.old_ttl_ns)
        with self._lock:
            self._entries[key] = (value, expires)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
