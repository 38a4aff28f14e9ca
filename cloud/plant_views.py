"""What each plant page shows, computed for one site and range: the template context of
its panels and its Plotly figures. No HTTP here (that is ``cloud.plant_pages``), so the
benchmark and tests can call the same functions the pages do.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analytics.energy.tariff import default_tariff
from analytics.production import (
    CurrentState,
    ProductionKpis,
    ShiftCalendar,
    cycle_time_histogram_figure,
    downtime_pareto_figure,
    oee_trend_figure,
    output_vs_plan_figure,
)
from analytics.production.asset_history import state_segments
from analytics.production.live_state import current_state
from analytics.production.shift_calendar import from_ns
from cloud.asset_alarms import (
    ActiveLimit,
    AlarmEpisode,
    active_limits,
    down_episodes,
    limit_episodes,
)
from cloud.closed_period_cache import ClosedPeriodCache
from cloud.downsampling import pick_window
from cloud.i18n import Lang, Translator
from cloud.plant_energy import EnergyReport, energy_report
from cloud.plant_figures import (
    asset_trend_figure,
    demand_figure,
    finish,
    load_profile_figure,
    oee_by_line_figure,
    scrap_figure,
    specific_energy_figure,
    state_timeline_figure,
    tariff_figure,
)
from cloud.plant_model_view import (
    DEFAULT_PLAN_SHARE,
    MAX_GAP_S,
    PlantAsset,
    PlantLine,
    PlantSite,
    asset_signals,
    line_plan,
    output_asset,
    site_spec,
)
from cloud.plant_time_range import TimeRange
from cloud.production_kpi_cache import SITE, SiteKpis
from historian import Aggregate, Historian

NS_PER_S = 1_000_000_000
TREND_POINTS = 600
STATE_POINTS = 2000
HISTORY_ROWS = 50
# Tags a trend tells nothing about: the state code (it has its own chart) and counters,
# which only ever grow.
COUNTER_ROLES = ("state", "count_total", "count_scrap", "energy_kwh")


@dataclass
class PlantPage:
    """One request's inputs: whose data, which site, range, language and layout."""

    tenant_key: str
    tenant_name: str
    namespace: str  # the tenant's store: cache keys never cross tenants
    site: PlantSite
    sites: list[PlantSite]
    historian: Historian
    cache: ClosedPeriodCache
    calendar: ShiftCalendar
    range: TimeRange
    t: Translator
    wall: bool
    now_ns: int

    @property
    def lang(self) -> Lang:
        return self.t.lang

    def fmt(self) -> Formats:
        return Formats(self.t, self.calendar)

    def site_kpis(self) -> SiteKpis | None:
        spec = site_spec(self.site)
        if spec is None:
            return None
        return SiteKpis.build(
            self.cache,
            self.historian,
            self.namespace,
            spec,
            self.calendar,
            self.range.start_ns,
            self.range.end_ns,
            self.now_ns,
            shift=self.range.shift,
        )

    def figure(self, figure: go.Figure, height: int = 320, dates: bool = False) -> go.Figure:
        return finish(figure, self.wall, height, self.lang, dates)


class Formats:
    """Numbers, ratios, durations and times as the pages print them."""

    def __init__(self, t: Translator, calendar: ShiftCalendar) -> None:
        self.t = t
        self.zone = calendar.zone

    def pct(self, value: float | None) -> str:
        return self.t("undefined") if value is None else f"{100.0 * value:.1f}%"

    def num(self, value: float | None, digits: int = 0) -> str:
        if value is None:
            return self.t("undefined")
        return f"{value:,.{digits}f}"

    def duration(self, seconds: float | None) -> str:
        if seconds is None:
            return self.t("undefined")
        minutes = round(seconds / 60)
        hours, minutes = divmod(minutes, 60)
        if self.t.lang == "zh":
            return f"{hours}小时{minutes:02d}分" if hours else f"{minutes}分钟"
        return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"

    def time(self, ns: int | None, with_date: bool = True) -> str:
        if ns is None:
            return self.t("undefined")
        moment = from_ns(ns, self.zone)
        return moment.strftime("%Y-%m-%d %H:%M" if with_date else "%H:%M")

    def stamp(self, moment: pd.Timestamp | datetime | None) -> str:
        return self.t("undefined") if moment is None else moment.strftime("%Y-%m-%d %H:%M")


