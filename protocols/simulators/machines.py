"""Physical models of the simulated machines, stepped by an explicit clock.

Every model advances with ``step(t_seconds)`` (time since the simulation started), in
internal sub-steps, with a seeded random source: the same seed and the same calls give
the same signals, so tests can step an hour of plant life in milliseconds.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Protocol

from protocols.sample import Value

# Long steps are split so that cycles, state dwell times and integrals stay accurate.
MAX_SUB_STEP_S = 0.25


def _approach(current: float, target: float, tau_s: float, dt: float) -> float:
    """First-order lag: how a temperature follows its heat balance."""
    return target + (current - target) * math.exp(-dt / tau_s)


class SimulatedAsset:
    """Base of all models: clock bookkeeping and sub-stepping."""

    def __init__(self, name: str, seed: int) -> None:
        self.name = name
        self.rng = random.Random(seed)
        self.t = 0.0

    def step(self, t_seconds: float) -> None:
        """Advance the model to ``t_seconds``; stepping to the current time is a no-op."""
        if t_seconds < self.t - 1e-9:
            raise ValueError(f"{self.name}: time went backwards ({t_seconds} < {self.t})")
        while t_seconds - self.t > 1e-9:
            dt = min(MAX_SUB_STEP_S, t_seconds - self.t)
            self.t += dt
            self._advance(dt)

    def _advance(self, dt: float) -> None:
        raise NotImplementedError

    def values(self) -> dict[str, Value]:
        """The asset's current readings, keyed by tag name."""
        raise NotImplementedError


class _DwellStateMachine:
    """A state that holds for a random dwell time, then moves on by weighted choice."""

    def __init__(
        self,
        rng: random.Random,
        initial: str,
        dwell_s: dict[str, tuple[float, float]],
        transitions: dict[str, Sequence[tuple[str, float]]],
    ) -> None:
        self.rng = rng
        self.dwell_s = dwell_s
        self.transitions = transitions
        self.state = initial
        self.remaining = self._draw_dwell(initial)

    def _draw_dwell(self, state: str) -> float:
        low, high = self.dwell_s[state]
        return self.rng.uniform(low, high)

    def force(self, state: str, dwell_s: float | None = None) -> None:
        self.state = state
        self.remaining = self._draw_dwell(state) if dwell_s is None else dwell_s

    def advance(self, dt: float) -> bool:
        """Count the dwell down; True when the state changed."""
        self.remaining -= dt
        if self.remaining > 0:
            return False
        choices = self.transitions[self.state]
        nxt = self.rng.choices([c[0] for c in choices], weights=[c[1] for c in choices])[0]
        self.force(nxt)
        return True


