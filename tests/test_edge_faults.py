"""Fault tests of issue 4: after each fault every sample the agent read is in InfluxDB,
once per series and timestamp. The agent's second output, a local SQLite store that
never goes away, is the record of what was read; InfluxDB must end up equal to it."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import httpx

from edge_agent.agent import EdgeAgent
from edge_agent.config import load_config
from tests.conftest import free_port
from tests.edge_fault_helpers import compare, eventually, write_config
from tests.fixtures_influxd import run_influxd

OUTAGE_S = float(os.environ.get("MINGZHOU_OUTAGE_SECONDS", "60"))  # the figure


class Influxd:
    """An influxd that can be stopped and started again on the same port and data."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._context = None
        root.mkdir(exist_ok=True)

    async def start(self) -> None:
        self._context = run_influxd(self.root, http_port=self.port)
        await asyncio.to_thread(self._context.__enter__)

    async def stop(self) -> None:
        if self._context is not None:
            await asyncio.to_thread(self._context.__exit__, None, None, None)
            self._context = None


def outputs(influx_url: str, local: Path, **influx: object) -> list[dict]:
    return [
        {
            "type": "influxdb_v1",
            "url": influx_url,
            "database": "plant",
            "flush_interval": "200ms",
            # Tries again at most a second apart, not the default 30 s: the drain starts as
            # soon as InfluxDB is back instead of up to half a minute later.
            "retry_max": "1s",
            **influx,
        },
        {"type": "sqlite", "path": str(local), "flush_interval": "200ms"},
    ]


def backlog(agent: EdgeAgent, index: int = 0) -> int:
    return agent.buffer.backlog(agent.forwarders[index].output.name).points


async def test_influxdb_stopped_then_restarted(tmp_path: Path, appliance_sim) -> None:
    _, _, plc_port = appliance_sim
    influxd = Influxd(tmp_path / "influxd")
    await influxd.start()
    local = tmp_path / "local.db"
    config = write_config(
        tmp_path / "agent.yaml", "appliance", plc_port, outputs(influxd.url, local)
    )
    agent = EdgeAgent(load_config(config), base_dir=tmp_path)
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    try:
        await eventually(lambda: agent.forwarders[0].stats.delivered > 30, 30, "first deliveries")
        await influxd.stop()
        await asyncio.sleep(OUTAGE_S)
        assert backlog(agent) >= 17 * (OUTAGE_S - 2)  # 17 tags a second piled up on disk
        await influxd.start()
        await eventually(lambda: backlog(agent) == 0, 60, "the backlog to drain")
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
    in_influx, in_local = await asyncio.to_thread(compare, influxd.url, "plant", local, "appliance")
    await influxd.stop()
    for key, rows in in_local.items():
        assert len(rows) >= OUTAGE_S, key
        assert in_influx[key] == rows, key


async def test_agent_killed_mid_burst_and_restarted(tmp_path: Path, appliance_sim) -> None:
    _, _, plc_port = appliance_sim
    influxd = Influxd(tmp_path / "influxd")
    local = tmp_path / "local.db"
    status_port = free_port()
    config = write_config(
        tmp_path / "agent.yaml",
        "appliance",
        plc_port,
        outputs(influxd.url, local, batch_size=1),  # one poll cycle a write: a long burst
        status={"port": status_port},
    )
    status_url = f"http://127.0.0.1:{status_port}/status"

    async def start_agent() -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "mingzhou", "edge", "run", "--config", str(config),
            stdout=asyncio.subprocess.DEVNULL, stderr=(tmp_path / "agent.log").open("ab"),
        )  # fmt: skip

    async def status() -> dict:
        def get() -> dict:
            try:
                return httpx.get(status_url, timeout=2).json()
            except httpx.HTTPError:
                return {}

        return await asyncio.to_thread(get)

    influx_name = f"influxdb_v1:{influxd.url}/plant"
    process = await start_agent()
    try:
        # InfluxDB is away for a while: a backlog builds on disk.
        await eventually(
            lambda: _pending(status(), influx_name, at_least=17 * 8), 40, "a backlog of 8 cycles"
        )
        await influxd.start()
        # Kill -9 as soon as the first backlog write has reached InfluxDB.
        await _first_point_in(influxd.url)
        process.kill()
        await process.wait()
        (buffer_file,) = tmp_path.glob("*.buffer.db")
        unsent = _unsent_rows(buffer_file, influx_name)
        assert unsent > 0, "the kill came after the burst: nothing was in flight"
        process = await start_agent()
        await eventually(lambda: _pending(status(), influx_name, at_most=0), 60, "the drain")
        await asyncio.sleep(1)
    finally:
        if process.returncode is None:
            process.terminate()
            assert await asyncio.wait_for(process.wait(), 30) == 0
    in_influx, in_local = await asyncio.to_thread(compare, influxd.url, "plant", local, "appliance")
    await influxd.stop()
    for key, rows in in_local.items():
        assert rows, key
        # Everything the agent read is in InfluxDB; what reached InfluxDB twice (sent,
        # then killed before the acknowledgement was stored) overwrote itself.
        assert in_influx[key] == rows, key
    log = (tmp_path / "agent.log").read_text()
    assert "Traceback" not in log


