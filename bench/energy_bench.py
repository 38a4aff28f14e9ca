"""Energy analytics: baseline fit time against data length, scheduler solve time and cost
against the number of batches (MILP vs greedy), and the full steel baseline figures."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from analytics.energy.baseline import LaggedBaseline, evaluate_baseline, hourly_kwh
from analytics.energy.holiday_calendars import KOREA_2018
from analytics.energy.meter_data import read_steel_csv
from analytics.energy.schedule_greedy import greedy_schedule
from analytics.energy.schedule_milp import milp_schedule
from analytics.energy.shiftable_loads import Batch, ShiftProblem, schedule_cost, violations
from analytics.energy.tariff import default_tariff
from bench import energy_job_bench
from bench.timing import best_of

STEEL = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "data"
    / "steel_energy"
    / "Steel_industry_data.csv"
)
SPLIT = pd.Timestamp("2018-07-01")


def random_problem(batches: int, seed: int = 1) -> ShiftProblem:
    """A day in 15-minute slots with ``batches`` jobs, every third one after its predecessor."""
    rng = np.random.default_rng(seed)
    jobs = []
    for k in range(batches):
        duration = int(rng.integers(4, 13))
        release = int(rng.integers(0, 40))
        after = (f"job-{k - 1}",) if k % 3 == 2 else ()
        jobs.append(Batch(f"job-{k}", duration, float(rng.integers(50, 400)), release, None, after))
    base = tuple(200.0 + (150.0 if 32 <= t < 80 else 0.0) for t in range(96))
    return ShiftProblem(pd.Timestamp("2024-07-01"), 15, base, tuple(jobs), default_tariff())


def bench_baseline_fit() -> None:
    hourly = hourly_kwh(read_steel_csv(STEEL))
    print("baseline fit (lagged trees, one hour ahead) against training length:")
    for months in (1, 3, 6):
        train = hourly[hourly.index < pd.Timestamp("2018-01-01") + pd.DateOffset(months=months)]
        seconds = best_of(3, lambda t=train: LaggedBaseline("hour", KOREA_2018).fit(t))
        print(f"  {months} month(s), {len(train):>5} hours: {seconds * 1000:8.0f} ms")


def bench_scheduler() -> None:
    print("scheduler, one day of 15-minute slots, MILP time limit 20 s:")
    header = f"  {'batches':>7} {'MILP s':>8} {'MILP cost':>11} {'greedy s':>9} {'greedy cost':>12}"
    print(header + "  method")
    for batches in (2, 4, 8, 16):
        problem = random_problem(batches)
        started = time.perf_counter()
        optimal = milp_schedule(problem, time_limit=20.0)
        milp_seconds = time.perf_counter() - started
        started = time.perf_counter()
        greedy = greedy_schedule(problem)
        greedy_seconds = time.perf_counter() - started
        assert not violations(problem, optimal) and not violations(problem, greedy)
        milp_cost = schedule_cost(problem, optimal).total
        greedy_cost = schedule_cost(problem, greedy).total
        note = f" ({optimal.notes[0]})" if optimal.notes else ""
        print(
            f"  {batches:>7} {milp_seconds:>8.2f} {milp_cost:>11,.0f}"
            f" {greedy_seconds:>9.3f} {greedy_cost:>12,.0f}  {optimal.method}{note}"
        )


def bench_steel_baseline() -> None:
    frame = read_steel_csv(STEEL)
    started = time.perf_counter()
    result = evaluate_baseline(frame[frame.index < SPLIT], frame[frame.index >= SPLIT], KOREA_2018)
    seconds = time.perf_counter() - started
    print(f"steel baseline, fit Jan-Jun 2018, scored Jul-Sep ({seconds:.1f} s):")
    print("  " + json.dumps(result.as_json()))


def main() -> None:
    print("energy")
    bench_baseline_fit()
    bench_scheduler()
    bench_steel_baseline()
    energy_job_bench.main()


if __name__ == "__main__":
    main()
