"""The plant models stepped deterministically, and the plants' configs and maps."""

from __future__ import annotations

import asyncio

import pytest

from protocols.registers import register_count
from protocols.simulators import PLANTS, create_simulator, run_simulator
from protocols.simulators.machines import (
    AssemblyStation,
    InjectionMouldingMachine,
    PowerMeter,
    Pump,
)
from tests.conftest import free_port


def test_same_seed_same_signals() -> None:
    a, b = PLANTS["mold"].model(seed=7), PLANTS["mold"].model(seed=7)
    for t in range(0, 600, 5):
        a.step(t)
        b.step(t)
        assert a.snapshot() == b.snapshot()


def test_energy_is_monotonic_and_integrates_power() -> None:
    for key in PLANTS:
        model = PLANTS[key].model(seed=3)
        meter = model.meter
        start = meter.energy_kwh
        last = start
        integral_kwh = 0.0
        for t in range(1, 3601):
            power = meter.active_power_kw  # power over the coming second, left Riemann sum
            model.step(float(t))
            integral_kwh += power / 3600.0
            assert meter.energy_kwh >= last
            last = meter.energy_kwh
        assert last - start == pytest.approx(integral_kwh, rel=0.02), key
        assert last - start > 0


def test_station_counts_add_up_and_states_are_valid() -> None:
    station = AssemblyStation("ST-01", seed=5)
    seen_states = set()
    for t in range(0, 8 * 3600, 10):
        station.step(float(t))
        v = station.values()
        assert v["good_parts"] + v["bad_parts"] == v["cycle_count"]
        seen_states.add(v["state"])
        if v["state"] == AssemblyStation.RUNNING:
            assert v["motor_current"] > 4.0
    assert seen_states <= set(AssemblyStation.STATES)
    assert AssemblyStation.RUNNING in seen_states and len(seen_states) >= 3
    # ~30 s takt, mostly running: hundreds of parts in a shift, a few percent scrap
    assert 400 < station.cycle_count < 960
    assert 0 < station.bad_parts < 0.1 * station.cycle_count


def test_shot_count_follows_cycle_time() -> None:
    machine = InjectionMouldingMachine("IMM-01", seed=11)
    machine.force_state("running", dwell_s=10_000)
    pressures = []
    for t in range(1, 20 * 60 * 4 + 1):  # 20 minutes in 0.25 s steps
        machine.step(t / 4)
        pressures.append(machine.injection_pressure)
        assert 8.0 <= machine.cycle_time <= 12.0
    # one shot per ~10 s cycle
    assert 100 <= machine.shot_count <= 150
    assert 800.0 <= max(pressures) <= 1400.0  # fill peaks
    assert min(pressures) == 0.0  # eject
    assert 40.0 < machine.mould_temp < 50.0


def test_mould_cools_when_idle_and_states_are_valid() -> None:
    machine = InjectionMouldingMachine("IMM-01", seed=2)
    machine.force_state("running", dwell_s=3600)
    machine.step(1800.0)
    hot = machine.mould_temp
    machine.force_state("idle", dwell_s=3600)
    machine.step(2400.0)
    assert machine.mould_temp < hot - 5.0
    assert machine.injection_pressure == 0.0
    shots = machine.shot_count
    machine.step(3000.0)
    assert machine.shot_count == shots  # no shots while idle

    free_running = InjectionMouldingMachine("IMM-02", seed=4)
    seen: dict[str, float] = {}
    for t in range(0, 24 * 3600, 30):
        free_running.step(float(t))
        seen[free_running.state] = seen.get(free_running.state, 0) + 30
    assert set(seen) <= set(InjectionMouldingMachine.STATES)
    assert seen["running"] > 0.6 * sum(seen.values())  # mostly running


def test_pumps_follow_load_and_standby_is_mostly_off() -> None:
    duty, standby = Pump("P-101", seed=1), Pump("P-103", seed=3, standby=True)
    meter = PowerMeter("meter", [duty, standby], base_load_kw=10.0)
    on_time = 0
    for t in range(0, 12 * 3600, 60):
        meter.step(float(t))
        v = duty.values()
        if v["running"]:
            assert v["flow"] > 50.0 and v["motor_power"] > 20.0
            assert v["bearing_temp"] > duty.ambient_c()
        on_time += standby.running
    assert on_time < 0.5 * (12 * 60)
    assert meter.energy_kwh > 0


def test_time_never_goes_backwards() -> None:
    machine = InjectionMouldingMachine("IMM-01")
    machine.step(10.0)
    with pytest.raises(ValueError, match="backwards"):
        machine.step(5.0)


@pytest.mark.parametrize("key", ["mold", "appliance", "petrochem"])
def test_agent_config_shape(key: str) -> None:
    plant = PLANTS[key]
    config = plant.agent_config("127.0.0.1", 1234)
    assert list(config) == ["agent", "devices", "outputs"]
    assert config["agent"] == {"name": f"{plant.site}-edge", "site": plant.site}
    assert config["outputs"] == []
    (device,) = config["devices"]
    if plant.protocol == "opcua":
        assert list(device) == ["name", "protocol", "endpoint", "interval", "tags"]
        assert device["endpoint"] == "opc.tcp://127.0.0.1:1234"
        tag_keys = ["name", "asset", "line", "unit", "node"]
    else:
        assert list(device) == [
            "name",
            "protocol",
            "host",
            "port",
            "unit_id",
            "max_gap",
            "interval",
            "tags",
        ]
        assert (device["host"], device["port"], device["unit_id"]) == ("127.0.0.1", 1234, 1)
        tag_keys = [
            "name", "asset", "line", "unit", "table", "address", "type", "word_order",
            "scale", "offset",
        ]  # fmt: skip
    assert device["name"] == f"{plant.site}-plc"
    assert device["protocol"] == plant.protocol
    assert device["interval"] == "1s"
    assert all(list(tag) == tag_keys for tag in device["tags"])
    pairs = [(t["asset"], t["name"]) for t in device["tags"]]
    assert len(pairs) == len(set(pairs)) == len(plant.points)
    assert all(t["name"].isidentifier() and t["name"].islower() for t in device["tags"])
    assert plant.agent_config("h", 1, interval="5s")["devices"][0]["interval"] == "5s"


@pytest.mark.parametrize("key", ["appliance", "petrochem"])
def test_modbus_maps_start_at_zero_without_overlap(key: str) -> None:
    plant = PLANTS[key]
    for table in ("holding", "input"):
        used: set[int] = set()
        for p in plant.points:
            if p.table == table:
                span = set(range(p.address, p.address + register_count(p.data_type)))
                assert not used & span, p
                used |= span
        assert min(used) == 0


def test_doc_rows_cover_every_point() -> None:
    for plant in PLANTS.values():
        rows = plant.doc_rows()
        assert len(rows) == len(plant.points)
        assert all(set(r) == {"tag", "asset", "address", "type", "unit", "meaning"} for r in rows)
        assert all(r["meaning"] for r in rows)
    assert PLANTS["mold"].doc_rows()[2]["address"] == "ns=2;s=IMM01.MeltTemp"


async def test_run_simulator_until_stopped() -> None:
    with pytest.raises(ValueError, match="unknown industry"):
        create_simulator("steel", "127.0.0.1", 1)
    stop = asyncio.Event()
    port = free_port()
    task = asyncio.create_task(run_simulator("petrochem", "127.0.0.1", port, stop))
    for _ in range(50):
        await asyncio.sleep(0.05)
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            continue
        writer.close()
        await writer.wait_closed()
        break
    else:
        pytest.fail("simulator never listened")
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)
