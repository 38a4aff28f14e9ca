"""Shared steps of the edge agent's fault tests: configs, waiting, comparing stores."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import yaml

from historian import SeriesKey
from historian.influxdb_v1 import InfluxV1Historian
from historian.sqlite_store import SqliteHistorian
from protocols.simulators import PLANTS


def write_config(
    path: Path, industry: str, plc_port: int, outputs: list[dict], **sections: Any
) -> Path:
    data = PLANTS[industry].agent_config("127.0.0.1", plc_port)
    data["outputs"] = outputs
    data["status"] = {"port": 0}
    data.update(sections)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


async def eventually(check: Callable[[], Any], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def series_of(industry: str) -> list[SeriesKey]:
    plant = PLANTS[industry]
    return [SeriesKey(plant.site, p.line, p.asset, p.tag) for p in plant.points]


def contents(store: SqliteHistorian | InfluxV1Historian, industry: str) -> dict[SeriesKey, list]:
    return {key: store.read(key, 0, 2**62) for key in series_of(industry)}


def compare(influx_url: str, database: str, local_path: Path, industry: str) -> tuple[dict, dict]:
    influx = InfluxV1Historian(influx_url, database)
    local = SqliteHistorian(local_path)
    try:
        return contents(influx, industry), contents(local, industry)
    finally:
        influx.close()
        local.close()