def _translated_stops(kpis: ProductionKpis, t: Translator) -> ProductionKpis:
    """The same KPIs with stop reasons in the page's language (for the Pareto's axis)."""
    stops = tuple(replace(s, reason=t.reason(s.reason)) for s in kpis.stops)
    return replace(kpis, stops=stops)


def _state_view(state: CurrentState, fmt: Formats) -> dict[str, Any]:
    t = fmt.t
    if state.stale:
        category, label = "stale", t("stale")
    elif state.category is None:
        category, label = "unknown", t("unmapped")
    else:
        category, label = state.category.value, t.category(state.category.value)
    return {
        "category": category,
        "label": label,
        "reason": t.reason(state.reason),
        "raw": "" if state.raw is None else str(state.raw),
        "since": fmt.time(state.since_ns),
        "since_prefix": "≥ " if state.since_before_lookback else "",
    }


def _plan_text(line: PlantLine, t: Translator) -> str:
    source = line_plan(line)
    if source.per_hour is None:
        return t("no_plan")
    per_hour = f"{source.per_hour:,.1f}"
    if source.set_by_attribute:
        return t("plan_set", per_hour=per_hour)
    return t("plan_default", per_hour=per_hour, share=round(DEFAULT_PLAN_SHARE * 100))


def _counts_output(line: PlantLine) -> bool:
    return any(a.role_tag("count_total") for a in line.machines)


def _output_text(line: PlantLine, t: Translator) -> str:
    out = output_asset(line)
    return t("output_of", asset=out.name) if out is not None else t("output_sum")


# --- site overview --------------------------------------------------------------------


def overview(page: PlantPage) -> tuple[dict[str, Any], dict[str, go.Figure]]:
    t, fmt = page.t, page.fmt()
    kpis = page.site_kpis()
    context: dict[str, Any] = {
        "has_model": kpis is not None,
        "site_kpis": None,
        "lines": [],
        "machines": [],
    }
    figures: dict[str, go.Figure] = {}
    if kpis is None:
        return context, figures
    context["site_kpis"] = kpis.whole(SITE)
    line_rows = []
    for index, line in enumerate(page.site.production_lines):
        whole = kpis.whole(("line", line.key))
        line_rows.append(
            {
                "line": line,
                "kpis": whole,
                "plan": _plan_text(line, t),
                "output": _output_text(line, t),
                "figure": f"fig-output-{index}",
            }
        )
        if not _counts_output(line):
            continue  # pumps, compressors: no units to set against a plan
        trend = kpis.trend(page.range.bucket, ("line", line.key))
        title = f"{line.name}: {t('output_vs_plan')}"
        figures[f"fig-output-{index}"] = page.figure(
            output_vs_plan_figure(trend, lang=page.lang, title=title), 300, dates=True
        )
    context["lines"] = line_rows
    with_kpis = [(row["line"].name, row["kpis"]) for row in line_rows if row["kpis"] is not None]
    if with_kpis:
        figures["fig-oee-lines"] = page.figure(oee_by_line_figure(with_kpis, t), 300)
    machines = []
    for asset in page.site.machines:
        signals = asset_signals(asset)
        if signals is None:
            continue
        state = current_state(page.historian, signals, page.now_ns, lookback_s=3600.0)
        machines.append({"asset": asset, "state": _state_view(state, fmt)})
    context["machines"] = machines
    return context, figures


# --- line page ------------------------------------------------------------------------


