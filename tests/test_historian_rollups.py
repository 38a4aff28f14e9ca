"""Minute and hour rollups in a real influxd: reads through them equal reads of the raw
points, a late write is never hidden by a stale rollup, and the platform keeps them rolled."""

from __future__ import annotations

import itertools
import math
import random

import pytest

from historian import Aggregate, Point, SeriesKey
from historian.influxdb_rollups import (
    HOUR_NS,
    MINUTE_NS,
    ROLLUP_1H,
    ROLLUP_1M,
    Segment,
    hours_of_body,
    hours_of_stamps,
    plan,
)
from historian.influxdb_v1 import InfluxV1Historian
from historian.line_protocol import encode_points, validate_line_protocol

S = 1_000_000_000
T0 = 1_790_004_000 * S  # 20 past an hour: hours do not line up with the data's start
HOSTILE = SeriesKey('site "A", 1', "line=1 B", "asset ,=\\ x", "SELECT * FROM telemetry;")
KEYS = [
    SeriesKey("s1", "l1", "pump-1", "flow"),
    SeriesKey("s1", "l1", "pump-1", "count"),
    SeriesKey("s1", "l1", "pump-1", "running"),
    SeriesKey("s1", "l1", "pump-1", "state"),
    HOSTILE,
]


def _points(start_ns: int, seconds: int, step_s: int = 7) -> list[Point]:
    rng = random.Random(4)
    points = []
    for s in range(0, seconds, step_s):
        if 3_000 <= s < 4_500:
            continue  # a gap: windows with no points must stay absent
        ts = start_ns + s * S + rng.randrange(S)
        points += [
            Point(KEYS[0], ts, rng.uniform(-50, 50)),
            Point(KEYS[1], ts, rng.randrange(-1000, 1000)),
            Point(KEYS[2], ts, rng.random() < 0.5),
            Point(KEYS[3], ts, rng.choice(["run", "idle", 'q"uote'])),
            Point(HOSTILE, ts, rng.uniform(0, 1)),
        ]
    return points


@pytest.fixture
def stores(influxd):
    database = influxd.new_database()
    with_rollups = InfluxV1Historian(influxd.url, database)
    raw_only = InfluxV1Historian(influxd.url, database, rollups=False)
    yield with_rollups, raw_only
    with_rollups.close()
    raw_only.close()


def _same(a, b) -> None:
    assert [(e.key, e.kind, e.aggregate) for e in a] == [(e.key, e.kind, e.aggregate) for e in b]
    for x, y in zip(a, b, strict=True):
        assert [t for t, _ in x.rows] == [t for t, _ in y.rows], x.key
        for (_, u), (_, v) in zip(x.rows, y.rows, strict=True):
            if isinstance(v, float):
                assert math.isclose(u, v, rel_tol=1e-9, abs_tol=1e-9), (x.key, u, v)
            else:
                assert u == v, (x.key, u, v)


def _rolled_statements(store: InfluxV1Historian, start: int, end: int, window: int) -> int:
    """How many segments of this read come from a rollup."""
    return sum(segment.level is not None for segment in store._plan(start, end, window))


@pytest.mark.parametrize(
    ("offset_s", "length_s", "window_s"),
    [
        (0, 5 * 3600, 120),  # whole hours; 2-minute windows
        (37, 5 * 3600 - 80, 420),  # ragged ends; windows that do not divide an hour
        (-600, 6 * 3600, 7200),  # hour-multiple windows: the hour level
    ],
)
def test_rollup_reads_equal_raw_reads(stores, offset_s, length_s, window_s) -> None:
    store, raw = stores
    store.write(_points(T0, 5 * 3600))
    start, end, window = T0 + offset_s * S, T0 + (offset_s + length_s) * S, window_s * S
    # Rolled at once, the hours stay dirty: the writes' marks allow them time in flight.
    assert store.roll_up_pending() == 6  # the 6 hours the 5 h of points touch
    assert _rolled_statements(store, start, end, window) == 0
    store.mark_written(T0, T0 + 5 * 3600 * S)  # points already visible: no in-flight margin
    assert store.roll_up_pending() == 6
    assert store.roll_up_pending() == 0
    assert _rolled_statements(store, start, end, window) >= 1
    for aggregate in Aggregate:
        _same(
            store.read_many(KEYS, start, end, window, aggregate, None, Aggregate.LAST),
            raw.read_many(KEYS, start, end, window, aggregate, None, Aggregate.LAST),
        )
    for key in (KEYS[0], KEYS[1], HOSTILE):  # one series at a time takes the same path
        (rolled,) = store.read_many([key], start, end, window, Aggregate.SUM)
        assert store.read(key, start, end, window, Aggregate.SUM) == rolled.rows
        _same([rolled], raw.read_many([key], start, end, window, Aggregate.SUM))