class InjectionMouldingMachine(SimulatedAsset):
    """A hydraulic injection moulding machine (clamp ~200 t) making one part per cycle.

    A cycle is fill -> pack -> cooling -> eject; pressure peaks in fill, holds lower in
    pack and is near zero afterwards. The mould heats from the melt while running and
    cools toward the coolant temperature when the machine stands.
    """

    STATES = ("running", "idle", "alarm")
    # Fractions of the cycle at which each phase ends.
    _FILL_END, _PACK_END, _COOL_END = 0.12, 0.35, 0.85

    def __init__(
        self,
        name: str,
        seed: int = 1,
        melt_setpoint_c: float = 230.0,
        coolant_c: float = 28.0,
    ) -> None:
        super().__init__(name, seed)
        self.melt_setpoint_c = melt_setpoint_c
        self.coolant_c = coolant_c
        self._states = _DwellStateMachine(
            self.rng,
            "running",
            dwell_s={"running": (300.0, 1800.0), "idle": (60.0, 240.0), "alarm": (90.0, 300.0)},
            transitions={
                "running": [("idle", 0.9), ("alarm", 0.1)],
                "idle": [("running", 1.0)],
                "alarm": [("idle", 1.0)],  # an alarm is acknowledged, then production restarts
            },
        )
        self.shot_count = 0
        self.cycle_time = 10.0
        self.melt_temp = melt_setpoint_c
        self.mould_temp = 45.0
        self.injection_pressure = 0.0
        self.power_kw = 0.0
        self._cycle_elapsed = 0.0
        self._cycle_length = self._draw_cycle_length()
        self._peak_bar = self._draw_peak()
        # Heater failure (a fault injection): None while the barrel heaters work.
        self._heater_fault: tuple[float, float] | None = None  # (tau_s, alarm_below_c)
        self._ambient_c = 25.0  # the moulding hall, where a barrel without heaters cools to

    @property
    def state(self) -> str:
        return self._states.state

    @property
    def heaters_failed(self) -> bool:
        return self._heater_fault is not None

    def fail_heaters(
        self, tau_s: float = 900.0, alarm_below_c: float = 180.0, ambient_c: float = 25.0
    ) -> None:
        """The barrel heaters stop: the melt cools toward ``ambient_c`` with time constant
        ``tau_s`` (the barrel's heat capacity), and below ``alarm_below_c`` the controller
        raises a low-melt-temperature alarm that holds until the heaters are repaired."""
        if tau_s <= 0:
            raise ValueError("tau_s must be > 0")
        self._heater_fault = (tau_s, alarm_below_c)
        self._ambient_c = ambient_c

    def repair_heaters(self) -> None:
        """Heaters back: the alarm is acknowledged after its usual dwell, the melt reheats."""
        self._heater_fault = None
        if self.state == "alarm":
            self._states.force("alarm")

    def force_state(self, state: str, dwell_s: float | None = None) -> None:
        """Put the machine in ``state`` (an operator stop, a test) for ``dwell_s`` seconds."""
        if state not in self.STATES:
            raise ValueError(f"unknown state {state!r}")
        self._states.force(state, dwell_s)
        self._cycle_elapsed = 0.0

    def _draw_cycle_length(self) -> float:
        return min(12.0, max(8.0, self.rng.gauss(10.0, 0.6)))

    def _draw_peak(self) -> float:
        return min(1400.0, max(800.0, self.rng.gauss(1100.0, 90.0)))

    def _advance(self, dt: float) -> None:
        if self._states.advance(dt):
            self._cycle_elapsed = 0.0  # an interrupted shot is scrapped, not counted
        running = self.state == "running"
        if running:
            self._cycle_elapsed += dt
            if self._cycle_elapsed >= self._cycle_length:
                self._cycle_elapsed -= self._cycle_length
                self.shot_count = (self.shot_count + 1) % 2**32  # a uint32 PLC counter
                self.cycle_time = self._cycle_length
                self._cycle_length = self._draw_cycle_length()
                self._peak_bar = self._draw_peak()
            self.injection_pressure = self._pressure(self._cycle_elapsed / self._cycle_length)
        else:
            self.injection_pressure = 0.0
        # The mould heats toward ~48 degC from the melt it takes in; standing, it cools
        # toward the coolant. Barrel heaters hold the melt, a little loose in an alarm.
        mould_target = 48.0 if running else self.coolant_c
        self.mould_temp = _approach(self.mould_temp, mould_target, 400.0 if running else 600.0, dt)
        if self._heater_fault is None:
            melt_target = self.melt_setpoint_c - (6.0 if self.state == "alarm" else 0.0)
            self.melt_temp = _approach(self.melt_temp, melt_target, 60.0, dt)
            heaters_kw = 7.0 if self.state != "alarm" else 3.0
        else:
            tau_s, alarm_below_c = self._heater_fault
            self.melt_temp = _approach(self.melt_temp, self._ambient_c, tau_s, dt)
            heaters_kw = 0.0
            if self.melt_temp < alarm_below_c and self.state != "alarm":
                # Cold melt would freeze in the screw: the controller stops and alarms
                # until someone fixes the heaters (no dwell ends it on its own).
                self._states.force("alarm", math.inf)
                self._cycle_elapsed = 0.0
        hydraulics_kw = 4.0 + 38.0 * self.injection_pressure / 1400.0 if running else 1.5
        self.power_kw = heaters_kw + hydraulics_kw

    def _pressure(self, phase: float) -> float:
        noise = self.rng.gauss(0.0, 8.0)
        if phase < self._FILL_END:  # ramp up while the screw pushes melt into the cavity
            return max(0.0, self._peak_bar * math.sin(0.5 * math.pi * phase / self._FILL_END))
        if phase < self._PACK_END:  # hold pressure compensates shrinkage
            return max(0.0, 0.6 * self._peak_bar + noise)
        if phase < self._COOL_END:  # screw recovers; only back pressure remains
            return max(0.0, 15.0 + noise * 0.5)
        return 0.0

    def values(self) -> dict[str, Value]:
        return {
            "cycle_time": round(self.cycle_time, 3),
            "injection_pressure": round(self.injection_pressure, 2),
            "melt_temp": round(self.melt_temp + self.rng.gauss(0.0, 0.4), 2),
            "mould_temp": round(self.mould_temp + self.rng.gauss(0.0, 0.1), 2),
            "shot_count": self.shot_count,
            "state": self.state,
            "power_kw": round(self.power_kw, 3),
        }