def line_view(page: PlantPage, line: PlantLine) -> tuple[dict[str, Any], dict[str, go.Figure]]:
    t = page.t
    kpis = page.site_kpis()
    scope = ("line", line.key)
    has_scrap = any(a.role_tag("count_scrap") for a in line.machines)
    has_cycle = any(a.role_tag("cycle_time") for a in line.machines)
    context: dict[str, Any] = {
        "line": line,
        "kpis": None,
        "assets": [],
        "plan": _plan_text(line, t),
        "output": _output_text(line, t),
        "has_scrap": has_scrap,
        "has_cycle": has_cycle,
        "notes": [],
        "has_downtime": False,
        "page_line": line.key,
    }
    figures: dict[str, go.Figure] = {}
    if kpis is None or not line.machines:
        return context, figures
    whole = kpis.whole(scope)
    context["kpis"] = whole
    context["assets"] = [
        (asset, kpis.whole(("asset", f"{line.key}/{asset.key}"))) for asset in line.machines
    ]
    if whole is None:
        return context, figures
    context["notes"] = list(dict.fromkeys(whole.notes))[:30]
    trend = kpis.trend(page.range.bucket, scope)
    figures["fig-oee-trend"] = page.figure(oee_trend_figure(trend, lang=page.lang), 340, dates=True)
    if _counts_output(line):
        figures["fig-output"] = page.figure(
            output_vs_plan_figure(trend, lang=page.lang), 320, dates=True
        )
    context["has_downtime"] = bool(whole.downtime_pareto())
    if context["has_downtime"]:
        figures["fig-pareto"] = page.figure(
            downtime_pareto_figure(_translated_stops(whole, t), lang=page.lang),
            340,
        )
    if whole.cycle_times is not None and whole.cycle_times.n:
        figures["fig-cycle"] = page.figure(
            cycle_time_histogram_figure(whole.cycle_times, bins=30, lang=page.lang),
            320,
        )
    else:
        context["has_cycle"] = False
    if has_scrap:
        figures["fig-scrap"] = page.figure(scrap_figure(trend, t), 300, dates=True)
    return context, figures


# --- asset page -----------------------------------------------------------------------


def _local_strings(stamps_ns: list[int], zone: str) -> list[str]:
    if not stamps_ns:
        return []
    index = pd.to_datetime(np.asarray(stamps_ns, dtype="int64"), unit="ns", utc=True)
    return list(index.tz_convert(zone).strftime("%Y-%m-%d %H:%M:%S"))


def trend_tags(asset: PlantAsset) -> list:
    """Numeric tags worth a trend: not the state code, not cumulative counters."""
    return [
        tag
        for tag in asset.tags
        if tag.numeric and tag.role not in COUNTER_ROLES and tag.unit != "count"
    ]


