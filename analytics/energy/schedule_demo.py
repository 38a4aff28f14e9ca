"""The documented demo case for ``mingzhou energy optimise --demo``.

A small steel finishing shop for one working day on 15-minute slots and the default
Zhejiang-style tariff: 150 kW of plant that never stops, 200 kW more on the day shift,
four batches (two annealing runs, pickling that must follow the first, a regrind job) and
a chilled-water store that lets the process chiller run in the valley hours. Releases and
deadlines are the shift planner's: nothing may start before the crew that loads it.
"""

from __future__ import annotations

import pandas as pd

from analytics.energy.shiftable_loads import Batch, ShiftProblem, ThermalStore
from analytics.energy.tariff import Tariff, default_tariff

SLOT_MINUTES = 15
SLOTS = 96


def _slot(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return (int(hours) * 60 + int(minutes)) // SLOT_MINUTES


def demo_problem(tariff: Tariff | None = None) -> ShiftProblem:
    day_shift = range(_slot("08:00"), _slot("20:00"))
    base = tuple(150.0 + (200.0 if t in day_shift else 0.0) for t in range(SLOTS))
    cooling = tuple(80.0 if t in day_shift else 30.0 for t in range(SLOTS))
    batches = (
        Batch("annealing-1", duration=12, power_kw=400.0, earliest_start=_slot("06:00")),
        Batch(
            "pickling",
            duration=8,
            power_kw=250.0,
            earliest_start=_slot("06:00"),
            deadline=_slot("22:00"),
            after=("annealing-1",),
        ),
        Batch("annealing-2", duration=12, power_kw=400.0, earliest_start=_slot("08:00")),
        Batch(
            "regrind",
            duration=6,
            power_kw=150.0,
            earliest_start=_slot("08:00"),
            deadline=_slot("18:00"),
        ),
    )
    store = ThermalStore(
        capacity_kwh=600.0, chiller_max_kw=150.0, cooling_demand_kw=cooling, loss_per_slot=0.005
    )
    return ShiftProblem(
        start=pd.Timestamp("2024-07-01 00:00"),
        slot_minutes=SLOT_MINUTES,
        base_load_kw=base,
        batches=batches,
        tariff=tariff or default_tariff(),
        store=store,
    )