def test_a_late_point_is_read_raw_until_rolled_again(stores) -> None:
    store, raw = stores
    store.write(_points(T0, 2 * 3600))
    store.mark_written(T0, T0 + 2 * 3600 * S)
    store.roll_up_pending()
    key = KEYS[0]
    start, end, window = T0 - T0 % HOUR_NS, T0 - T0 % HOUR_NS + 3 * HOUR_NS, 10 * MINUTE_NS
    before = store.read_many([key], start, end, window, Aggregate.MAX)[0].rows
    late = T0 + 1800 * S + 1
    store.write([Point(key, late, 10_000.0)])  # a buffer flushed an hour late
    after = store.read_many([key], start, end, window, Aggregate.MAX)[0].rows
    assert max(v for _, v in after) == 10_000.0 and max(v for _, v in before) < 10_000.0
    _same(
        store.read_many(KEYS, start, end, window, Aggregate.MEAN, None, Aggregate.LAST),
        raw.read_many(KEYS, start, end, window, Aggregate.MEAN, None, Aggregate.LAST),
    )
    # Rolled again (the mark's in-flight margin passed), the rollup holds the late point.
    store.mark_written(late, late + 1)
    assert store.roll_up_pending() == 1
    assert _rolled_statements(store, start, end, window) >= 1
    rolled = store.read_many([key], start, end, window, Aggregate.MAX)[0].rows
    assert rolled == after


def test_rollup_rows_are_what_the_minute_holds(stores, influxd) -> None:
    store, _ = stores
    key = KEYS[1]
    minute = T0 - T0 % MINUTE_NS
    store.write([Point(key, minute + i * S, v) for i, v in enumerate([5, -3, 9, 1])])
    store.mark_written(minute, minute + 1)
    assert store.roll_up_pending() == 1
    ((row,),) = [
        series["values"]
        for result in store._query_many(
            f'SELECT int_sum, int_count, int_min, int_max, int_last FROM "{ROLLUP_1M}"'
        )
        for series in result["series"]
    ]
    assert row == [minute, 12, 4, -3, 9, 1]
    ((hour_row,),) = [
        series["values"]
        for result in store._query_many(f'SELECT int_sum, int_count FROM "{ROLLUP_1H}"')
        for series in result["series"]
    ]
    assert hour_row == [minute - minute % HOUR_NS, 12, 4]


def test_a_body_marks_every_hour_its_points_fall_in() -> None:
    near_edge = 7 * HOUR_NS - 1  # the last ns of an hour
    body = encode_points(
        [Point(KEYS[0], near_edge, 1.0), Point(KEYS[3], 3 * HOUR_NS + 5, "x\n 12")]
    ).encode()
    hours = hours_of_body(body)
    assert {6 * HOUR_NS, 3 * HOUR_NS} <= hours
    assert all(h % HOUR_NS == 0 for h in hours)
    assert {-HOUR_NS, 0} <= hours_of_body(encode_points([Point(KEYS[0], 5, 1.0)]).encode())
    for ts in (-1, -(10**12) - 5, -5 * HOUR_NS - 7, 10**18 + 12345):
        body = encode_points([Point(KEYS[0], ts, 1.0)]).encode()
        assert ts - ts % HOUR_NS in hours_of_body(body), ts
    assert -HOUR_NS in hours_of_body(b"telemetry,a=b float=1 -0999999999999")
    # Every magnitude of timestamp, both signs: each point's hour is marked.
    stamps = _every_magnitude(random.Random(7), 20)
    body = encode_points([Point(KEYS[0], ts, 1.0) for ts in stamps]).encode()
    assert {ts - ts % HOUR_NS for ts in stamps} <= hours_of_body(body)


