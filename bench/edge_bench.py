"""The edge agent end to end, against the raw InfluxDB write of the same points.

1. Throughput: the agent (its own process) polls N int16 registers every second from a
   Modbus server (its own process) through the durable buffer into influxd; figures are
   points delivered per second, the agent's CPU seconds per second and peak memory,
   against posting the same points in prebuilt batches with httpx.
2. Backlog drain: one hour of 1,000 tags at 1 s (3.6 M points) already in the buffer,
   drained to influxd, against posting the same bodies directly.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

from bench.timing import best_of
from tests.conftest import free_port
from tests.fixtures_influxd import run_influxd

MEASURE_SECONDS = 20
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _lines(tags: int, timestamp_ns: int) -> str:
    series = "telemetry,asset=bank-{},line=bench,site=bench,tag=r{}"
    return "\n".join(
        f"{series.format(i // 100, i)} int={i % 1000}i {timestamp_ns}" for i in range(tags)
    )


def raw_write_rate(url: str, tags: int, cycles: int = 10) -> float:
    """Points/s posting prebuilt bodies of ``tags`` lines (one poll cycle each)."""
    bodies = [
        _lines(tags, 1_700_000_000_000_000_000 + c * 1_000_000_000).encode() for c in range(cycles)
    ]
    with httpx.Client(base_url=url, timeout=60) as client:
        client.post("/query", params={"q": 'CREATE DATABASE "raw"'})

        def post_all() -> None:
            for body in bodies:
                client.post(
                    "/write", params={"db": "raw", "precision": "ns"}, content=body
                ).raise_for_status()

        return tags * cycles / best_of(3, post_all)


def agent_throughput(url: str, workdir: Path, tags: int) -> dict[str, float]:
    plc_port, status_port = free_port(), free_port()
    bank = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.register_bank",
            "--port",
            str(plc_port),
            "--registers",
            str(tags),
        ]
    )
    config = {
        "agent": {"name": f"bench-{tags}", "site": "bench"},
        "devices": [
            {
                "name": "bank", "protocol": "modbus", "host": "127.0.0.1", "port": plc_port,
                "line": "bench", "interval": "1s", "timeout": "5s",
                "tags": [
                    {"name": f"r{i}", "asset": f"bank-{i // 100}", "table": "holding",
                     "address": i, "type": "int16"}
                    for i in range(tags)
                ],
            }
        ],
        "outputs": [{"type": "influxdb_v1", "url": url, "database": f"agent{tags}"}],
        "buffer": {"path": str(workdir / f"buffer-{tags}.db")},
        "status": {"port": status_port},
    }  # fmt: skip
    path = workdir / f"agent-{tags}.yaml"
    path.write_text(yaml.safe_dump(config))
    agent = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mingzhou",
            "edge",
            "run",
            "--config",
            str(path),
            "--log-level",
            "WARNING",
        ]
    )
    status_url = f"http://127.0.0.1:{status_port}/status"

    def status() -> dict:
        return httpx.get(status_url, timeout=5).json()

    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if status()["devices"]["bank"]["reads"] >= 3:
                    break
            except (httpx.HTTPError, KeyError):
                pass
            time.sleep(0.5)
        first, cpu0, t0 = status(), _cpu_seconds(agent.pid), time.monotonic()
        time.sleep(MEASURE_SECONDS)
        last, cpu1, t1 = status(), _cpu_seconds(agent.pid), time.monotonic()
        output = next(iter(last["outputs"]))
        elapsed = t1 - t0
        return {
            "points_per_s": (
                last["outputs"][output]["delivered"] - first["outputs"][output]["delivered"]
            )
            / elapsed,
            "reads_per_s": (last["devices"]["bank"]["reads"] - first["devices"]["bank"]["reads"])
            / elapsed,
            "cpu_per_s": (cpu1 - cpu0) / elapsed,
            "peak_rss_mb": _peak_rss_mb(agent.pid),
            "overruns": last["devices"]["bank"]["overruns"],
            "pending": last["outputs"][output]["pending"],
        }
    finally:
        agent.terminate()
        agent.wait(timeout=30)
        bank.terminate()
        bank.wait(timeout=10)


def drain(url: str, workdir: Path, tags: int = 1000, seconds: int = 3600) -> tuple[float, float]:
    """Seconds to drain ``seconds`` of ``tags`` at 1 s from the buffer; and raw seconds."""
    from edge_agent.buffer import StoreAndForwardBuffer
    from edge_agent.config import InfluxV1OutputConfig
    from edge_agent.forwarder import Forwarder
    from edge_agent.outputs import InfluxV1Output

    config = InfluxV1OutputConfig(type="influxdb_v1", url=url, database="drain", batch_size=5000)
    output = InfluxV1Output(config)
    buffer = StoreAndForwardBuffer(workdir / "drain.db", [output.name], max_bytes=1 << 34)
    start_ns = 1_700_000_000_000_000_000
    template = _lines(tags, 0)[:-1]  # every line ends in its timestamp: "... 0"
    rows = [template.replace(" 0\n", " {t}\n") + "{t}" for _ in range(1)]
    bodies = []
    print(f"  filling the buffer with {tags * seconds:,} points …", flush=True)
    for s in range(seconds):
        body = rows[0].format(t=start_ns + s * 1_000_000_000)
        buffer.append(body, tags)
        if s < 600:
            bodies.append(body)

    async def run() -> float:
        forwarder = Forwarder(output, buffer, batch_size=5000, flush_interval=0.1)
        stop = asyncio.Event()
        started = time.monotonic()
        task = asyncio.create_task(forwarder.run(stop))
        while buffer.backlog(output.name).points:
            await asyncio.sleep(0.2)
        stop.set()
        await task
        await output.close()
        return time.monotonic() - started

    took = asyncio.run(run())
    buffer.close()
    with httpx.Client(base_url=url, timeout=60) as client:
        client.post("/query", params={"q": 'CREATE DATABASE "drainraw"'})
        started = time.monotonic()
        for i in range(0, len(bodies), 5):  # 5 cycles (5,000 points) a request, like the forwarder
            body = "\n".join(bodies[i : i + 5]).encode()
            client.post(
                "/write", params={"db": "drainraw", "precision": "ns"}, content=body
            ).raise_for_status()
        raw = (time.monotonic() - started) * seconds / len(bodies)
    return took, raw


def main() -> None:
    print("edge agent: Modbus → durable buffer → influxd, agent and server in their own processes")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        (workdir / "influxd").mkdir()
        with run_influxd(workdir / "influxd") as server:
            for tags in (1000, 20000):
                raw = raw_write_rate(server.url, tags)
                result = agent_throughput(server.url, workdir, tags)
                print(
                    f"  {tags:>6} tags at 1 s: {result['points_per_s']:>9,.0f} points/s delivered"
                    f" ({result['reads_per_s']:.2f} reads/s, {result['overruns']} overruns, "
                    f"{result['pending']} pending at the end); raw write of the same batches "
                    f"{raw:>9,.0f} points/s"
                )
                per_thousand = result["cpu_per_s"] / tags * 1000
                print(
                    f"         agent CPU {result['cpu_per_s']:.3f} s/s = {per_thousand:.4f}"
                    f" CPU s per 1,000 tags per s; peak memory {result['peak_rss_mb']:.0f} MB"
                )
            took, raw = drain(server.url, workdir)
            print(
                f"  backlog of 1 h x 1,000 tags (3.6 M points) drained in {took:.1f} s "
                f"({3_600_000 / took:,.0f} points/s); raw posting of the same bodies"
                f" ≈ {raw:.1f} s; ratio {raw / took:.2f}"
            )