class AssemblyStation(SimulatedAsset):
    """A station on an appliance assembly line (e.g. screwing and leak test of a washer)."""

    STOPPED, RUNNING, BLOCKED, STARVED, FAULT = 0, 1, 2, 3, 4
    STATES = (STOPPED, RUNNING, BLOCKED, STARVED, FAULT)

    def __init__(
        self, name: str, seed: int = 1, takt_s: float = 30.0, scrap_rate: float = 0.02
    ) -> None:
        super().__init__(name, seed)
        self.takt_s = takt_s
        self.scrap_rate = scrap_rate
        self._states = _DwellStateMachine(
            self.rng,
            "1",
            dwell_s={
                "0": (120.0, 600.0),
                "1": (240.0, 1200.0),
                "2": (10.0, 90.0),
                "3": (10.0, 120.0),
                "4": (120.0, 600.0),
            },
            transitions={
                "0": [("1", 1.0)],
                "1": [("2", 0.45), ("3", 0.45), ("4", 0.05), ("0", 0.05)],
                "2": [("1", 1.0)],
                "3": [("1", 1.0)],
                "4": [("1", 1.0)],
            },
        )
        self.cycle_count = 0
        self.good_parts = 0
        self.bad_parts = 0
        self.motor_current = 9.0  # the line is already running when the simulation starts
        self._elapsed = 0.0
        self._cycle_length = self._draw_cycle()

    @property
    def state(self) -> int:
        return int(self._states.state)

    def force_state(self, state: int, dwell_s: float | None = None) -> None:
        if state not in self.STATES:
            raise ValueError(f"unknown state {state!r}")
        self._states.force(str(state), dwell_s)

    @property
    def power_kw(self) -> float:
        # 400 V three-phase at power factor ~0.85: P = sqrt(3) * U * I * pf.
        return math.sqrt(3) * 400.0 * self.motor_current * 0.85 / 1000.0 + 0.3

    def _draw_cycle(self) -> float:
        return max(0.8 * self.takt_s, self.rng.gauss(self.takt_s, 1.5))

    def _advance(self, dt: float) -> None:
        self._states.advance(dt)
        if self.state == self.RUNNING:
            self._elapsed += dt
            if self._elapsed >= self._cycle_length:
                self._elapsed -= self._cycle_length
                self._cycle_length = self._draw_cycle()
                self.cycle_count += 1
                if self.rng.random() < self.scrap_rate:
                    self.bad_parts += 1
                else:
                    self.good_parts += 1
            # Current swings with the screwdriver and conveyor load within a cycle.
            phase = self._elapsed / self._cycle_length
            target = 9.0 + 2.5 * math.sin(2 * math.pi * phase) + self.rng.gauss(0.0, 0.3)
        elif self.state in (self.BLOCKED, self.STARVED):
            target = 1.2 + self.rng.gauss(0.0, 0.05)  # conveyor crawls, tools idle
        else:
            target = 0.2 + abs(self.rng.gauss(0.0, 0.02))  # controls only
        self.motor_current = max(0.0, _approach(self.motor_current, target, 0.5, dt))

    def values(self) -> dict[str, Value]:
        return {
            "cycle_count": self.cycle_count,
            "good_parts": self.good_parts,
            "bad_parts": self.bad_parts,
            "state": self.state,
            "motor_current": round(self.motor_current, 3),
        }


