"""Faults seen the way an edge agent sees them: through the project's own drivers,
reading the simulators as real servers on loopback."""

from __future__ import annotations

import asyncio

import pytest

from protocols.errors import DriverConnectionError
from protocols.modbus_driver import ModbusDriver
from protocols.opcua_driver import OpcUaDriver
from protocols.simulators import PLANTS, FaultError, ModbusSimulator, OpcUaSimulator
from protocols.simulators.machines import Pump


async def _modbus_values(driver: ModbusDriver, asset: str) -> dict:
    """One read, as {tag: value} for ``asset`` (tag names repeat across pumps)."""
    samples = await driver.read()
    points = PLANTS["petrochem"].points
    return {p.tag: s.value for p, s in zip(points, samples, strict=True) if p.asset == asset}


async def _opcua_values(driver: OpcUaDriver, asset: str) -> dict:
    samples = await driver.read()
    points = PLANTS["mold"].points
    return {p.tag: s.value for p, s in zip(points, samples, strict=True) if p.asset == asset}


def _modbus_driver(port: int) -> ModbusDriver:
    return ModbusDriver("127.0.0.1", port, 1, PLANTS["petrochem"].modbus_tags(), max_gap=8)


async def _reconnect(driver: ModbusDriver | OpcUaDriver, attempts: int = 100) -> None:
    """Connect as a poller would: retry on refusal, a bounded number of times."""
    for _ in range(attempts):
        try:
            await driver.connect()
            return
        except DriverConnectionError:
            await asyncio.sleep(0.1)
    pytest.fail(f"never reconnected to {driver.endpoint}")


async def test_bearing_wear_trips_the_pump_as_the_driver_sees_it(
    petrochem_sim: tuple[ModbusSimulator, str, int],
) -> None:
    sim, _, port = petrochem_sim
    pump = sim.model.assets["P-101"]
    assert isinstance(pump, Pump)
    pump.force_running(True, dwell_s=48 * 3600)
    driver = _modbus_driver(port)
    await driver.connect()
    try:
        healthy = await _modbus_values(driver, "P-101")
        active = await sim.inject("bearing_wear", "P-101", rate=0.5)  # trips after ~6 h
        assert [f.as_dict()["fault"] for f in sim.faults] == ["bearing_wear"]
        assert active.params == {"rate": 0.5, "trip_vibration": 11.2}
        vibration = [healthy["vibration_rms"]]
        while not pump.tripped:
            await sim.fast_forward(1800.0)
            values = await _modbus_values(driver, "P-101")
            vibration.append(values["vibration_rms"])
            assert len(vibration) < 30, "no trip within 14 simulated hours"
        assert vibration[-2] > 2 * vibration[0]
        await sim.fast_forward(120.0)
        tripped = await _modbus_values(driver, "P-101")
        assert tripped["running"] == 0 and tripped["flow"] == 0.0
        assert tripped["bearing_temp"] > healthy["bearing_temp"]
        await sim.clear("bearing_wear", "P-101")
        assert sim.faults == [] and not pump.tripped
    finally:
        await driver.close()


async def test_leak_and_stuck_sensor_through_modbus(
    petrochem_sim: tuple[ModbusSimulator, str, int],
) -> None:
    sim, _, port = petrochem_sim
    pump = sim.model.assets["P-102"]
    assert isinstance(pump, Pump)
    pump.force_running(True, dwell_s=48 * 3600)
    driver = _modbus_driver(port)
    await driver.connect()
    try:
        await sim.fast_forward(60.0)
        before = await _modbus_values(driver, "P-102")
        await sim.inject("leak", "P-102", size=0.3)
        await sim.inject("stuck_sensor", "P-101.bearing_temp")
        stuck = (await _modbus_values(driver, "P-101"))["bearing_temp"]
        await sim.fast_forward(60.0)
        after = await _modbus_values(driver, "P-102")
        assert after["flow"] > before["flow"] + 25.0
        assert after["discharge_pressure"] < before["discharge_pressure"] - 1.0
        await sim.fast_forward(6 * 3600.0)  # the daily ambient swing moves the real value
        assert (await _modbus_values(driver, "P-101"))["bearing_temp"] == stuck
        assert abs(sim.model.assets["P-101"].values()["bearing_temp"] - stuck) > 0.5
        await sim.clear("stuck_sensor", "P-101.bearing_temp")
        await sim.update()
        assert (await _modbus_values(driver, "P-101"))["bearing_temp"] != stuck
        with pytest.raises(KeyError, match="no active leak on 'P-101'"):
            await sim.clear("leak", "P-101")
        with pytest.raises(FaultError, match="applies to a moulding machine"):
            await sim.inject("heater_failure", "P-101")
    finally:
        await driver.close()


async def test_modbus_comms_drop_and_restart(
    petrochem_sim: tuple[ModbusSimulator, str, int],
) -> None:
    sim, _, port = petrochem_sim
    driver = _modbus_driver(port)
    await driver.connect()
    try:
        assert len(await driver.read()) == len(PLANTS["petrochem"].points)
        await sim.inject("comms_drop", seconds=1.0)
        assert [(f.fault, f.target) for f in sim.faults] == [("comms_drop", "server")]
        with pytest.raises(DriverConnectionError):
            await driver.read()
        await _reconnect(driver)  # refused during the drop, accepted once it is over
        assert sim.faults == []
        assert all(s.error is None for s in await driver.read())

        await sim.inject("server_restart")
        with pytest.raises(DriverConnectionError):
            await driver.read()  # the old connection died with the old server
        await _reconnect(driver)
        assert all(s.error is None for s in await driver.read())

        await sim.inject("comms_drop", seconds=3600.0)  # cleared long before it ends
        await sim.clear("comms_drop")
        await _reconnect(driver)
        assert all(s.error is None for s in await driver.read())
    finally:
        await driver.close()


async def test_heater_failure_comms_drop_and_restart_over_opcua(
    mold_sim: tuple[OpcUaSimulator, str, int],
) -> None:
    sim, host, port = mold_sim
    driver = OpcUaDriver(f"opc.tcp://{host}:{port}", PLANTS["mold"].opcua_tags(), timeout=2.0)
    await driver.connect()
    try:
        assert (await _opcua_values(driver, "IMM-01"))["melt_temp"] > 200.0
        await sim.inject("heater_failure", "IMM-01", tau_s=600.0)
        await sim.fast_forward(1200.0)
        cold = await _opcua_values(driver, "IMM-01")
        assert cold["melt_temp"] < 180.0 and cold["state"] == "alarm"
        assert (await _opcua_values(driver, "IMM-02"))["melt_temp"] > 200.0

        await sim.inject("comms_drop", seconds=1.0)
        with pytest.raises(DriverConnectionError):
            await driver.read()
        await driver.close()
        await _reconnect(driver)
        assert (await _opcua_values(driver, "IMM-01"))["state"] == "alarm"  # same plant

        await sim.inject("server_restart")
        with pytest.raises(DriverConnectionError):
            await driver.read()
        await driver.close()
        await _reconnect(driver)
        assert all(s.error is None for s in await driver.read())
    finally:
        await driver.close()
