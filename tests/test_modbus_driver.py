"""The Modbus driver against the simulated plants, served by a real pymodbus server."""

from __future__ import annotations

import asyncio
import struct

import pytest
from pymodbus.client import AsyncModbusTcpClient

from protocols.errors import DriverConnectionError
from protocols.modbus_driver import ModbusDriver, ModbusTag
from protocols.sample import Quality, Sample
from protocols.simulators import PLANTS, ModbusSimulator
from tests.conftest import free_port


async def _read_all(industry: str, host: str, port: int, **kw: int) -> list[Sample]:
    driver = ModbusDriver(host, port, 1, PLANTS[industry].modbus_tags(), timeout=2.0, **kw)
    await driver.connect()
    try:
        return await driver.read()
    finally:
        await driver.close()


def _by_key(industry: str, samples: list[Sample]) -> dict[tuple[str, str], Sample]:
    return {(p.asset, p.tag): s for p, s in zip(PLANTS[industry].points, samples, strict=True)}


async def test_appliance_every_tag_typed_and_plausible(appliance_sim) -> None:
    _, host, port = appliance_sim
    samples = await _read_all("appliance", host, port)
    assert len(samples) == len(PLANTS["appliance"].points)
    assert all(s.quality is Quality.GOOD and s.error is None for s in samples)
    assert len({s.timestamp_ns for s in samples}) == 1  # stamped with the read's start
    values = _by_key("appliance", samples)
    for station in ("ST-01", "ST-02", "ST-03"):
        counts = [values[(station, t)].value for t in ("cycle_count", "good_parts", "bad_parts")]
        assert all(type(c) is int and c >= 0 for c in counts)  # counters stay ints
        assert counts[0] == counts[1] + counts[2]
        state = values[(station, "state")].value
        assert type(state) is int and state in range(5)
        current = values[(station, "motor_current")].value
        assert type(current) is float and 0.0 <= current < 20.0
    power = values[("meter-main", "active_power_kw")].value
    energy = values[("meter-main", "energy_kwh")].value
    assert type(power) is float and 30.0 < power < 150.0
    assert type(energy) is float and energy >= 48_750.0


async def test_petrochem_scaled_integers_and_flags(petrochem_sim) -> None:
    _, host, port = petrochem_sim
    values = _by_key("petrochem", await _read_all("petrochem", host, port))
    for pump in ("P-101", "P-102", "P-103"):
        running = values[(pump, "running")].value
        assert type(running) is int and running in (0, 1)
        for tag in ("flow", "discharge_pressure", "bearing_temp", "vibration_rms", "motor_power"):
            assert type(values[(pump, tag)].value) is float, tag
        assert 1.0 <= values[(pump, "discharge_pressure")].value <= 30.0
        assert 0.0 <= values[(pump, "bearing_temp")].value <= 90.0
        assert 0.0 <= values[(pump, "vibration_rms")].value <= 10.0
        assert 0.0 <= values[(pump, "flow")].value <= 150.0
        # 0.01-bar steps: the scaled value has at most two decimals
        assert round(values[(pump, "discharge_pressure")].value, 2) == pytest.approx(
            values[(pump, "discharge_pressure")].value, abs=1e-9
        )
    # the duty pumps run when the simulation starts, the standby pump does not
    assert values[("P-101", "running")].value == 1
    assert values[("P-101", "flow")].value > 50.0
    assert values[("P-103", "running")].value == 0


