"""ISO 22400-2 production KPIs of an asset for a period, and their roll-up to lines and
sites. Definitions, units and the handling of gaps, resets and partial periods are in
README.md beside this module.

A ``ProductionKpis`` holds the additive quantities (times in seconds, unit counts, the
ideal production time PRI × PQ, kWh); every ratio is a property computed from them. A
roll-up therefore sums the quantities and recomputes the ratios: a line's availability
is ΣAPT / ΣPBT, never the mean of its machines' availabilities.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain, pairwise
from typing import Any, Literal
from zoneinfo import ZoneInfo

import numpy as np

from analytics.production.asset_history import STOP_CATEGORY, AssetHistory, TimeClass
from analytics.production.production_plan import ProductionPlan
from analytics.production.shift_calendar import NS_PER_S, Period, from_ns

Scope = Literal["asset", "line", "site"]
# The stop categories that are unplanned downtime (the Pareto's content).
DOWNTIME_CATEGORIES = ("down", "idle")


@dataclass(frozen=True, slots=True)
class StopReason:
    """Time lost to one reason: ``category`` is down, idle, planned_stop, break or
    unknown; ``count`` is how many stops of it began in the period."""

    category: str
    reason: str
    duration_s: float
    count: int


@dataclass(frozen=True, slots=True)
class ParetoBar:
    """One bar of a downtime Pareto, with the cumulative share up to and including it."""

    category: str
    reason: str
    duration_s: float
    count: int
    cumulative_share: float


@dataclass(frozen=True)
class CycleTimes:
    """Completed cycle times (s) in a period, and the ideal cycle time if one is known."""

    values_s: tuple[float, ...]
    ideal_s: float | None = None

    @property
    def n(self) -> int:
        return len(self.values_s)

    def _stat(self, fn: Any) -> float | None:
        return float(fn(np.asarray(self.values_s))) if self.values_s else None

    @property
    def mean_s(self) -> float | None:
        return self._stat(np.mean)

    @property
    def median_s(self) -> float | None:
        return self._stat(np.median)

    @property
    def p90_s(self) -> float | None:
        return self._stat(lambda a: np.percentile(a, 90))

    @property
    def min_s(self) -> float | None:
        return self._stat(np.min)

    @property
    def max_s(self) -> float | None:
        return self._stat(np.max)

    def histogram(self, bins: int | Sequence[float] = 20) -> tuple[list[float], list[int]]:
        """Bin edges (len n+1) and counts (len n), via numpy.histogram; empty without data."""
        if not self.values_s:
            return [], []
        counts, edges = np.histogram(np.asarray(self.values_s), bins=bins)
        return [float(e) for e in edges], [int(c) for c in counts]


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator > 0 else None


@dataclass(frozen=True)
class ProductionKpis:
    """KPIs of one asset, line or site over one period.

    Times are seconds; quantities are units. ISO 22400-2 names: POT planned operation
    time, PDOT planned down time (breaks + planned stops), PBT planned busy time, APT
    actual production time, ADET actual unit delay time (machine down), ADOT actual unit
    down time (idle: waiting, blocked, starved), PQ produced quantity, SQ scrap quantity,
    GQ good quantity, PRI planned run time per item.
    """

    scope: Scope
    key: str
    name: str
    period: Period
    timezone: str
    pot_s: float
    planned_break_s: float
    planned_stop_s: float
    apt_s: float
    apt_unscheduled_s: float
    adet_s: float
    adot_s: float
    unknown_s: float
    pq: float
    sq: float
    pq_across_gaps: float
    ideal_time_s: float | None  # Σ PRI × PQ; None when some PRI is unknown
    energy_kwh: float | None
    output_quantity: float  # good units that count as this scope's output
    planned_quantity: float | None
    stops: tuple[StopReason, ...]
    cycle_times: CycleTimes | None
    notes: tuple[str, ...] = field(default_factory=tuple)

    # --- times -----------------------------------------------------------------------

    @property
    def pdot_s(self) -> float:
        return self.planned_break_s + self.planned_stop_s

    @property
    def pbt_s(self) -> float:
        return self.pot_s - self.pdot_s

    @property
    def downtime_s(self) -> float:
        """Unplanned downtime inside planned busy time: ADET + ADOT."""
        return self.adet_s + self.adot_s

    @property
    def data_coverage(self) -> float | None:
        """Share of planned busy time with usable state data."""
        return _ratio(self.pbt_s - self.unknown_s, self.pbt_s)

    # --- quantities ------------------------------------------------------------------

    @property
    def gq(self) -> float:
        return max(self.pq - self.sq, 0)

    # --- ratios (ISO 22400-2) --------------------------------------------------------

    @property
    def availability(self) -> float | None:
        """APT / PBT; None without planned busy time or without any data in it."""
        if self.pbt_s <= 0 or self.unknown_s >= self.pbt_s:
            return None
        return self.apt_s / self.pbt_s

    @property
    def effectiveness(self) -> float | None:
        """PRI × PQ / APT; None without APT or without a PRI for every asset."""
        if self.ideal_time_s is None:
            return None
        return _ratio(self.ideal_time_s, self.apt_s)

    @property
    def quality(self) -> float | None:
        """GQ / PQ; None when nothing was produced."""
        return _ratio(self.gq, self.pq)

    @property
    def oee(self) -> float | None:
        """A × E × Q; 0 when availability is 0 (nothing ran in planned busy time), where
        E and Q are undefined but the loss is total."""
        a, e, q = self.availability, self.effectiveness, self.quality
        if a is not None and e is not None and q is not None:
            return a * e * q
        if a == 0 and self.pq == 0:
            return 0.0
        return None

    @property
    def technical_efficiency(self) -> float | None:
        """APT / (APT + ADET)."""
        return _ratio(self.apt_s, self.apt_s + self.adet_s)

    @property
    def scrap_rate(self) -> float | None:
        """SQ / PQ."""
        return _ratio(self.sq, self.pq)

    @property
    def energy_per_unit_kwh(self) -> float | None:
        """kWh / PQ (not an ISO 22400-2 KPI; an energy performance indicator)."""
        if self.energy_kwh is None:
            return None
        return _ratio(self.energy_kwh, self.pq)

    @property
    def plan_attainment(self) -> float | None:
        """Output (good units) / planned units."""
        if self.planned_quantity is None:
            return None
        return _ratio(self.output_quantity, self.planned_quantity)

    def downtime_pareto(self) -> list[ParetoBar]:
        """Unplanned downtime by reason, longest first, with cumulative shares; the
        durations add up to ``downtime_s``."""
        stops = sorted(
            (s for s in self.stops if s.category in DOWNTIME_CATEGORIES and s.duration_s > 0),
            key=lambda s: (-s.duration_s, s.reason),
        )
        total = sum(s.duration_s for s in stops)
        bars, running = [], 0.0
        for s in stops:
            running += s.duration_s
            bars.append(ParetoBar(s.category, s.reason, s.duration_s, s.count, running / total))
        return bars

    @property
    def start_local(self) -> datetime:
        """The period's start in the site's time zone (for axes and labels)."""
        return from_ns(self.period.start_ns, ZoneInfo(self.timezone))

    def as_dict(self) -> dict[str, Any]:
        """Plain values for JSON (times in s, ratios 0..1 or None)."""
        cycle = self.cycle_times
        return {
            "scope": self.scope,
            "key": self.key,
            "name": self.name,
            "period": {
                "label": self.period.label,
                "start": self.start_local.isoformat(),
                "end_ns": self.period.end_ns,
                "start_ns": self.period.start_ns,
                "partial": self.period.partial,
            },
            "times_s": {
                "pot": self.pot_s,
                "pdot": self.pdot_s,
                "planned_break": self.planned_break_s,
                "planned_stop": self.planned_stop_s,
                "pbt": self.pbt_s,
                "apt": self.apt_s,
                "apt_unscheduled": self.apt_unscheduled_s,
                "adet": self.adet_s,
                "adot": self.adot_s,
                "downtime": self.downtime_s,
                "unknown": self.unknown_s,
            },
            "quantities": {
                "pq": self.pq,
                "sq": self.sq,
                "gq": self.gq,
                "pq_across_gaps": self.pq_across_gaps,
                "output": self.output_quantity,
                "planned": self.planned_quantity,
            },
            "kpis": {
                "availability": self.availability,
                "effectiveness": self.effectiveness,
                "quality": self.quality,
                "oee": self.oee,
                "technical_efficiency": self.technical_efficiency,
                "scrap_rate": self.scrap_rate,
                "data_coverage": self.data_coverage,
                "plan_attainment": self.plan_attainment,
                "energy_kwh": self.energy_kwh,
                "energy_per_unit_kwh": self.energy_per_unit_kwh,
            },
            "downtime_pareto": [
                {
                    "category": b.category,
                    "reason": b.reason,
                    "duration_s": b.duration_s,
                    "count": b.count,
                    "cumulative_share": b.cumulative_share,
                }
                for b in self.downtime_pareto()
            ],
            "cycle_times": None
            if cycle is None
            else {
                "n": cycle.n,
                "mean_s": cycle.mean_s,
                "median_s": cycle.median_s,
                "p90_s": cycle.p90_s,
                "ideal_s": cycle.ideal_s,
            },
            "notes": list(self.notes),
        }


def _seconds(ns: int) -> float:
    return ns / NS_PER_S


def asset_kpis(
    history: AssetHistory, period: Period | None = None, plan: ProductionPlan | None = None
) -> ProductionKpis:
    """KPIs of the asset in ``history`` for ``period`` (default: the whole history).

    ``plan`` gives planned_quantity (spread over the calendar's planned production time
    inside the period)."""
    signals = history.signals
    if period is None:
        period = Period("whole range", history.start_ns, history.end_ns)
    lo, hi = period.start_ns, period.end_ns
    if lo < history.start_ns or hi > history.end_ns or hi < lo:
        raise ValueError(
            f"period {period.label!r} [{lo}, {hi}) lies outside the history read for"
            f" {signals.asset} [{history.start_ns}, {history.end_ns})"
        )
    times = dict.fromkeys(TimeClass, 0)
    unscheduled_apt = 0
    stop_time: dict[tuple[str, str], int] = {}
    stop_count: dict[tuple[str, str], int] = {}
    for piece in history.pieces_in(lo, hi):
        duration = piece.end_ns - piece.start_ns
        times[piece.time_class] += duration
        if piece.time_class is TimeClass.APT:
            if not piece.scheduled:
                unscheduled_apt += duration
            continue
        key = (STOP_CATEGORY[piece.time_class], piece.reason)
        stop_time[key] = stop_time.get(key, 0) + duration
        stop_count[key] = stop_count.get(key, 0) + (1 if piece.first else 0)
    stops = tuple(
        StopReason(cat, reason, _seconds(ns), stop_count[(cat, reason)])
        for (cat, reason), ns in sorted(stop_time.items())
    )
    pot_ns = sum(times.values())

    notes: list[str] = list(history.notes)
    pq: float = 0
    across = 0.0
    if history.counts is not None:
        pq = history.counts.total(lo, hi)
        across = history.counts.across_gaps(lo, hi)
        resets, wraps = history.counts.resets_in(lo, hi), history.counts.wraps_in(lo, hi)
        if resets:
            notes.append(
                f"count_total was reset {resets} time(s): counting went on from the value"
                " after each reset (parts made between the last sample and a reset are lost)"
            )
        if wraps:
            notes.append(f"count_total wrapped around {wraps} time(s); the wrap was undone")
        if across:
            notes.append(
                f"{across:g} units were counted across data gaps; they are in PQ, but the"
                " time they were made in is unknown, so effectiveness may read high"
            )
    else:
        notes.append("no count_total tag: produced quantity, effectiveness and quality unknown")
    sq: float = 0
    if history.scrap is not None:
        sq = history.scrap.total(lo, hi)
        if history.scrap.resets_in(lo, hi):
            notes.append("count_scrap was reset in the period; counting went on after it")
        if sq > pq:
            notes.append(
                f"scrap ({sq:g}) exceeds produced quantity ({pq:g}): check which tags have"
                " the count_total and count_scrap roles; good quantity is taken as 0"
            )
    elif history.counts is not None:
        notes.append("no count_scrap tag: every produced unit is counted as good")

    ideal: float | None = None
    if signals.ideal_cycle_time_s is None:
        notes.append(
            "effectiveness not computed: no ideal cycle time (ISO 22400 planned run time"
            " per item) for this asset"
        )
    elif history.counts is not None:
        ideal = signals.ideal_cycle_time_s * pq

    unknown_ns = times[TimeClass.UNKNOWN]
    pbt_ns = pot_ns - times[TimeClass.PLANNED_BREAK] - times[TimeClass.PLANNED_STOP]
    if hi == lo:
        notes.append("empty period")
    elif pot_ns == 0:
        notes.append("no planned operation time in the period (outside every shift)")
    elif pbt_ns <= 0:
        notes.append("no planned busy time: the whole period was planned down time")
    elif unknown_ns:
        unmapped = sorted({s.reason for s in stops if s.category == "unknown" and s.reason
                           != "no data"})  # fmt: skip
        text = f"{_seconds(unknown_ns):g} s of planned busy time had no usable state data"
        if unmapped:
            text += f" ({', '.join(unmapped)})"
        notes.append(text + "; it counts against availability, not as production")
    if times[TimeClass.APT] == 0 and pbt_ns > 0 and unknown_ns < pbt_ns:
        notes.append("no production time: effectiveness and quality are undefined")
    if unscheduled_apt:
        notes.append(
            f"{_seconds(unscheduled_apt):g} s of production outside the shift calendar"
            " (in a break or no shift) counts as APT and planned busy time"
        )
    if ideal is not None and times[TimeClass.APT] and ideal > times[TimeClass.APT] / NS_PER_S:
        notes.append(
            "effectiveness above 1: the machine ran faster than the ideal cycle time says,"
            " or units were counted for time without data; check ideal_cycle_time_s"
        )

    gq = max(pq - sq, 0)
    cycle = None
    if signals.cycle_time_tag:
        cycle = CycleTimes(tuple(history.cycle_times_in(lo, hi)), signals.ideal_cycle_time_s)
    planned = None if plan is None else plan.planned_quantity(history.calendar, lo, hi)
    return ProductionKpis(
        scope="asset",
        key=f"{signals.site}/{signals.line}/{signals.asset}",
        name=signals.name,
        period=period,
        timezone=history.calendar.timezone,
        pot_s=_seconds(pot_ns),
        planned_break_s=_seconds(times[TimeClass.PLANNED_BREAK]),
        planned_stop_s=_seconds(times[TimeClass.PLANNED_STOP]),
        apt_s=_seconds(times[TimeClass.APT]),
        apt_unscheduled_s=_seconds(unscheduled_apt),
        adet_s=_seconds(times[TimeClass.ADET]),
        adot_s=_seconds(times[TimeClass.ADOT]),
        unknown_s=_seconds(unknown_ns),
        pq=pq,
        sq=sq,
        pq_across_gaps=across,
        ideal_time_s=ideal,
        energy_kwh=history.energy_kwh_in(lo, hi),
        output_quantity=gq,
        planned_quantity=planned,
        stops=stops,
        cycle_times=cycle,
        notes=tuple(notes),
    )


def _sum_or_none(values: Iterable[float | None]) -> float | None:
    total = 0.0
    for value in values:
        if value is None:
            return None
        total += value
    return total


def roll_up(
    scope: Scope,
    key: str,
    name: str,
    parts: Sequence[ProductionKpis],
    *,
    output_from: Sequence[ProductionKpis] | None = None,
    planned_quantity: float | None = None,
    period: Period | None = None,
) -> ProductionKpis:
    """One line's or site's KPIs from its parts' (same period): times and quantities are
    summed, ratios recomputed from the sums.

    ``output_from`` are the parts whose output counts as this scope's (a serial line's
    last station; default all parts). ``planned_quantity`` defaults to the sum of the
    parts' plans when every part has one."""
    if not parts and period is None:
        raise ValueError(f"{scope} {key!r}: nothing to roll up and no period given")
    period = period or parts[0].period
    for part in parts:
        if (part.period.start_ns, part.period.end_ns) != (period.start_ns, period.end_ns):
            raise ValueError(
                f"{scope} {key!r}: part {part.key!r} covers {part.period.label!r}, not"
                f" {period.label!r}; roll up parts of one period only"
            )
    notes = [f"{p.name}: {n}" for p in parts for n in p.notes]
    return _summed(scope, key, name, parts, period, notes, output_from, planned_quantity)


