"""Modbus registers <-> engineering values: data type, word order, scale and offset.

The byte packing is pymodbus's own (``convert_from_registers`` / ``convert_to_registers``)
so the driver and the simulators agree with every other pymodbus user on the wire format.
"""

from __future__ import annotations

from typing import Literal

from pymodbus.client import ModbusTcpClient

WordOrder = Literal["big", "little"]

_DATATYPE = ModbusTcpClient.DATATYPE

# The register types a tag may declare, mapped onto pymodbus's converters.
DATA_TYPES: dict[str, ModbusTcpClient.DATATYPE] = {
    "int16": _DATATYPE.INT16,
    "uint16": _DATATYPE.UINT16,
    "int32": _DATATYPE.INT32,
    "uint32": _DATATYPE.UINT32,
    "float32": _DATATYPE.FLOAT32,
}
INTEGER_TYPES = frozenset({"int16", "uint16", "int32", "uint32"})


def _datatype(data_type: str) -> ModbusTcpClient.DATATYPE:
    try:
        return DATA_TYPES[data_type]
    except KeyError:
        known = ", ".join(DATA_TYPES)
        raise ValueError(f"unknown Modbus data type {data_type!r} (known: {known})") from None


def register_count(data_type: str) -> int:
    """How many 16-bit registers one value of ``data_type`` occupies."""
    return _datatype(data_type).value[1]


def is_raw(data_type: str, scale: float, offset: float) -> bool:
    """True when the value is the integer on the wire, unscaled.

    Counters must stay Python ints so a historian stores them exactly (a float64 loses
    integers above 2**53 and turns "1234" into "1234.0" in line protocol).
    """
    return data_type in INTEGER_TYPES and scale == 1 and offset == 0


def decode(
    registers: list[int],
    data_type: str,
    word_order: WordOrder = "big",
    scale: float = 1.0,
    offset: float = 0.0,
) -> int | float:
    """Registers read from a device -> ``raw * scale + offset``."""
    expected = register_count(data_type)
    if len(registers) != expected:
        raise ValueError(f"{data_type} needs {expected} registers, got {len(registers)}")
    raw = ModbusTcpClient.convert_from_registers(
        list(registers), _datatype(data_type), word_order=word_order
    )
    if is_raw(data_type, scale, offset):
        return int(raw)  # type: ignore[arg-type]
    value = float(raw) * scale + offset  # type: ignore[arg-type]
    if data_type in INTEGER_TYPES:
        # 484 * 0.1 is 48.400000000000006 in binary floating point; a scaled integer has
        # only a few decimals, so drop the representation noise.
        value = round(value, 10)
    return value


def encode(
    value: float,
    data_type: str,
    word_order: WordOrder = "big",
    scale: float = 1.0,
    offset: float = 0.0,
) -> list[int]:
    """An engineering value -> registers, the inverse of :func:`decode`.

    Integer types are rounded to the nearest step and clamped to the type's range, as a
    PLC would saturate rather than wrap a scaled measurement.
    """
    dt = _datatype(data_type)
    if data_type in INTEGER_TYPES:
        raw = round((value - offset) / scale) if not is_raw(data_type, scale, offset) else value
        lo, hi = _int_range(data_type)
        raw_int = min(max(int(raw), lo), hi)
        return ModbusTcpClient.convert_to_registers(raw_int, dt, word_order=word_order)
    return ModbusTcpClient.convert_to_registers(
        float((value - offset) / scale), dt, word_order=word_order
    )


def _int_range(data_type: str) -> tuple[int, int]:
    bits = 16 * register_count(data_type)
    if data_type.startswith("u"):
        return 0, 2**bits - 1
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