def _every_magnitude(rng: random.Random, each: int) -> list[int]:
    """Timestamps of 1 to 18 digits, both signs, ``each`` of every size, and the ends of
    InfluxDB's range."""
    return [
        sign * rng.randrange(10 ** (digits - 1), 10**digits)
        for digits in range(1, 19)
        for sign in (1, -1)
        for _ in range(each)
    ] + [2**63 - 2, -(2**63) + 2]


def test_the_validated_timestamps_mark_the_hours_a_scan_of_the_body_would() -> None:
    """Ingest takes the hours from the timestamps validation captured, not from a second
    pass: both give the same hours, whichever path validated the body."""
    stamps = _every_magnitude(random.Random(11), 10)
    fast = encode_points([Point(KEYS[t % 4], ts, 1.0) for t, ts in enumerate(stamps)]).encode()
    odd = b"\n".join(  # leading zeros, and lines only the full parser reads
        [
            b"telemetry,a=b float=1 -0999999999999",
            b"telemetry,a=b float=1 0001234567890123",
            b"telemetry,asset=a,line=l,site=s,tag=t float=1 -007",
            b"telemetry,asset=a,line=l,site=s,tag=t\\ x float=2 3600000000000",
        ]
    )
    for body in (fast, fast + b"\n" + odd, odd):
        validated_hours = hours_of_stamps({line.rsplit(b" ", 1)[1] for line in body.split(b"\n")})
        assert validated_hours == hours_of_body(body)
    for body in (fast, fast + b"\n" + odd.split(b"\n", 2)[2]):
        validated = validate_line_protocol(body)
        assert hours_of_stamps(validated.timestamps) == hours_of_body(body)
        assert {ts - ts % HOUR_NS for ts in stamps} <= hours_of_stamps(validated.timestamps)


def test_plan_cuts_only_at_window_boundaries() -> None:
    clean = {h * HOUR_NS for h in range(10) if h != 4}
    start, end, window = 17 * S, 9 * HOUR_NS + 5 * S, 7 * MINUTE_NS
    segments = plan(start, end, window, clean)
    assert segments[0] == Segment(start, window, None)  # the partial first window
    assert segments[-1].level is None and segments[-1].end_ns == end
    for a, b in itertools.pairwise(segments):
        assert a.end_ns == b.start_ns and a.end_ns % window == 0
    rolled = [s for s in segments if s.level == ROLLUP_1M]
    assert len(rolled) == 2  # before and after the dirty hour 04:00
    for segment in rolled:
        for t in range(segment.start_ns, segment.end_ns, window):
            assert all(h in clean for h in range(t - t % HOUR_NS, t + window, HOUR_NS))
    assert plan(start, end, 90 * S, clean) == [Segment(start, end, None)]  # not whole minutes


def test_the_platform_rolls_its_tenants(influxd, tmp_path) -> None:
    from cloud.rollup_maintainer import RollupMaintainer
    from cloud.tenant_storage import TenantStorage
    from tenants.db import make_engine, session_factory, upgrade
    from tenants.onboarding import create_tenant, ensure_default_plans

    url = f"sqlite:///{tmp_path / 'meta.db'}"
    upgrade(url)
    sessions = session_factory(make_engine(url))
    with sessions() as session:
        ensure_default_plans(session)
        tenant = create_tenant(session, "roll-co", "Roll Co", "enterprise", "test")
        session.commit()
        database = tenant.storage_database
    storage = TenantStorage("influxdb://" + influxd.url.removeprefix("http://"))
    try:
        store = storage.historian(database)
        store.write(_points(T0, 3600))
        store.mark_written(T0, T0 + 3600 * S)
        assert RollupMaintainer(sessions, storage, 60).run_once() == 2
        assert RollupMaintainer(sessions, storage, 60).run_once() == 0
    finally:
        storage.close()
