"""The agent rides out faults without a restart: a PLC that is down at start or restarts,
and an InfluxDB that is away for a while. Nothing the agent read is lost meanwhile."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml

from edge_agent.agent import EdgeAgent
from edge_agent.config import load_config
from historian.influxdb_v1 import InfluxV1Historian
from historian.sqlite_store import SqliteHistorian
from protocols.simulators import PLANTS, create_simulator
from tests.conftest import free_port
from tests.edge_fault_helpers import eventually, series_of
from tests.fixtures_influxd import run_influxd

HOST = "127.0.0.1"


def agent_for(tmp_path: Path, industry: str, port: int, outputs: list[dict]) -> EdgeAgent:
    data = PLANTS[industry].agent_config(HOST, port, interval="500ms")
    data["devices"][0]["timeout"] = "1s"
    data["outputs"] = outputs
    data["status"] = {"port": 0}
    path = tmp_path / f"{industry}.yaml"
    path.write_text(yaml.safe_dump(data))
    return EdgeAgent(load_config(path), base_dir=tmp_path)


def pending(agent: EdgeAgent, forwarder) -> int:
    return agent.buffer.backlog(forwarder.output.name).points


def newest(store: SqliteHistorian) -> int:
    return max((s.last_timestamp_ns for s in store.list_series()), default=0)


@pytest.mark.parametrize("industry", ["appliance", "mold"])
async def test_plc_down_at_start_then_restarted(tmp_path: Path, industry: str) -> None:
    port = free_port()
    store_path = tmp_path / f"{industry}.db"
    agent = agent_for(tmp_path, industry, port, [{"type": "sqlite", "path": str(store_path)}])
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    store = SqliteHistorian(store_path)
    (poller,) = agent.pollers.values()
    try:
        # Nothing listens yet: the poller keeps retrying, with backoff, and stays alive.
        await eventually(lambda: poller.stats.connection_errors >= 2, 15, "reconnect attempts")
        assert not task.done() and store.list_series() == []
        assert str(port) in (poller.stats.last_error or ""), poller.stats.last_error

        simulator = create_simulator(industry, HOST, port)
        await simulator.start()
        await eventually(
            lambda: {s.key for s in store.list_series()} == set(series_of(industry)),
            30,
            "first data",
        )
        # The PLC restarts: the connection drops, the agent notices and reconnects.
        await simulator.stop()
        errors_before = poller.stats.connection_errors
        await eventually(lambda: poller.stats.connection_errors > errors_before, 15, "the drop")
        stalled_at = newest(store)
        simulator = create_simulator(industry, HOST, port)
        await simulator.start()
        await eventually(lambda: newest(store) > stalled_at + 1_000_000_000, 30, "data again")
        assert poller.stats.connected
        await simulator.stop()
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)
        store.close()


async def test_influxdb_away_then_back_loses_nothing(tmp_path: Path, appliance_sim) -> None:
    _, host, plc_port = appliance_sim
    influx_port = free_port()
    store_path = tmp_path / "local.db"
    agent = agent_for(
        tmp_path,
        "appliance",
        plc_port,
        [
            {
                "type": "influxdb_v1",
                "url": f"http://{host}:{influx_port}",
                "database": "plant",
                "flush_interval": "200ms",
            },
            {"type": "sqlite", "path": str(store_path)},
        ],
    )
    influx_out, sqlite_out = agent.forwarders
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    try:
        # InfluxDB is not there: points queue up in memory, the local store keeps going.
        await eventually(
            lambda: influx_out.stats.failures >= 2 and sqlite_out.stats.delivered > 50,
            20,
            "an outage",
        )
        assert influx_out.stats.delivered == 0 and pending(agent, influx_out) > 0
        (tmp_path / "influxd").mkdir()
        server_context = run_influxd(tmp_path / "influxd", http_port=influx_port)
        server = await asyncio.to_thread(server_context.__enter__)
        try:
            # It comes back empty: the output creates the database and delivers the backlog.
            await eventually(
                lambda: pending(agent, influx_out) == 0 and influx_out.stats.delivered > 0,
                40,
                "the backlog",
            )
        finally:
            stop.set()
            await asyncio.wait_for(task, 20)
            local = SqliteHistorian(store_path)
            influx = InfluxV1Historian(server.url, "plant")
            try:
                for key in series_of("appliance"):
                    from_local = await asyncio.to_thread(local.read, key, 0, 2**62)
                    from_influx = await asyncio.to_thread(influx.read, key, 0, 2**62)
                    assert from_local, key
                    assert from_influx == from_local, key  # every point, once, same values
            finally:
                local.close()
                influx.close()
                await asyncio.to_thread(server_context.__exit__, None, None, None)
        assert influx_out.stats.rejected == 0
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)
