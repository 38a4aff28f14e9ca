"""The influxdb-client output (InfluxDB 2.x / 3.x / Cloud) against a real server that
speaks the v2 write API: Debian's victoria-metrics, started on a free loopback port."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from edge_agent.config import InfluxV2OutputConfig
from edge_agent.outputs import InfluxV2Output, OutputUnavailable
from historian import Point, SeriesKey
from historian.line_protocol import encode_points
from tests.conftest import free_port


@pytest.fixture
def victoria(tmp_path: Path) -> Iterator[str]:
    binary = shutil.which("victoria-metrics")
    if binary is None:
        pytest.fail("victoria-metrics is missing: run `make test`, which installs Debian's package")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [binary, f"-httpListenAddr=127.0.0.1:{port}", f"-storageDataPath={tmp_path / 'vm'}",
         "-retentionPeriod=100y", "-loggerLevel=ERROR",
         # InfluxDB overwrites a point with the same series and time; make VM do the same.
         "-dedup.minScrapeInterval=1ms"],
        stdout=subprocess.DEVNULL, stderr=(tmp_path / "vm.log").open("wb"),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError(
                f"victoria-metrics did not start: {(tmp_path / 'vm.log').read_text()}"
            )
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def exported(url: str) -> dict[tuple[str, str], list[tuple[int, float]]]:
    httpx.get(f"{url}/internal/force_flush", timeout=5)  # make fresh writes searchable now
    answer = httpx.get(
        f"{url}/api/v1/export", params={"match[]": '{__name__=~"telemetry_.*"}'}, timeout=5
    )
    found = {}
    for line in answer.text.splitlines():
        item = json.loads(line)
        key = (item["metric"]["__name__"], item["metric"]["tag"])
        found[key] = list(zip(item["timestamps"], item["values"], strict=True))
    return found


async def test_points_written_through_influxdb_client_arrive(victoria: str) -> None:
    t0 = (time.time_ns() // 1_000_000_000 - 60) * 1_000_000_000
    key = SeriesKey("plant", "line-1", "P-101", "flow")
    counter = SeriesKey("plant", "line-1", "P-101", "starts")
    points = [Point(key, t0 + i * 1_000_000_000, 90.0 + i / 4) for i in range(10)]
    points += [Point(counter, t0 + i * 1_000_000_000, 7 + i) for i in range(10)]
    output = InfluxV2Output(
        InfluxV2OutputConfig(
            type="influxdb_v2", url=victoria, token="t", org="plant-org", bucket="plant"
        )
    )
    await output.write(encode_points(points), len(points))
    await output.write(encode_points(points), len(points))  # re-sent: overwrites, no duplicates
    await output.close()
    found = await asyncio.to_thread(exported, victoria)
    # VictoriaMetrics keeps milliseconds (DESIGN.md); our timestamps are whole seconds.
    assert found[("telemetry_float", "flow")] == [
        (t0 // 1_000_000 + i * 1000, 90.0 + i / 4) for i in range(10)
    ]
    assert found[("telemetry_int", "starts")] == [
        (t0 // 1_000_000 + i * 1000, 7 + i) for i in range(10)
    ]


async def test_an_unreachable_server_is_retryable() -> None:
    output = InfluxV2Output(
        InfluxV2OutputConfig(
            type="influxdb_v2",
            url=f"http://127.0.0.1:{free_port()}",
            token="t",
            org="o",
            bucket="b",
            timeout=2,
        )
    )
    with pytest.raises(OutputUnavailable, match="influxdb_v2"):
        await output.write("telemetry,asset=a,line=l,site=s,tag=t float=1 1", 1)
    await output.close()
