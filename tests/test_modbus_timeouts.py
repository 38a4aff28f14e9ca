"""Slow and silent devices: retries on a fresh connection, late replies never mistaken,
and a device that stays silent is asked less and less often."""

from __future__ import annotations

import asyncio

import pytest
from pymodbus.constants import ExcCodes
from pymodbus.framer import FramerType
from pymodbus.simulator import DataType, SimData

from protocols.modbus_driver import ModbusDriver, ModbusTag
from protocols.modbus_errors import DeviceUnavailableError
from tests.modbus_servers import HOST, RequestLog, device, tcp_server

HOLDING = [
    SimData(address=0, values=[11, 12], datatype=DataType.REGISTERS),
    SimData(address=100, values=[21, 22], datatype=DataType.REGISTERS),
]
TAGS = [
    ModbusTag("first", "holding", 0, "uint16"),
    ModbusTag("second", "holding", 100, "uint16"),
]


@pytest.mark.parametrize(
    ("framer", "transport"),
    [(FramerType.SOCKET, "tcp"), (FramerType.RTU, "rtu_over_tcp")],
)
async def test_late_reply_is_never_taken_for_the_next_answer(
    framer: FramerType, transport: str
) -> None:
    """The first answer to address 0 comes 0.2 s after the 0.5 s timeout; address 100
    always takes 0.3 s. On the same connection the late answer would arrive while the
    driver waits for address 100, and RTU frames carry no transaction id to tell them
    apart: "second" would read 11."""
    answered_late = asyncio.Event()

    async def first_answer_late(function_code: int, address: int, count: int) -> None:
        if address == 0 and not answered_late.is_set():
            answered_late.set()
            await asyncio.sleep(0.7)
        elif address == 100:
            await asyncio.sleep(0.3)
        return None

    log = RequestLog(hook=first_answer_late)
    async with tcp_server(device(HOLDING, log=log), framer=framer) as port:
        driver = ModbusDriver(
            HOST, port, 1, TAGS, timeout=0.5, retries=1, retry_backoff=0.0, transport=transport
        )
        await driver.connect()
        try:
            samples = await driver.read()
            again = await driver.read()  # the late reply has long arrived by now
        finally:
            await driver.close()
    assert [s.value for s in samples] == [11, 21]
    assert [s.value for s in again] == [11, 21]
    assert answered_late.is_set()
    assert driver.failed_cycles == 0


async def test_silent_device_degrades_then_recovers() -> None:
    silent = True

    async def maybe_silent(function_code: int, address: int, count: int) -> ExcCodes | None:
        if silent:
            await asyncio.sleep(5)
        return None

    async with tcp_server(device(HOLDING, log=RequestLog(hook=maybe_silent))) as port:
        driver = ModbusDriver(
            HOST,
            port,
            1,
            TAGS,
            timeout=0.1,
            interval=1.0,
            degrade_after=2,
            max_degraded_interval=5.0,
        )
        delays = []
        for _ in range(5):
            await driver.connect()  # TCP connects: only the reads go unanswered
            with pytest.raises(DeviceUnavailableError, match="no answer after 1 attempt") as err:
                await driver.read()
            delays.append(err.value.retry_after)
            assert not driver.connected  # closed: a late reply cannot reach the next read
        assert delays == [None, 2.0, 4.0, 5.0, 5.0]
        assert driver.read_timeout >= 2 * driver.policy.timeout

        silent = False
        await driver.connect()
        try:
            assert [s.value for s in await driver.read()] == [11, 21]
        finally:
            await driver.close()
        assert driver.failed_cycles == 0 and driver.retry_after() is None


async def test_unreachable_device_counts_towards_degradation() -> None:
    from tests.conftest import free_port

    driver = ModbusDriver(HOST, free_port(), 1, TAGS, timeout=0.5, degrade_after=1)
    with pytest.raises(DeviceUnavailableError, match="cannot connect") as err:
        await driver.connect()
    assert err.value.retry_after == 2.0
