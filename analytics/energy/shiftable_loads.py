"""A day of shiftable loads on a time-of-use tariff: the problem, a schedule, its cost.

Time is cut into equal slots (15 min or 1 h). A batch runs at constant power for a whole
number of slots, starting no earlier than its release slot and finishing by its deadline,
after all its predecessors have finished. A thermal store (chilled water) lets the chiller
run ahead of the cooling demand, within the store's capacity and losing a share of its
content every slot. The cost is energy at each slot's price plus the demand charge on the
schedule's peak kW: the day's peak is billed at the full monthly rate, because a schedule
that repeats every working day sets the month's peak (pass ``existing_peak_kw`` when the
month already has a higher one).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analytics.energy.tariff import Tariff


@dataclass(frozen=True)
class Batch:
    name: str
    duration: int  # slots
    power_kw: float
    earliest_start: int = 0  # slot index
    deadline: int | None = None  # slot index by which it must have finished; None = horizon
    after: tuple[str, ...] = ()  # names of batches that must finish before this one starts


@dataclass(frozen=True)
class ThermalStore:
    """Chilled-water store, in electrical kWh (thermal kWh divided by the chiller's COP)."""

    capacity_kwh: float
    chiller_max_kw: float
    cooling_demand_kw: tuple[float, ...]  # electrical kW the cooling load needs per slot
    loss_per_slot: float = 0.0  # share of the stored energy lost each slot


@dataclass(frozen=True)
class ShiftProblem:
    start: pd.Timestamp
    slot_minutes: int
    base_load_kw: tuple[float, ...]  # load that cannot move, per slot
    batches: tuple[Batch, ...]
    tariff: Tariff
    store: ThermalStore | None = None
    existing_peak_kw: float = 0.0

    @property
    def slots(self) -> int:
        return len(self.base_load_kw)

    @property
    def slot_hours(self) -> float:
        return self.slot_minutes / 60

    def slot_starts(self) -> pd.DatetimeIndex:
        return pd.date_range(self.start, periods=self.slots, freq=f"{self.slot_minutes}min")

    def prices(self) -> np.ndarray:
        return self.tariff.prices_at(self.slot_starts())

    def deadline(self, batch: Batch) -> int:
        return self.slots if batch.deadline is None else batch.deadline

    def ordered_batches(self) -> list[Batch]:
        """Batches with every predecessor before its successors (refuses cycles)."""
        by_name = {b.name: b for b in self.batches}
        done: list[Batch] = []
        seen: set[str] = set()

        def visit(batch: Batch, path: tuple[str, ...]) -> None:
            if batch.name in path:
                raise ValueError(f"precedence cycle: {' -> '.join((*path, batch.name))}")
            if batch.name in seen:
                return
            for name in batch.after:
                if name not in by_name:
                    raise ValueError(f"batch {batch.name} follows unknown batch {name}")
                visit(by_name[name], (*path, batch.name))
            seen.add(batch.name)
            done.append(batch)

        for batch in self.batches:
            visit(batch, ())
        return done

    def latest_starts(self) -> dict[str, int]:
        """Latest start of each batch that still lets every successor meet its deadline."""
        latest: dict[str, int] = {}
        for batch in reversed(self.ordered_batches()):
            bound = self.deadline(batch) - batch.duration
            for other in self.batches:
                if batch.name in other.after:
                    bound = min(bound, latest[other.name] - batch.duration)
            latest[batch.name] = bound
        return latest


@dataclass
class Schedule:
    starts: dict[str, int]
    chiller_kw: np.ndarray | None = None  # per slot, when there is a store
    method: str = ""
    notes: list[str] = field(default_factory=list)


def earliest_schedule(problem: ShiftProblem) -> Schedule:
    """The unoptimised reference: each batch as soon as released and its predecessors are
    done; the chiller follows the cooling demand and the store stays empty."""
    starts: dict[str, int] = {}
    for batch in problem.ordered_batches():
        ready = [starts[n] + _duration(problem, n) for n in batch.after]
        starts[batch.name] = max([batch.earliest_start, *ready])
    chiller = np.asarray(problem.store.cooling_demand_kw, dtype=float) if problem.store else None
    return Schedule(starts, chiller, method="earliest start")


def _duration(problem: ShiftProblem, name: str) -> int:
    return next(b.duration for b in problem.batches if b.name == name)


def load_profile_kw(problem: ShiftProblem, schedule: Schedule) -> np.ndarray:
    """Total site kW in each slot under the schedule."""
    load = np.asarray(problem.base_load_kw, dtype=float).copy()
    for batch in problem.batches:
        start = schedule.starts[batch.name]
        load[start : start + batch.duration] += batch.power_kw
    if schedule.chiller_kw is not None:
        load += schedule.chiller_kw
    return load


def store_levels(problem: ShiftProblem, chiller_kw: np.ndarray) -> np.ndarray:
    """Store content (kWh) at the end of each slot, starting empty."""
    store = problem.store
    assert store is not None
    level, levels = 0.0, []
    for made, needed in zip(chiller_kw, store.cooling_demand_kw, strict=True):
        level = level * (1 - store.loss_per_slot) + (made - needed) * problem.slot_hours
        levels.append(level)
    return np.array(levels)


def violations(problem: ShiftProblem, schedule: Schedule, tolerance: float = 1e-6) -> list[str]:
    """Every way the schedule breaks the problem's rules; empty when it is feasible."""
    problems: list[str] = []
    for batch in problem.batches:
        start = schedule.starts[batch.name]
        if start < batch.earliest_start:
            problems.append(f"{batch.name} starts at {start} before its release")
        if start + batch.duration > problem.deadline(batch):
            problems.append(f"{batch.name} ends at {start + batch.duration} after its deadline")
        for name in batch.after:
            if start < schedule.starts[name] + _duration(problem, name):
                problems.append(f"{batch.name} starts before {name} has finished")
    if problem.store is not None and schedule.chiller_kw is not None:
        levels = store_levels(problem, schedule.chiller_kw)
        if levels.min() < -tolerance:
            problems.append(f"store runs dry ({levels.min():.3f} kWh)")
        if levels.max() > problem.store.capacity_kwh + tolerance:
            problems.append(f"store overfilled ({levels.max():.3f} kWh)")
        if schedule.chiller_kw.max() > problem.store.chiller_max_kw + tolerance:
            problems.append("chiller above its rating")
        if schedule.chiller_kw.min() < -tolerance:
            problems.append("chiller power negative")
    return problems


@dataclass(frozen=True)
class ScheduleCost:
    energy: float
    demand: float
    peak_kw: float

    @property
    def total(self) -> float:
        return self.energy + self.demand


def schedule_cost(problem: ShiftProblem, schedule: Schedule) -> ScheduleCost:
    load = load_profile_kw(problem, schedule)
    energy = float(np.sum(load * problem.prices()) * problem.slot_hours)
    peak = max(float(load.max()), problem.existing_peak_kw)
    return ScheduleCost(energy, peak * problem.tariff.demand_charge_per_kw_month, peak)
