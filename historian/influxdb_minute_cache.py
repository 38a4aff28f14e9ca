"""Closed hours' minute rollup rows kept in the API process, aggregated into windows here.

A day's chart of 50 tags reads 72,000 minute rows from ``telemetry_1m``; InfluxDB 1.6
aggregates those at about 3 µs a row, 0.4 s a chart, every time the chart refreshes. An
hour that was rolled and not written since cannot change until it is written again (the
write's mark makes it dirty) and rolled again (a new ``rolled_at``), so its minute rows
may be kept: entries are keyed by server, database, kind, series and hour, and valid only
while the hour's ``rolled_at`` is the one they were read under. A read then asks InfluxDB
only for the hours it has not seen, and for the hour states (one small query).

Windows are made from the minute rows with numpy ``reduceat``: a window's mean is
Σsum / Σcount, min the least min, last the last minute's last, exactly as the rollup
statements compute them in InfluxDB.

The cache is bounded in bytes (``MINGZHOU_ROLLUP_CACHE_MB``, default 64; 0 turns it off)
and drops the least recently used hours first. A day of one series is about 70 kB.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from historian.influxdb_rollups import (
    HOUR_NS,
    ROLLUP_1M,
    Segment,
    clean_hours,
    field_name,
    parts,
    plan,
    plannable,
)
from historian.influxql import quote_ident, time_condition
from historian.influxql_multi_series import GROUP_BY_TAGS, TAG_KEYS, keys_condition
from historian.model import Aggregate, SeriesKey, ValueKind

Query = Callable[[str], list[dict[str, Any]]]
# (server, database, kind, series, hour start)
CacheKey = tuple[str, str, ValueKind, SeriesKey, int]
DEFAULT_MB = 64
# Keys per fetch statement, as for the other multi-series statements (a long OR is slow).
KEYS_PER_FETCH = 100
# Python's own bookkeeping for one entry (dict slot, tuple key, arrays' headers).
_ENTRY_OVERHEAD = 600


@dataclass(frozen=True)
class MinuteRows:
    """One series' minute rows of one kind, ascending: minute starts and each part."""

    timestamps: np.ndarray
    parts: dict[str, np.ndarray]

    @property
    def nbytes(self) -> int:
        size = self.timestamps.nbytes + sum(a.nbytes for a in self.parts.values())
        last = self.parts.get("last")
        if last is not None and last.dtype == object:  # text: the strings themselves
            size += sum(len(v) + 50 for v in last if isinstance(v, str))
        return size + _ENTRY_OVERHEAD

    @property
    def count(self) -> int:
        return int(self.parts["count"].sum())

    def between(self, start_ns: int, end_ns: int) -> MinuteRows:
        lo, hi = np.searchsorted(self.timestamps, (start_ns, end_ns))
        return MinuteRows(self.timestamps[lo:hi], {p: a[lo:hi] for p, a in self.parts.items()})

    @staticmethod
    def join(pieces: Sequence[MinuteRows], kind: ValueKind) -> MinuteRows:
        if len(pieces) == 1:
            return pieces[0]
        if not pieces:
            return _empty(kind)
        return MinuteRows(
            np.concatenate([p.timestamps for p in pieces]),
            {part: np.concatenate([p.parts[part] for p in pieces]) for part in parts(kind)},
        )


def _dtype(kind: ValueKind, part: str) -> Any:
    if part == "count":
        return np.int64
    if kind is ValueKind.FLOAT:
        return np.float64
    if kind is ValueKind.INT:
        return np.int64
    return object  # bool and text: last only


def _empty(kind: ValueKind) -> MinuteRows:
    return MinuteRows(np.empty(0, np.int64), {p: np.empty(0, _dtype(kind, p)) for p in parts(kind)})


def _rows_to_arrays(kind: ValueKind, rows: list[list[Any]]) -> MinuteRows:
    """InfluxDB rows [time, part…] to arrays, minutes without this kind's points left out
    (a minute row holds every kind's fields; a series that changed kind has gaps)."""
    names = parts(kind)
    count_at = 1 + names.index("count")
    kept = [row for row in rows if row[count_at]]
    if not kept:
        return _empty(kind)
    columns = list(zip(*kept, strict=True))
    return MinuteRows(
        np.array(columns[0], dtype=np.int64),
        {part: np.array(columns[1 + i], dtype=_dtype(kind, part)) for i, part in enumerate(names)},
    )


