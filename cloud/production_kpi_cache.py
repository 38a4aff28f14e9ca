"""A site's production KPIs for any range, from cached closed hours.

Reading a month of raw points costs seconds (``python -m bench.production_bench``);
merging 720 hourly results costs milliseconds. So a range is cut into local clock hours:
each closed whole hour's ``PeriodKpis`` (every asset, line and the site) is kept in a
``ClosedPeriodCache`` keyed by tenant store, site spec and hour; missing hours are read in
runs (one ``production_report`` per run), and the running hour and partial edges are
computed fresh. The page then merges the hours it needs, per scope, into the whole range,
shifts or days (``merge_periods``: sums of times and quantities, ratios recomputed).

Shift and day buckets are made of hours, so they are exact when shifts begin on the hour
(the default calendar's do); an hour that a shift change cuts counts in the shift it
starts in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from itertools import pairwise

from analytics.production import (
    PeriodKpis,
    ProductionKpis,
    ShiftCalendar,
    SiteSpec,
    hour_periods,
    merge_periods,
    production_report,
)
from analytics.production.shift_calendar import Period, from_ns
from cloud.closed_period_cache import ClosedPeriodCache
from cloud.plant_time_range import Bucket
from historian import Historian

# A scope: ("site",), ("line", line key) or ("asset", "line/asset").
Scope = tuple[str, ...]
SITE: Scope = ("site",)


def spec_fingerprint(spec: SiteSpec, calendar: ShiftCalendar) -> str:
    """Changes whenever the asset model's production inputs or the calendar change, so a
    cached hour is never reused for a different state map, plan or cycle time."""
    return hashlib.sha1(repr((spec, calendar)).encode("utf-8")).hexdigest()


def hourly_kpis(
    cache: ClosedPeriodCache,
    historian: Historian,
    namespace: str,
    spec: SiteSpec,
    calendar: ShiftCalendar,
    start_ns: int,
    end_ns: int,
    now_ns: int,
) -> list[PeriodKpis]:
    """Every local hour of [start_ns, end_ns) (clipped at the edges) with its KPIs."""
    hours = hour_periods(calendar, start_ns, end_ns)
    fingerprint = spec_fingerprint(spec, calendar)
    result: list[PeriodKpis | None] = [None] * len(hours)
    todo: list[int] = []
    for i, period in enumerate(hours):
        if not period.partial and cache.cacheable(period.end_ns, now_ns):
            hit = cache.get(("hour-kpis", namespace, fingerprint, period.start_ns), now_ns)
            if hit is not None:
                result[i] = hit
                continue
        todo.append(i)
    for run in _consecutive(todo):
        lo, hi = hours[run[0]].start_ns, hours[run[-1]].end_ns
        report = production_report(historian, spec, calendar, lo, hi, shifts=False)
        for i, period_kpis in zip(run, report.by_hour, strict=True):
            result[i] = period_kpis
            if not period_kpis.period.partial:
                cache.put(
                    ("hour-kpis", namespace, fingerprint, hours[i].start_ns),
                    period_kpis,
                    hours[i].end_ns,
                    now_ns,
                )
    return [r for r in result if r is not None]


def _consecutive(indices: list[int]) -> list[list[int]]:
    runs: list[list[int]] = []
    for i in indices:
        if runs and i == runs[-1][-1] + 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs


def scope_kpis(period: PeriodKpis, scope: Scope) -> ProductionKpis:
    if scope[0] == "site":
        return period.site
    if scope[0] == "line":
        return period.lines[scope[1]]
    return period.assets[scope[1]]


def merge(parts: Sequence[ProductionKpis], label: str) -> ProductionKpis:
    """One scope's KPIs over several periods, consecutive or not (a shift filter leaves
    gaps). ``merge_periods`` insists on consecutive periods to catch mistakes; the sums
    do not care, so gapped parts are laid end to end first and the result then gets the
    true outer bounds back."""
    if all(b.period.start_ns == a.period.end_ns for a, b in pairwise(parts)):
        return merge_periods(parts, label)
    laid: list[ProductionKpis] = []
    cursor = parts[0].period.start_ns
    for part in parts:
        length = part.period.end_ns - part.period.start_ns
        laid.append(
            replace(part, period=replace(part.period, start_ns=cursor, end_ns=cursor + length))
        )
        cursor += length
    merged = merge_periods(laid, label)
    bounds = Period(
        label,
        parts[0].period.start_ns,
        parts[-1].period.end_ns,
        None,
        partial=merged.period.partial,
    )
    return replace(merged, period=bounds)


@dataclass(frozen=True)
class SiteKpis:
    """A range's hours, optionally only one shift's, and merges of them per scope."""

    spec: SiteSpec
    calendar: ShiftCalendar
    hours: tuple[PeriodKpis, ...]
    label: str

    @classmethod
    def build(
        cls,
        cache: ClosedPeriodCache,
        historian: Historian,
        namespace: str,
        spec: SiteSpec,
        calendar: ShiftCalendar,
        start_ns: int,
        end_ns: int,
        now_ns: int,
        shift: str | None = None,
        label: str = "range",
    ) -> SiteKpis:
        hours = hourly_kpis(cache, historian, namespace, spec, calendar, start_ns, end_ns, now_ns)
        if shift is not None:
            shift_of = _shift_of_hour(calendar, start_ns, end_ns)
            hours = [h for h in hours if shift_of(h.period.start_ns)[0] == shift]
        return cls(spec, calendar, tuple(hours), label)

    def whole(self, scope: Scope = SITE) -> ProductionKpis | None:
        """The scope's KPIs over every hour kept; None when no hour is (a shift filter
        with no such shift in the range)."""
        if not self.hours:
            return None
        return merge([scope_kpis(h, scope) for h in self.hours], self.label)

    def trend(self, bucket: Bucket, scope: Scope = SITE) -> list[ProductionKpis]:
        """The scope's KPIs per hour, shift or local day, in time order."""
        parts = [scope_kpis(h, scope) for h in self.hours]
        if bucket == "hour" or not parts:
            return parts
        if bucket == "shift":
            key_of: Callable[[int], tuple[str, str]] = _shift_of_hour(
                self.calendar, self.hours[0].period.start_ns, self.hours[-1].period.end_ns
            )
        else:
            zone = self.calendar.zone

            def key_of(ns: int) -> tuple[str, str]:
                day: date = from_ns(ns, zone).date()
                return day.isoformat(), day.isoformat()

        groups: dict[str, tuple[str, list[ProductionKpis]]] = {}
        for part in parts:
            group, label = key_of(part.period.start_ns)
            groups.setdefault(group + "\x1f" + label, (label, []))[1].append(part)
        return [merge(members, label) for label, members in groups.values()]


def _shift_of_hour(
    calendar: ShiftCalendar, start_ns: int, end_ns: int
) -> Callable[[int], tuple[str, str]]:
    """Hour start -> (shift name, shift instance label); ("", "") outside every shift."""
    instances = calendar.instances(start_ns, end_ns)

    def shift_of(ns: int) -> tuple[str, str]:
        for inst in instances:
            if inst.start_ns <= ns < inst.end_ns:
                return inst.shift, inst.label
        return "", ""

    return shift_of
