"""The cloud API's answers to good and bad requests, over the embedded store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cloud.app import create_app
from cloud.timeparams import format_instant, parse_instant
from historian import Point, SeriesKey
from historian.influxdb_v1 import InfluxV1Historian
from historian.sqlite_store import SqliteHistorian
from tests.conftest import free_port

T0 = 1_790_000_000_000_000_000
SECOND = 1_000_000_000
TEMP = SeriesKey("plant", "line-1", "IMM-01", "melt_temp")
STATE = SeriesKey("plant", "line-1", "IMM-01", "state")


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    store = SqliteHistorian(tmp_path / "store.db")
    store.write([Point(TEMP, T0 + i * SECOND, 200.0 + i) for i in range(120)])
    store.write([Point(STATE, T0 + i * SECOND, "running" if i % 2 else "idle") for i in range(4)])
    with TestClient(create_app(store)) as test_client:
        yield test_client
    store.close()


def params(key: SeriesKey, **extra: str) -> dict[str, str]:
    return {"site": key.site, "line": key.line, "asset": key.asset, "tag": key.tag, **extra}


def test_health_and_series_list(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok", "historian": "sqlite", "series": 2}
    listed = {s["tag"]: s for s in client.get("/api/series").json()}
    assert listed["melt_temp"]["kind"] == "float" and listed["melt_temp"]["last_value"] == 319.0
    assert listed["state"]["last_value"] == "running"
    assert listed["state"]["last_time"] == format_instant(T0 + 3 * SECOND)


def test_raw_and_windowed_reads(client: TestClient) -> None:
    start, end = format_instant(T0), format_instant(T0 + 60 * SECOND)
    raw = client.get("/api/series/data", params=params(TEMP, start=start, end=end)).json()
    assert [p["value"] for p in raw["points"]] == [200.0 + i for i in range(60)]
    assert raw["points"][1] == {
        "time": format_instant(T0 + SECOND),
        "timestamp_ns": T0 + SECOND,
        "value": 201.0,
    }
    window_start = T0 - T0 % (30 * SECOND)
    means = client.get(
        "/api/series/data", params=params(TEMP, start=start, end=end, window="30s")
    ).json()
    first_window = [200.0 + i for i in range(60) if T0 + i * SECOND < window_start + 30 * SECOND]
    assert means["points"][0]["timestamp_ns"] == window_start
    assert means["points"][0]["value"] == pytest.approx(sum(first_window) / len(first_window))
    last = client.get(
        "/api/series/data", params=params(STATE, start=start, end=end, window="1m", agg="last")
    ).json()
    assert [p["value"] for p in last["points"]] == ["running"]


@pytest.mark.parametrize(
    ("extra", "status", "says"),
    [
        ({"start": "yesterday"}, 400, "expected an ISO 8601 time"),
        ({"start": "now", "end": "now-1h"}, 400, "must be before end"),
        ({"window": "fast"}, 400, "expected a duration"),
        ({"window": "1ms", "start": "now-1d"}, 400, "windows: widen it"),
        ({"agg": "median"}, 422, "mean"),
        ({"limit": "0"}, 422, "greater than or equal to 1"),
    ],
)
def test_bad_requests_say_what_is_wrong(
    client: TestClient, extra: dict, status: int, says: str
) -> None:
    response = client.get("/api/series/data", params=params(TEMP, **extra))
    assert response.status_code == status
    assert says in response.text


def test_too_many_points_asks_for_a_window(client: TestClient) -> None:
    response = client.get(
        "/api/series/data",
        params=params(
            TEMP, start=format_instant(T0), end=format_instant(T0 + 120 * SECOND), limit="50"
        ),
    )
    assert response.status_code == 400 and "window=" in response.json()["detail"]


def test_numeric_aggregate_of_a_string_series_is_refused(client: TestClient) -> None:
    response = client.get(
        "/api/series/data", params=params(STATE, start=format_instant(T0), window="1m")
    )
    assert response.status_code == 400 and "string" in response.json()["detail"]


def test_unknown_series_is_empty_not_an_error(client: TestClient) -> None:
    other = SeriesKey("plant", "line-1", "IMM-99", "melt_temp")
    response = client.get("/api/series/data", params=params(other, start=format_instant(T0)))
    assert response.status_code == 200 and response.json()["points"] == []


def test_an_unreachable_historian_is_503_not_500() -> None:
    store = InfluxV1Historian(f"http://127.0.0.1:{free_port()}", "nowhere", timeout=2)
    with TestClient(create_app(store)) as client:
        health = client.get("/health")
        assert health.status_code == 503 and health.json()["status"] == "unavailable"
        assert client.get("/api/series").status_code == 503
        assert client.get("/api/series/data", params=params(TEMP)).status_code == 503


def test_empty_store_dashboard_says_how_to_start(tmp_path: Path) -> None:
    with TestClient(create_app(SqliteHistorian(tmp_path / "empty.db"))) as client:
        page = client.get("/")
        assert page.status_code == 200 and "No data yet" in page.text
        assert client.get("/static/plotly.min.js").status_code == 200


def test_dashboard_page_and_live_data(client: TestClient) -> None:
    page = client.get("/")
    assert "IMM-01" in page.text and "melt_temp" in page.text
    assert '<script src="/static/plotly.min.js">' in page.text
    live = client.get("/dashboard/live", params={"seconds": 30}).json()
    assert live["series_count"] == 2
    assert {v["kind"] for v in live["latest"].values()} == {"float", "string"}


def test_time_parameters() -> None:
    now = T0 + 7
    assert parse_instant("now", now) == now
    assert parse_instant("now-15m", now) == now - 900 * SECOND
    assert parse_instant("-2h", now) == now - 7200 * SECOND
    assert parse_instant("2026-11-29T08:00:00Z") == parse_instant("2026-11-29T16:00:00+08:00")
    assert parse_instant(format_instant(T0 + 123_456_789)) == T0 + 123_456_789
    assert parse_instant("2026-11-29") == parse_instant("2026-11-29T00:00:00Z")
    assert parse_instant("2026-11-29T08:00:00.5+08:00") == parse_instant("2026-11-29T00:00:00.500Z")
