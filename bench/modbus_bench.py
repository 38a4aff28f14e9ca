"""Modbus reads: our driver (planned requests) against the raw pymodbus client.

One pymodbus server serves a typical map of 200 tags in mixed types (uint16, int16 ×0.1,
uint32 counters, float32 CDAB, coils). Compared, in values per second:

- the driver, planning its own requests (max_gap 4) and decoding every tag;
- naive: one raw ``read_*`` per tag, decoded with pymodbus's converter;
- hand-merged: the same few large raw reads the planner picks, written out by hand,
  decoded with ``struct`` — the best a person could write.
"""

from __future__ import annotations

import asyncio
import statistics
import struct
import time

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.simulator import DataType, SimData

from protocols.modbus_driver import ModbusDriver, ModbusTag
from tests.modbus_servers import HOST, device, tcp_server

CYCLES = 200
NAIVE_CYCLES = 20
ROUNDS = 9


def _map() -> tuple[list[SimData], list[ModbusTag]]:
    """40 machines × 5 tags: state, temperature, counter, power, and a run coil."""
    tags: list[ModbusTag] = []
    for m in range(40):
        base = m * 8  # 7 registers used, 1 spare per machine
        tags += [
            ModbusTag(f"m{m}.state", "holding", base, "uint16"),
            ModbusTag(f"m{m}.temp", "holding", base + 1, "int16", scale=0.1),
            ModbusTag(f"m{m}.count", "holding", base + 2, "uint32"),
            ModbusTag(f"m{m}.power", "holding", base + 4, "float32", "CDAB"),
            ModbusTag(f"m{m}.run", "coil", m, "bool"),
        ]
    holding = [
        SimData(
            address=0, values=[(i * 37) % 65536 for i in range(320)], datatype=DataType.REGISTERS
        )
    ]
    return holding, tags


async def _rates(cycles: int, *reads) -> tuple[list[float], list[float]]:
    """Values per second over ``cycles`` full reads of each reader (best of ROUNDS runs
    taken in turn), and each round's speed of every reader relative to the first one's.

    A shared machine's speed drifts by more than the difference measured here: runs taken
    in turn, compared round by round, see the same machine."""
    best = [float("inf")] * len(reads)
    relative: list[list[float]] = [[] for _ in reads]
    for _ in range(ROUNDS):
        seconds = []
        for read in reads:
            started = time.perf_counter()
            for _ in range(cycles):
                await read()
            seconds.append(time.perf_counter() - started)
        best = [min(b, s) for b, s in zip(best, seconds, strict=True)]
        for n, s in enumerate(seconds):
            relative[n].append(seconds[0] / s)
    return [cycles * 200 / s for s in best], [statistics.median(r) for r in relative]


async def _run() -> None:
    holding, tags = _map()
    coils = [bool(i % 3) for i in range(48)]
    async with tcp_server(device(holding, coils=coils)) as port:
        driver = ModbusDriver(HOST, port, 1, tags, timeout=3.0, max_gap=4)
        await driver.connect()
        raw = AsyncModbusTcpClient(HOST, port=port, timeout=3, retries=0, reconnect_delay=0)
        await raw.connect()
        plan = [(r.table, r.address, r.count) for r in driver.requests]
        try:

            async def ours() -> None:
                await driver.read()

            convert = AsyncModbusTcpClient.convert_from_registers
            dt = AsyncModbusTcpClient.DATATYPE

            async def naive() -> None:
                for tag in tags:
                    if tag.table == "coil":
                        (await raw.read_coils(tag.address, count=1, device_id=1)).bits[0]
                        continue
                    regs = (
                        await raw.read_holding_registers(tag.address, count=tag.count, device_id=1)
                    ).registers
                    kind = {"uint16": dt.UINT16, "int16": dt.INT16, "uint32": dt.UINT32}.get(
                        tag.data_type, dt.FLOAT32
                    )
                    order = "little" if tag.byte_order == "CDAB" else "big"
                    convert(regs, kind, word_order=order)

            u16, i16, u32 = struct.Struct(">H"), struct.Struct(">h"), struct.Struct(">I")
            f32, words = struct.Struct(">f"), struct.Struct(">HH")

            async def hand_merged() -> None:
                regs: list[int] = []
                for address in range(0, 320, 125):
                    response = await raw.read_holding_registers(
                        address, count=min(125, 320 - address), device_id=1
                    )
                    regs += response.registers
                bits = (await raw.read_coils(0, count=40, device_id=1)).bits
                values = []
                for m in range(40):
                    b = m * 8
                    values.append(regs[b])
                    values.append(i16.unpack(u16.pack(regs[b + 1]))[0] * 0.1)
                    values.append(u32.unpack(words.pack(regs[b + 2], regs[b + 3]))[0])
                    values.append(f32.unpack(words.pack(regs[b + 5], regs[b + 4]))[0])
                    values.append(bits[m])

            (rate_ours, rate_hand), (_, hand_speed) = await _rates(CYCLES, ours, hand_merged)
            (rate_naive,), _ = await _rates(NAIVE_CYCLES, naive)
        finally:
            raw.close()
            await driver.close()
    print(f"  Modbus read of 200 mixed tags, one pymodbus server on loopback; plan {plan}")
    print(f"  {'driver (planner)':<28} {rate_ours:>11,.0f} values/s")
    print(f"  {'raw hand-merged reads':<28} {rate_hand:>11,.0f} values/s")
    print(f"  {'raw naive, one read per tag':<28} {rate_naive:>11,.0f} values/s")
    print(
        f"  driver / hand-merged {1 / hand_speed:5.2f} (median of {ROUNDS} rounds taken in turn;"
        f" best runs {rate_ours / rate_hand:.2f})   driver / naive {rate_ours / rate_naive:6.1f}x"
    )


def main() -> None:
    print("modbus")
    asyncio.run(_run())


if __name__ == "__main__":
    main()
