"""Plant histories with injected faults, recorded once per test session into SQLite
historians by running the real plant simulators (fast-forwarded, faults injected
through their own ``inject``)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from historian import SqliteHistorian
from maintenance.asset_history import AssetRef
from maintenance.simulated_history import record
from protocols.simulators import create_simulator
from tests.conftest import free_port

T0 = 1_790_000_000_000_000_000  # 2026-09-21T17:46:40Z
HOUR_NS = 3600 * 1_000_000_000
SAMPLE_S = 10.0
HEALTHY_HOURS = 36
PUMPS = tuple(
    AssetRef("zhenhai-petrochem", "pump-station-1", p) for p in ("P-101", "P-102", "P-103")
)
MOULDING = tuple(AssetRef("ningbo-mold", "moulding-hall-1", m) for m in ("IMM-01", "IMM-02"))


@dataclass(frozen=True)
class RecordedFailures:
    path: Path
    healthy_until_ns: int
    trips: tuple[tuple[str, int], ...]  # (asset, ns) of every vibration trip, in order


@dataclass(frozen=True)
class RecordedPlant:
    path: Path
    healthy_until_ns: int  # the fault was injected here
    failed_at_ns: int  # the vibration trip (pumps) or the end of the recording


async def _record_pumps(path: Path) -> RecordedPlant:
    historian = SqliteHistorian(path)
    simulator = create_simulator("petrochem", "127.0.0.1", free_port(), speed=1e-6)
    await simulator.start()
    try:
        await record(simulator, historian, T0, HEALTHY_HOURS * 3600, SAMPLE_S)
        # rate 0.05/h: the bearing trips the pump after about 57 running hours
        await simulator.inject("bearing_wear", "P-101", rate=0.05)
        reached = await record(
            simulator, historian, T0, 96 * 3600, SAMPLE_S,
            until=lambda sim: sim.model.assets["P-101"].tripped,
        )  # fmt: skip
    finally:
        await simulator.stop()
        historian.close()
    return RecordedPlant(path, T0 + HEALTHY_HOURS * HOUR_NS, T0 + reached * 1_000_000_000)


async def _record_moulding(path: Path) -> RecordedPlant:
    historian = SqliteHistorian(path)
    simulator = create_simulator("mold", "127.0.0.1", free_port(), speed=1e-6)
    await simulator.start()
    try:
        await record(simulator, historian, T0, HEALTHY_HOURS * 3600, SAMPLE_S)
        await simulator.inject("heater_failure", "IMM-01")
        reached = await record(simulator, historian, T0, 2 * 3600, SAMPLE_S)
    finally:
        await simulator.stop()
        historian.close()
    return RecordedPlant(path, T0 + HEALTHY_HOURS * HOUR_NS, T0 + reached * 1_000_000_000)


def record_pumps(path: Path) -> RecordedPlant:
    return asyncio.run(_record_pumps(path))


def record_moulding(path: Path) -> RecordedPlant:
    return asyncio.run(_record_moulding(path))


async def _record_pump_failures(path: Path) -> RecordedFailures:
    """12 h healthy, then three rounds of bearing wear (rate 0.1/h, about 28 running
    hours to the trip): P-101 and P-102 twice, then P-101 alone; after each round the
    bearings are replaced and the pumps run healthy for two hours."""
    historian = SqliteHistorian(path)
    simulator = create_simulator("petrochem", "127.0.0.1", free_port(), speed=1e-6)
    step_ns = round(SAMPLE_S * 1e9)
    trips: list[tuple[str, int]] = []
    await simulator.start()
    try:
        await record(simulator, historian, T0, 12 * 3600, SAMPLE_S)
        for pumps in (("P-101", "P-102"), ("P-101", "P-102"), ("P-101",)):
            for pump in pumps:
                await simulator.inject("bearing_wear", pump, rate=0.1)
            tripped: dict[str, int] = {}

            def all_tripped(sim, pumps=pumps, tripped=tripped) -> bool:  # type: ignore[no-untyped-def]
                for pump in pumps:
                    if pump not in tripped and sim.model.assets[pump].tripped:
                        tripped[pump] = T0 + round(sim.model.meter.t / SAMPLE_S) * step_ns
                return len(tripped) == len(pumps)

            await record(simulator, historian, T0, 60 * 3600, SAMPLE_S, until=all_tripped)
            trips += sorted(tripped.items(), key=lambda item: item[1])
            for pump in pumps:
                await simulator.clear("bearing_wear", pump)
            await record(simulator, historian, T0, 2 * 3600, SAMPLE_S)
    finally:
        await simulator.stop()
        historian.close()
    return RecordedFailures(path, T0 + 12 * HOUR_NS, tuple(trips))


def record_pump_failures(path: Path) -> RecordedFailures:
    return asyncio.run(_record_pump_failures(path))