async def test_independent_raw_read_matches_driver(appliance_sim) -> None:
    sim, host, port = appliance_sim
    sim.frozen = True
    await asyncio.sleep(0.3)  # let an update already under way finish
    raw = AsyncModbusTcpClient(host, port=port, timeout=2, retries=0, reconnect_delay=0)
    assert await raw.connect()
    try:
        inputs = (await raw.read_input_registers(0, count=34, device_id=1)).registers
        holding = (await raw.read_holding_registers(0, count=4, device_id=1)).registers
    finally:
        raw.close()
    values = _by_key("appliance", await _read_all("appliance", host, port))

    # Stations: big word order; ST-02 starts at protocol address 12.
    (cycles,) = struct.unpack(">I", struct.pack(">HH", inputs[12], inputs[13]))
    (current,) = struct.unpack(">f", struct.pack(">HH", inputs[20], inputs[21]))
    assert values[("ST-02", "cycle_count")].value == cycles
    assert values[("ST-02", "state")].value == inputs[18]
    assert values[("ST-02", "motor_current")].value == current
    assert inputs[7] == inputs[10] == inputs[11] == 0  # reserved registers read as zero

    # Meter: float32 low word first (CDAB), so the second register is the high word.
    (power,) = struct.unpack(">f", struct.pack(">HH", holding[1], holding[0]))
    (energy,) = struct.unpack(">f", struct.pack(">HH", holding[3], holding[2]))
    assert values[("meter-main", "active_power_kw")].value == power
    assert values[("meter-main", "energy_kwh")].value == energy
    (as_big,) = struct.unpack(">f", struct.pack(">HH", holding[2], holding[3]))
    assert as_big != pytest.approx(energy, rel=0.01)  # the word order really matters


async def test_max_gap_merges_reserved_registers_with_same_values(appliance_sim) -> None:
    sim, host, port = appliance_sim
    sim.frozen = True
    await asyncio.sleep(0.3)
    tight = ModbusDriver(host, port, 1, PLANTS["appliance"].modbus_tags())
    merged = ModbusDriver(host, port, 1, PLANTS["appliance"].modbus_tags(), max_gap=4)
    assert len(tight.requests) == 7
    assert [(r.table, r.address, r.count) for r in merged.requests] == [
        ("holding", 0, 4),
        ("input", 0, 34),
    ]
    a = await _read_all("appliance", host, port)
    b = await _read_all("appliance", host, port, max_gap=4)
    assert [s.value for s in a] == [s.value for s in b]


async def test_exception_response_is_bad_for_that_request_only(appliance_sim) -> None:
    _, host, port = appliance_sim
    tags = [
        ModbusTag("cycle_count", "input", 0, "uint32"),
        ModbusTag("motor_current", "input", 1000, "float32"),
        ModbusTag("active_power_kw", "holding", 0, "float32", "little"),
    ]
    driver = ModbusDriver(host, port, 1, tags, timeout=2.0)
    await driver.connect()
    try:
        good, bad, meter = await driver.read()
    finally:
        await driver.close()
    assert good.quality is Quality.GOOD and type(good.value) is int
    assert meter.quality is Quality.GOOD and meter.value > 0
    assert bad.quality is Quality.BAD and bad.value is None
    assert bad.error == (
        f"tag 'motor_current': illegal data address at input register 1000 "
        f"(device {host}:{port} unit 1)"
    )


async def test_refused_connection_raises() -> None:
    driver = ModbusDriver("127.0.0.1", free_port(), 1, PLANTS["petrochem"].modbus_tags(), 1.0)
    with pytest.raises(DriverConnectionError, match=r"cannot connect to Modbus 127\.0\.0\.1:"):
        await driver.connect()
    with pytest.raises(DriverConnectionError, match="not connected"):
        await driver.read()


async def test_server_gone_then_back_on_same_port(port: int) -> None:
    plant = PLANTS["petrochem"]
    first = ModbusSimulator(plant, "127.0.0.1", port)
    await first.start()
    driver = ModbusDriver("127.0.0.1", port, 1, plant.modbus_tags(), timeout=1.0)
    try:
        await driver.connect()
        assert all(s.quality is Quality.GOOD for s in await driver.read())
        await first.stop()
        with pytest.raises(DriverConnectionError):
            await driver.read()
            await driver.read()  # a close may only be noticed on the next request

        second = ModbusSimulator(plant, "127.0.0.1", port, seed=2)
        await second.start()
        try:
            await driver.connect()
            samples = await driver.read()
            assert len(samples) == len(plant.points)
            assert all(s.quality is Quality.GOOD for s in samples)
        finally:
            await second.stop()
    finally:
        await driver.close()
        await first.stop()
