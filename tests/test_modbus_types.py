"""Every tag type, table and byte order, read from and written to a real pymodbus server.

The server's values are laid out by pymodbus's own SimData types or packed here with
``struct``, never by our codec, so a read proves the codec against an independent encoder.
"""

from __future__ import annotations

import struct

import pytest
from pymodbus.simulator import DataType, SimData

from protocols.modbus_driver import ModbusDriver, ModbusTag
from protocols.modbus_errors import ModbusWriteError
from protocols.sample import Quality
from tests.modbus_servers import HOST, RequestLog, device, tcp_server


def _regs(fmt: str, value: float | int, order: str) -> list[int]:
    """``value`` packed big-endian, then laid out in ``order`` as a device would."""
    data = struct.pack(">" + fmt, value)
    words = [data[i : i + 2] for i in range(0, len(data), 2)]
    if order in ("CDAB", "DCBA"):
        words.reverse()
    if order in ("BADC", "DCBA"):
        words = [w[::-1] for w in words]
    return [int.from_bytes(w, "big") for w in words]


COILS = [True, False, True, True] + [False] * 12
DISCRETE = [False, True] + [False] * 14
ORDERED = [  # (name, type, struct format, value) at 100, 104, … in each byte order
    ("i32", "int32", "i", -123_456_789),
    ("u32", "uint32", "I", 4_000_000_001),
    ("i64", "int64", "q", -(2**62) - 7),
    ("u64", "uint64", "Q", 2**64 - 3),
    ("f32", "float32", "f", -1.5e6),
    ("f64", "float64", "d", 2.718281828459045),
]
ORDERS = ("ABCD", "CDAB", "BADC", "DCBA")


def _typed_map() -> tuple[list[SimData], list[ModbusTag], dict[str, object]]:
    holding = [
        SimData(address=0, values=-2, datatype=DataType.INT16),
        SimData(address=1, values=0b1000_0000_0000_0101, datatype=DataType.REGISTERS),
        SimData(address=2, values=2**63 + 5, datatype=DataType.UINT64),  # 2..5
        SimData(address=6, values=1e300, datatype=DataType.FLOAT64),  # 6..9
        SimData(address=10, values="PUMP-7", datatype=DataType.STRING),  # 10..12
        SimData(address=13, values=[0] * 7, datatype=DataType.REGISTERS),  # NUL padding
        SimData(address=20, values=[0x4E4F, 0x5A5A], datatype=DataType.REGISTERS),  # "NOZZ"
        SimData(address=22, values=[0] * 8, datatype=DataType.REGISTERS),
        SimData(address=30, values=1234, datatype=DataType.INT16),  # scaled
    ]
    tags = [
        ModbusTag("coil0", "coil", 0, "bool"),
        ModbusTag("coil1", "coil", 1, "bool"),
        ModbusTag("coil3", "coil", 3, "bool"),
        ModbusTag("di1", "discrete", 1, "bool"),
        ModbusTag("minus_two", "holding", 0, "int16"),
        ModbusTag("as_uint", "holding", 0, "uint16"),
        ModbusTag("bit0", "holding", 1, "uint16", bit=0),
        ModbusTag("bit1", "holding", 1, "uint16", bit=1),
        ModbusTag("bit15", "holding", 1, "uint16", bit=15),
        ModbusTag("big_u64", "holding", 2, "uint64"),
        ModbusTag("huge_f64", "holding", 6, "float64"),
        ModbusTag("name", "holding", 10, "string", length=5),
        ModbusTag("swapped_text", "holding", 20, "string", "BADC", length=2),
        ModbusTag("pressure", "holding", 30, "int16", scale=0.01, offset=1.0),
    ]
    expected: dict[str, object] = {
        "coil0": True,
        "coil1": False,
        "coil3": True,
        "di1": True,
        "minus_two": -2,
        "as_uint": 65534,
        "bit0": True,
        "bit1": False,
        "bit15": True,
        "big_u64": 2**63 + 5,
        "huge_f64": 1e300,
        "name": "PUMP-7",
        "swapped_text": "ONZZ",
        "pressure": 13.34,
    }
    address = 100
    for order in ORDERS:
        for name, data_type, fmt, value in ORDERED:
            registers = _regs(fmt, value, order)
            holding.append(SimData(address=address, values=registers, datatype=DataType.REGISTERS))
            tags.append(ModbusTag(f"{name}_{order}", "holding", address, data_type, order))
            expected[f"{name}_{order}"] = value
            address += len(registers)
    return holding, tags, expected


