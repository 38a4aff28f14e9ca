"""Fixtures that run the plant simulators as real servers on a free loopback port."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from protocols.simulators import ModbusSimulator, OpcUaSimulator, create_simulator
from tests.conftest import free_port

HOST = "127.0.0.1"


async def _serve(industry: str) -> AsyncIterator[tuple]:
    simulator = create_simulator(industry, HOST, free_port())
    await simulator.start()
    try:
        yield simulator, HOST, simulator.port
    finally:
        await simulator.stop()


@pytest.fixture
async def mold_sim() -> AsyncIterator[tuple[OpcUaSimulator, str, int]]:
    """The injection-moulding plant on OPC UA: (simulator, host, port)."""
    async for served in _serve("mold"):
        yield served


@pytest.fixture
async def appliance_sim() -> AsyncIterator[tuple[ModbusSimulator, str, int]]:
    """The appliance assembly line on Modbus TCP: (simulator, host, port)."""
    async for served in _serve("appliance"):
        yield served


@pytest.fixture
async def petrochem_sim() -> AsyncIterator[tuple[ModbusSimulator, str, int]]:
    """The petrochemical pump station on Modbus TCP: (simulator, host, port)."""
    async for served in _serve("petrochem"):
        yield served
