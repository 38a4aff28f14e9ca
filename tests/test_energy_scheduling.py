"""The load scheduler: MILP against brute force, rules respected, store limits, fallback."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from analytics.energy.schedule_demo import demo_problem
from analytics.energy.schedule_greedy import greedy_schedule
from analytics.energy.schedule_milp import milp_schedule
from analytics.energy.shiftable_loads import (
    Batch,
    Schedule,
    ShiftProblem,
    ThermalStore,
    earliest_schedule,
    schedule_cost,
    store_levels,
    violations,
)
from analytics.energy.tariff import Tariff

HOURLY = Tariff.from_mapping(
    {
        "name": "three-rate",
        "demand_charge_per_kw_month": 2.0,
        "periods": {
            "valley": {"price": 0.3, "hours": ["00:00-06:00", "22:00-24:00"]},
            "peak": {"price": 1.2, "hours": ["08:00-12:00", "17:00-21:00"]},
            "flat": {"price": 0.7, "hours": ["06:00-08:00", "12:00-17:00", "21:00-22:00"]},
        },
    }
)


def small_problem(store: ThermalStore | None = None) -> ShiftProblem:
    """20 hourly slots from 04:00; three batches, one following another, one with a deadline."""
    base = tuple(20.0 + (30.0 if 4 <= t < 14 else 0.0) for t in range(20))
    return ShiftProblem(
        start=pd.Timestamp("2024-07-01 04:00"),
        slot_minutes=60,
        base_load_kw=base,
        batches=(
            Batch("melt", duration=3, power_kw=40.0, earliest_start=1),
            Batch("cast", duration=2, power_kw=25.0, after=("melt",), deadline=12),
            Batch("dry", duration=4, power_kw=15.0, earliest_start=3, deadline=16),
        ),
        tariff=HOURLY,
        store=store,
    )


def brute_force_best(problem: ShiftProblem) -> float:
    ranges = [range(problem.slots - b.duration + 1) for b in problem.batches]
    best = np.inf
    for starts in itertools.product(*ranges):
        schedule = Schedule(dict(zip([b.name for b in problem.batches], starts, strict=True)))
        if not violations(problem, schedule):
            best = min(best, schedule_cost(problem, schedule).total)
    return best


def test_milp_matches_brute_force_optimum() -> None:
    problem = small_problem()
    schedule = milp_schedule(problem)
    assert schedule.method == "MILP (HiGHS)"
    assert violations(problem, schedule) == []
    assert schedule_cost(problem, schedule).total == pytest.approx(brute_force_best(problem))


def test_milp_beats_or_equals_greedy_and_earliest() -> None:
    problem = small_problem()
    optimal = schedule_cost(problem, milp_schedule(problem)).total
    greedy = greedy_schedule(problem)
    assert violations(problem, greedy) == []
    assert optimal <= schedule_cost(problem, greedy).total + 1e-6
    assert optimal < schedule_cost(problem, earliest_schedule(problem)).total


def test_precedence_and_deadlines_hold_on_the_demo() -> None:
    problem = demo_problem()
    schedule = milp_schedule(problem)
    starts = schedule.starts
    assert starts["pickling"] >= starts["annealing-1"] + 12
    assert starts["pickling"] + 8 <= 88  # done by 22:00
    assert starts["regrind"] + 6 <= 72  # done by 18:00
    assert violations(problem, schedule) == []


def test_store_stays_within_capacity_and_never_runs_dry() -> None:
    cooling = tuple(30.0 if 4 <= t < 14 else 5.0 for t in range(20))
    store = ThermalStore(
        capacity_kwh=50.0, chiller_max_kw=40.0, cooling_demand_kw=cooling, loss_per_slot=0.02
    )
    problem = small_problem(store)
    for schedule in (milp_schedule(problem), greedy_schedule(problem)):
        levels = store_levels(problem, schedule.chiller_kw)
        assert levels.max() <= 50.0 + 1e-6
        assert levels.min() >= -1e-6
        assert levels.max() > 10.0  # the store is actually used
        assert violations(problem, schedule) == []
    without_store = schedule_cost(problem, earliest_schedule(problem)).total
    assert schedule_cost(problem, milp_schedule(problem)).total < without_store


def test_impossible_time_limit_falls_back_to_a_feasible_greedy_schedule() -> None:
    problem = demo_problem()
    schedule = milp_schedule(problem, time_limit=0.0)
    assert schedule.method == "greedy (fallback)"
    assert "no feasible point" in schedule.notes[0]
    assert violations(problem, schedule) == []
    assert (
        schedule_cost(problem, schedule).total
        < schedule_cost(problem, earliest_schedule(problem)).total
    )


def test_infeasible_deadline_is_refused() -> None:
    problem = ShiftProblem(
        start=pd.Timestamp("2024-07-01"),
        slot_minutes=60,
        base_load_kw=(0.0,) * 6,
        batches=(Batch("a", 4, 1.0), Batch("b", 3, 1.0, after=("a",))),
        tariff=HOURLY,
    )
    with pytest.raises(ValueError, match="cannot meet"):
        milp_schedule(problem)
    with pytest.raises(ValueError, match="cannot meet"):
        greedy_schedule(problem)
