"""The fallback scheduler: each batch into its cheapest feasible start, then the store.

Batches go in precedence order; each takes the start (between its ready time and its
latest start, see ``ShiftProblem.latest_starts``) that adds the least cost, demand charge
included, given what is already placed. Bounding every start by the latest start keeps
all successors feasible, so the greedy schedule is always feasible when any schedule is.
The store is then filled by moving chiller energy from dear slots to earlier cheap ones
while that lowers the total cost and the store stays within its capacity.
"""

from __future__ import annotations

import numpy as np

from analytics.energy.shiftable_loads import (
    Schedule,
    ShiftProblem,
    schedule_cost,
    store_levels,
)


def greedy_schedule(problem: ShiftProblem) -> Schedule:
    prices = problem.prices()
    rate = problem.tariff.demand_charge_per_kw_month
    latest = problem.latest_starts()
    load = np.asarray(problem.base_load_kw, dtype=float).copy()
    if problem.store is not None:
        load += np.asarray(problem.store.cooling_demand_kw, dtype=float)
    starts: dict[str, int] = {}
    durations = {b.name: b.duration for b in problem.batches}
    for batch in problem.ordered_batches():
        ready = max([batch.earliest_start, *(starts[n] + durations[n] for n in batch.after)])
        if ready > latest[batch.name]:
            raise ValueError(f"batch {batch.name} cannot meet its deadline")
        peak_now = max(float(load.max()), problem.existing_peak_kw)
        best_start, best_cost = ready, np.inf
        for start in range(ready, latest[batch.name] + 1):
            span = slice(start, start + batch.duration)
            energy = batch.power_kw * problem.slot_hours * prices[span].sum()
            new_peak = max(peak_now, float((load[span] + batch.power_kw).max()))
            added = energy + (new_peak - peak_now) * rate
            if added < best_cost - 1e-9:
                best_start, best_cost = start, added
        starts[batch.name] = best_start
        load[best_start : best_start + batch.duration] += batch.power_kw
    chiller = None
    if problem.store is not None:
        chiller = np.asarray(problem.store.cooling_demand_kw, dtype=float).copy()
    schedule = Schedule(starts, chiller, method="greedy")
    if chiller is not None:
        _fill_store(problem, schedule)
    return schedule


def _fill_store(problem: ShiftProblem, schedule: Schedule) -> None:
    """Shift chiller kWh from each dear slot j to cheaper earlier slots i, dearest first."""
    store = problem.store
    assert store is not None and schedule.chiller_kw is not None
    prices, dt, keep = problem.prices(), problem.slot_hours, 1 - store.loss_per_slot
    chiller = schedule.chiller_kw
    for j in np.argsort(-prices, kind="stable"):
        for i in np.argsort(prices, kind="stable"):
            if i >= j or chiller[j] <= 1e-9:
                continue
            survive = keep ** (j - i)  # share of a kWh made in slot i still there in slot j
            if prices[i] / survive >= prices[j]:
                continue
            levels = store_levels(problem, chiller)
            # Energy charged in slot i raises every level from i to j-1 by its decayed share.
            decay = keep ** np.arange(j - i)
            headroom = np.min((store.capacity_kwh - levels[i:j]) / decay)
            made = min(
                headroom / dt,
                store.chiller_max_kw - chiller[i],
                chiller[j] / survive,
            )
            if made <= 1e-9:
                continue
            before = schedule_cost(problem, schedule).total
            chiller[i] += made
            chiller[j] -= made * survive
            if schedule_cost(problem, schedule).total > before - 1e-9:
                chiller[i] -= made
                chiller[j] += made * survive
    schedule.chiller_kw = np.clip(chiller, 0, None)