def merge_periods(parts: Sequence[ProductionKpis], label: str) -> ProductionKpis:
    """One scope's KPIs over consecutive periods (hours to a day, days to a month), summed
    like a roll-up. Closed hours never change, so a page can keep them and merge instead
    of reading a month of raw data again."""
    if not parts:
        raise ValueError("merge_periods needs at least one period")
    first = parts[0]
    for before, after in pairwise(parts):
        if after.key != first.key or after.scope != first.scope:
            raise ValueError(f"cannot merge {after.key!r} into {first.key!r}: one scope only")
        if after.period.start_ns != before.period.end_ns:
            raise ValueError(
                f"periods {before.period.label!r} and {after.period.label!r} are not consecutive"
            )
    period = Period(
        label,
        first.period.start_ns,
        parts[-1].period.end_ns,
        None,
        partial=any(p.period.partial for p in parts),
    )
    notes = list(dict.fromkeys(n for p in parts for n in p.notes))
    return _summed(first.scope, first.key, first.name, parts, period, notes, None, None)


def _summed(
    scope: Scope,
    key: str,
    name: str,
    parts: Sequence[ProductionKpis],
    period: Period,
    notes: list[str],
    output_from: Sequence[ProductionKpis] | None,
    planned_quantity: float | None,
) -> ProductionKpis:
    timezone = parts[0].timezone if parts else "UTC"

    def total(attr: str) -> Any:
        return sum(getattr(p, attr) for p in parts)

    stop_time: dict[tuple[str, str], float] = {}
    stop_count: dict[tuple[str, str], int] = {}
    for part in parts:
        for s in part.stops:
            stop_time[(s.category, s.reason)] = (
                stop_time.get((s.category, s.reason), 0) + s.duration_s
            )
            stop_count[(s.category, s.reason)] = stop_count.get((s.category, s.reason), 0) + s.count
    stops = tuple(
        StopReason(cat, reason, seconds, stop_count[(cat, reason)])
        for (cat, reason), seconds in sorted(stop_time.items())
    )

    # A merge over time keeps its parts' notes; a roll-up names the parts that lack data.
    rolling_up = bool(parts) and scope != parts[0].scope
    ideal = _sum_or_none(p.ideal_time_s for p in parts)
    if ideal is None and rolling_up:
        missing = [p.name for p in parts if p.ideal_time_s is None]
        notes.insert(
            0, f"effectiveness not computed: no ideal cycle time or count for {', '.join(missing)}"
        )
    energy = _sum_or_none(p.energy_kwh for p in parts)
    if energy is None and rolling_up and any(p.energy_kwh is not None for p in parts):
        missing = [p.name for p in parts if p.energy_kwh is None]
        notes.insert(0, f"energy not summed: no power or energy tag for {', '.join(missing)}")
    if planned_quantity is None and parts and all(p.planned_quantity is not None for p in parts):
        planned_quantity = total("planned_quantity")

    cycles = [p.cycle_times for p in parts if p.cycle_times is not None]
    cycle_times = None
    if cycles:
        ideals = {c.ideal_s for c in cycles}
        cycle_times = CycleTimes(
            tuple(chain.from_iterable(c.values_s for c in cycles)),
            ideals.pop() if len(ideals) == 1 else None,
        )
    sources = parts if output_from is None else output_from
    return ProductionKpis(
        scope=scope,
        key=key,
        name=name,
        period=period,
        timezone=timezone,
        pot_s=total("pot_s"),
        planned_break_s=total("planned_break_s"),
        planned_stop_s=total("planned_stop_s"),
        apt_s=total("apt_s"),
        apt_unscheduled_s=total("apt_unscheduled_s"),
        adet_s=total("adet_s"),
        adot_s=total("adot_s"),
        unknown_s=total("unknown_s"),
        pq=total("pq"),
        sq=total("sq"),
        pq_across_gaps=total("pq_across_gaps"),
        ideal_time_s=ideal if parts else None,
        energy_kwh=energy if parts else None,
        output_quantity=sum(p.output_quantity for p in sources),
        planned_quantity=planned_quantity,
        stops=stops,
        cycle_times=cycle_times,
        notes=tuple(notes),
    )
