"""The platform API against raw InfluxDB, same server, same batches, same run.

1. Ingest: agents' line-protocol batches of 5,000 points posted to /api/ingest (token,
   scope, parsing, rate limit, write) against the same bodies posted straight to
   influxd's /write: gzip-compressed, as the edge agent sends them to either, then
   uncompressed. The two run in turn, round after round, and each round's ratio is
   taken within the round: this machine's speed drifts by more than the difference.
2. Query: a 24-hour chart of 50 tags recorded every second (4.3 M points, ingested
   through the API), read as a chart reads it: one POST /api/tenants/{key}/query for all
   50 series with the default budget of 1,000 points a series, which the API downsamples
   to 2-minute means (720 points a series); median and p95 latency over repeated
   requests, first from the raw points, then from the minute rollups once the day's hours
   are rolled (historian.influxdb_rollups): the first of those requests reads the minute
   rows into the API process (historian.influxdb_minute_cache), printed apart, the rest
   make their windows from the kept rows. For comparison, the same chart as 50
   single-series requests (/series/data, 1-minute means).
"""

from __future__ import annotations

import gzip
import math
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from cloud.timeparams import format_instant
from historian import Point, SeriesKey
from historian.influxdb_v1 import InfluxV1Historian
from historian.line_protocol import encode_points
from tests.fixtures_influxd import run_influxd
from tests.platform_process import ADMIN, start_replica, stop_replica

BATCH = 5000
BATCHES = 60
INGEST_ROUNDS = 11  # paired rounds of each body form
PLAN_WINDOW_S, PLAN_WINDOW_POINTS = 10, 2_000_000  # the enterprise plan: 200,000 points/s
CHART_REQUESTS = 20  # repeated chart queries for the median and p95
T0 = 1_790_000_000_000_000_000


def _bodies(site: str, tags: int, seconds: int, start_ns: int) -> list[bytes]:
    keys = [SeriesKey(site, "line-1", f"asset-{t // 10}", f"tag-{t}") for t in range(tags)]
    points = [
        Point(key, start_ns + s * 1_000_000_000, 20.0 + (s % 60) * 0.1 + t)
        for s in range(seconds)
        for t, key in enumerate(keys)
    ]
    return [encode_points(points[i : i + BATCH]).encode() for i in range(0, len(points), BATCH)]


