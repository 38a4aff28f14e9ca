"""Process faults on the plant models, stepped through simulated days in milliseconds."""

from __future__ import annotations

import itertools

import pytest

from protocols.simulators import PLANTS
from protocols.simulators.faults import FaultError, clear_process_fault, inject_process_fault
from protocols.simulators.faults import resolve_params as params
from protocols.simulators.machines import InjectionMouldingMachine, Pump


def _step_hours(pump: Pump, start_h: float, hours: float, every_s: float = 60.0):
    """Step ``pump`` minute by minute, yielding (hours, values) along the way."""
    t = start_h * 3600.0
    while t < (start_h + hours) * 3600.0:
        t += every_s
        pump.step(t)
        yield t / 3600.0, pump.values()


def test_bearing_wear_grows_faster_and_faster_until_the_pump_trips() -> None:
    pump = Pump("P-101", seed=1)
    healthy = [v for _, v in _step_hours(pump, 0, 2)]
    base_vibration = sum(v["vibration_rms"] for v in healthy) / len(healthy)
    pump.start_bearing_wear(rate_per_h=0.1)  # ~29 running hours to the trip
    by_hour: dict[int, dict] = {}
    tripped_at = None
    for hours, values in _step_hours(pump, 2, 48):
        by_hour[int(hours)] = values
        if pump.tripped and tripped_at is None:
            tripped_at = hours
    assert tripped_at is not None and 20 < tripped_at - 2 < 40, tripped_at
    trip_h = int(tripped_at)
    # Accelerating: the last ten hours before the trip add more than the ten before them.
    rise_late = by_hour[trip_h - 1]["vibration_rms"] - by_hour[trip_h - 11]["vibration_rms"]
    rise_early = by_hour[trip_h - 11]["vibration_rms"] - by_hour[trip_h - 21]["vibration_rms"]
    assert rise_late > 2 * rise_early > 0
    assert by_hour[trip_h - 1]["vibration_rms"] > 2 * base_vibration
    assert by_hour[trip_h - 1]["bearing_temp"] > healthy[-1]["bearing_temp"] + 15.0
    # Tripped: stopped, no flow, and it stays down (the dwell state machine cannot restart it).
    final = by_hour[max(by_hour)]
    assert final["running"] is False and final["flow"] == 0.0 and final["motor_power"] == 0.0
    pump.replace_bearing()
    pump.force_running(True, dwell_s=3600)
    (_, after), *_ = list(_step_hours(pump, 50, 0.5))
    assert after["running"] is True and after["vibration_rms"] < 5.0


def test_wear_accumulates_only_while_running() -> None:
    pump = Pump("P-103", seed=3, standby=True)
    pump.force_running(False, dwell_s=10 * 3600)
    pump.start_bearing_wear(rate_per_h=1.0)
    for _ in _step_hours(pump, 0, 5):
        pass
    assert pump.worn_hours == 0.0 and not pump.tripped


def test_leak_raises_flow_and_drops_discharge_pressure() -> None:
    model = PLANTS["petrochem"].model(seed=2)
    pump = model.assets["P-101"]
    assert isinstance(pump, Pump)
    pump.force_running(True, dwell_s=7200)
    model.step(600.0)
    before = model.snapshot()
    inject_process_fault(model, "leak", "P-101", params("leak", {"size": 0.3}))
    model.step(660.0)
    after = model.snapshot()
    assert after[("P-101", "flow")] > before[("P-101", "flow")] + 25.0
    assert after[("P-101", "discharge_pressure")] < before[("P-101", "discharge_pressure")] - 1.0
    clear_process_fault(model, "leak", "P-101")
    model.step(720.0)
    healed = model.snapshot()
    assert abs(healed[("P-101", "flow")] - before[("P-101", "flow")]) < 10.0


def test_heater_failure_cools_the_melt_and_alarms() -> None:
    machine = InjectionMouldingMachine("IMM-01", seed=11)
    machine.force_state("running", dwell_s=10_000)
    machine.step(60.0)
    machine.fail_heaters(tau_s=600.0, alarm_below_c=180.0)
    temps = []
    for t in range(70, 3600, 10):
        machine.step(float(t))
        temps.append((t, machine.melt_temp, machine.state))
    assert all(b[1] < a[1] for a, b in itertools.pairwise(temps))  # monotonic fall
    first_alarm = next(t for t, _, state in temps if state == "alarm")
    # First-order cooling from ~230 to 25 degC: below 180 after tau*ln(205/155) = 168 s.
    assert 150 < first_alarm - 60 < 200
    assert all(state == "alarm" for t, _, state in temps if t >= first_alarm)
    assert temps[-1][1] < 40.0  # ~six time constants later, near the hall's temperature
    shots = machine.shot_count
    machine.step(4000.0)
    assert machine.shot_count == shots
    machine.repair_heaters()
    machine.step(4000.0 + 3 * 3600)
    assert machine.melt_temp > 220.0  # reheated, and the held alarm was acknowledged
    assert machine.shot_count > shots


def test_stuck_sensor_freezes_the_reading_while_the_process_goes_on() -> None:
    model = PLANTS["mold"].model(seed=4)
    model.step(30.0)
    inject_process_fault(model, "stuck_sensor", "meter-main.energy_kwh", {})
    frozen = model.snapshot()[("meter-main", "energy_kwh")]
    model.step(600.0)
    assert model.snapshot()[("meter-main", "energy_kwh")] == frozen
    assert model.meter.energy_kwh > frozen + 1.0  # the meter kept counting underneath
    clear_process_fault(model, "stuck_sensor", "meter-main.energy_kwh")
    assert model.snapshot()[("meter-main", "energy_kwh")] == round(model.meter.energy_kwh, 4)


def test_wrong_targets_and_parameters_are_refused_with_reasons() -> None:
    model = PLANTS["petrochem"].model()
    with pytest.raises(FaultError, match=r"applies to a pump.*P-101, P-102, P-103"):
        inject_process_fault(model, "bearing_wear", "meter-main", params("bearing_wear", {}))
    with pytest.raises(FaultError, match=r"unknown parameter.*speed.*allowed: rate"):
        params("bearing_wear", {"speed": 2})
    with pytest.raises(FaultError, match="rate must be a number"):
        params("bearing_wear", {"rate": "fast"})
    with pytest.raises(FaultError, match="unknown fault 'fire'"):
        params("fire", {})
    with pytest.raises(FaultError, match=r"no sensor 'P-101\.colour'"):
        inject_process_fault(model, "stuck_sensor", "P-101.colour", {})
    with pytest.raises(FaultError, match=r"ASSET\.tag"):
        inject_process_fault(model, "stuck_sensor", "P-101", {})
