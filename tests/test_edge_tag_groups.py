"""Tag groups: tags of one device on schedules of their own, over one connection."""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

from edge_agent.config import load_config
from edge_agent.poller import DevicePoller
from historian.line_protocol import parse_line_protocol
from protocols.simulators import PLANTS


def _grouped(plant: str, host: str, port: int, groups: list[dict[str, Any]], tmp: Path):
    """The plant's agent config with its tags split into ``groups`` (by tag count)."""
    config = PLANTS[plant].agent_config(host, port)
    (device,) = config["devices"]
    tags = device.pop("tags")
    device["groups"], start = [], 0
    for group in groups:
        count = group.pop("count")
        device["groups"].append({**group, "tags": tags[start : start + count]})
        start += count
    config["outputs"] = [{"type": "sqlite", "path": "x.db"}]
    path = tmp / "agent.yaml"
    path.write_text(yaml.safe_dump(config))
    return load_config(path, {})


async def _run(config, seconds: float) -> tuple[DevicePoller, dict[str, list[int]]]:
    times: dict[str, list[int]] = defaultdict(list)

    async def deliver(lines: str, count: int) -> None:
        for point in parse_line_protocol(lines):
            times[f"{point.key.asset}.{point.key.tag}"].append(point.timestamp_ns)

    (device,) = config.devices
    poller = DevicePoller(device, config.agent.site, deliver)
    poller.filter.heartbeat_ns = 0  # every read is a point: count the reads
    stop = asyncio.Event()
    task = asyncio.create_task(poller.run(stop))
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.wait_for(task, 10)
    return poller, times


def _min_gap_s(stamps: list[int]) -> float:
    return min(b - a for a, b in itertools.pairwise(stamps)) / 1e9


async def test_modbus_groups_poll_on_their_own_intervals(appliance_sim, tmp_path: Path) -> None:
    _, host, port = appliance_sim
    config = _grouped(
        "appliance",
        host,
        port,
        [
            {"name": "fast", "interval": "250ms", "count": 2},
            {"name": "slow", "interval": "1s", "count": 3},
        ],
        tmp_path,
    )
    device = config.devices[0]
    fast = [f"{t.asset}.{t.name}" for t in device.groups[0].tags]
    slow = [f"{t.asset}.{t.name}" for t in device.groups[1].tags]
    poller, times = await _run(config, 3.5)
    assert poller.stats.connection_errors == 0, poller.stats.last_error
    assert set(times) == {*fast, *slow}  # ungrouped tags are not read at all
    for tag in fast:
        assert len(times[tag]) > 2 * max(len(times[s]) for s in slow), dict(times)
        assert _min_gap_s(times[tag]) < 0.5
    for tag in slow:
        assert len(times[tag]) >= 2 and _min_gap_s(times[tag]) > 0.5


async def test_opcua_groups_share_one_session_polled_and_subscribed(
    mold_sim, tmp_path: Path
) -> None:
    _, host, port = mold_sim
    config = _grouped(
        "mold",
        host,
        port,
        [
            {"name": "live", "mode": "subscribe", "count": 3,
             "subscription": {"publishing_interval": "200ms"}},
            {"name": "counters", "interval": "1s", "count": 4},
        ],
        tmp_path,
    )  # fmt: skip
    device = config.devices[0]
    live = {f"{t.asset}.{t.name}" for t in device.groups[0].tags}
    counters = {f"{t.asset}.{t.name}" for t in device.groups[1].tags}
    poller, times = await _run(config, 3.5)
    assert poller.stats.connection_errors == 0, poller.stats.last_error
    assert poller.driver.sessions_opened == 1  # one session carries both groups
    assert live <= set(times) and counters <= set(times)
    assert set(times) <= live | counters
    for tag in counters:
        assert _min_gap_s(times[tag]) > 0.5


def test_group_mistakes_name_their_line(tmp_path: Path) -> None:
    text = """\
agent: {name: e, site: s}
devices:
  - name: plc
    protocol: modbus
    host: 127.0.0.1
    line: l
    asset: a
    groups:
      - name: g
        interval: 1s
        tags:
          - {name: t, table: holding, address: 0, type: uint16}
      - name: g
        tags:
          - {name: t, table: holding, address: 1, type: uint16}
outputs:
  - {type: sqlite, path: x.db}
"""
    assert _issues(tmp_path, text) == [
        f"{tmp_path / 'agent.yaml'}:3: devices[0]: group names must be unique within a device"
    ]
    renamed = text.replace("      - name: g\n        tags:", "      - name: h\n        tags:")
    assert _issues(tmp_path, renamed) == [
        f"{tmp_path / 'agent.yaml'}:15: devices[0].groups[1].tags[0].name: duplicate tag name"
        " 't' for asset 'a' (first on line 12)"
    ]


def _issues(tmp_path: Path, text: str) -> list[str]:
    from edge_agent.config import ConfigError

    path = tmp_path / "agent.yaml"
    path.write_text(text)
    try:
        load_config(path, {})
    except ConfigError as exc:
        return [str(i) for i in exc.issues]
    raise AssertionError("the config loaded")