async def _pending(
    status_doc, name: str, at_least: int | None = None, at_most: int | None = None
) -> bool:
    doc = await status_doc
    if not doc:
        return False
    pending = doc["outputs"][name]["pending"]
    return (at_least is None or pending >= at_least) and (at_most is None or pending <= at_most)


async def test_full_buffer_drops_only_the_oldest_and_counts_them(
    tmp_path: Path, appliance_sim
) -> None:
    _, _, plc_port = appliance_sim
    influxd = Influxd(tmp_path / "influxd")
    local = tmp_path / "local.db"
    config = write_config(
        tmp_path / "agent.yaml",
        "appliance",
        plc_port,
        outputs(influxd.url, local),
        buffer={"max_size": "4KB"},
    )
    agent = EdgeAgent(load_config(config), base_dir=tmp_path)
    influx_name = agent.forwarders[0].output.name
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    try:
        await eventually(lambda: agent.buffer.backlog(influx_name).dropped >= 17 * 3, 60, "drops")
        await influxd.start()
        await eventually(lambda: backlog(agent) == 0, 60, "the drain")
        dropped = agent.buffer.backlog(influx_name).dropped
        assert agent.buffer.backlog(agent.forwarders[1].output.name).dropped == 0
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
    in_influx, in_local = await asyncio.to_thread(compare, influxd.url, "plant", local, "appliance")
    await influxd.stop()
    missing = 0
    for key, rows in in_local.items():
        kept = set(in_influx[key])
        assert kept <= set(rows), key  # nothing invented
        lost = [row for row in rows if row not in kept]
        missing += len(lost)
        if lost and kept:
            assert max(t for t, _ in lost) < min(t for t, _ in kept), key  # only the oldest
    assert missing == dropped > 0


async def _first_point_in(url: str, timeout: float = 30) -> None:
    """Returns as soon as InfluxDB holds any point of the test's database."""
    query = {"db": "plant", "q": "SELECT count(*) FROM telemetry"}
    async with httpx.AsyncClient(base_url=url) as client:
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            try:
                answer = await client.get("/query", params=query)
                if answer.status_code == 200 and "series" in answer.json()["results"][0]:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.005)
    raise AssertionError("no point reached InfluxDB")


def _unsent_rows(buffer: Path, output: str) -> int:
    """Poll cycles on disk that ``output`` has not acknowledged."""
    import sqlite3

    db = sqlite3.connect(buffer)
    try:
        (acked,) = db.execute("SELECT acked_id FROM cursors WHERE output = ?", (output,)).fetchone()
        return db.execute("SELECT count(*) FROM batches WHERE id > ?", (acked,)).fetchone()[0]
    finally:
        db.close()


async def test_plc_restarted(tmp_path: Path) -> None:
    """The PLC goes away mid-run and comes back on its address: the agent reconnects by
    itself, and InfluxDB holds exactly what was read before and after."""
    from protocols.simulators import create_simulator

    plc_port = free_port()
    simulator = create_simulator("appliance", "127.0.0.1", plc_port)
    await simulator.start()
    influxd = Influxd(tmp_path / "influxd")
    await influxd.start()
    local = tmp_path / "local.db"
    config = write_config(
        tmp_path / "agent.yaml", "appliance", plc_port, outputs(influxd.url, local)
    )
    agent = EdgeAgent(load_config(config), base_dir=tmp_path)
    (poller,) = agent.pollers.values()
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    try:
        await eventually(lambda: poller.stats.reads >= 3, 30, "reads before the restart")
        await simulator.stop()
        errors = poller.stats.connection_errors
        await eventually(lambda: poller.stats.connection_errors > errors, 15, "the drop")
        reads_before = poller.stats.reads
        simulator = create_simulator("appliance", "127.0.0.1", plc_port)
        await simulator.start()
        await eventually(lambda: poller.stats.reads >= reads_before + 3, 30, "reads after it")
        await eventually(lambda: backlog(agent) == 0, 30, "InfluxDB to catch up")
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        await simulator.stop()
    in_influx, in_local = await asyncio.to_thread(compare, influxd.url, "plant", local, "appliance")
    await influxd.stop()
    for key, rows in in_local.items():
        assert len(rows) >= 6, key  # read before and after the restart
        assert in_influx[key] == rows, key