def main() -> None:
    print("cloud: the platform API (its own process) against raw influxd, same batches")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        (workdir / "influxd").mkdir()
        with run_influxd(workdir / "influxd") as influx:
            storage = "influxdb://" + influx.url.removeprefix("http://")
            process, url = start_replica(
                workdir,
                f"sqlite:///{workdir / 'meta.db'}",
                storage,
                "memory://",
                uuid.uuid4().hex * 2,
            )
            try:
                admin = httpx.post(f"{url}/api/auth/login", json=ADMIN).json()["token"]
                bearer = {"Authorization": f"Bearer {admin}"}
                tenant = {"key": "bench-co", "name": "Bench", "plan": "enterprise"}
                httpx.post(f"{url}/api/tenants", json=tenant, headers=bearer).raise_for_status()
                token = httpx.post(
                    f"{url}/api/tenants/bench-co/agent-tokens",
                    json={"site": "site-1", "name": "e"},
                    headers=bearer,
                ).json()["token"]
                bodies = _bodies("site-1", 50, BATCH * BATCHES // 50, T0)
                headers = {"Authorization": f"Token {token}"}
                window = _PlanWindow()
                with httpx.Client(timeout=60) as client:
                    for form, sent, encoding in (
                        ("gzip, as the edge agent sends them", _gzipped(bodies), "gzip"),
                        ("uncompressed", bodies, None),
                    ):
                        rounds = _ingest_rounds(
                            client, influx.url, url, sent, headers, encoding, window
                        )
                        print(
                            f"  ingest, batches of {BATCH} ({form}), {INGEST_ROUNDS} rounds:"
                            f" API / raw /write median {rounds['median']:.2f}"
                            f" (rounds {rounds['low']:.2f}-{rounds['high']:.2f}; aim > 0.6);"
                            f" best rounds: API {rounds['api']:>9,.0f} points/s,"
                            f" raw {rounds['raw']:>9,.0f} points/s"
                        )

                print(
                    "  ingesting 24 h of 50 tags at 1 s (4.3 M points) through the API …",
                    flush=True,
                )
                day_start = T0 + 10**12 * 1_000
                end = day_start + 86_400 * 1_000_000_000
                with httpx.Client(timeout=120) as client:
                    for hour in range(24):
                        for body in _bodies(
                            "site-1", 50, 3600, day_start + hour * 3600 * 1_000_000_000
                        ):
                            _ingest(client, url, body, headers)
                    raw_chart = _chart_figures(client, url, bearer, day_start, end)
                    # The platform rolls settled hours every minute; here the day is
                    # rolled at once (its writes were acknowledged, so no in-flight wait).
                    store = InfluxV1Historian(influx.url, "mz_bench_co")
                    began = time.perf_counter()
                    store.mark_written(day_start, end)
                    hours = store.roll_up_pending()
                    rolled_s = time.perf_counter() - began
                    store.close()
                    chart = _chart_figures(client, url, bearer, day_start, end)
                    # The same with the window given: no over-budget check before it.
                    given = _chart_figures(client, url, bearer, day_start, end, window="2m")
                    per_tag = _per_tag_total(client, url, bearer, day_start, end)
                print(
                    f"  24 h chart, 50 tags at 1 s, one multi-series request downsampled to"
                    f" {chart['window']} means ({chart['points']} points a series),"
                    f" {CHART_REQUESTS} requests:"
                )
                print(
                    f"    from the raw points (hours not yet rolled):"
                    f" median {raw_chart['median_ms']:.0f} ms, p95 {raw_chart['p95_ms']:.0f} ms"
                )
                print(
                    f"    from the minute rollups: first request (the API process reads the"
                    f" day's minute rows from InfluxDB) {chart['first_ms']:.0f} ms; then"
                    f" median {chart['median_ms']:.0f} ms, p95 {chart['p95_ms']:.0f} ms"
                    f" (aim: p95 under 200 ms); {raw_chart['p95_ms'] / chart['p95_ms']:.1f}x"
                    " faster than raw"
                )
                print(
                    f"    rolling the day's {hours} hours took {rolled_s:.1f} s"
                    f" ({rolled_s / max(hours, 1):.2f} s an hour of 50 tags)"
                )
                print(
                    f"  the same with window=2m given (no over-budget check first):"
                    f" median {given['median_ms']:.0f} ms, p95 {given['p95_ms']:.0f} ms"
                )
                print(
                    f"  the same chart as 50 single-series requests (1-min means):"
                    f" {per_tag:.0f} ms for all 50, one after another"
                )
            finally:
                stop_replica(process)


def _gzipped(bodies: list[bytes]) -> list[bytes]:
    return [gzip.compress(body, compresslevel=1) for body in bodies]  # the edge agent's level


class _PlanWindow:
    """Keeps timed API rounds inside the plan's rate: waits (untimed) for a fresh 10-second
    window when the next round would pass the current one's points."""

    def __init__(self) -> None:
        self.opened = 0.0
        self.points = PLAN_WINDOW_POINTS  # as if spent: the first round opens a window

    def before(self, points: int) -> None:
        if self.points + points > PLAN_WINDOW_POINTS:
            time.sleep(max(0.0, self.opened + PLAN_WINDOW_S + 0.5 - time.monotonic()))
            self.opened, self.points = time.monotonic(), 0
        self.points += points


def _ingest_rounds(
    client: httpx.Client,
    influx_url: str,
    url: str,
    bodies: list[bytes],
    headers: dict[str, str],
    encoding: str | None,
    window: _PlanWindow,
) -> dict[str, float]:
    """Rounds of the same bodies to raw /write then to the API; points/s of each."""
    extra = {"Content-Encoding": encoding} if encoding else {}
    raw_rates, api_rates = [], []
    for _ in range(INGEST_ROUNDS):
        started = time.perf_counter()
        for body in bodies:
            client.post(
                f"{influx_url}/write",
                params={"db": "mz_bench_co", "precision": "ns"},
                content=body,
                headers=extra,
            ).raise_for_status()
        raw_rates.append(len(bodies) * BATCH / (time.perf_counter() - started))
        window.before(len(bodies) * BATCH)
        started = time.perf_counter()
        for body in bodies:
            client.post(
                f"{url}/api/ingest", content=body, headers={**headers, **extra}
            ).raise_for_status()
        api_rates.append(len(bodies) * BATCH / (time.perf_counter() - started))
    ratios = [api / raw for api, raw in zip(api_rates, raw_rates, strict=True)]
    return {
        "median": statistics.median(ratios),
        "low": min(ratios),
        "high": max(ratios),
        "api": max(api_rates),
        "raw": max(raw_rates),
    }


def _ingest(client: httpx.Client, url: str, body: bytes, headers: dict[str, str]) -> None:
    """One batch through the API, waiting out the plan's rate limit (200,000 points/s)."""
    while True:
        response = client.post(f"{url}/api/ingest", content=body, headers=headers)
        if response.status_code != 429:
            response.raise_for_status()
            return
        time.sleep(float(response.headers.get("Retry-After", "1")))


def _chart_figures(
    client: httpx.Client,
    url: str,
    bearer: dict[str, str],
    start: int,
    end: int,
    window: str | None = None,
) -> dict:
    """Latency of the whole 50-tag chart through POST /query, as a chart client sends it."""
    body: dict = {
        "series": [
            {"site": "site-1", "line": "line-1", "asset": f"asset-{t // 10}", "tag": f"tag-{t}"}
            for t in range(50)
        ],
        "start": format_instant(start),
        "end": format_instant(end),
    }
    if window:
        body["window"] = window
    latencies = []
    answer: dict = {}
    # One more than counted: the first after a roll fills the API's minute-row cache.
    began = time.perf_counter()
    client.post(f"{url}/api/tenants/bench-co/query", json=body, headers=bearer).raise_for_status()
    first_ms = (time.perf_counter() - began) * 1000
    for _ in range(CHART_REQUESTS):
        began = time.perf_counter()
        response = client.post(f"{url}/api/tenants/bench-co/query", json=body, headers=bearer)
        latencies.append(time.perf_counter() - began)
        response.raise_for_status()
        answer = response.json()
    points = {len(series["values"]) for series in answer["series"]}
    assert answer["window"] == "2m" and points == {720}, (answer["window"], points)
    latencies.sort()
    return {
        "window": answer["window"],
        "points": points.pop(),
        "first_ms": first_ms,
        "median_ms": statistics.median(latencies) * 1000,
        # nearest rank: the value at or below which 95 % of the requests fall
        "p95_ms": latencies[math.ceil(0.95 * len(latencies)) - 1] * 1000,
    }


def _per_tag_total(
    client: httpx.Client, url: str, bearer: dict[str, str], start: int, end: int
) -> float:
    """Milliseconds for the old way: one /series/data request per tag, in sequence."""
    began = time.perf_counter()
    for t in range(50):
        params = {
            "site": "site-1",
            "line": "line-1",
            "asset": f"asset-{t // 10}",
            "tag": f"tag-{t}",
            "start": format_instant(start),
            "end": format_instant(end),
            "window": "1m",
        }
        answer = client.get(
            f"{url}/api/tenants/bench-co/series/data", params=params, headers=bearer
        )
        answer.raise_for_status()
        assert len(answer.json()["points"]) == 1440
    return (time.perf_counter() - began) * 1000
