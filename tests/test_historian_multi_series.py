"""The contract's many-series reads (``read_many``, ``latest``) on every backend: SQLite
and a real influxd. Each entry of ``read_many`` must be what ``read`` answers for its key."""

from __future__ import annotations

import sqlite3

import httpx
import pytest

from historian import (
    Aggregate,
    Historian,
    HistorianError,
    InfluxV1Historian,
    Point,
    SeriesKey,
    SqliteHistorian,
    ValueKind,
)
from tests.test_historian_contract import BASE, HOSTILE, S, key

# The same backends as the contract tests: the fixture is imported, not redefined.
from tests.test_historian_contract import historian as historian

# Names that would change a query's meaning if spliced in unescaped, or match more than
# themselves as a regular expression.
HOSTILE_MORE = [
    *HOSTILE,
    "a=b",
    "comma,separated",
    "with space",
    "tag1|tag2",
    ".*",
    "^anchored$",
    "(group)[class]{2}+?",
    "/slashes/",
    "OR",
    "AND tag='x'",
    "GROUP BY time(1s)",
    "; SELECT * FROM telemetry",
    "emoji 🌡️ Ünïcödé",
    "nul\x00byte",
]
# Names InfluxDB cannot store (line protocol has no escape for a line break in a tag).
LINE_BREAKS = ["two\nlines", "carriage\rreturn", "crlf\r\nend"]


def _count_round_trips(store: Historian) -> list[str]:
    """Every request (InfluxDB) or statement (SQLite) the store sends from now on."""
    seen: list[str] = []
    if isinstance(store, InfluxV1Historian):

        def on_request(request: httpx.Request) -> None:
            seen.append(f"{request.method} {request.url.path}")

        store._client.event_hooks["request"].append(on_request)
    else:
        assert isinstance(store, SqliteHistorian)
        connection: sqlite3.Connection = store._reader()
        connection.set_trace_callback(seen.append)
    return seen


def _mixed(historian: Historian) -> dict[SeriesKey, list[tuple[int, object]]]:
    """Four kinds on two assets, ten seconds at 1 s, plus a point before the range."""
    data: dict[SeriesKey, list[tuple[int, object]]] = {
        key("f"): [(BASE + n * S, 20.0 + n) for n in range(10)],
        key("i"): [(BASE + n * S, n * 3) for n in range(10)],
        key("b"): [(BASE + n * S, n % 3 == 0) for n in range(10)],
        key("s"): [(BASE + n * S, f"state-{n}") for n in range(10)],
        SeriesKey("ningbo-mold", "moulding-hall-2", "IMM-07", "f"): [
            (BASE + n * S + 500_000_000, -1.5 * n) for n in range(10)
        ],
    }
    historian.write(Point(k, ts, v) for k, rows in data.items() for ts, v in rows)
    historian.write([Point(key("f"), BASE - S, 99.0)])  # outside every read below
    return data


def test_read_many_raw_matches_read_in_the_order_given(historian: Historian) -> None:
    data = _mixed(historian)
    missing = key("nope")
    keys = [*data, missing, key("f")]  # a missing key and a repeat
    answer = historian.read_many(keys, BASE, BASE + 10 * S)
    assert [entry.key for entry in answer] == [*data, missing]  # each key once, in order
    for entry in answer[:-1]:
        assert entry.rows == data[entry.key] == historian.read(entry.key, BASE, BASE + 10 * S)
        assert entry.aggregate is None
        assert [type(v) for _, v in entry.rows] == [type(v) for _, v in data[entry.key]]
    assert [entry.kind for entry in answer] == [
        ValueKind.FLOAT,
        ValueKind.INT,
        ValueKind.BOOL,
        ValueKind.STRING,
        ValueKind.FLOAT,
        None,
    ]
    assert answer[-1].rows == []


def test_read_many_limit_counts_per_series(historian: Historian) -> None:
    data = _mixed(historian)
    answer = historian.read_many(list(data), BASE, BASE + 10 * S, limit=4)
    for entry in answer:
        assert entry.rows == data[entry.key][:4]
    windowed = historian.read_many(
        [key("f"), key("i")], BASE, BASE + 10 * S, window_ns=2 * S, aggregate=Aggregate.SUM, limit=2
    )
    assert [entry.rows for entry in windowed] == [
        [(BASE, 41.0), (BASE + 2 * S, 45.0)],
        [(BASE, 3), (BASE + 2 * S, 15)],
    ]
    assert all(
        entry.rows == [] for entry in historian.read_many(list(data), BASE, BASE + S, limit=0)
    )


