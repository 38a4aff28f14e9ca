"""RTU framing on a TCP socket (serial gateways) and on a serial line (a pty pair)."""

from __future__ import annotations

from pymodbus.framer import FramerType
from pymodbus.simulator import DataType, SimData

from protocols.modbus_driver import ModbusDriver, ModbusTag
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
