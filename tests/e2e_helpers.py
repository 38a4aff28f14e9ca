"""Running the real command-line programs from tests, and what the plants should produce."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import yaml

from historian import ValueKind
from protocols.registers import is_raw
from protocols.simulators import PLANTS
from protocols.simulators.plants import Point as PlantPoint

OPCUA_KINDS = {
    "Double": ValueKind.FLOAT,
    "Float": ValueKind.FLOAT,
    "String": ValueKind.STRING,
    "Boolean": ValueKind.BOOL,
}


def expected_kind(point: PlantPoint) -> ValueKind:
    """The field a plant point must land in: the wire type decides, as in the driver."""
    if point.node_id is not None:
        return OPCUA_KINDS.get(point.data_type, ValueKind.INT)
    return ValueKind.INT if is_raw(point.data_type, point.scale, point.offset) else ValueKind.FLOAT


def write_agent_config(
    directory: Path, industry: str, host: str, port: int, outputs: list[dict]
) -> Path:
    config = PLANTS[industry].agent_config(host, port)
    config["outputs"] = outputs
    path = directory / f"{industry}-agent.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


async def start_command(*args: str, log: Path) -> asyncio.subprocess.Process:
    """``python -m mingzhou ARGS`` in the background, its output in ``log``."""
    handle = log.open("wb")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mingzhou", *args, stdout=handle, stderr=handle, env=env
    )


async def stop_command(process: asyncio.subprocess.Process, timeout: float = 20.0) -> int:
    """SIGTERM, as a service manager would; returns the exit code."""
    if process.returncode is None:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout)
        except TimeoutError:
            process.kill()
            await process.wait()
    return process.returncode
