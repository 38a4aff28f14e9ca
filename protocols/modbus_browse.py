"""Probing a Modbus device's map, and a starter agent config from what answered."""

from __future__ import annotations

from typing import Any

from protocols.modbus_driver import ModbusDriver
from protocols.modbus_plan import BIT_TABLES, MODBUS_MAX_BITS, MODBUS_MAX_REGISTERS
from protocols.modbus_probe import AnsweredRange, answered_ranges

# Beyond this many addresses a starter config is more noise than help.
MAX_STARTER_TAGS = 500


async def probe_table(
    host: str, port: int, unit_id: int, table: str, first: int, last: int, timeout: float = 3.0
) -> list[AnsweredRange]:
    """The ranges of ``first..last`` in ``table`` that the device answers."""
    driver = ModbusDriver(host, port, unit_id, [], timeout=timeout)
    await driver.connect()
    try:
        chunk = MODBUS_MAX_BITS if table in BIT_TABLES else MODBUS_MAX_REGISTERS
        return await answered_ranges(driver.probe_reader(table), first, last, chunk)
    finally:
        await driver.close()


def starter_config(
    host: str, port: int, unit_id: int, table: str, ranges: list[AnsweredRange]
) -> dict[str, Any]:
    """A ``devices:`` entry with one tag per answered address, to edit into shape.

    Every register becomes a uint16: which neighbours form a float32 or a string only
    the device's manual says.
    """
    data_type = "bool" if table in BIT_TABLES else "uint16"
    tags = [
        {"name": f"{table}_{address}", "table": table, "address": address, "type": data_type}
        for r in ranges
        for address in range(r.first, r.last + 1)
    ][:MAX_STARTER_TAGS]
    device = {
        "name": f"modbus-{host}-{port}-{unit_id}",
        "protocol": "modbus",
        "host": host,
        "port": port,
        "unit_id": unit_id,
        "line": "line-1",
        "asset": "asset-1",
        "interval": "1s",
        "max_gap": 8,
        "tags": tags,
    }
    return {"devices": [device]}