def asset_view(
    page: PlantPage, line: PlantLine, asset: PlantAsset
) -> tuple[dict[str, Any], dict[str, go.Figure]]:
    t, fmt = page.t, page.fmt()
    start, end = page.range.start_ns, page.range.end_ns
    zone = page.calendar.timezone
    window = pick_window(start, end, TREND_POINTS, at_least_ns=NS_PER_S)
    series = []
    for tag in trend_tags(asset):
        rows = page.historian.read(asset.series(tag.key), start, end, window, Aggregate.MEAN)
        x = _local_strings([ts for ts, _ in rows], zone)
        y = [round(float(v), 4) for _, v in rows]
        series.append((tag.key, tag.unit, x, y, tag.low, tag.high))
    x_range = tuple(_local_strings([start, end], zone))
    figures: dict[str, go.Figure] = {}
    if series:
        figures["fig-trends"] = page.figure(
            asset_trend_figure(series, x_range, t), 110 + 150 * len(series), dates=True
        )
    latest = page.historian.latest(asset.site, asset.line, asset.key)
    active = active_limits(asset, latest, page.now_ns, MAX_GAP_S)
    episodes: list[AlarmEpisode] = limit_episodes(page.historian, asset, start, end, window)
    by_tag = {info.key.tag: info for info in latest}
    tiles = []
    for tag in asset.tags:
        info = by_tag.get(tag.key)
        status = "ok"
        if info is None or page.now_ns - info.last_timestamp_ns > MAX_GAP_S * NS_PER_S:
            status = "stale"
        elif any(a.tag.key == tag.key for a in active):
            status = next(a.side for a in active if a.tag.key == tag.key)
        value = None if info is None else info.last_value
        text = (
            fmt.num(value, 2) if isinstance(value, float) else ("" if value is None else str(value))
        )
        tiles.append(
            {
                "tag": tag,
                "value": text,
                "status": status,
                "time": fmt.time(info.last_timestamp_ns) if info else "",
            }
        )
    context: dict[str, Any] = {
        "asset": asset,
        "line": line,
        "tiles": tiles,
        "kpis": None,
        "state": None,
        "active": [],
        "history": [],
    }
    active_rows: list[dict[str, Any]] = [_active_limit_row(a, fmt) for a in active]
    signals = asset_signals(asset)
    if signals is not None:
        state = current_state(page.historian, signals, page.now_ns, lookback_s=3600.0)
        context["state"] = _state_view(state, fmt)
        if state.category is not None and state.category.value == "down":
            active_rows.insert(
                0,
                {
                    "kind": t("kind_state"),
                    "text": t.reason(state.reason),
                    "since": fmt.time(state.since_ns),
                },
            )
        kpis = page.site_kpis()
        if kpis is not None:
            context["kpis"] = kpis.whole(("asset", f"{line.key}/{asset.key}"))
        # The state over the range, from window LASTs: a month is a few thousand rows, and
        # a window wider than the gap rule would read as missing data, so the gap widens.
        state_window = pick_window(start, end, STATE_POINTS, at_least_ns=NS_PER_S)
        gap = max(MAX_GAP_S, 2.0 * state_window / NS_PER_S)
        # From one gap earlier: the sample in force when the range starts.
        rows = page.historian.read(
            signals.key(signals.state_tag),
            start - round(gap * NS_PER_S),
            end,
            state_window,
            Aggregate.LAST,
        )
        segments = state_segments(rows, replace(signals, max_gap_s=gap), start, end)
        steps = [
            (
                from_ns(s.start_ns, page.calendar.zone),
                s.category.value if s.category is not None else "unknown",
            )
            for s in segments
        ]
        figures["fig-state"] = page.figure(
            state_timeline_figure(steps, from_ns(end, page.calendar.zone), t), 240, dates=True
        )
        episodes += down_episodes(segments)
    context["active"] = active_rows
    ongoing_tags = {a.tag.key for a in active}
    history = sorted(episodes, key=lambda e: e.start_ns, reverse=True)[:HISTORY_ROWS]
    # An excursion still running ends in the last window or two (the newest sample may
    # sit in a window before the one "now" falls in).
    recent = end - 2 * window
    context["history"] = [_episode_row(e, recent, ongoing_tags, fmt) for e in history]
    return context, figures


def _active_limit_row(alarm: ActiveLimit, fmt: Formats) -> dict[str, Any]:
    t = fmt.t
    text = t(
        "above_high" if alarm.side == "high" else "below_low",
        tag=alarm.tag.key,
        limit=f"{alarm.limit:g}",
        unit=alarm.tag.unit,
    )
    return {
        "kind": t("kind_limit"),
        "text": f"{text}: {alarm.value:.4g}",
        "since": fmt.time(alarm.since_ns),
    }


def _episode_row(
    episode: AlarmEpisode, recent_ns: int, ongoing_tags: set[str], fmt: Formats
) -> dict[str, Any]:
    t = fmt.t
    ongoing = episode.end_ns >= recent_ns and (
        episode.kind == "state" or episode.tag in ongoing_tags
    )
    if episode.kind == "limit":
        text = t(
            "above_high" if episode.side == "high" else "below_low",
            tag=episode.tag,
            limit=f"{episode.limit:g}",
            unit=episode.unit,
        )
        extreme = f"{episode.extreme:.4g} {episode.unit}".strip()
    else:
        text, extreme = t.reason(episode.reason), ""
    return {
        "kind": t("kind_limit" if episode.kind == "limit" else "kind_state"),
        "text": text,
        "start": fmt.time(episode.start_ns),
        "end": t("ongoing") if ongoing else fmt.time(episode.end_ns),
        "duration": fmt.duration(episode.duration_s),
        "extreme": extreme,
        "category": "down" if episode.kind == "state" else "limit",
    }


