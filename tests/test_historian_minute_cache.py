"""The API process's cache of closed hours' minute rows: reads through it equal raw reads,
a kept hour is never read again from InfluxDB until it is written and rolled again, it
stays within its bytes, and no two databases share an entry."""

from __future__ import annotations

import numpy as np
import pytest

from historian import Aggregate, Point
from historian.influxdb_minute_cache import (
    MinuteRowCache,
    MinuteRows,
    cache_from_environment,
    window_rows,
)
from historian.influxdb_rollups import HOUR_NS, MINUTE_NS, ROLLUP_1M, Segment
from historian.influxdb_v1 import InfluxV1Historian
from historian.model import ValueKind
from tests.test_historian_rollups import KEYS, T0, S, _points, _same

HOUR0 = T0 - T0 % HOUR_NS
RANGE = (HOUR0, HOUR0 + 3 * HOUR_NS)


@pytest.fixture
def cache() -> MinuteRowCache:
    return MinuteRowCache(64 * 2**20)


def _rolled_store(influxd, cache: MinuteRowCache, database: str | None = None):
    database = database or influxd.new_database()
    store = InfluxV1Historian(influxd.url, database, minute_cache=cache)
    store.write(_points(T0, 2 * 3600))
    store.mark_written(T0, T0 + 2 * 3600 * S)  # visible already: no in-flight margin
    store.roll_up_pending()
    return store, InfluxV1Historian(influxd.url, database, rollups=False)


def test_a_kept_hour_is_not_read_again(influxd, cache) -> None:
    store, raw = _rolled_store(influxd, cache)
    window = 2 * MINUTE_NS
    first = store.read_many(KEYS, *RANGE, window, Aggregate.MEAN, None, Aggregate.LAST)
    fetched = cache.fetched_hours
    # 5 series (of 4 kinds) x the 3 clean hours the range touches
    assert fetched == 15 and len(cache) == 15
    for aggregate in Aggregate:
        _same(
            store.read_many(KEYS, *RANGE, window, aggregate, None, Aggregate.LAST),
            raw.read_many(KEYS, *RANGE, window, aggregate, None, Aggregate.LAST),
        )
    again = store.read_many(KEYS, *RANGE, window, Aggregate.MEAN, None, Aggregate.LAST)
    assert again == first
    assert cache.fetched_hours == fetched  # every later read came from the kept rows
    store.close()
    raw.close()


def test_a_write_then_a_roll_replaces_the_kept_hour(influxd, cache) -> None:
    store, raw = _rolled_store(influxd, cache)
    key, window = KEYS[0], 10 * MINUTE_NS
    before = store.read_many([key], *RANGE, window, Aggregate.MAX)[0].rows
    fetched = cache.fetched_hours
    late = T0 + 1800 * S + 1
    store.write([Point(key, late, 10_000.0)])
    # Dirty now: that hour is read raw, so the late point shows at once.
    dirty = store.read_many([key], *RANGE, window, Aggregate.MAX)[0].rows
    assert max(v for _, v in dirty) == 10_000.0 > max(v for _, v in before)
    store.mark_written(late, late + 1)
    assert store.roll_up_pending() == 1
    rolled = store.read_many([key], *RANGE, window, Aggregate.MAX)[0].rows
    assert rolled == dirty
    assert cache.fetched_hours == fetched + 1  # only the re-rolled hour was read again
    _same(
        store.read_many(KEYS, *RANGE, window, Aggregate.MEAN, None, Aggregate.LAST),
        raw.read_many(KEYS, *RANGE, window, Aggregate.MEAN, None, Aggregate.LAST),
    )
    store.close()
    raw.close()


def test_the_cache_keeps_within_its_bytes(influxd) -> None:
    small = MinuteRowCache(8_000)  # room for about two hours of one series
    store, raw = _rolled_store(influxd, small)
    for _ in range(2):
        _same(
            store.read_many(KEYS, *RANGE, 2 * MINUTE_NS, Aggregate.MIN, None, Aggregate.LAST),
            raw.read_many(KEYS, *RANGE, 2 * MINUTE_NS, Aggregate.MIN, None, Aggregate.LAST),
        )
        assert 0 < small.bytes <= small.max_bytes
        assert len(small) < 15
    store.close()
    raw.close()