async def test_every_type_and_byte_order_reads_exactly() -> None:
    holding, tags, expected = _typed_map()
    log = RequestLog()
    async with tcp_server(device(holding, coils=COILS, discrete=DISCRETE, log=log)) as port:
        driver = ModbusDriver(HOST, port, 1, tags, timeout=2.0, max_gap=10)
        await driver.connect()
        try:
            samples = await driver.read()
        finally:
            await driver.close()
    assert all(s.quality is Quality.GOOD for s in samples), [s.error for s in samples]
    values = {s.tag: s.value for s in samples}
    for name, value in expected.items():
        if isinstance(value, float):
            # float32 loses digits; the rest must match exactly
            assert values[name] == pytest.approx(value, rel=1e-7), name
        else:
            assert values[name] == value, name
            assert type(values[name]) is type(value), name
    assert type(values["pressure"]) is float
    # One read each: coils, discrete inputs, holding 0..30, the byte-order block.
    # (pymodbus logs bit reads as the request address and a count of 16-bit words.)
    assert log.requests == [(1, 0, 1), (2, 1, 1), (3, 0, 31), (3, 100, 72)]


async def test_writes_use_single_and_multiple_function_codes() -> None:
    holding = [SimData(address=0, values=[0] * 40, datatype=DataType.REGISTERS)]
    log = RequestLog()
    setpoint = ModbusTag("setpoint", "holding", 0, "int16", scale=0.1)
    limit = ModbusTag("limit", "holding", 2, "float32", "CDAB")
    recipe = ModbusTag("recipe", "holding", 4, "string", length=4)
    counter = ModbusTag("counter", "holding", 8, "uint64", "DCBA")
    coil = ModbusTag("pump_on", "coil", 3, "bool")
    coil_next = ModbusTag("valve_open", "coil", 4, "bool")
    async with tcp_server(device(holding, log=log)) as port:
        driver = ModbusDriver(HOST, port, 1, [setpoint, limit, recipe, counter, coil, coil_next])
        await driver.connect()
        try:
            await driver.write(setpoint, -12.3)  # fc 6
            await driver.write(limit, 98.5)  # fc 16
            await driver.write(coil, True)  # fc 5
            await driver.write_many([(recipe, "ABS-2"), (counter, 2**40 + 1)])  # fc 16 (x2)
            await driver.write_many([(coil_next, True), (coil, False)])  # fc 15, one request
            values = {s.tag: s.value for s in await driver.read()}
            with pytest.raises(ModbusWriteError, match=r"illegal data address .*register 70"):
                await driver.write(ModbusTag("nowhere", "holding", 70, "uint16"), 1)
            with pytest.raises(ValueError, match="read-only"):
                await driver.write(ModbusTag("ro", "input", 0, "uint16"), 1)
            with pytest.raises(ValueError, match="do not fit"):
                await driver.write(recipe, "much too long")
        finally:
            await driver.close()
    assert values == {
        "setpoint": -12.3,
        "limit": 98.5,
        "recipe": "ABS-2",
        "counter": 2**40 + 1,
        "pump_on": False,
        "valve_open": True,
    }
    writes = [(fc, a) for fc, a, _ in log.requests if fc in (5, 6, 15, 16)]
    # pymodbus runs the action twice for fc 5 and 6 (check, then store): drop repeats.
    once = [w for i, w in enumerate(writes) if i == 0 or writes[i - 1] != w]
    # recipe (4..7) and counter (8..11) are contiguous: one fc 16 carries both
    assert once == [(6, 0), (16, 2), (5, 3), (16, 4), (15, 3)]