@pytest.mark.parametrize("aggregate", list(Aggregate))
def test_read_many_windowed_matches_read(historian: Historian, aggregate: Aggregate) -> None:
    data = _mixed(historian)
    numeric = [key("f"), key("i"), SeriesKey("ningbo-mold", "moulding-hall-2", "IMM-07", "f")]
    keys = numeric if aggregate.needs_numbers else list(data)
    # 3 s windows over [1.5 s, 10 s): the first window starts before the range.
    start, end = BASE + S + S // 2, BASE + 10 * S
    answer = historian.read_many(keys, start, end, window_ns=3 * S, aggregate=aggregate)
    for entry in answer:
        expected = historian.read(entry.key, start, end, window_ns=3 * S, aggregate=aggregate)
        assert entry.rows == expected and len(expected) >= 3, entry.key
        assert [type(v) for _, v in entry.rows] == [type(v) for _, v in expected]
        assert entry.aggregate is aggregate
    (mean_f,) = [e for e in answer if e.key == key("f")] if aggregate is Aggregate.MEAN else [None]
    if mean_f is not None:  # a hand-computed check, not only agreement with read
        assert mean_f.rows[:2] == [(BASE, 22.0), (BASE + 3 * S, 24.0)]  # 2 s; 3, 4, 5 s


def test_text_series_take_the_fallback_or_are_refused(historian: Historian) -> None:
    data = _mixed(historian)
    keys = list(data)
    answer = historian.read_many(
        keys, BASE, BASE + 10 * S, window_ns=5 * S, fallback_aggregate=Aggregate.LAST
    )
    by_key = {entry.key: entry for entry in answer}
    assert by_key[key("s")].aggregate is Aggregate.LAST
    assert by_key[key("s")].rows == [(BASE, "state-4"), (BASE + 5 * S, "state-9")]
    assert by_key[key("b")].rows == [(BASE, False), (BASE + 5 * S, True)]
    assert by_key[key("f")].aggregate is Aggregate.MEAN
    assert by_key[key("f")].rows == [(BASE, 22.0), (BASE + 5 * S, 27.0)]
    counted = historian.read_many(
        [key("s")], BASE, BASE + 10 * S, window_ns=5 * S, aggregate=Aggregate.MAX,
        fallback_aggregate=Aggregate.COUNT,
    )  # fmt: skip
    assert counted[0].rows == [(BASE, 5), (BASE + 5 * S, 5)]
    # Without a fallback the text series is named, even with no value in the range.
    with pytest.raises(HistorianError, match=r"mean of series .*/IMM-01/b: it holds bool"):
        historian.read_many(keys, BASE, BASE + 10 * S, window_ns=5 * S)
    with pytest.raises(HistorianError, match=r"max of series .*/IMM-01/b: it holds bool"):
        historian.read_many(
            [key("f"), key("b")], BASE + 60 * S, BASE + 70 * S, window_ns=S,
            aggregate=Aggregate.MAX,
        )  # fmt: skip
    with pytest.raises(HistorianError, match="fallback aggregate must be last or count"):
        historian.read_many(keys, BASE, BASE + S, window_ns=S, fallback_aggregate=Aggregate.SUM)


def test_read_many_follows_the_kind_written_last(historian: Historian) -> None:
    # A PLC program edit turned an int tag into a float one.
    historian.write([Point(key("x"), BASE + n * S, n) for n in range(5)])
    historian.write([Point(key("x"), BASE + n * S, n / 2) for n in range(5, 8)])
    (entry,) = historian.read_many([key("x")], BASE, BASE + 10 * S)
    assert entry.kind is ValueKind.FLOAT
    assert entry.rows == historian.read(key("x"), BASE, BASE + 10 * S)
    assert entry.rows == [(BASE + n * S, n / 2) for n in range(5, 8)]
    (latest,) = historian.latest("ningbo-mold")
    assert (latest.kind, latest.last_value) == (ValueKind.FLOAT, 3.5)


def test_empty_ranges_still_say_which_series_exist(historian: Historian) -> None:
    _mixed(historian)
    for start, end in ((BASE + 5 * S, BASE + 5 * S), (BASE + 9 * S, BASE)):
        answer = historian.read_many([key("f"), key("s"), key("nope")], start, end)
        assert [(e.kind, e.rows) for e in answer] == [
            (ValueKind.FLOAT, []),
            (ValueKind.STRING, []),
            (None, []),
        ]
    answer = historian.read_many([key("f")], -(2**63), 2**63 - 1)
    assert len(answer[0].rows) == 11  # the widest range holds the point before BASE too


