"""Plotly figures of production KPIs for the plant manager's pages, in English or Chinese.

Each function takes results of this package and returns a ``plotly.graph_objects.Figure``
(``fig.to_dict()`` or ``fig.to_json()`` for a page). The data are binned and summed
here, in Python, so a figure shows exactly the numbers the KPIs were computed from.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Literal

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analytics.production.kpis import CycleTimes, ProductionKpis

Lang = Literal["en", "zh"]

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "oee": "OEE",
        "availability": "Availability",
        "effectiveness": "Performance",
        "quality": "Quality",
        "percent": "%",
        "oee_title": "OEE with availability, performance and quality",
        "pareto_title": "Downtime by reason",
        "minutes": "minutes",
        "downtime": "downtime",
        "cumulative": "cumulative share",
        "stops": "stops",
        "cycle_title": "Cycle-time distribution",
        "cycle_time_s": "cycle time (s)",
        "cycles": "cycles",
        "ideal": "ideal",
        "mean": "mean",
        "output_title": "Output against plan",
        "good": "good",
        "scrap": "scrap",
        "plan": "plan",
        "cum_output": "cumulative good",
        "cum_plan": "cumulative plan",
        "units": "units",
        "no_data": "no data",
    },
    "zh": {
        "oee": "OEE",
        "availability": "时间开动率",
        "effectiveness": "性能开动率",
        "quality": "合格品率",
        "percent": "%",
        "oee_title": "OEE 及时间开动率、性能开动率、合格品率",
        "pareto_title": "停机原因帕累托图",
        "minutes": "分钟",
        "downtime": "停机时间",
        "cumulative": "累计占比",
        "stops": "次数",
        "cycle_title": "节拍时间分布",
        "cycle_time_s": "节拍时间 (秒)",
        "cycles": "循环数",
        "ideal": "理想节拍",
        "mean": "平均",
        "output_title": "产量与计划对比",
        "good": "合格品",
        "scrap": "废品",
        "plan": "计划",
        "cum_output": "累计合格品",
        "cum_plan": "累计计划",
        "units": "件",
        "no_data": "无数据",
    },
}


def _labels(lang: str) -> dict[str, str]:
    if lang not in LABELS:
        raise ValueError(f"language must be one of {sorted(LABELS)}, got {lang!r}")
    return LABELS[lang]


def _percent(value: float | None) -> float | None:
    return None if value is None else round(100.0 * value, 2)


def oee_trend_figure(
    trend: Sequence[ProductionKpis], lang: Lang = "en", title: str | None = None
) -> go.Figure:
    """OEE per hour or shift, with availability, performance and quality (in %); a
    period where a ratio is undefined leaves a gap, not a zero."""
    t = _labels(lang)
    x = [k.start_local for k in trend]
    labels = [k.period.label for k in trend]
    figure = go.Figure()
    for attr, width, dash in (
        ("oee", 3, None),
        ("availability", 1.5, "dot"),
        ("effectiveness", 1.5, "dash"),
        ("quality", 1.5, "dashdot"),
    ):
        figure.add_scatter(
            x=x,
            y=[_percent(getattr(k, attr)) for k in trend],
            name=t[attr],
            mode="lines+markers",
            line={"width": width, "dash": dash},
            customdata=labels,
            hovertemplate="%{customdata}: %{y:.1f}%<extra>" + t[attr] + "</extra>",
        )
    figure.update_layout(
        title=title or t["oee_title"],
        yaxis={"title": t["percent"], "rangemode": "tozero"},
        legend={"orientation": "h"},
    )
    return figure


def downtime_pareto_figure(
    kpis: ProductionKpis, lang: Lang = "en", title: str | None = None
) -> go.Figure:
    """Unplanned downtime by reason (bars, minutes, longest first) with the cumulative
    share (line, right axis, %)."""
    t = _labels(lang)
    bars = kpis.downtime_pareto()
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    reasons = [b.reason for b in bars]
    figure.add_bar(
        x=reasons,
        y=[round(b.duration_s / 60.0, 3) for b in bars],
        name=t["downtime"],
        customdata=[[b.count, b.category] for b in bars],
        hovertemplate="%{x}: %{y:.1f} " + t["minutes"] + ", %{customdata[0]} "
        + t["stops"] + "<extra>%{customdata[1]}</extra>",
        secondary_y=False,
    )  # fmt: skip
    figure.add_scatter(
        x=reasons,
        y=[round(100.0 * b.cumulative_share, 2) for b in bars],
        name=t["cumulative"],
        mode="lines+markers",
        secondary_y=True,
    )
    figure.update_layout(title=title or t["pareto_title"], legend={"orientation": "h"})
    figure.update_yaxes(title_text=t["minutes"], secondary_y=False)
    figure.update_yaxes(title_text=t["percent"], range=[0, 105], secondary_y=True)
    return figure


def cycle_time_histogram_figure(
    cycle_times: CycleTimes,
    bins: int | Sequence[float] = 20,
    lang: Lang = "en",
    title: str | None = None,
) -> go.Figure:
    """Cycle times binned with numpy (bars at bin centres, as wide as the bins), with
    the ideal and mean cycle times as vertical lines."""
    t = _labels(lang)
    edges, counts = cycle_times.histogram(bins)
    figure = go.Figure()
    figure.add_bar(
        x=[(a + b) / 2 for a, b in pairwise(edges)],
        y=counts,
        width=[b - a for a, b in pairwise(edges)],
        name=t["cycles"],
        customdata=[[a, b] for a, b in pairwise(edges)],
        hovertemplate="%{customdata[0]:.2f}–%{customdata[1]:.2f} s: %{y}<extra></extra>",
    )
    if cycle_times.ideal_s is not None:
        figure.add_vline(x=cycle_times.ideal_s, line_dash="dash", line_color="green",
                         annotation_text=t["ideal"])  # fmt: skip
    if cycle_times.mean_s is not None:
        figure.add_vline(x=cycle_times.mean_s, line_dash="dot", annotation_text=t["mean"])
    figure.update_layout(
        title=title or t["cycle_title"],
        xaxis_title=t["cycle_time_s"],
        yaxis_title=t["cycles"],
        bargap=0.02,
    )
    return figure


def output_vs_plan_figure(
    trend: Sequence[ProductionKpis], lang: Lang = "en", title: str | None = None
) -> go.Figure:
    """Good output and scrap per hour or shift (stacked bars) against the plan (line),
    and the cumulative output and plan on the right axis."""
    t = _labels(lang)
    x = [k.start_local for k in trend]
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    good = [k.output_quantity for k in trend]
    figure.add_bar(x=x, y=good, name=t["good"], secondary_y=False)
    figure.add_bar(x=x, y=[k.sq for k in trend], name=t["scrap"], secondary_y=False)
    has_plan = any(k.planned_quantity is not None for k in trend)
    if has_plan:
        plan = [k.planned_quantity for k in trend]
        figure.add_scatter(x=x, y=plan, name=t["plan"], mode="lines+markers",
                           line={"shape": "hv"}, secondary_y=False)  # fmt: skip
        cumulative_plan, running = [], 0.0
        for value in plan:
            running += value or 0.0
            cumulative_plan.append(running)
        figure.add_scatter(x=x, y=cumulative_plan, name=t["cum_plan"], mode="lines",
                           line={"dash": "dash"}, secondary_y=True)  # fmt: skip
    cumulative_good, running = [], 0.0
    for value in good:
        running += value
        cumulative_good.append(running)
    figure.add_scatter(x=x, y=cumulative_good, name=t["cum_output"], mode="lines",
                       secondary_y=True)  # fmt: skip
    figure.update_layout(title=title or t["output_title"], barmode="stack",
                         legend={"orientation": "h"})  # fmt: skip
    figure.update_yaxes(title_text=t["units"], secondary_y=False)
    figure.update_yaxes(title_text=t["units"], secondary_y=True, rangemode="tozero")
    return figure
