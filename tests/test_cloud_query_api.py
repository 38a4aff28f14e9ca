"""The chart query API (``POST /api/query``, ``GET /api/latest``) over SQLite and a real
influxd: many series in one answer, downsampling to ``max_points``, and every bad request
refused with a reason that names the parameter."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from statistics import fmean

import pytest
from fastapi.testclient import TestClient

from cloud.app import create_app
from cloud.downsampling import (
    DAY,
    HOUR,
    MINUTE,
    SECOND,
    YEAR,
    format_window,
    pick_window,
    window_count,
)
from cloud.query_api import MAX_SERIES
from cloud.timeparams import format_instant
from historian import Historian, InfluxV1Historian, Point, SeriesKey, SqliteHistorian
from tests.conftest import free_port
from tests.test_historian_multi_series import HOSTILE_MORE

T0 = 1_790_035_200 * SECOND  # midnight UTC, so windows of up to a day start at T0
HOURS_2 = 7_200
TEMP = SeriesKey("plant", "line-1", "IMM-01", "melt_temp")  # float, every second
CYCLES = SeriesKey("plant", "line-1", "IMM-01", "cycles")  # int, every 10 s
STATE = SeriesKey("plant", "line-1", "IMM-01", "state")  # string, every minute
FLOW = SeriesKey("plant", "line-2", "PUMP-1", "flow")  # float, every second
ALL = [TEMP, CYCLES, STATE, FLOW]


def temp(i: int) -> float:
    return 200.0 + (i % 100) * 0.5


def written() -> dict[SeriesKey, list[tuple[int, object]]]:
    return {
        TEMP: [(T0 + i * SECOND, temp(i)) for i in range(HOURS_2)],
        CYCLES: [(T0 + i * 10 * SECOND, i) for i in range(HOURS_2 // 10)],
        STATE: [(T0 + i * MINUTE, "running" if i % 3 else "idle") for i in range(HOURS_2 // 60)],
        FLOW: [(T0 + i * SECOND, -float(i)) for i in range(HOURS_2)],
    }


@pytest.fixture(params=["sqlite", "influxdb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Historian]:
    historian: Historian
    if request.param == "sqlite":
        historian = SqliteHistorian(tmp_path / "store.db")
    else:
        influxd = request.getfixturevalue("influxd")
        historian = InfluxV1Historian(influxd.url, influxd.new_database())
    historian.write(Point(k, ts, v) for k, rows in written().items() for ts, v in rows)
    yield historian
    historian.close()


@pytest.fixture
def client(store: Historian) -> Iterator[TestClient]:
    with TestClient(create_app(store)) as test_client:
        yield test_client


def ref(key: SeriesKey) -> dict[str, str]:
    return {"site": key.site, "line": key.line, "asset": key.asset, "tag": key.tag}


def query(client: TestClient, keys: list[SeriesKey], start: int, end: int, **extra: object):
    body = {"series": [ref(k) for k in keys], "start": format_instant(start)}
    body["end"] = format_instant(end)
    return client.post("/api/query", json={**body, **extra})


def by_tag(answer: dict) -> dict[str, dict]:
    return {series["tag"]: series for series in answer["series"]}


# --- answers -------------------------------------------------------------------------


def test_raw_values_when_every_series_fits(client: TestClient) -> None:
    response = query(client, ALL, T0, T0 + 10 * MINUTE)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["window"], answer["window_ns"], answer["downsampled"]) == (None, None, False)
    assert (answer["start_ns"], answer["end_ns"]) == (T0, T0 + 10 * MINUTE)
    assert [s["tag"] for s in answer["series"]] == [k.tag for k in ALL]  # the order asked
    data = written()
    for key, series in zip(ALL, answer["series"], strict=True):
        expected = [(ts, v) for ts, v in data[key] if ts < T0 + 10 * MINUTE]
        assert list(zip(series["timestamps_ns"], series["values"], strict=True)) == expected
        assert series["aggregate"] is None
    tags = by_tag(answer)
    assert [tags[t]["kind"] for t in ("melt_temp", "cycles", "state")] == ["float", "int", "string"]
    assert len(tags["melt_temp"]["values"]) == 600 and len(tags["state"]["values"]) == 10


def test_a_dense_range_is_downsampled_to_a_round_window(client: TestClient) -> None:
    response = query(client, ALL, T0, T0 + HOURS_2 * SECOND)  # 7,200 points a series
    assert response.status_code == 200, response.text
    answer = response.json()
    # 7,200 s / 1,000 points needs 7.2 s windows: the next round one is 10 s (720 windows).
    assert (answer["window"], answer["window_ns"], answer["downsampled"]) == (
        "10s",
        10 * SECOND,
        True,
    )
    tags = by_tag(answer)
    assert all(len(s["values"]) <= 1000 for s in answer["series"])
    melt = tags["melt_temp"]
    assert melt["aggregate"] == "mean" and len(melt["values"]) == 720
    assert melt["timestamps_ns"][:2] == [T0, T0 + 10 * SECOND]
    assert melt["values"][:2] == [
        pytest.approx(fmean(temp(i) for i in range(10))),
        pytest.approx(fmean(temp(i) for i in range(10, 20))),
    ]
    assert tags["cycles"]["values"][:3] == [0.0, 1.0, 2.0]  # the mean of an int is a float
    # A text series takes the latest value per window instead of a mean.
    state = tags["state"]
    assert (state["kind"], state["aggregate"]) == ("string", "last")
    assert state["values"][:4] == ["idle", "running", "running", "idle"]
    assert state["timestamps_ns"][1] == T0 + MINUTE


def test_max_points_picks_the_window(client: TestClient) -> None:
    answer = query(client, [TEMP, FLOW], T0, T0 + HOURS_2 * SECOND, max_points=100).json()
    assert answer["window"] == "2m" and answer["max_points"] == 100  # 72 s -> 2 min
    flow = by_tag(answer)["flow"]
    assert len(flow["values"]) == 60
    assert flow["values"][0] == pytest.approx(-59.5)  # mean of -0 … -119


@pytest.mark.parametrize(("max_points", "window"), [(600, None), (599, "2s")])
def test_the_budget_is_exact(client: TestClient, max_points: int, window: str | None) -> None:
    answer = query(client, [TEMP], T0, T0 + 10 * MINUTE, max_points=max_points).json()
    assert answer["window"] == window
    assert len(answer["series"][0]["values"]) == (600 if window is None else 300)


def test_a_requested_window_is_kept_or_widened(client: TestClient) -> None:
    kept = query(client, [TEMP], T0, T0 + HOURS_2 * SECOND, window="1m").json()
    assert (kept["window"], kept["downsampled"]) == ("1m", False)
    assert len(kept["series"][0]["values"]) == 120
    odd = query(client, [TEMP], T0, T0 + HOURS_2 * SECOND, window="7s", max_points=10_000)
    assert (odd.json()["window"], odd.json()["downsampled"]) == ("7s", False)
    assert len(odd.json()["series"][0]["values"]) == window_count(
        T0, T0 + HOURS_2 * SECOND, 7 * SECOND
    )
    widened = query(client, [TEMP], T0, T0 + HOURS_2 * SECOND, window="1s", max_points=500).json()
    assert (widened["window"], widened["downsampled"]) == ("15s", True)  # 14.4 s needed
    assert len(widened["series"][0]["values"]) == 480


def test_an_explicit_aggregate_applies_to_every_series(client: TestClient) -> None:
    last = query(client, [TEMP, STATE], T0, T0 + HOURS_2 * SECOND, window="1h", aggregate="last")
    tags = by_tag(last.json())
    assert tags["melt_temp"]["values"] == [temp(3599), temp(7199)]
    assert tags["state"]["values"] == ["running", "running"]  # minutes 59 and 119
    maxima = query(client, [TEMP, CYCLES], T0, T0 + HOURS_2 * SECOND, window="1h", aggregate="max")
    assert [s["values"] for s in maxima.json()["series"]] == [[249.5, 249.5], [359, 719]]
    refused = query(client, [TEMP, STATE], T0, T0 + HOURS_2 * SECOND, aggregate="mean")
    assert refused.status_code == 422
    (error,) = refused.json()["detail"]
    assert error["loc"] == ["body", "aggregate"]
    assert "cannot compute mean of series plant/line-1/IMM-01/state" in error["msg"]


def test_unknown_series_are_empty_with_no_kind(client: TestClient) -> None:
    ghost = SeriesKey("plant", "line-1", "IMM-99", "melt_temp")
    answer = query(client, [ghost, TEMP], T0, T0 + HOURS_2 * SECOND).json()
    assert answer["series"][0] | {"site": "", "line": "", "asset": "", "tag": ""} == {
        "site": "", "line": "", "asset": "", "tag": "",
        "kind": None, "aggregate": "mean", "timestamps_ns": [], "values": [],
    }  # fmt: skip
    empty = query(client, [TEMP], T0 - DAY, T0).json()
    assert empty["series"][0]["kind"] == "float" and empty["series"][0]["values"] == []


def test_hostile_names_come_back_as_they_were_written(store: Historian, client: TestClient) -> None:
    keys = [SeriesKey(name, name, f"asset {name}", name) for name in HOSTILE_MORE]
    store.write([Point(k, T0 + n * SECOND, float(n)) for n, k in enumerate(keys)])
    response = query(client, keys, T0, T0 + MINUTE)
    assert response.status_code == 200, response.text
    for n, series in enumerate(response.json()["series"]):
        assert (series["site"], series["tag"]) == (HOSTILE_MORE[n], HOSTILE_MORE[n])
        assert (series["timestamps_ns"], series["values"]) == ([T0 + n * SECOND], [float(n)])
    for n, name in enumerate(HOSTILE_MORE):
        latest = client.get("/api/latest", params={"site": name, "line": name})
        assert [(e["tag"], e["value"]) for e in latest.json()] == [(name, float(n))], name


# --- the latest values ----------------------------------------------------------------


def test_latest_of_an_asset_a_line_or_a_site(client: TestClient) -> None:
    asset = client.get("/api/latest", params={"site": "plant", "line": "line-1", "asset": "IMM-01"})
    assert asset.status_code == 200
    assert [(e["tag"], e["kind"], e["value"]) for e in asset.json()] == [
        ("cycles", "int", 719),
        ("melt_temp", "float", temp(7199)),
        ("state", "string", "running"),
    ]
    first = asset.json()[0]
    assert first["timestamp_ns"] == T0 + 7190 * SECOND
    assert first["time"] == format_instant(T0 + 7190 * SECOND)
    site = client.get("/api/latest", params={"site": "plant"}).json()
    assert [(e["line"], e["asset"], e["tag"]) for e in site] == sorted(
        (k.line, k.asset, k.tag) for k in ALL
    )
    line_2 = client.get("/api/latest", params={"site": "plant", "line": "line-2"}).json()
    assert [(e["tag"], e["value"]) for e in line_2] == [("flow", -7199.0)]
    assert client.get("/api/latest", params={"site": "elsewhere"}).json() == []


# --- refusals -------------------------------------------------------------------------


def _body(**changes: object) -> dict:
    body: dict = {"series": [ref(TEMP)], "start": "now-1h", "end": "now"}
    body.update(changes)
    return body


@pytest.mark.parametrize(
    ("body", "loc", "says"),
    [
        (_body(start="yesterday"), ["body", "start"], "expected an ISO 8601 time"),
        (_body(end="2026-13-45"), ["body", "end"], "expected an ISO 8601 time"),
        (_body(start="now", end="now-1h"), ["body", "end"], "must be after start"),
        (_body(start="now-2h", end="now-2h"), ["body", "end"], "must be after start"),
        (_body(start="1500-01-01T00:00:00Z"), ["body", "start"], "outside the time range"),
        (_body(end="now-" + "9" * 400 + "d"), ["body", "end"], "outside the time range"),
        (_body(window="9" * 400 + "d"), ["body", "window"], "longer than any time range"),
        (_body(window="999999999d"), ["body", "window"], "longer than any time range"),
        (
            _body(start="1677-09-22T00:00:00Z", end="1677-09-23T00:00:00Z", window="30d"),
            ["body", "start"],
            "the first 30d window would start before 1677-09-21",
        ),
        (
            _body(start="1677-09-22T00:00:00Z", end="2262-04-01T00:00:00Z", max_points=2),
            ["body", "start"],
            "use a later start, a shorter window or more max_points",
        ),
        (_body(window="fast"), ["body", "window"], "expected a duration"),
        (_body(window="0.0001ms"), ["body", "window"], "at least 1ms"),
        (_body(aggregate="median"), ["body", "aggregate"], "'mean'"),
        (_body(max_points=0), ["body", "max_points"], "greater than or equal to 1"),
        (_body(max_points=10_001), ["body", "max_points"], "less than or equal to 10000"),
        (_body(series=[]), ["body", "series"], "at least 1 item"),
        (
            _body(series=[ref(SeriesKey("s", "l", "a", f"t{n}")) for n in range(MAX_SERIES + 1)]),
            ["body", "series"],
            f"at most {MAX_SERIES} series in one request, got {MAX_SERIES + 1}",
        ),
        (
            _body(series=[ref(TEMP), ref(FLOW), ref(TEMP)]),
            ["body", "series"],
            "series[2] repeats series[0]",
        ),
        (
            _body(series=[{"site": "s", "line": "l", "asset": "a"}]),
            ["body", "series", 0, "tag"],
            "Field required",
        ),
        (
            _body(series=[{**ref(TEMP), "tag": ""}]),
            ["body", "series", 0, "tag"],
            "at least 1 character",
        ),
        (
            _body(series=[{**ref(TEMP), "tag": "x" * 1025}]),
            ["body", "series", 0, "tag"],
            "at most 1024",
        ),
        (_body(series=[{**ref(TEMP), "unit": "C"}]), ["body", "series", 0, "unit"], "Extra inputs"),
        (_body(colour="red"), ["body", "colour"], "Extra inputs"),
    ],
)
def test_bad_queries_name_the_parameter(
    client: TestClient, body: dict, loc: list, says: str
) -> None:
    response = client.post("/api/query", json=body)
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    assert [e["loc"] for e in errors] == [loc]
    assert says in errors[0]["msg"]


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({}, ["query", "site"]),
        ({"site": ""}, ["query", "site"]),
        ({"site": "p", "line": ""}, ["query", "line"]),
    ],
)
def test_bad_latest_requests_name_the_parameter(
    client: TestClient, params: dict, loc: list
) -> None:
    response = client.get("/api/latest", params=params)
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [loc]


def test_a_store_that_is_away_is_503_with_retry_after() -> None:
    store = InfluxV1Historian(f"http://127.0.0.1:{free_port()}", "nowhere", timeout=2)
    with TestClient(create_app(store)) as client:
        for response in (
            client.post("/api/query", json=_body()),
            client.get("/api/latest", params={"site": "plant"}),
        ):
            assert response.status_code == 503, response.text
            assert response.headers["Retry-After"] == "5"
            assert "unavailable" in response.json()["detail"]


def test_the_openapi_schema_documents_the_limits(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert set(schema["paths"]["/api/query"]) == {"post"}
    assert "max_points" in schema["paths"]["/api/query"]["post"]["description"]
    request = schema["components"]["schemas"]["QueryRequest"]["properties"]
    assert request["series"]["maxItems"] == MAX_SERIES
    assert (request["max_points"]["default"], request["max_points"]["maximum"]) == (1000, 10_000)
    assert "QueryResult" in str(schema["paths"]["/api/query"]["post"]["responses"]["200"])
    assert "503" in schema["paths"]["/api/latest"]["get"]["responses"]


# --- the window arithmetic ------------------------------------------------------------


@pytest.mark.parametrize(
    ("span", "max_points", "expected"),
    [
        (DAY, 1000, 2 * MINUTE),  # 86.4 s needed
        (DAY, 1440, MINUTE),
        (DAY, 1439, 2 * MINUTE),
        (3600 * SECOND, 1000, 5 * SECOND),
        (SECOND, 1000, 1_000_000),  # 1 ms
        (SECOND, 10_000, 1_000_000),  # nothing finer than 1 ms
        (365 * DAY, 1000, 12 * HOUR),  # 8.76 h needed
        (3650 * DAY, 1000, 7 * DAY),
        (300 * YEAR, 1, 500 * YEAR),
    ],
)
def test_pick_window(span: int, max_points: int, expected: int) -> None:
    assert pick_window(T0, T0 + span, max_points) == expected
    assert window_count(T0, T0 + span, expected) <= max_points


def test_windows_are_counted_as_the_epoch_aligns_them() -> None:
    assert window_count(T0, T0 + MINUTE, 10 * SECOND) == 6
    assert window_count(T0 + SECOND, T0 + MINUTE + SECOND, 10 * SECOND) == 7  # straddles
    assert window_count(-15 * SECOND, -5 * SECOND, 10 * SECOND) == 2  # before the epoch
    assert window_count(T0, T0, SECOND) == 0
    # An unaligned range needs one window more, so it may take the next round duration.
    half = SECOND // 2
    assert pick_window(T0 + half, T0 + half + 10 * MINUTE, 600) == 2 * SECOND
    assert pick_window(T0, T0 + HOURS_2 * SECOND, 500, at_least_ns=20 * SECOND) == 30 * SECOND
    with pytest.raises(ValueError, match="at least 1"):
        pick_window(T0, T0 + SECOND, 0)


def test_format_window() -> None:
    assert [format_window(w) for w in (500_000_000, 15 * SECOND, 2 * MINUTE, 7 * DAY)] == [
        "500ms", "15s", "2m", "7d",
    ]  # fmt: skip
    assert format_window(1_500_000) == "1500us" and format_window(7) == "7ns"
    assert format_window(90 * SECOND) == "90s"