class Pump(SimulatedAsset):
    """A centrifugal process pump with its motor; a standby pump is mostly off."""

    def __init__(
        self,
        name: str,
        seed: int = 1,
        standby: bool = False,
        rated_flow_m3h: float = 120.0,
        phase_s: float = 0.0,
    ) -> None:
        super().__init__(name, seed)
        self.standby = standby
        self.rated_flow_m3h = rated_flow_m3h
        self.phase_s = phase_s
        if standby:
            dwell = {"on": (300.0, 900.0), "off": (1800.0, 7200.0)}
            initial = "off"
        else:
            dwell = {"on": (3600.0, 14400.0), "off": (60.0, 300.0)}
            initial = "on"
        self._states = _DwellStateMachine(
            self.rng, initial, dwell, {"on": [("off", 1.0)], "off": [("on", 1.0)]}
        )
        self.flow = 0.0
        self.discharge_pressure = 1.5
        self.bearing_temp = self.ambient_c()
        self.vibration_rms = 0.05
        self.motor_power = 0.0
        # Fault injections: bearing wear grows with running hours until the vibration
        # trip stops the motor; a leak downstream takes part of the flow past the gauge.
        self.wear_rate_per_h = 0.0
        self.worn_hours = 0.0
        self.trip_vibration_mm_s = 11.2
        self.tripped = False
        self.leak_fraction = 0.0
        if self.running:  # start warm: a duty pump has been running for hours
            self.flow = self.load() * rated_flow_m3h
            self.bearing_temp = self.ambient_c() + 10.0 + 22.0 * self.load()
            self._advance(0.0)

    @property
    def running(self) -> bool:
        return self._states.state == "on" and not self.tripped

    def start_bearing_wear(self, rate_per_h: float, trip_vibration_mm_s: float = 11.2) -> None:
        """A damaged bearing: its excess vibration and friction heat grow as
        ``exp(rate_per_h * running_hours) - 1`` (spalling feeds itself, so wear
        accelerates) until vibration reaches ``trip_vibration_mm_s`` and the machine
        protection trips the motor. 11.2 mm/s is the ISO 10816-3 zone C/D limit."""
        if rate_per_h <= 0:
            raise ValueError("rate must be > 0")
        self.wear_rate_per_h = rate_per_h
        self.trip_vibration_mm_s = trip_vibration_mm_s

    def replace_bearing(self) -> None:
        """Maintenance done: a new bearing, wear gone, the trip reset."""
        self.wear_rate_per_h = 0.0
        self.worn_hours = 0.0
        self.tripped = False

    def wear_severity(self) -> float:
        """0 for a healthy bearing; grows exponentially with worn running hours."""
        if self.wear_rate_per_h <= 0:
            return 0.0
        return math.expm1(self.wear_rate_per_h * self.worn_hours)

    def set_leak(self, fraction: float) -> None:
        """A leak downstream of the flow meter and gauge passing ``fraction`` of rated
        flow: system resistance falls, so the pump runs out on its curve (more flow
        through the meter, lower discharge pressure, more power)."""
        if not 0.0 <= fraction <= 1.0:
            raise ValueError("leak size must be between 0 and 1")
        self.leak_fraction = fraction

    def force_running(self, running: bool, dwell_s: float | None = None) -> None:
        self._states.force("on" if running else "off", dwell_s)

    @property
    def power_kw(self) -> float:
        return self.motor_power

    def ambient_c(self) -> float:
        """Outdoor pump station: 25 degC mean with a daily swing of +-6 K."""
        return 25.0 + 6.0 * math.sin(2 * math.pi * (self.t - 9 * 3600) / 86400.0)

    def load(self) -> float:
        """Demand 0.6..1.0 of rated flow, following a slow process cycle."""
        return 0.8 + 0.2 * math.sin(2 * math.pi * (self.t + self.phase_s) / 5400.0)

    def _advance(self, dt: float) -> None:
        self._states.advance(dt)
        ambient = self.ambient_c()
        if self.running:
            load = self.load()
            flow_target = (load + self.leak_fraction) * self.rated_flow_m3h
            self.flow = max(0.0, _approach(self.flow, flow_target, 5.0, dt))
            share = self.flow / self.rated_flow_m3h
            # Pump curve: head falls as flow rises; the static head of the system stays.
            self.discharge_pressure = 1.5 + 16.0 * (1.15 - 0.35 * share**2) * min(1.0, share / 0.5)
            if self.wear_rate_per_h > 0:
                self.worn_hours += dt / 3600.0
            wear = self.wear_severity()
            self.bearing_temp = _approach(
                self.bearing_temp, ambient + 10.0 + 22.0 * share + 3.0 * wear, 900.0, dt
            )
            self.vibration_rms = max(
                0.3, 1.6 + 1.4 * share + 0.5 * wear + self.rng.gauss(0.0, 0.15)
            )
            if wear > 0 and self.vibration_rms >= self.trip_vibration_mm_s:
                self.tripped = True  # machine protection: stays off until the bearing is new
            hydraulic_kw = self.flow * (self.discharge_pressure - 1.0) / 36.0
            self.motor_power = hydraulic_kw / 0.72 + 1.5 if self.flow > 1.0 else 1.5
        else:
            self.flow = _approach(self.flow, 0.0, 3.0, dt)
            self.discharge_pressure = _approach(self.discharge_pressure, 1.5, 3.0, dt)
            self.bearing_temp = _approach(self.bearing_temp, ambient, 1800.0, dt)
            self.vibration_rms = max(0.0, 0.05 + self.rng.gauss(0.0, 0.01))
            self.motor_power = 0.0

    def values(self) -> dict[str, Value]:
        return {
            "flow": round(
                max(0.0, self.flow + (self.rng.gauss(0.0, 0.4) if self.running else 0.0)), 3
            ),
            "discharge_pressure": round(self.discharge_pressure, 2),
            "bearing_temp": round(self.bearing_temp, 1),
            "vibration_rms": round(self.vibration_rms, 2),
            "motor_power": round(self.motor_power, 3),
            "running": self.running,
        }


