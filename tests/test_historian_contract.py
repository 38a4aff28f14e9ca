"""One contract, every backend: SQLite in a temp dir and a real influxd on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from historian import (
    Aggregate,
    Historian,
    HistorianError,
    InfluxV1Historian,
    LineProtocolError,
    Point,
    SeriesKey,
    SqliteHistorian,
    ValueKind,
    encode_points,
)

S = 1_000_000_000  # one second in ns
# A multiple of 10 s, so 10 s windows start at BASE + k*10 s (windows align to the epoch).
BASE = 1_764_382_800 * S
KEY = SeriesKey("ningbo-mold", "moulding-hall-1", "IMM-01", "melt_temp")

HOSTILE = [
    'say "hi"',
    "a,b c=d",
    "back\\slash",
    "back\\\\slash",
    "中文 标签",
    "SELECT",
    '"; DROP DATABASE x',
    "x' OR 'a'='a",
    "it's \\' tricky",
    "tab\there",
]


@pytest.fixture(params=["sqlite", "influxdb"])
def historian(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Historian]:
    store: Historian
    if request.param == "sqlite":
        store = SqliteHistorian(tmp_path / "store" / "historian.db")
    else:
        influxd = request.getfixturevalue("influxd")
        store = InfluxV1Historian(influxd.url, influxd.new_database())
    yield store
    store.close()


def key(tag: str) -> SeriesKey:
    return SeriesKey("ningbo-mold", "moulding-hall-1", "IMM-01", tag)


def test_backends_satisfy_the_protocol(historian: Historian) -> None:
    assert isinstance(historian, Historian)


def test_raw_round_trip_keeps_kinds_and_ns(historian: Historian) -> None:
    series = {
        key("f"): [1.5, 0.1, -0.0, 1e300, 3.0],
        key("i"): [1, -2, 2**63 - 1, -(2**63), 0],
        key("b"): [True, False, True, True, False],
        key("s"): ["running", 'say "hi"', "", "back\\slash", "two\nlines 中文"],
    }
    points = [
        Point(k, BASE + 123_456_789 + n, v)
        for k, values in series.items()
        for n, v in enumerate(values)
    ]
    assert historian.write(points) == len(points)
    for k, values in series.items():
        rows = historian.read(k, BASE, BASE + S)
        assert [ts for ts, _ in rows] == [BASE + 123_456_789 + n for n in range(len(values))]
        assert [v for _, v in rows] == values
        assert [type(v) for _, v in rows] == [type(v) for v in values]
    (negative_zero,) = [v for ts, v in historian.read(key("f"), BASE, BASE + S) if v == 0]
    assert str(negative_zero) == "-0.0"


def test_range_is_start_inclusive_end_exclusive(historian: Historian) -> None:
    historian.write([Point(KEY, BASE + n, float(n)) for n in (9, 10, 11, 19, 20, 21)])
    assert historian.read(KEY, BASE + 10, BASE + 20) == [
        (BASE + 10, 10.0),
        (BASE + 11, 11.0),
        (BASE + 19, 19.0),
    ]
    assert historian.read(KEY, BASE + 20, BASE + 20) == []
    assert historian.read(KEY, BASE + 30, BASE + 20) == []


def test_same_series_and_timestamp_overwrites(historian: Historian) -> None:
    historian.write([Point(KEY, BASE, 1.0), Point(KEY, BASE + 1, 2.0)])
    historian.write([Point(KEY, BASE, 5.0)])
    assert historian.read(KEY, BASE, BASE + S) == [(BASE, 5.0), (BASE + 1, 2.0)]


def _write_window_fixture(historian: Historian) -> None:
    # Window [0,10): 1.0 @1s (before the read's start), 3.0 @4s, 2.0 @9.5s
    # Window [10,20): 10.0 @12s; window [20,30): empty; window [30,40): 5.0 @31s, 7.0 @39s
    # The @39s point is written first: "last" must go by time, not by arrival.
    historian.write([Point(KEY, BASE + 39 * S, 7.0)])
    historian.write(
        [
            Point(KEY, BASE + 1 * S, 1.0),
            Point(KEY, BASE + 4 * S, 3.0),
            Point(KEY, BASE + 9 * S + S // 2, 2.0),
            Point(KEY, BASE + 12 * S, 10.0),
            Point(KEY, BASE + 31 * S, 5.0),
            Point(KEY, BASE + 40 * S, 100.0),  # at the end bound: excluded
        ]
    )


@pytest.mark.parametrize(
    ("aggregate", "expected"),
    [
        (Aggregate.MEAN, [2.5, 10.0, 6.0]),
        (Aggregate.MIN, [2.0, 10.0, 5.0]),
        (Aggregate.MAX, [3.0, 10.0, 7.0]),
        (Aggregate.SUM, [5.0, 10.0, 12.0]),
        (Aggregate.LAST, [2.0, 10.0, 7.0]),
        (Aggregate.COUNT, [2, 1, 2]),
    ],
)
def test_windowed_aggregates(
    historian: Historian, aggregate: Aggregate, expected: list[float]
) -> None:
    _write_window_fixture(historian)
    rows = historian.read(KEY, BASE + 2 * S, BASE + 40 * S, window_ns=10 * S, aggregate=aggregate)
    # Stamped with each window's epoch-aligned start, even the first one that begins
    # before the read's start; the empty window [20 s, 30 s) is left out.
    assert [ts for ts, _ in rows] == [BASE, BASE + 10 * S, BASE + 30 * S]
    assert [v for _, v in rows] == expected
    expected_type = int if aggregate is Aggregate.COUNT else float
    assert all(type(v) is expected_type for _, v in rows)


def test_windowed_types_for_int_bool_and_string(historian: Historian) -> None:
    historian.write(
        [Point(key("i"), BASE + n * S, v) for n, v in ((1, 1), (2, 2), (11, 7))]
        + [Point(key("b"), BASE + n * S, v) for n, v in ((1, True), (2, False))]
        + [Point(key("s"), BASE + n * S, v) for n, v in ((1, "on"), (2, "off"))]
    )

    def read(k: SeriesKey, aggregate: Aggregate) -> list[tuple[int, object]]:
        return historian.read(k, BASE, BASE + 20 * S, window_ns=10 * S, aggregate=aggregate)

    assert read(key("i"), Aggregate.MEAN) == [(BASE, 1.5), (BASE + 10 * S, 7.0)]
    assert type(read(key("i"), Aggregate.MEAN)[1][1]) is float
    for aggregate, expected in [
        (Aggregate.SUM, [3, 7]),
        (Aggregate.MIN, [1, 7]),
        (Aggregate.MAX, [2, 7]),
        (Aggregate.LAST, [2, 7]),
        (Aggregate.COUNT, [2, 1]),
    ]:
        values = [v for _, v in read(key("i"), aggregate)]
        assert values == expected and all(type(v) is int for v in values), aggregate
    assert read(key("b"), Aggregate.LAST) == [(BASE, False)]
    assert type(read(key("b"), Aggregate.LAST)[0][1]) is bool
    assert read(key("b"), Aggregate.COUNT) == [(BASE, 2)]
    assert read(key("s"), Aggregate.LAST) == [(BASE, "off")]
    assert read(key("s"), Aggregate.COUNT) == [(BASE, 2)]


@pytest.mark.parametrize("tag", ["s", "b"])
@pytest.mark.parametrize("aggregate", [Aggregate.MEAN, Aggregate.MIN, Aggregate.MAX, Aggregate.SUM])
def test_numeric_aggregate_of_text_or_bool_is_refused(
    historian: Historian, tag: str, aggregate: Aggregate
) -> None:
    historian.write([Point(key("s"), BASE, "running"), Point(key("b"), BASE, True)])
    with pytest.raises(HistorianError, match=rf"{aggregate.value} of series .*/{tag}\b"):
        historian.read(key(tag), BASE, BASE + S, window_ns=S, aggregate=aggregate)


def test_list_series_shows_kind_and_latest_value(historian: Historian) -> None:
    assert historian.list_series() == []
    historian.write(
        [
            Point(key("f"), BASE + 5, 2.5),
            Point(key("f"), BASE + 9, 3.5),
            Point(key("f"), BASE + 7, 9.5),
            Point(key("i"), BASE + 1, 4),
            Point(key("b"), BASE + 2, False),
            Point(key("s"), BASE + 3, "idle"),
        ]
    )
    listed = {(info.key, info.kind): info for info in historian.list_series()}
    assert set(listed) == {
        (key("f"), ValueKind.FLOAT),
        (key("i"), ValueKind.INT),
        (key("b"), ValueKind.BOOL),
        (key("s"), ValueKind.STRING),
    }
    latest = {k: (i.last_timestamp_ns, i.last_value) for (k, _), i in listed.items()}
    assert latest == {
        key("f"): (BASE + 9, 3.5),
        key("i"): (BASE + 1, 4),
        key("b"): (BASE + 2, False),
        key("s"): (BASE + 3, "idle"),
    }
    assert type(latest[key("i")][1]) is int
    assert type(latest[key("b")][1]) is bool


def test_hostile_names_round_trip_and_stay_apart(historian: Historian) -> None:
    keys = [SeriesKey(name, f"line {name}", name, name) for name in HOSTILE]
    keys.append(SeriesKey("plain", "plain", "plain", "plain"))
    historian.write([Point(k, BASE + n, float(n)) for n, k in enumerate(keys)])
    for n, k in enumerate(keys):
        assert historian.read(k, BASE, BASE + S) == [(BASE + n, float(n))], k
    assert sorted(info.key for info in historian.list_series()) == sorted(keys)
    # Names that differ from stored ones only in quoting or escaping match nothing.
    for near_miss in ["back\\\\\\slash", "x", "a,b", "it's \\\\' tricky", "*", ".*", "'"]:
        assert historian.read(SeriesKey(near_miss, "plain", "plain", "plain"), 0, BASE * 2) == []


def test_write_line_protocol(historian: Historian) -> None:
    body = encode_points([Point(KEY, BASE + n, n) for n in range(3)]) + "\n# done\n"
    assert historian.write_line_protocol(body) == 3
    assert historian.read(KEY, BASE, BASE + S) == [(BASE, 0), (BASE + 1, 1), (BASE + 2, 2)]


def test_malformed_line_protocol_writes_nothing(historian: Historian) -> None:
    body = (
        "telemetry,asset=a,line=l,site=s,tag=t float=1 1000\n"
        "telemetry,asset=a,line=l,site=s,tag=t float=2 2000\n"
        "telemetry,asset=a,line=l,site=s float=3 3000\n"
    )
    with pytest.raises(LineProtocolError, match=r"^line 3: missing tag 'tag'"):
        historian.write_line_protocol(body)
    assert historian.list_series() == []


def test_limit_keeps_the_first_rows(historian: Historian) -> None:
    historian.write([Point(KEY, BASE + n * S, float(n)) for n in range(10)])
    assert historian.read(KEY, BASE, BASE + 10 * S, limit=3) == [
        (BASE, 0.0),
        (BASE + S, 1.0),
        (BASE + 2 * S, 2.0),
    ]
    windowed = historian.read(
        KEY, BASE, BASE + 10 * S, window_ns=2 * S, aggregate=Aggregate.SUM, limit=2
    )
    assert windowed == [(BASE, 1.0), (BASE + 2 * S, 5.0)]
    assert historian.read(KEY, BASE, BASE + 10 * S, limit=0) == []


def test_unknown_series_reads_empty(historian: Historian) -> None:
    historian.write([Point(KEY, BASE, 1.0)])
    assert historian.read(key("nope"), 0, BASE * 2) == []
    assert historian.read(key("nope"), 0, BASE * 2, window_ns=S, aggregate=Aggregate.MEAN) == []


def test_read_refuses_nonsense_arguments(historian: Historian) -> None:
    historian.write([Point(KEY, BASE, 1.0)])
    with pytest.raises(HistorianError, match="window"):
        historian.read(KEY, 0, BASE * 2, window_ns=0)
    with pytest.raises(HistorianError, match="limit"):
        historian.read(KEY, 0, BASE * 2, limit=-1)


def test_wide_time_range_is_accepted(historian: Historian) -> None:
    historian.write([Point(KEY, BASE, 1.0)])
    assert historian.read(KEY, -(2**63), 2**63 - 1) == [(BASE, 1.0)]


def test_concurrent_writers_and_readers(historian: Historian) -> None:
    # The cloud shares one historian between asyncio.to_thread writers and the
    # threadpool that serves reads.
    def writer(n: int) -> None:
        for batch in range(10):
            historian.write(
                [Point(key(f"w{n}"), BASE + batch * 20 + i, float(i)) for i in range(20)]
            )

    def reader(n: int) -> int:
        total = 0
        for _ in range(10):
            total += len(historian.read(key(f"w{n}"), BASE, BASE + S))
            historian.list_series()
        return total

    with ThreadPoolExecutor(max_workers=8) as pool:
        writes = [pool.submit(writer, n) for n in range(4)]
        reads = [pool.submit(reader, n) for n in range(4)]
        for future in writes + reads:
            future.result()
    for n in range(4):
        assert len(historian.read(key(f"w{n}"), BASE, BASE + S)) == 200
