"""PLC to dashboard: simulators → edge agents (real processes) → influxd and SQLite → cloud API.

The simulators are frozen for a few seconds so the test knows the exact values the
agents must read, then every series is checked in InfluxDB, in SQLite and through the
cloud API: same values, the right kinds, clock-aligned nanosecond timestamps.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cloud.app import create_app
from historian import SeriesKey, ValueKind
from historian.influxdb_v1 import InfluxV1Historian
from historian.sqlite_store import SqliteHistorian
from protocols.simulators import PLANTS
from tests.e2e_helpers import expected_kind, start_command, stop_command, write_agent_config

SECOND = 1_000_000_000


def plant_keys(industry: str) -> dict[SeriesKey, object]:
    plant = PLANTS[industry]
    return {SeriesKey(plant.site, p.line, p.asset, p.tag): p for p in plant.points}


def close_enough(stored: object, served: object, point) -> bool:
    """Modbus float32 keeps 24 bits and scaled integers keep one step of the scale."""
    if isinstance(served, (bool, str)):
        return stored == served
    if isinstance(stored, int) and not isinstance(stored, bool):
        return stored == served
    tolerance = abs(point.scale) if point.node_id is None and point.scale != 1 else 0.0
    return math.isclose(stored, served, rel_tol=1e-6, abs_tol=tolerance + 1e-9)


async def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await asyncio.to_thread(predicate):
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.mark.timeout(180)
async def test_values_flow_from_plcs_to_influxdb_sqlite_and_the_cloud_api(
    tmp_path: Path, influxd, mold_sim, appliance_sim, petrochem_sim
) -> None:
    database = influxd.new_database()
    store = tmp_path / "store.db"
    outputs = [
        {
            "type": "influxdb_v1",
            "url": influxd.url,
            "database": database,
            "flush_interval": "500ms",
        },
        {"type": "sqlite", "path": str(store)},
    ]
    sims = {"mold": mold_sim, "appliance": appliance_sim, "petrochem": petrochem_sim}
    agents = {}
    for industry, (_, host, port) in sims.items():
        config = write_agent_config(tmp_path, industry, host, port, outputs)
        agents[industry] = await start_command(
            "edge", "run", "--config", str(config), log=tmp_path / f"{industry}-agent.log"
        )
    influx = InfluxV1Historian(influxd.url, database)
    sqlite = SqliteHistorian(store)
    expected = {k: p for industry in sims for k, p in plant_keys(industry).items()}
    try:
        # Every series of the three plants arrives, in the field its wire type implies.
        def all_series_arrived() -> bool:
            try:
                return {s.key for s in influx.list_series()} >= set(expected)
            except Exception:
                return False

        await wait_for(all_series_arrived, 60, "every plant series in InfluxDB")
        kinds = {s.key: s.kind for s in influx.list_series()}
        assert {k: kinds[k] for k in expected} == {k: expected_kind(p) for k, p in expected.items()}

        # Freeze the PLCs: from now on each tag has one known value.
        for simulator, _, _ in sims.values():
            simulator.frozen = True
        await asyncio.sleep(0.6)  # let an update that was in flight land
        frozen_at = time.time_ns()
        served = {}
        for industry, (simulator, _, _) in sims.items():
            site = PLANTS[industry].site
            for (asset, tag), value in simulator.served.items():
                key = next(
                    k for k in expected if k.site == site and k.asset == asset and k.tag == tag
                )
                served[key] = value

        def read_after_freeze(store_) -> dict[SeriesKey, list[tuple[int, object]]]:
            return {
                k: store_.read(k, frozen_at + SECOND, time.time_ns() + SECOND) for k in expected
            }

        await wait_for(
            lambda: all(len(rows) >= 2 for rows in read_after_freeze(influx).values()),
            30,
            "two reads of every tag after the freeze",
        )
        from_influx = read_after_freeze(influx)
        for key, rows in from_influx.items():
            for timestamp, value in rows:
                assert close_enough(value, served[key], expected[key]), (key, value, served[key])
                # Clock-aligned reads: each sample is stamped just after a whole second.
                assert timestamp % SECOND < SECOND // 2, (key, timestamp)
            gaps = {round((b - a) / SECOND) for (a, _), (b, _) in itertools.pairwise(rows)}
            assert gaps <= {1, 2, 3}, (
                key,
                gaps,
            )  # a 1 s interval, a tick skipped under load at worst

        # The embedded store got the very same points (both outputs share one read).
        await asyncio.sleep(1.5)
        from_sqlite = read_after_freeze(sqlite)
        for key, rows in from_influx.items():
            assert set(rows) <= set(from_sqlite[key]), key

        # The cloud API over InfluxDB serves the same data.
        with TestClient(create_app(influx)) as client:
            listed = client.get("/api/series").json()
            assert {(s["site"], s["line"], s["asset"], s["tag"]) for s in listed} >= {
                (k.site, k.line, k.asset, k.tag) for k in expected
            }
            key = next(k for k in expected if k.tag == "melt_temp")
            start = f"{frozen_at + SECOND}"
            body = client.get(
                "/api/series/data",
                params={**_params(key), "start": _iso(frozen_at + SECOND), "end": "now"},
            ).json()
            assert body["points"], body
            assert all(close_enough(p["value"], served[key], expected[key]) for p in body["points"])
            # The API's answer starts with exactly the points read from InfluxDB above
            # (more may have arrived since).
            rows = from_influx[key]
            assert [p["timestamp_ns"] for p in body["points"]][: len(rows)] == [t for t, _ in rows]
            mean = client.get(
                "/api/series/data",
                params={
                    **_params(key),
                    "start": _iso(frozen_at + SECOND),
                    "end": "now",
                    "window": "1m",
                },
            ).json()
            assert mean["points"] and all(
                close_enough(p["value"], served[key], expected[key]) for p in mean["points"]
            ), (start, mean)
            state = next(k for k in expected if k.tag == "state" and kinds[k] is ValueKind.STRING)
            refused = client.get(
                "/api/series/data", params={**_params(state), "window": "1m", "agg": "mean"}
            )
            assert refused.status_code == 400 and "string" in refused.json()["detail"]
    finally:
        for simulator, _, _ in sims.values():
            simulator.frozen = False
        codes = {name: await stop_command(process) for name, process in agents.items()}
        influx.close()
        sqlite.close()
    assert codes == {name: 0 for name in agents}, codes
    for industry in agents:
        log = (tmp_path / f"{industry}-agent.log").read_text()
        assert "Traceback" not in log, log


def _params(key: SeriesKey) -> dict[str, str]:
    return {"site": key.site, "line": key.line, "asset": key.asset, "tag": key.tag}


def _iso(timestamp_ns: int) -> str:
    from cloud.timeparams import format_instant

    return format_instant(timestamp_ns)
