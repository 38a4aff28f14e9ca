"""A historian wrapper that keeps windowed reads of closed days.

Energy and trend pages read a month as 15-minute or 1-hour aggregates again on every
refresh; the days before today never change. Windows that divide a day are aligned to
the Unix epoch (the historian contract), so a windowed read over several UTC days is the
concatenation of the reads of each day: closed days come from a ``ClosedPeriodCache``,
missing runs of days are read in one request and split, the open edges are read as they
are. Raw reads (no window) and everything else pass straight through, so the analytics
functions that take a ``Historian`` take this one unchanged.
"""

from __future__ import annotations

from bisect import bisect_left

from cloud.closed_period_cache import ClosedPeriodCache
from historian import Aggregate, Historian, SeriesKey
from protocols.sample import Value

DAY_NS = 86_400 * 1_000_000_000


class DayCachedHistorian:
    def __init__(
        self, historian: Historian, cache: ClosedPeriodCache, namespace: str, now_ns: int
    ) -> None:
        self.inner = historian
        self.cache = cache
        self.namespace = namespace  # the tenant's store: keys never cross tenants
        self.now_ns = now_ns
        self.name = historian.name

    # --- pass-through ------------------------------------------------------------------

    def __getattr__(self, name: str) -> object:
        # Everything but windowed reads is the wrapped store's own (write, list_series,
        # read_many, latest, exceeding, ...): delegating keeps this wrapper whole when the
        # contract grows, where copied signatures fell behind it.
        return getattr(self.inner, name)

    def close(self) -> None:
        """The wrapped store belongs to the tenant storage, which closes it."""

    # --- cached windowed reads ---------------------------------------------------------

    def read(
        self,
        key: SeriesKey,
        start_ns: int,
        end_ns: int,
        window_ns: int | None = None,
        aggregate: Aggregate = Aggregate.MEAN,
        limit: int | None = None,
    ) -> list[tuple[int, Value]]:
        if window_ns is None or limit is not None or window_ns <= 0 or DAY_NS % window_ns:
            return self.inner.read(key, start_ns, end_ns, window_ns, aggregate, limit)
        first_day = -(-start_ns // DAY_NS) * DAY_NS  # the first whole UTC day in range
        days = [
            d
            for d in range(first_day, end_ns - DAY_NS + 1, DAY_NS)
            if self.cache.cacheable(d + DAY_NS, self.now_ns)
        ]
        if not days:
            return self.inner.read(key, start_ns, end_ns, window_ns, aggregate)
        aggregate = Aggregate(aggregate)

        def cache_key(day: int) -> tuple:
            return ("day-read", self.namespace, key, window_ns, aggregate.value, day)

        found: dict[int, list[tuple[int, Value]]] = {}
        missing: list[int] = []
        for day in days:
            rows = self.cache.get(cache_key(day), self.now_ns)
            if rows is None:
                missing.append(day)
            else:
                found[day] = rows
        for run in _runs(missing):
            lo, hi = run[0], run[-1] + DAY_NS
            rows = self.inner.read(key, lo, hi, window_ns, aggregate)
            stamps = [t for t, _ in rows]
            for day in run:
                part = rows[bisect_left(stamps, day) : bisect_left(stamps, day + DAY_NS)]
                found[day] = part
                self.cache.put(cache_key(day), part, day + DAY_NS, self.now_ns)
        out: list[tuple[int, Value]] = []
        if start_ns < days[0]:
            out += self.inner.read(key, start_ns, days[0], window_ns, aggregate)
        for day in days:
            out += found[day]
        if days[-1] + DAY_NS < end_ns:
            out += self.inner.read(key, days[-1] + DAY_NS, end_ns, window_ns, aggregate)
        return out


def _runs(days: list[int]) -> list[list[int]]:
    """Consecutive days grouped: [[d1, d2], [d5]]."""
    runs: list[list[int]] = []
    for day in days:
        if runs and day - runs[-1][-1] == DAY_NS:
            runs[-1].append(day)
        else:
            runs.append([day])
    return runs