def test_read_many_refuses_nonsense_arguments(historian: Historian) -> None:
    _mixed(historian)
    with pytest.raises(HistorianError, match="window"):
        historian.read_many([key("f")], BASE, BASE + S, window_ns=0)
    with pytest.raises(HistorianError, match="limit"):
        historian.read_many([key("f")], BASE, BASE + S, limit=-1)
    assert historian.read_many([], BASE, BASE + S) == []
    with pytest.raises(HistorianError, match=r"first window .* before the earliest time"):
        historian.read_many([key("f")], -(2**63) + 5, 0, window_ns=10)


def test_hostile_names_match_only_themselves(historian: Historian) -> None:
    keys = [SeriesKey(name, f"line {name}", name, name) for name in HOSTILE_MORE]
    keys += [SeriesKey("plant", "line", "asset", name) for name in HOSTILE_MORE]
    historian.write([Point(k, BASE + n, float(n)) for n, k in enumerate(keys)])
    if isinstance(historian, SqliteHistorian):
        # Only SQLite can hold a line break in a name; InfluxDB must answer such keys as
        # empty rather than let the break end a string in the query.
        keys += [SeriesKey("plant", "line", "asset", name) for name in LINE_BREAKS]
        historian.write([Point(k, BASE + 1000 + n, n) for n, k in enumerate(keys[-3:])])
    answer = historian.read_many(keys, BASE, BASE + S)
    assert [entry.key for entry in answer] == keys
    for entry in answer:
        assert entry.rows == historian.read(entry.key, BASE, BASE + S) != [], entry.key
        assert len(entry.rows) == 1, entry.key
    # Near misses (regex-like, differently escaped, a line break) match nothing.
    near = ["*", "tag1", "anchored", "back\\\\\\slash", "x", "(group)", "or", *LINE_BREAKS]
    near_keys = [SeriesKey("plant", "line", "asset", name + "?") for name in near]
    near_keys += [SeriesKey("plant", "line", "asset", name) for name in near]
    near_keys = [k for k in near_keys if k not in keys]
    missed = historian.read_many(near_keys, 0, BASE * 2, window_ns=S, aggregate=Aggregate.COUNT)
    assert [entry.key for entry in missed if entry.kind or entry.rows] == []
    assert {info.key.tag for info in historian.latest("plant", "line", "asset")} == {
        k.tag for k in keys if k.site == "plant"
    }
    for name in HOSTILE_MORE:
        (only,) = historian.latest(name, f"line {name}")
        assert only.key == SeriesKey(name, f"line {name}", name, name)
    for wildcard in ("*", "%", "_", "plant\n", "plant\r"):  # SQL LIKE, glob, line breaks
        assert historian.latest(wildcard) == []


def test_many_series_in_one_round_trip(historian: Historian) -> None:
    keys = [SeriesKey("site", f"line-{n % 3}", f"asset-{n % 7}", f"tag-{n}") for n in range(250)]
    historian.write(
        Point(k, BASE + m * S, float(n + m)) for n, k in enumerate(keys) for m in range(3)
    )
    seen = _count_round_trips(historian)
    answer = historian.read_many(keys, BASE, BASE + 10 * S, window_ns=10 * S)
    assert [entry.rows for entry in answer] == [[(BASE, n + 1.0)] for n in range(250)]
    assert len(seen) == 1, seen
    seen.clear()
    assert len(historian.latest("site")) == 250
    assert len(seen) == 1, seen


def test_more_keys_than_one_statement_binds(historian: Historian) -> None:
    keys = [SeriesKey("s", "l", "a", f"t{n}") for n in range(1205)]
    historian.write(Point(k, BASE + n, n) for n, k in enumerate(keys))
    answer = historian.read_many([*keys, key("nope")], BASE, BASE + S)
    assert [entry.rows for entry in answer[:-1]] == [[(BASE + n, n)] for n in range(1205)]
    assert answer[-1].kind is None


def test_latest_of_a_site_line_or_asset(historian: Historian) -> None:
    assert historian.latest("ningbo-mold") == []
    data = _mixed(historian)
    other = SeriesKey("other-site", "moulding-hall-1", "IMM-01", "f")
    historian.write([Point(other, BASE, 1.0)])
    site = historian.latest("ningbo-mold")
    assert [info.key for info in site] == sorted(data)
    assert {info.key: (info.last_timestamp_ns, info.last_value) for info in site} == {
        k: rows[-1] for k, rows in data.items()
    }
    assert {info.key: info.kind for info in site}[key("b")] is ValueKind.BOOL
    assert type({i.key: i for i in site}[key("i")].last_value) is int
    hall_2 = historian.latest("ningbo-mold", "moulding-hall-2")
    assert [info.key.tag for info in hall_2] == ["f"]
    assert [i.key.tag for i in historian.latest("ningbo-mold", "moulding-hall-1", "IMM-01")] == [
        "b",
        "f",
        "i",
        "s",
    ]
    assert [i.key.site for i in historian.latest("other-site", asset="IMM-01")] == ["other-site"]
    assert historian.latest("ningbo-mold", "moulding-hall-1", "IMM-07") == []
    assert historian.latest("nowhere") == []