class MinuteRowCache:
    """Least-recently-used minute rows of closed hours, bounded in bytes; thread-safe."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self.fetched_hours = 0  # hours read from InfluxDB (tests and figures watch it)
        self._entries: OrderedDict[CacheKey, tuple[int, MinuteRows]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: CacheKey, rolled_at: int) -> MinuteRows | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] != rolled_at:  # rolled again since: these rows may be stale
                self._drop(key)
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: CacheKey, rolled_at: int, rows: MinuteRows) -> None:
        size = rows.nbytes
        with self._lock:
            if key in self._entries:
                self._drop(key)
            if size > self.max_bytes:
                return
            self._entries[key] = (rolled_at, rows)
            self.bytes += size
            while self.bytes > self.max_bytes:
                self._drop(next(iter(self._entries)))

    def _drop(self, key: CacheKey) -> None:
        _, rows = self._entries.pop(key)
        self.bytes -= rows.nbytes

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.bytes = 0


def cache_from_environment() -> MinuteRowCache | None:
    """The process's cache, sized by MINGZHOU_ROLLUP_CACHE_MB (0: none)."""
    text = os.environ.get("MINGZHOU_ROLLUP_CACHE_MB", str(DEFAULT_MB))
    try:
        megabytes = float(text)
    except ValueError:
        raise ValueError(
            f"MINGZHOU_ROLLUP_CACHE_MB={text!r}: expected a number of megabytes"
        ) from None
    if megabytes < 0:
        raise ValueError(f"MINGZHOU_ROLLUP_CACHE_MB={text!r} must be 0 or more")
    return MinuteRowCache(int(megabytes * 2**20)) if megabytes else None


class CachedMinutes:
    """The minute rows of one database's series for given hours, from the cache where the
    hour's roll is the one cached, from InfluxDB (then cached) otherwise."""

    def __init__(self, cache: MinuteRowCache, query: Query, server: str, database: str) -> None:
        self.cache = cache
        self._query = query
        self._prefix = (server, database)

    def rows(
        self, kind: ValueKind, keys: Sequence[SeriesKey], rolled: Mapping[int, int]
    ) -> dict[SeriesKey, MinuteRows]:
        """Each key's minute rows of ``kind`` over the hours in ``rolled`` (hour start ->
        its rolled_at), joined in time order."""
        hours = sorted(rolled)
        found: dict[tuple[SeriesKey, int], MinuteRows] = {}
        missing: dict[SeriesKey, list[int]] = {}
        server, database = self._prefix
        for key in keys:
            for hour in hours:
                rows = self.cache.get((server, database, kind, key, hour), rolled[hour])
                if rows is None:
                    missing.setdefault(key, []).append(hour)
                else:
                    found[(key, hour)] = rows
        if missing:
            found.update(self._fetch(kind, missing, rolled))
        joined = {}
        for key in keys:
            pieces = [found[(key, hour)] for hour in hours]
            joined[key] = MinuteRows.join([p for p in pieces if p.timestamps.size], kind)
        return joined

    def cached_counts(
        self, keys: Iterable[SeriesKey], rolled: Mapping[int, int]
    ) -> dict[tuple[SeriesKey, ValueKind], int]:
        """Values per series and kind in the given hours that the cache holds (a lower
        bound of the hours' counts; nothing is fetched)."""
        server, database = self._prefix
        counts: dict[tuple[SeriesKey, ValueKind], int] = {}
        for key in keys:
            for kind in ValueKind:
                total = 0
                for hour, rolled_at in rolled.items():
                    rows = self.cache.get((server, database, kind, key, hour), rolled_at)
                    if rows is not None:
                        total += rows.count
                counts[(key, kind)] = total
        return counts

    def _fetch(
        self, kind: ValueKind, missing: dict[SeriesKey, list[int]], rolled: Mapping[int, int]
    ) -> dict[tuple[SeriesKey, int], MinuteRows]:
        """One statement per group of keys over the span of their missing hours; every
        missing hour is cached, an hour without rows as empty (absent stays known)."""
        names = parts(kind)
        fields = ", ".join(quote_ident(field_name(kind, part)) for part in names)
        keys = list(missing)
        statements = []
        spans = []
        for n in range(0, len(keys), KEYS_PER_FETCH):
            group = keys[n : n + KEYS_PER_FETCH]
            first = min(missing[k][0] for k in group)
            last = max(missing[k][-1] for k in group) + HOUR_NS
            spans.append(group)
            statements.append(
                f"SELECT {fields} FROM {quote_ident(ROLLUP_1M)}"
                f" WHERE {keys_condition(group)} AND {time_condition(first, last)}"
                f" GROUP BY {GROUP_BY_TAGS}"
            )
        results = self._query("; ".join(statements))
        server, database = self._prefix
        fetched: dict[tuple[SeriesKey, int], MinuteRows] = {}
        for group, result in zip(spans, results, strict=True):
            by_key: dict[SeriesKey, MinuteRows] = {}
            for series in result.get("series", []):
                tags = series.get("tags", {})
                key = SeriesKey(*(tags.get(name, "") for name in TAG_KEYS))
                by_key[key] = _rows_to_arrays(kind, series["values"])
            for key in group:
                rows = by_key.get(key) or _empty(kind)
                for hour in missing[key]:
                    piece = rows.between(hour, hour + HOUR_NS)
                    # Copies, so that a cached hour does not hold the whole span alive.
                    piece = MinuteRows(
                        piece.timestamps.copy(), {p: a.copy() for p, a in piece.parts.items()}
                    )
                    self.cache.put((server, database, kind, key, hour), rolled[hour], piece)
                    fetched[(key, hour)] = piece
                    self.cache.fetched_hours += 1
        return fetched


