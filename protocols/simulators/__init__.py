"""PLC simulators: the demo plants served over real OPC UA and Modbus TCP on loopback."""

from __future__ import annotations

import asyncio

from protocols.simulators.modbus_server import ModbusSimulator
from protocols.simulators.opcua_server import OpcUaSimulator
from protocols.simulators.plants import APPLIANCE, MOLD, PETROCHEM, Plant, Point

PLANTS: dict[str, Plant] = {p.key: p for p in (MOLD, APPLIANCE, PETROCHEM)}

Simulator = OpcUaSimulator | ModbusSimulator

__all__ = [
    "PLANTS",
    "ModbusSimulator",
    "OpcUaSimulator",
    "Plant",
    "Point",
    "Simulator",
    "create_simulator",
    "run_simulator",
]


def create_simulator(industry: str, host: str = "127.0.0.1", port: int | None = None) -> Simulator:
    """The simulator for ``industry`` ("mold", "appliance", "petrochem"), not yet started.

    Without a port, the protocol's usual simulator port is used (4840 OPC UA, 5020 Modbus).
    """
    try:
        plant = PLANTS[industry]
    except KeyError:
        raise ValueError(
            f"unknown industry {industry!r} (choose from {', '.join(PLANTS)})"
        ) from None
    if plant.protocol == "opcua":
        return OpcUaSimulator(plant, host, 4840 if port is None else port)
    return ModbusSimulator(plant, host, 5020 if port is None else port)


async def run_simulator(
    industry: str, host: str, port: int | None, stop_event: asyncio.Event
) -> None:
    """Serve ``industry``'s plant until ``stop_event`` is set, then shut down cleanly."""
    simulator = create_simulator(industry, host, port)
    await simulator.start()
    try:
        await stop_event.wait()
    finally:
        await simulator.stop()