class ElectricalLoad(Protocol):
    """Anything a meter can measure: it steps with the clock and draws power."""

    def step(self, t_seconds: float) -> None: ...

    @property
    def power_kw(self) -> float: ...


class PowerMeter(SimulatedAsset):
    """The plant's main meter: its loads plus a base load (lighting, HVAC, compressors).

    The meter steps its loads, so stepping the meter steps the plant, and integrates
    power into energy in the same sub-steps.
    """

    def __init__(
        self,
        name: str,
        loads: Sequence[ElectricalLoad],
        base_load_kw: float = 20.0,
        seed: int = 1,
        initial_energy_kwh: float = 0.0,
    ) -> None:
        super().__init__(name, seed)
        self.loads = list(loads)
        self.base_load_kw = base_load_kw
        self.energy_kwh = initial_energy_kwh
        self.active_power_kw = self._measure()

    def _measure(self) -> float:
        base = self.base_load_kw * (1.0 + self.rng.gauss(0.0, 0.01))
        return sum(load.power_kw for load in self.loads) + base

    def _advance(self, dt: float) -> None:
        for load in self.loads:
            load.step(self.t)
        self.active_power_kw = self._measure()
        self.energy_kwh += self.active_power_kw * dt / 3600.0

    def values(self) -> dict[str, Value]:
        return {
            "active_power_kw": round(self.active_power_kw, 3),
            "energy_kwh": round(self.energy_kwh, 4),
        }