def window_rows(
    rows: MinuteRows, aggregate: Aggregate, segment: Segment, window_ns: int
) -> list[tuple[int, Any]]:
    """(window start, value) of every window of the segment that holds minutes, the value
    in the type the aggregate of the kind has (a mean a float, a count an int …)."""
    rows = rows.between(segment.start_ns, segment.end_ns)
    ts = rows.timestamps
    if not ts.size:
        return []
    ids = ts // window_ns  # windows align to the epoch
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    window_starts = (ids[starts] * window_ns).tolist()
    aggregate = Aggregate(aggregate)
    part = rows.parts
    if aggregate is Aggregate.MEAN:
        values = (
            np.add.reduceat(part["sum"], starts) / np.add.reduceat(part["count"], starts)
        ).tolist()
    elif aggregate is Aggregate.SUM:
        values = np.add.reduceat(part["sum"], starts).tolist()
    elif aggregate is Aggregate.COUNT:
        values = np.add.reduceat(part["count"], starts).tolist()
    elif aggregate is Aggregate.MIN:
        values = np.minimum.reduceat(part["min"], starts).tolist()
    elif aggregate is Aggregate.MAX:
        values = np.maximum.reduceat(part["max"], starts).tolist()
    else:
        ends = np.r_[starts[1:], ts.size] - 1
        values = part["last"][ends].tolist()
    return list(zip(window_starts, values, strict=True))


_shared: MinuteRowCache | None = None
_shared_made = False
_shared_lock = threading.Lock()


def shared_cache() -> MinuteRowCache | None:
    """The one cache of this process (every tenant's historian shares its byte budget),
    made on first use from the environment."""
    global _shared, _shared_made
    with _shared_lock:
        if not _shared_made:
            _shared, _shared_made = cache_from_environment(), True
        return _shared


class PlannedRead:
    """One windowed read's use of the rollups: which hours are clean under which roll, the
    segments, and the minute rows of the minute-level segments (through the cache)."""

    def __init__(self, query: Query, minutes: CachedMinutes | None) -> None:
        self._query = query
        self._minutes = minutes
        self.rolled: dict[int, int] = {}

    def plan(self, start_ns: int, end_ns: int, window_ns: int) -> list[Segment]:
        if not plannable(window_ns):
            return [Segment(start_ns, end_ns, None)]
        self.rolled = clean_hours(self._query, start_ns, end_ns)
        return plan(start_ns, end_ns, window_ns, self.rolled)

    def minutes(
        self, kind: ValueKind, keys: list[SeriesKey], segments: list[Segment]
    ) -> dict[SeriesKey, MinuteRows]:
        assert self._minutes is not None
        # Every hour a minute-level segment touches is clean: plan() made it so.
        hours = {
            hour: self.rolled[hour]
            for s in segments
            for hour in range(s.start_ns - s.start_ns % HOUR_NS, s.end_ns, HOUR_NS)
        }
        return self._minutes.rows(kind, keys, hours)


def proven_exceeding(
    query: Query,
    minutes: CachedMinutes,
    keys: Sequence[SeriesKey],
    start_ns: int,
    end_ns: int,
    count: int,
) -> set[SeriesKey]:
    """The keys whose cached whole hours in [start_ns, end_ns) alone hold more than
    ``count`` values of one kind: over a chart's budget without asking InfluxDB to count
    raw points (the others must still be asked)."""
    rolled = clean_hours(query, start_ns, end_ns)
    whole = {h: r for h, r in rolled.items() if h >= start_ns and h + HOUR_NS <= end_ns}
    if not whole:
        return set()
    counts = minutes.cached_counts(keys, whole)
    return {key for (key, _), n in counts.items() if n > count}
