"""Planned output: units per shift, or units per planned hour.

A plan is spread over the calendar's planned production time (shift time minus breaks),
so an hour, a partial shift or a month gets its share: a shift planned for 840 units
with 7 working hours expects 120 units in each of its working hours and none in a break.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from analytics.production.shift_calendar import NS_PER_S, ShiftCalendar


def _check_quantity(what: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what} must be a number of units, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{what} must be a finite number >= 0, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class ProductionPlan:
    """Exactly one of: ``per_shift`` (shift name -> units for a whole shift) or
    ``per_hour`` (units per hour of planned production time)."""

    per_shift: Mapping[str, float] | None = None
    per_hour: float | None = None

    def __post_init__(self) -> None:
        if (self.per_shift is None) == (self.per_hour is None):
            raise ValueError("a production plan needs exactly one of per_shift and per_hour")
        if self.per_shift is not None:
            checked = {
                str(name): _check_quantity(f"plan per_shift[{name!r}]", units)
                for name, units in self.per_shift.items()
            }
            object.__setattr__(self, "per_shift", checked)
        else:
            object.__setattr__(self, "per_hour", _check_quantity("plan per_hour", self.per_hour))

    def planned_quantity(self, calendar: ShiftCalendar, start_ns: int, end_ns: int) -> float:
        """Units planned in [start_ns, end_ns): each overlapping shift's plan in proportion
        to its planned production time inside the range."""
        total = 0.0
        for inst in calendar.instances(start_ns, end_ns):
            inside = inst.planned_production_ns(start_ns, end_ns)
            if inside <= 0:
                continue
            if self.per_hour is not None:
                total += self.per_hour * inside / (3600 * NS_PER_S)
                continue
            assert self.per_shift is not None
            if inst.shift not in self.per_shift:
                raise ValueError(
                    f"the plan has no quantity for shift {inst.shift!r}"
                    f" (it has {sorted(self.per_shift)}); give 0 for a shift without output"
                )
            whole = inst.planned_production_ns(inst.start_ns, inst.end_ns)
            if whole <= 0:  # a shift that is one long break plans nothing
                continue
            total += self.per_shift[inst.shift] * inside / whole
        return total