# --- energy page ----------------------------------------------------------------------


def _interval_starts_ns(frame: pd.DataFrame, zone: str) -> np.ndarray:
    """UTC ns of the frame's interval starts (its index is local, naive)."""
    index = pd.DatetimeIndex(frame.index).tz_localize(zone).tz_convert("UTC")
    return np.asarray(index.as_unit("ns").asi8, dtype="int64")


def energy_view(
    page: PlantPage, with_anomalies: bool = True
) -> tuple[dict[str, Any], dict[str, go.Figure]]:
    t, fmt = page.t, page.fmt()
    zone = page.calendar.timezone
    tariff = default_tariff()
    kpis = page.site_kpis()
    keep = None
    if kpis is not None and page.range.shift is not None:
        keep = [(h.period.start_ns, h.period.end_ns) for h in kpis.hours]
    report: EnergyReport = energy_report(
        page.historian,
        page.site,
        page.range.start_ns,
        page.range.end_ns,
        zone,
        tariff,
        keep=keep,
        cache=page.cache,
        namespace=page.namespace,
        now_ns=page.now_ns,
        with_anomalies=with_anomalies,
    )
    context: dict[str, Any] = {
        "report": report,
        "tariff": tariff,
        "kwh_per_unit": None,
        "output": None,
        "energy_lines": [],
        "anomaly_rows": [],
    }
    figures: dict[str, go.Figure] = {}
    if kpis is not None:
        site = kpis.whole(SITE)
        if site is not None:
            context["output"] = site.output_quantity
            if site.output_quantity > 0 and report.kwh > 0:
                context["kwh_per_unit"] = report.kwh / site.output_quantity
        for line in page.site.production_lines:
            whole = kpis.whole(("line", line.key))
            if whole is not None:
                per_unit = None
                if whole.energy_kwh is not None and whole.output_quantity > 0:
                    per_unit = whole.energy_kwh / whole.output_quantity
                context["energy_lines"].append((line, whole, per_unit))
        trend = kpis.trend(page.range.bucket, SITE)
        if trend and not report.frame.empty:
            starts = _interval_starts_ns(report.frame, zone)
            cumulative = np.concatenate([[0.0], np.cumsum(report.frame["kwh"].to_numpy(float))])
            x, values = [], []
            for bucket in trend:
                a = int(np.searchsorted(starts, bucket.period.start_ns))
                b = int(np.searchsorted(starts, bucket.period.end_ns))
                kwh = float(cumulative[b] - cumulative[a])
                x.append(bucket.start_local)
                values.append(kwh / bucket.output_quantity if bucket.output_quantity > 0 else None)
            if any(v is not None for v in values):
                figures["fig-specific"] = page.figure(
                    specific_energy_figure(x, values, t), 300, dates=True
                )
    if report.demand is not None and not report.demand.dropna().empty:
        figures["fig-demand"] = page.figure(
            demand_figure(report.demand.dropna(), report.peak_at, report.peak_kw, t),
            320,
            dates=True,
        )
    if report.profile is not None and not report.profile.empty:
        figures["fig-profile"] = page.figure(load_profile_figure(report.profile, t), 300)
    if report.bill is not None:
        figures["fig-tariff"] = page.figure(tariff_figure(report.bill, tariff, t), 300)
    context["anomaly_rows"] = [
        {
            "kind": t("anomaly_" + e.kind)
            if e.kind in ("idle_waste", "above_baseline")
            else e.kind,
            "start": fmt.stamp(e.start),
            "end": fmt.stamp(e.end),
            "kwh": fmt.num(e.excess_kwh, 1),
            "cost": fmt.num(e.cost, 2),
            "detail": e.detail,
        }
        for e in report.anomalies[:HISTORY_ROWS]
    ]
    context["anomaly_cost"] = sum(e.cost for e in report.anomalies)
    return context, figures
