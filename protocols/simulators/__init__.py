"""PLC simulators: the demo plants served over real OPC UA and Modbus TCP on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from protocols.simulators.fault_control import FaultControlServer
from protocols.simulators.faults import FAULT_KINDS, ActiveFault, FaultError
from protocols.simulators.modbus_server import ModbusSimulator
from protocols.simulators.opcua_server import OpcUaSimulator, SimulatorSecurity
from protocols.simulators.plants import APPLIANCE, MOLD, PETROCHEM, Plant, Point, Protocol
from protocols.simulators.scale import scale_plant

PLANTS: dict[str, Plant] = {p.key: p for p in (MOLD, APPLIANCE, PETROCHEM)}

Simulator = OpcUaSimulator | ModbusSimulator

__all__ = [
    "FAULT_KINDS",
    "PLANTS",
    "ActiveFault",
    "FaultControlServer",
    "FaultError",
    "ModbusSimulator",
    "OpcUaSimulator",
    "Plant",
    "Point",
    "Simulator",
    "SimulatorSecurity",
    "create_simulator",
    "run_simulator",
    "scale_plant",
]


def create_simulator(
    industry: str,
    host: str = "127.0.0.1",
    port: int | None = None,
    *,
    tags: int = 1000,
    protocol: Protocol = "opcua",
    security: SimulatorSecurity | None = None,
    speed: float = 1.0,
) -> Simulator:
    """The simulator for ``industry`` ("mold", "appliance", "petrochem", "scale"), not
    yet started.

    Without a port, the protocol's usual simulator port is used (4840 OPC UA, 5020 Modbus).
    ``tags`` and ``protocol`` size the "scale" plant; ``security`` secures an OPC UA one;
    ``speed`` runs model time that many times faster than the wall clock.
    """
    if industry == "scale":
        plant = scale_plant(tags, protocol)
    else:
        try:
            plant = PLANTS[industry]
        except KeyError:
            raise ValueError(
                f"unknown industry {industry!r} (choose from {', '.join(PLANTS)}, scale)"
            ) from None
    if plant.protocol == "opcua":
        port = 4840 if port is None else port
        return OpcUaSimulator(plant, host, port, security=security, speed=speed)
    if security is not None:
        raise ValueError("Modbus TCP has no security to configure; only OPC UA plants do")
    return ModbusSimulator(plant, host, 5020 if port is None else port, speed=speed)


async def run_simulator(
    industry: str,
    host: str,
    port: int | None,
    stop_event: asyncio.Event,
    *,
    control_port: int | None = None,
    on_ready: Callable[[Simulator, FaultControlServer | None], None] | None = None,
    **options: Any,
) -> None:
    """Serve ``industry``'s plant until ``stop_event`` is set, then shut down cleanly.

    With ``control_port``, the fault control API listens on ``host:control_port``
    (0 picks a free port); ``on_ready`` is told once both serve. ``options`` go to
    ``create_simulator``.
    """
    simulator = create_simulator(industry, host, port, **options)
    await simulator.start()
    control = None
    try:
        if control_port is not None:
            control = FaultControlServer(simulator, host, control_port)
            control.start()
        if on_ready is not None:
            on_ready(simulator, control)
        await stop_event.wait()
    finally:
        if control is not None:
            control.stop()
        await simulator.stop()