def test_databases_never_share_kept_rows(influxd, cache) -> None:
    a, raw_a = _rolled_store(influxd, cache)
    b = InfluxV1Historian(influxd.url, influxd.new_database(), minute_cache=cache)
    b.write([Point(KEYS[0], T0 + n * S, -1.0) for n in range(3600)])
    b.mark_written(T0, T0 + 3600 * S)
    b.roll_up_pending()
    window = 10 * MINUTE_NS
    seen_a = a.read_many([KEYS[0]], *RANGE, window, Aggregate.MIN)[0].rows
    seen_b = b.read_many([KEYS[0]], *RANGE, window, Aggregate.MIN)[0].rows
    assert {v for _, v in seen_b} == {-1.0}
    assert min(v for _, v in seen_a) > -50.5 and -1.0 not in {v for _, v in seen_a}
    _same(a.read_many([KEYS[0]], *RANGE, window), raw_a.read_many([KEYS[0]], *RANGE, window))
    for store in (a, b, raw_a):
        store.close()


def test_exceeding_from_kept_hours_agrees_with_the_count(influxd, cache) -> None:
    store, raw = _rolled_store(influxd, cache)
    start, end = HOUR0, HOUR0 + 3 * HOUR_NS
    store.read_many(KEYS, start, end, 2 * MINUTE_NS, Aggregate.COUNT)  # keep the hours
    for count in (0, 100, 500, 1_000, 10_000):
        assert store.exceeding(KEYS, start, end, count) == raw.exceeding(KEYS, start, end, count), (
            count
        )
    store.close()
    raw.close()


def test_windows_from_minute_rows() -> None:
    minutes = np.arange(50, 70) * MINUTE_NS  # 0:50 to 1:09, across an hour
    rows = MinuteRows(
        minutes,
        {
            "sum": np.arange(20, dtype=float) * 2,
            "count": np.full(20, 2, dtype=np.int64),
            "min": np.arange(20, dtype=float) - 1,
            "max": np.arange(20, dtype=float) + 1,
            "last": np.arange(20, dtype=float) + 0.5,
        },
    )
    # 7-minute windows align to the epoch: 0:42, 0:49, 0:56, 1:03, 1:10
    segment = Segment(42 * MINUTE_NS, 70 * MINUTE_NS, ROLLUP_1M)
    window = 7 * MINUTE_NS
    starts = [49 * MINUTE_NS, 56 * MINUTE_NS, 63 * MINUTE_NS]  # 0:42-0:49 holds no minute
    assert window_rows(rows, Aggregate.COUNT, segment, window) == list(
        zip(starts, [12, 14, 14], strict=True)
    )
    means = window_rows(rows, Aggregate.MEAN, segment, window)
    assert means == list(zip(starts, [2.5, 9.0, 16.0], strict=True))
    assert [v for _, v in window_rows(rows, Aggregate.MIN, segment, window)] == [-1.0, 5.0, 12.0]
    assert [v for _, v in window_rows(rows, Aggregate.MAX, segment, window)] == [6.0, 13.0, 20.0]
    assert [v for _, v in window_rows(rows, Aggregate.LAST, segment, window)] == [5.5, 12.5, 19.5]
    assert window_rows(rows, Aggregate.SUM, Segment(0, MINUTE_NS, ROLLUP_1M), window) == []
    assert all(type(v) is int for _, v in window_rows(rows, Aggregate.COUNT, segment, window))


def test_the_cache_size_comes_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("MINGZHOU_ROLLUP_CACHE_MB", "0")
    assert cache_from_environment() is None
    monkeypatch.setenv("MINGZHOU_ROLLUP_CACHE_MB", "1.5")
    assert cache_from_environment().max_bytes == 3 * 2**19
    for bad in ("lots", "-1"):
        monkeypatch.setenv("MINGZHOU_ROLLUP_CACHE_MB", bad)
        with pytest.raises(ValueError, match="MINGZHOU_ROLLUP_CACHE_MB"):
            cache_from_environment()


def test_a_text_series_keeps_its_last_values(influxd, cache) -> None:
    store, raw = _rolled_store(influxd, cache)
    state = [k for k in KEYS if k.tag == "state"]
    for _ in range(2):  # the second from the kept rows
        (kept,) = store.read_many(state, *RANGE, 5 * MINUTE_NS, Aggregate.LAST)
        (fresh,) = raw.read_many(state, *RANGE, 5 * MINUTE_NS, Aggregate.LAST)
        assert kept.kind is ValueKind.STRING and kept.rows == fresh.rows
    store.close()
    raw.close()
