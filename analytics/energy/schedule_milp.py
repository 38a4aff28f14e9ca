"""Cost-optimal shiftable-load schedule as a MILP solved by HiGHS (``scipy.optimize.milp``).

Variables: x[b, s] = 1 when batch b starts in slot s (only starts that respect its release,
deadline and the deadlines of its successors); chiller kW and store level per slot; the
peak kW. One row per batch (start once), per precedence pair (start after predecessor
ends), per slot (load ≤ peak) and per slot (store balance). Time-indexed binaries make
the load of every slot linear in x, which is what lets the demand charge be exact.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_array

from analytics.energy.schedule_greedy import greedy_schedule
from analytics.energy.shiftable_loads import Schedule, ShiftProblem, earliest_schedule


def _start_windows(problem: ShiftProblem) -> dict[str, range]:
    earliest = earliest_schedule(problem).starts
    latest = problem.latest_starts()
    windows = {}
    for batch in problem.batches:
        if earliest[batch.name] > latest[batch.name]:
            raise ValueError(f"batch {batch.name} cannot meet its deadline (or a successor's)")
        windows[batch.name] = range(earliest[batch.name], latest[batch.name] + 1)
    return windows


def milp_schedule(problem: ShiftProblem, time_limit: float = 10.0) -> Schedule:
    """Optimal (or best found within ``time_limit`` s) schedule; when HiGHS returns no
    feasible point in time, the greedy heuristic's schedule, marked as such."""
    windows = _start_windows(problem)
    slots, dt = problem.slots, problem.slot_hours
    prices = problem.prices()
    columns: list[tuple[str, int]] = [(b.name, s) for b in problem.batches for s in windows[b.name]]
    n_x = len(columns)
    has_store = problem.store is not None
    chiller0 = n_x
    level0 = chiller0 + (slots if has_store else 0)
    peak = level0 + (slots if has_store else 0)
    n = peak + 1
    power = {b.name: b.power_kw for b in problem.batches}
    duration = {b.name: b.duration for b in problem.batches}

    cost = np.zeros(n)
    for k, (name, s) in enumerate(columns):
        cost[k] = power[name] * dt * prices[s : s + duration[name]].sum()
    cost[peak] = problem.tariff.demand_charge_per_kw_month

    rows, cols, vals, lower, upper = [], [], [], [], []
    row = 0

    def add(entries: list[tuple[int, float]], low: float, high: float) -> None:
        nonlocal row
        for col, val in entries:
            rows.append(row)
            cols.append(col)
            vals.append(val)
        lower.append(low)
        upper.append(high)
        row += 1

    index_of = {col: k for k, col in enumerate(columns)}
    for batch in problem.batches:
        add([(index_of[(batch.name, s)], 1.0) for s in windows[batch.name]], 1.0, 1.0)
        for name in batch.after:
            entries = [(index_of[(batch.name, s)], float(s)) for s in windows[batch.name]]
            entries += [(index_of[(name, s)], -float(s)) for s in windows[name]]
            add(entries, float(duration[name]), np.inf)
    base = np.asarray(problem.base_load_kw, dtype=float)
    for t in range(slots):
        entries = [
            (k, power[name]) for k, (name, s) in enumerate(columns) if s <= t < s + duration[name]
        ]
        if has_store:
            entries.append((chiller0 + t, 1.0))
        entries.append((peak, -1.0))
        add(entries, -np.inf, -base[t])
    if has_store:
        store = problem.store
        keep = 1 - store.loss_per_slot
        for t in range(slots):
            entries = [(level0 + t, 1.0), (chiller0 + t, -dt)]
            if t > 0:
                entries.append((level0 + t - 1, -keep))
            demand = store.cooling_demand_kw[t] * dt
            add(entries, -demand, -demand)
        cost[chiller0 : chiller0 + slots] = prices * dt

    low_bounds = np.zeros(n)
    high_bounds = np.full(n, np.inf)
    high_bounds[:n_x] = 1.0
    if has_store:
        high_bounds[chiller0 : chiller0 + slots] = problem.store.chiller_max_kw
        high_bounds[level0 : level0 + slots] = problem.store.capacity_kwh
    low_bounds[peak] = problem.existing_peak_kw
    integrality = np.zeros(n)
    integrality[:n_x] = 1
    matrix = coo_array((vals, (rows, cols)), shape=(row, n)).tocsr()
    result = milp(
        cost,
        constraints=LinearConstraint(matrix, lower, upper),
        integrality=integrality,
        bounds=Bounds(low_bounds, high_bounds),
        options={"time_limit": time_limit, "disp": False},
    )
    if result.x is None:
        fallback = greedy_schedule(problem)
        fallback.method = "greedy (fallback)"
        fallback.notes.append(f"MILP gave no feasible point: {result.message}")
        return fallback
    x = result.x
    starts = {name: s for k, (name, s) in enumerate(columns) if x[k] > 0.5}
    chiller = np.clip(x[chiller0 : chiller0 + slots], 0, None) if has_store else None
    schedule = Schedule(starts, chiller, method="MILP (HiGHS)")
    if result.status != 0:
        schedule.notes.append(f"stopped early, best found: {result.message}")
    return schedule
