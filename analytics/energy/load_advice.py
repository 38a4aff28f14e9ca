"""Advice for the next day: when to run the loads a plant may move, at least cost.

Only loads someone configured are scheduled; nothing is guessed. A load is configured
by giving its asset the attribute ``shiftable_load`` (``PATCH
/api/tenants/{key}/assets/...``), one object or a list of them::

    {"power_kw": 45, "duration_min": 120, "earliest": "06:00", "latest_end": "22:00",
     "after": ["IMM-01"], "name": "IMM-02 regrind"}

``earliest`` and ``latest_end`` are the site's local clock on quarter hours (the load
may start at ``earliest`` and must have finished by ``latest_end``); ``after`` names loads
that must finish first (a load's name defaults to its asset's key, ``KEY#2`` for the
second of a list).

The day is cut into 15-minute slots. The load that does not move is the site's
expectation for each hour of that day of the week (a time-of-week mean of the metered
days before), less each shiftable load's own time-of-week mean where its asset has a
power tag, so a load that already runs every day is not counted twice. The month's peak
so far (from the range analysed) is passed as the existing peak, so the demand charge is
only charged for raising it. The schedule is the MILP's (``schedule_milp``), compared
with running every load as early as allowed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from analytics.energy.baseline import TimeOfWeekBaseline, hourly_kwh
from analytics.energy.historian_source import energy_from_power
from analytics.energy.kpis import demand_series
from analytics.energy.schedule_milp import milp_schedule
from analytics.energy.shiftable_loads import (
    Batch,
    ShiftProblem,
    earliest_schedule,
    schedule_cost,
    violations,
)
from analytics.energy.tariff import Tariff
from cloud.plant_energy import site_frame
from cloud.plant_model_view import PlantAsset, PlantSite, machine_power
from historian import Historian

ATTRIBUTE = "shiftable_load"
SLOT_MINUTES = 15
SLOTS = 24 * 60 // SLOT_MINUTES
DAY_NS = 86_400 * 1_000_000_000
HOW_TO = (
    "no shiftable load is configured at this site: give an asset the attribute"
    ' shiftable_load, e.g. {"power_kw": 45, "duration_min": 120, "earliest": "06:00",'
    ' "latest_end": "22:00"}, to get a schedule'
)


def _slot_of(text: str) -> int:
    hours, _, minutes = text.partition(":")
    if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        raise ValueError(f"expected a local time HH:MM, got {text!r}")
    value = int(hours) * 60 + int(minutes)
    if value > 24 * 60 or int(minutes) >= 60:
        raise ValueError(f"{text!r} is not a time between 00:00 and 24:00")
    if value % SLOT_MINUTES:
        raise ValueError(f"{text!r} is not on a quarter hour (HH:00, HH:15, HH:30 or HH:45)")
    return value // SLOT_MINUTES


class ShiftableLoad(BaseModel):
    """One configured load (the asset attribute's shape)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=100)
    power_kw: float = Field(gt=0, le=1_000_000)
    duration_min: int = Field(gt=0, le=24 * 60)
    earliest: str = "00:00"
    latest_end: str = "24:00"
    after: list[str] = Field(default_factory=list)

    @field_validator("earliest", "latest_end")
    @classmethod
    def _clock(cls, value: str) -> str:
        _slot_of(value)
        return value

    @property
    def slots(self) -> int:
        # A load runs whole slots: 50 minutes takes four quarter hours.
        return math.ceil(self.duration_min / SLOT_MINUTES)


@dataclass(frozen=True)
class ConfiguredLoad:
    name: str
    asset: PlantAsset
    spec: ShiftableLoad


def configured_loads(site: PlantSite) -> tuple[list[ConfiguredLoad], list[str]]:
    """The site's configured loads, and one line per configuration that is wrong."""
    loads: list[ConfiguredLoad] = []
    errors: list[str] = []
    for line in site.lines:
        for asset in line.assets:
            raw = asset.attributes.get(ATTRIBUTE)
            if raw is None:
                continue
            where = f"{line.key}/{asset.key}: {ATTRIBUTE}"
            items = raw if isinstance(raw, list) else [raw]
            for i, item in enumerate(items):
                at = f"{where}[{i}]" if isinstance(raw, list) else where
                try:
                    spec = ShiftableLoad.model_validate(item)
                except ValidationError as exc:
                    for error in exc.errors(include_url=False):
                        field = ".".join(str(p) for p in error["loc"])
                        errors.append(f"{at}{'.' + field if field else ''}: {error['msg']}")
                    continue
                default = f"{asset.key}#{i + 1}" if i else asset.key
                loads.append(ConfiguredLoad(spec.name or default, asset, spec))
    names = [load.name for load in loads]
    for name in sorted({n for n in names if names.count(n) > 1}):
        errors.append(f"two shiftable loads are named {name!r}: give each a name of its own")
    return loads, errors


def next_day_start(end_ns: int, timezone: str) -> pd.Timestamp:
    """The first local midnight at or after ``end_ns`` (naive local): the day advised."""
    local = pd.Timestamp(end_ns, unit="ns", tz="UTC").tz_convert(timezone).tz_localize(None)
    return local if local == local.normalize() else local.normalize() + pd.Timedelta(days=1)


def _hour_of_week_kw(hourly: pd.Series, hours: pd.DatetimeIndex) -> pd.Series:
    """Expected kWh (= mean kW) for ``hours`` from a time-of-week mean of ``hourly``."""
    return TimeOfWeekBaseline().fit(hourly).predict(hours)


def _base_load(
    historian: Historian,
    site: PlantSite,
    loads: list[ConfiguredLoad],
    end_ns: int,
    timezone: str,
    day: pd.Timestamp,
    baseline_days: int,
) -> tuple[list[float], dict]:
    start_ns = end_ns - baseline_days * DAY_NS
    frame, _, _ = site_frame(historian, site, start_ns, end_ns, timezone, "1h")
    history = hourly_kwh(frame) if not frame.empty else pd.Series(dtype=float)
    hours = pd.date_range(day, periods=24, freq="h")
    info: dict = {
        "source": f"time-of-week mean of the site's metered hours in the {baseline_days} days"
        " before",
        "history_hours": len(history),
        "subtracted": [],
        "not_subtracted": [],
    }
    if history.empty:
        info["note"] = "no metered history: the base load is taken as 0 kW"
        return [0.0] * SLOTS, info
    base = _hour_of_week_kw(history, hours)
    seen: set[tuple[str, str]] = set()
    for load in loads:
        asset = load.asset
        if (asset.line, asset.key) in seen:
            continue
        seen.add((asset.line, asset.key))
        power = machine_power(asset)
        own = None
        if power is not None:
            own = energy_from_power(historian, power, start_ns, end_ns, "1h", timezone)
        if own is None or own.empty:
            # Its consumption (if it ran) stays in the base: the peak after is overstated.
            info["not_subtracted"].append(asset.key)
            continue
        base = base - _hour_of_week_kw(own, hours)
        info["subtracted"].append(asset.key)
    kw = [max(0.0, float(v)) for v in base.to_numpy()]
    info["peak_kw"] = round(max(kw), 3)
    info["mean_kw"] = round(sum(kw) / len(kw), 3)
    return [v for v in kw for _ in range(60 // SLOT_MINUTES)], info


def month_peak_kw(frame: pd.DataFrame, month: pd.Period) -> float:
    """Highest 15-minute demand of ``frame`` in ``month`` (0 without data there)."""
    if len(frame) < 2:
        return 0.0
    demand = demand_series(frame, "15min").dropna()
    inside = demand[demand.index.to_period("M") == month]
    return float(inside.max()) if len(inside) else 0.0


def _clock(day: pd.Timestamp, slot: int) -> str:
    return (day + pd.Timedelta(minutes=SLOT_MINUTES * slot)).isoformat()


def next_day_advice(
    historian: Historian,
    site: PlantSite,
    frame: pd.DataFrame,
    end_ns: int,
    timezone: str,
    tariff: Tariff,
    *,
    baseline_days: int = 28,
    time_limit_s: float = 5.0,
) -> dict:
    """The schedule for the day after the range (``frame``: the range's 15-min kWh)."""
    day = next_day_start(end_ns, timezone)
    loads, errors = configured_loads(site)
    advice: dict = {"day": day.date().isoformat(), "configured": bool(loads or errors)}
    if errors:
        advice["errors"] = errors
    if not loads:
        advice["note"] = HOW_TO if not errors else "no valid shiftable load to schedule"
        return advice
    base, info = _base_load(historian, site, loads, end_ns, timezone, day, baseline_days)
    batches = tuple(
        Batch(
            load.name,
            load.spec.slots,
            load.spec.power_kw,
            earliest_start=_slot_of(load.spec.earliest),
            deadline=_slot_of(load.spec.latest_end),
            after=tuple(load.spec.after),
        )
        for load in loads
    )
    existing = month_peak_kw(frame, day.to_period("M"))
    problem = ShiftProblem(day, SLOT_MINUTES, tuple(base), batches, tariff, None, existing)
    try:
        before = earliest_schedule(problem)
        after = milp_schedule(problem, time_limit=time_limit_s)
    except ValueError as exc:  # a cycle, an unknown predecessor, a deadline no start meets
        advice["errors"] = [*errors, str(exc)]
        advice["note"] = "the configured loads cannot be scheduled as configured"
        return advice
    broken = violations(problem, after)
    if broken:  # never expected: the solver's answer is checked, not trusted
        advice["errors"] = [*errors, *broken]
        advice["note"] = "the optimiser's schedule broke a rule; no advice given"
        return advice
    cost_before, cost_after = schedule_cost(problem, before), schedule_cost(problem, after)
    advice.update(
        {
            "currency": tariff.currency,
            "method": after.method,
            "notes": after.notes,
            "loads": [
                {
                    "name": load.name,
                    "line": load.asset.line,
                    "asset": load.asset.key,
                    "power_kw": load.spec.power_kw,
                    "duration_min": load.spec.slots * SLOT_MINUTES,
                    "window": [load.spec.earliest, load.spec.latest_end],
                    "after": load.spec.after,
                    "start_if_earliest": _clock(day, before.starts[load.name]),
                    "advised_start": _clock(day, after.starts[load.name]),
                    "advised_end": _clock(day, after.starts[load.name] + load.spec.slots),
                }
                for load in loads
            ],
            "existing_peak_kw": round(existing, 3),
            "base_load": info,
            # The whole day's expected cost (base load included), demand charge included.
            "day_cost_before": round(cost_before.total, 2),
            "day_cost_after": round(cost_after.total, 2),
            "saving": round(cost_before.total - cost_after.total, 2),
            "day_energy_cost_before": round(cost_before.energy, 2),
            "day_energy_cost_after": round(cost_after.energy, 2),
            "peak_kw_before": round(cost_before.peak_kw, 3),
            "peak_kw_after": round(cost_after.peak_kw, 3),
        }
    )
    return advice
