"""A site's production KPIs for a range: the whole range, each shift and each hour, for
every asset, line and the site, from one read of each asset's history."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from analytics.production.asset_history import AssetHistory, read_asset_history
from analytics.production.kpis import ProductionKpis, asset_kpis, roll_up
from analytics.production.shift_calendar import (
    Period,
    ShiftCalendar,
    hour_periods,
    shift_periods,
)
from analytics.production.signals import SiteSpec
from historian.model import Historian

Bucket = Literal["hour", "shift"]


@dataclass(frozen=True)
class PeriodKpis:
    """Every scope's KPIs for one period. ``lines`` by line key, ``assets`` by
    ``"line/asset"``."""

    period: Period
    site: ProductionKpis
    lines: Mapping[str, ProductionKpis]
    assets: Mapping[str, ProductionKpis]


@dataclass(frozen=True)
class SiteReport:
    """A site's KPIs over a range, and per shift and per hour for trends."""

    spec: SiteSpec
    calendar: ShiftCalendar
    whole: PeriodKpis
    by_shift: tuple[PeriodKpis, ...]
    by_hour: tuple[PeriodKpis, ...]

    def trend(
        self, by: Bucket = "hour", line: str | None = None, asset: str | None = None
    ) -> list[ProductionKpis]:
        """One scope's KPIs per hour or shift: the site's, a line's, or (with ``line``
        and ``asset``) one asset's."""
        if by not in ("hour", "shift"):
            raise ValueError(f"trend by must be 'hour' or 'shift', got {by!r}")
        rows = self.by_hour if by == "hour" else self.by_shift
        if asset is not None:
            if line is None:
                raise ValueError("an asset's trend needs its line too")
            key = f"{line}/{asset}"
            if key not in self.whole.assets:
                raise ValueError(f"no asset {key!r} in site {self.spec.key!r}")
            return [r.assets[key] for r in rows]
        if line is not None:
            if line not in self.whole.lines:
                raise ValueError(f"no line {line!r} in site {self.spec.key!r}")
            return [r.lines[line] for r in rows]
        return [r.site for r in rows]


def _period_kpis(
    spec: SiteSpec,
    calendar: ShiftCalendar,
    histories: Mapping[str, AssetHistory],
    period: Period,
) -> PeriodKpis:
    assets: dict[str, ProductionKpis] = {}
    lines: dict[str, ProductionKpis] = {}
    for line in spec.lines:
        parts = []
        for signals in line.assets:
            key = f"{line.key}/{signals.asset}"
            assets[key] = asset_kpis(histories[key], period)
            parts.append(assets[key])
        output_from = None
        if line.output_asset is not None:
            output_from = [assets[f"{line.key}/{line.output_asset}"]]
        planned = None
        if line.plan is not None:
            planned = line.plan.planned_quantity(calendar, period.start_ns, period.end_ns)
        lines[line.key] = roll_up(
            "line", f"{spec.key}/{line.key}", line.name, parts,
            output_from=output_from, planned_quantity=planned, period=period,
        )  # fmt: skip
    site = roll_up("site", spec.key, spec.name, list(lines.values()), period=period)
    return PeriodKpis(period, site, lines, assets)


def production_report(
    historian: Historian,
    spec: SiteSpec,
    calendar: ShiftCalendar,
    start_ns: int,
    end_ns: int,
    *,
    hours: bool = True,
    shifts: bool = True,
) -> SiteReport:
    """KPIs of ``spec``'s assets, lines and site over [start_ns, end_ns), per shift and
    per local hour (pass ``hours=False`` or ``shifts=False`` to skip either). For a
    period still running, pass ``end_ns`` = now: time after it is not yet known."""
    if end_ns < start_ns:
        raise ValueError(f"period ends ({end_ns}) before it starts ({start_ns})")
    if not spec.lines:
        raise ValueError(f"site {spec.key!r} has no lines to report on")
    histories = {
        f"{line.key}/{signals.asset}": read_asset_history(
            historian, signals, calendar, start_ns, end_ns
        )
        for line in spec.lines
        for signals in line.assets
    }
    whole = _period_kpis(spec, calendar, histories, Period("whole range", start_ns, end_ns))
    shift_list = shift_periods(calendar, start_ns, end_ns) if shifts else []
    hour_list = hour_periods(calendar, start_ns, end_ns) if hours else []
    by_shift = tuple(_period_kpis(spec, calendar, histories, p) for p in shift_list)
    by_hour = tuple(_period_kpis(spec, calendar, histories, p) for p in hour_list)
    return SiteReport(spec, calendar, whole, by_shift, by_hour)
