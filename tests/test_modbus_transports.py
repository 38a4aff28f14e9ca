"""RTU framing on a TCP socket (serial gateways) and on a serial line (a pty pair)."""

from __future__ import annotations

import asyncio

import pytest
from pymodbus.framer import FramerType
from pymodbus.simulator import DataType, SimData

from protocols.modbus_driver import ModbusDriver, ModbusTag
from protocols.modbus_errors import DeviceUnavailableError
from protocols.modbus_transport import SerialSettings
from protocols.sample import Quality
from tests.modbus_servers import HOST, device, serial_server, tcp_server


def _bus() -> list:
    """Two devices on one line, unit ids 3 and 7, with different values."""
    return [
        device(
            [SimData(address=0, values=[unit, 0x4248, 0], datatype=DataType.REGISTERS)],
            coils=[True] * 16,
            unit_id=unit,
        )
        for unit in (3, 7)
    ]


TAGS = [
    ModbusTag("unit", "holding", 0, "uint16"),
    ModbusTag("value", "holding", 1, "float32"),
    ModbusTag("running", "coil", 0, "bool"),
]


async def test_rtu_over_tcp_addresses_units_behind_a_gateway() -> None:
    async with tcp_server(_bus(), framer=FramerType.RTU) as port:
        for unit in (3, 7):
            driver = ModbusDriver(HOST, port, unit, TAGS, timeout=2.0, transport="rtu_over_tcp")
            await driver.connect()
            try:
                samples = await driver.read()
                await driver.write(TAGS[1], 1.5)
                written = await driver.read()
            finally:
                await driver.close()
            assert [s.value for s in samples] == [unit, 50.0, True]
            assert written[1].value == 1.5
            assert driver.endpoint == f"{HOST}:{port} unit {unit} (rtu over tcp)"


async def test_rtu_on_a_serial_line() -> None:
    async with serial_server(_bus()) as path:
        serial = SerialSettings(path, baudrate=115200, parity="N", stopbits=1, bytesize=8)
        for unit in (7, 3):
            driver = ModbusDriver("", 0, unit, TAGS, timeout=2.0, transport="rtu", serial=serial)
            await driver.connect()
            try:
                samples = await driver.read()
            finally:
                await driver.close()
            assert all(s.quality is Quality.GOOD for s in samples), samples
            assert [s.value for s in samples] == [unit, 50.0, True]
            assert driver.endpoint == f"{path} 115200 8N1 unit {unit}"


async def test_units_on_one_serial_line_share_its_port_and_take_turns() -> None:
    """Two drivers poll two units of one RS-485 line at the same time: one port, no mix-up."""
    async with serial_server(_bus()) as path:
        serial = SerialSettings(path, baudrate=115200)
        drivers = [
            ModbusDriver("", 0, unit, TAGS, timeout=2.0, transport="rtu", serial=serial)
            for unit in (3, 7)
        ]
        for driver in drivers:
            await driver.connect()
        try:
            for _ in range(10):
                results = await asyncio.gather(*(d.read() for d in drivers))
                assert [[s.value for s in r] for r in results] == [[3, 50.0, True], [7, 50.0, True]]
        finally:
            for driver in drivers:
                await driver.close()


async def test_a_silent_unit_does_not_fail_its_neighbours_on_the_line() -> None:
    async with serial_server(_bus(), silent_units=frozenset({7})) as path:
        serial = SerialSettings(path, baudrate=115200)
        alive = ModbusDriver("", 0, 3, TAGS, timeout=2.0, transport="rtu", serial=serial)
        silent = ModbusDriver("", 0, 7, TAGS, timeout=0.3, transport="rtu", serial=serial)
        await alive.connect()
        await silent.connect()
        try:
            with pytest.raises(DeviceUnavailableError, match=r"unit 7: reading .* no answer"):
                await silent.read()
            # The timeout closed and reopened the shared port; unit 3 reads on.
            assert [s.value for s in await alive.read()] == [3, 50.0, True]
        finally:
            await alive.close()
            await silent.close()


async def test_a_line_opened_with_other_framing_is_refused() -> None:
    async with serial_server(_bus()) as path:
        first = ModbusDriver(
            "", 0, 3, TAGS, transport="rtu", serial=SerialSettings(path, baudrate=115200)
        )
        other = ModbusDriver(
            "", 0, 7, TAGS, transport="rtu", serial=SerialSettings(path, baudrate=9600)
        )
        await first.connect()
        try:
            with pytest.raises(DeviceUnavailableError, match="same baud rate"):
                await other.connect()
        finally:
            await first.close()
            await other.close()