@pytest.mark.parametrize("aggregate", list(Aggregate))
def test_fine_windows_over_a_long_sparse_range(historian: Historian, aggregate: Aggregate) -> None:
    # Three million 1 s windows, three of them holding values: only those come back (a
    # store must not walk the empty ones, nor refuse the read).
    stamps = [BASE - 999_999 * S, BASE + 5, BASE + S - 1, BASE + 1_999_999 * S + 7]
    historian.write([Point(key("f"), ts, float(n + 1)) for n, ts in enumerate(stamps)])
    historian.write([Point(key("s"), ts, f"s{n}") for n, ts in enumerate(stamps)])
    start, end = BASE - 1_000_000 * S, BASE + 2_000_000 * S
    answer = historian.read_many(
        [key("f"), key("s")], start, end, window_ns=S, aggregate=aggregate,
        fallback_aggregate=Aggregate.LAST,
    )  # fmt: skip
    windows = [BASE - 999_999 * S, BASE, BASE + 1_999_999 * S]
    expected = {
        Aggregate.MEAN: [1.0, 2.5, 4.0],
        Aggregate.MIN: [1.0, 2.0, 4.0],
        Aggregate.MAX: [1.0, 3.0, 4.0],
        Aggregate.SUM: [1.0, 5.0, 4.0],
        Aggregate.LAST: [1.0, 3.0, 4.0],
        Aggregate.COUNT: [1, 2, 1],
    }[aggregate]
    assert answer[0].rows == list(zip(windows, expected, strict=True))
    texts = [1, 2, 1] if aggregate is Aggregate.COUNT else ["s0", "s2", "s3"]
    assert answer[1].rows == list(zip(windows, texts, strict=True))
    limited = historian.read_many([key("f")], start, end, window_ns=S, aggregate=aggregate, limit=2)
    assert limited[0].rows == answer[0].rows[:2]


def test_exceeding_names_the_series_over_a_count(historian: Historian) -> None:
    data = _mixed(historian)  # ten values a series in [BASE, BASE + 10 s), one before
    historian.write([Point(key("few"), BASE + n * S, n) for n in range(3)])
    keys = [key("few"), *data, key("nope"), key("f")]
    assert historian.exceeding(keys, BASE, BASE + 10 * S, 9) == list(data)
    assert historian.exceeding(keys, BASE, BASE + 10 * S, 10) == []
    assert historian.exceeding(keys, BASE, BASE + 10 * S, 2) == [key("few"), *data]
    assert historian.exceeding(keys, BASE, BASE + 10 * S, 0) == [key("few"), *data]
    # The range bounds count as in read: the point before BASE counts only when inside.
    assert historian.exceeding([key("f")], BASE - S, BASE + 10 * S, 10) == [key("f")]
    assert historian.exceeding([key("f")], BASE + 5 * S, BASE + 10 * S, 4) == [key("f")]
    assert historian.exceeding([key("f")], BASE + 5 * S, BASE + 10 * S, 5) == []
    assert historian.exceeding([key("f")], BASE + 5 * S, BASE, 0) == []
    with pytest.raises(HistorianError, match="count must be zero or more"):
        historian.exceeding([key("f")], BASE, BASE + S, -1)
    seen = _count_round_trips(historian)
    many = [SeriesKey("site", "l", "a", f"t{n}") for n in range(250)] + list(data)
    assert historian.exceeding(many, BASE, BASE + 10 * S, 9) == list(data)
    assert len(seen) == 1, seen


def test_exceeding_counts_hostile_names_apart(historian: Historian) -> None:
    keys = [SeriesKey("plant", "line", "asset", name) for name in HOSTILE_MORE]
    historian.write([Point(k, BASE + m, float(m)) for n, k in enumerate(keys) for m in range(n)])
    # Series n holds n values: exactly those past 5 are over 5, and a near miss is nothing.
    assert historian.exceeding(keys, BASE, BASE + S, 5) == keys[6:]
    near = [SeriesKey("plant", "line", "asset", name) for name in ("*", ".+", "tag1", "a", "or")]
    assert historian.exceeding(near, BASE, BASE + S, 0) == []
