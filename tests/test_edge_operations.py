"""Running the agent as a service: hot reload, status, metrics and health."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import yaml

from edge_agent.agent import EdgeAgent
from edge_agent.config import load_config
from mingzhou.edge_commands import render_status
from protocols.simulators import PLANTS
from tests.conftest import free_port
from tests.edge_fault_helpers import eventually


def two_device_config(
    path: Path, appliance_port: int, petrochem_port: int, status_port: int = 0
) -> dict:
    appliance = PLANTS["appliance"].agent_config("127.0.0.1", appliance_port)
    petrochem = PLANTS["petrochem"].agent_config("127.0.0.1", petrochem_port)
    for tag in petrochem["devices"][0]["tags"]:  # both plants call their meter meter-main
        tag["asset"] = tag["asset"].replace("meter-main", "meter-pumps")
    data = {
        "agent": {"name": "two-lines", "site": "plant"},
        "devices": appliance["devices"] + petrochem["devices"],
        "outputs": [{"type": "sqlite", "path": "store.db"}],
        "status": {"port": status_port},
    }
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return data


async def test_reload_restarts_only_changed_devices_and_refuses_bad_files(
    tmp_path: Path, appliance_sim, petrochem_sim
) -> None:
    path = tmp_path / "agent.yaml"
    data = two_device_config(path, appliance_sim[2], petrochem_sim[2])
    agent = EdgeAgent(load_config(path), base_dir=tmp_path, config_path=path)
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    try:
        names = [d["name"] for d in data["devices"]]
        await eventually(
            lambda: all(p.stats.reads >= 2 for p in agent.pollers.values()), 20, "reads"
        )
        kept, changed = agent.pollers[names[0]], agent.pollers[names[1]]

        data["devices"][1]["interval"] = "2s"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        assert await agent.reload()
        assert agent.pollers[names[0]] is kept  # untouched: same poller, still reading
        assert agent.pollers[names[1]] is not changed
        assert agent.pollers[names[1]].device.interval == 2.0
        reads = kept.stats.reads
        await eventually(lambda: kept.stats.reads > reads, 10, "the untouched device to go on")
        await eventually(lambda: agent.pollers[names[1]].stats.reads >= 1, 10, "the restarted one")

        path.write_text(path.read_text().replace("interval: 2s", "interval: soon"))
        assert not await agent.reload()  # invalid: refused, the running config stays
        assert agent.pollers[names[1]].device.interval == 2.0

        del data["devices"][1]
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        await eventually(lambda: list(agent.pollers) == [names[0]], 10, "the file watcher's reload")
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def test_status_metrics_and_health(tmp_path: Path, appliance_sim) -> None:
    status_port = free_port()
    path = tmp_path / "agent.yaml"
    data = PLANTS["appliance"].agent_config("127.0.0.1", appliance_sim[2])
    data.update(outputs=[{"type": "sqlite", "path": "store.db"}], status={"port": status_port})
    path.write_text(yaml.safe_dump(data))
    agent = EdgeAgent(load_config(path), base_dir=tmp_path)
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    base = f"http://127.0.0.1:{status_port}"
    try:
        await eventually(lambda: agent.forwarders[0].stats.delivered >= 17, 20, "a delivery")
        async with httpx.AsyncClient(base_url=base) as client:
            health = (await client.get("/health")).json()
            status = (await client.get("/status")).json()
            metrics = (await client.get("/metrics")).text
        assert health == {"status": "ok"}
        device = data["devices"][0]["name"]
        assert status["devices"][device]["connected"] is True
        assert status["devices"][device]["reads"] >= 1
        output = next(iter(status["outputs"]))
        assert output.startswith("sqlite:") and status["outputs"][output]["delivered"] >= 17
        assert f'mingzhou_edge_reads_total{{device="{device}"}}' in metrics
        assert f'mingzhou_edge_buffer_points{{output="{output}"}}' in metrics
        assert "mingzhou_edge_buffer_dropped_total" in metrics
        screen = render_status(status)
        assert device in screen and "connected" in screen and output in screen
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def test_a_nan_from_the_plc_is_a_bad_sample_not_a_dead_poller(
    tmp_path: Path, appliance_sim
) -> None:
    from pymodbus.client import AsyncModbusTcpClient

    simulator, host, port = appliance_sim
    simulator.frozen = True  # keep the simulator from overwriting what we write
    client = AsyncModbusTcpClient(host, port=port)
    await client.connect()
    # The meter's active power: float32 in holding 0-1, low word first (CDAB). A quiet NaN.
    assert not (await client.write_registers(0, [0x0000, 0x7FC0], device_id=1)).isError()
    client.close()
    path = tmp_path / "agent.yaml"
    data = PLANTS["appliance"].agent_config(host, port)
    data.update(outputs=[{"type": "sqlite", "path": "store.db"}], status={"port": 0})
    path.write_text(yaml.safe_dump(data))
    agent = EdgeAgent(load_config(path), base_dir=tmp_path)
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    try:
        (poller,) = agent.pollers.values()
        await eventually(lambda: poller.stats.reads >= 3, 20, "three reads")
        assert poller.stats.bad_samples >= 3 and poller.stats.connection_errors == 0
        assert "meter-main.active_power_kw" in poller._tag_errors
        assert "not a finite number" in poller._tag_errors["meter-main.active_power_kw"]
        await eventually(
            lambda: agent.forwarders[0].stats.delivered >= 3 * 16, 10, "the other tags"
        )
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def test_subscription_mode_stores_pushed_changes(tmp_path: Path, mold_sim) -> None:
    from historian.sqlite_store import SqliteHistorian
    from tests.edge_fault_helpers import series_of

    _, host, port = mold_sim
    path = tmp_path / "agent.yaml"
    data = PLANTS["mold"].agent_config(host, port)
    data["devices"][0]["mode"] = "subscribe"
    data["devices"][0]["subscription"] = {
        "publishing_interval": "200ms",
        "sampling_interval": "100ms",
    }
    data.update(
        outputs=[{"type": "sqlite", "path": "store.db", "flush_interval": "200ms"}],
        status={"port": 0},
    )
    path.write_text(yaml.safe_dump(data))
    agent = EdgeAgent(load_config(path), base_dir=tmp_path)
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    store = SqliteHistorian(tmp_path / "store.db")
    try:
        await eventually(
            lambda: {s.key for s in store.list_series()} == set(series_of("mold")), 30, "every tag"
        )
        melt = next(k for k in series_of("mold") if k.tag == "melt_temp")
        # The simulator changes melt temperature every 250 ms: pushes arrive several a second.
        await eventually(lambda: len(store.read(melt, 0, 2**62)) >= 8, 20, "a stream of changes")
        (poller,) = agent.pollers.values()
        assert poller.stats.connection_errors == 0
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        store.close()
