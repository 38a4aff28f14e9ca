"""Plotly figures of the plant pages beyond ``analytics.production.figures``: OEE by line,
scrap, an asset's trends with their limits, its state over time, and the energy charts.
Every label comes from the message catalog (``cloud.i18n``).

Figures travel as Plotly's own JSON (``figure.to_json()``), assembled into one payload
with ``figures_payload`` so that nothing a tenant named can close the page's script tag.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots
from plotly.utils import PlotlyJSONEncoder

from analytics.energy.tariff import Bill, Tariff
from analytics.production import ProductionKpis
from cloud.i18n import Translator

COLORS = {
    "producing": "#1f9d55",
    "idle": "#d97706",
    "planned_stop": "#6b7785",
    "down": "#dc2626",
    "unknown": "#9ca3af",
}
CATEGORY_ORDER = ("down", "planned_stop", "idle", "producing")
LIMIT_COLOR = "#dc2626"


def _percent(value: float | None) -> float | None:
    return None if value is None else round(100.0 * value, 1)


def _page_template() -> dict:
    """The layout part of Plotly's ``plotly_white``: the look, without the per-trace-type
    defaults (colour scales of heatmaps, 3-D scenes …) that would add kilobytes to every
    figure and milliseconds to every refresh."""
    layout = pio.templates["plotly_white"].layout.to_plotly_json()
    keep = (
        "annotationdefaults",
        "autotypenumbers",
        "colorway",
        "font",
        "hoverlabel",
        "paper_bgcolor",
        "plot_bgcolor",
        "shapedefaults",
        "title",
        "xaxis",
        "yaxis",
    )
    return {"layout": {k: layout[k] for k in keep if k in layout}}


PAGE_TEMPLATE = _page_template()


def finish(
    figure: go.Figure, wall: bool, height: int = 320, lang: str = "en", dates: bool = False
) -> go.Figure:
    """The pages' common look: white template, tight margins, larger on a wall screen.

    plotly.js names months in English; a Chinese page's date axes get numeric ticks."""
    if dates and lang == "zh":
        figure.update_xaxes(tickformat="%m-%d<br>%H:%M")
    figure.update_layout(
        height=round(height * (1.35 if wall else 1.0)),
        margin={"l": 56, "r": 24, "t": 48, "b": 40},
        font={"size": 17 if wall else 12},
        legend={"orientation": "h", "y": -0.18},
        hovermode="x unified" if figure.layout.hovermode is None else figure.layout.hovermode,
    )
    return figure


def figures_payload(figures: Mapping[str, go.Figure]) -> str:
    """``{"dom-id": <figure JSON>, …}`` as text safe inside ``<script>`` (``</`` escaped)."""
    parts = []
    for dom_id, figure in figures.items():
        plain = figure.to_plotly_json()
        plain["layout"]["template"] = PAGE_TEMPLATE
        parts.append(f"{json.dumps(dom_id)}:{json.dumps(plain, cls=PlotlyJSONEncoder)}")
    return ("{" + ",".join(parts) + "}").replace("</", "<\\/")


def oee_by_line_figure(lines: Sequence[tuple[str, ProductionKpis]], t: Translator) -> go.Figure:
    """OEE with availability, performance and quality of each line (grouped bars, %)."""
    names = [name for name, _ in lines]
    figure = go.Figure()
    for attr, label in (
        ("oee", "oee"),
        ("availability", "availability"),
        ("effectiveness", "performance"),
        ("quality", "quality"),
    ):
        values = [_percent(getattr(k, attr)) for _, k in lines]
        figure.add_bar(
            x=names,
            y=values,
            name=t(label),
            text=[f"{v:.1f}%" if v is not None else "" for v in values],
            textposition="outside",
            hovertemplate="%{x}: %{y:.1f}%<extra>" + t(label) + "</extra>",
        )
    figure.update_layout(
        title=t("oee_by_line"),
        barmode="group",
        yaxis={"title": "%", "rangemode": "tozero"},
        hovermode="closest",
    )
    return figure


def scrap_figure(trend: Sequence[ProductionKpis], t: Translator) -> go.Figure:
    """Scrap units per bucket (bars) and the scrap rate (line, right axis, %)."""
    x = [k.start_local for k in trend]
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    figure.add_bar(
        x=x,
        y=[k.sq for k in trend],
        name=t("scrap_count"),
        secondary_y=False,
        marker_color="#dc2626",
    )
    figure.add_scatter(
        x=x,
        y=[_percent(k.scrap_rate) for k in trend],
        name=t("scrap_rate"),
        mode="lines+markers",
        secondary_y=True,
    )
    figure.update_layout(title=t("scrap_trend"))
    figure.update_yaxes(title_text=t("units"), secondary_y=False, rangemode="tozero")
    figure.update_yaxes(title_text="%", secondary_y=True, rangemode="tozero")
    return figure


def asset_trend_figure(
    series: Sequence[tuple[str, str, list[str], list[float], float | None, float | None]],
    x_range: tuple[str, str],
    t: Translator,
) -> go.Figure:
    """One subplot per numeric tag: (tag, unit, x, y, low, high). Limits are drawn as
    dashed lines across the range, as traces so the axis range includes them."""
    rows = max(len(series), 1)
    titles = [f"{tag} ({unit})" if unit else tag for tag, unit, *_ in series]
    figure = make_subplots(
        rows=rows,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=min(0.06, 0.3 / rows),
        subplot_titles=titles or [t("no_numeric")],
    )
    for row, (tag, unit, x, y, low, high) in enumerate(series, start=1):
        figure.add_scatter(
            x=x,
            y=y,
            mode="lines",
            name=tag,
            line={"width": 1.6},
            row=row,
            col=1,
            hovertemplate="%{y:.4g} " + unit + "<extra>" + tag + "</extra>",
        )
        for limit, label in ((low, "limit_low"), (high, "limit_high")):
            if limit is None:
                continue
            figure.add_scatter(
                x=list(x_range),
                y=[limit, limit],
                mode="lines",
                name=f"{tag} {t(label)}",
                line={"dash": "dash", "width": 1.2, "color": LIMIT_COLOR},
                row=row,
                col=1,
                hovertemplate=t(label) + f" {limit:g} {unit}<extra>{tag}</extra>",
            )
    figure.update_layout(showlegend=False, title=t("trends"))
    figure.update_xaxes(range=list(x_range))
    figure.update_annotations(font_size=12)
    return figure


def state_timeline_figure(
    steps: Sequence[tuple[datetime, str]], end: datetime, t: Translator
) -> go.Figure:
    """The machine's state category over time as a step line (down at the bottom)."""
    labels = [t.category(c) for c in CATEGORY_ORDER] + [t("unknown")]
    x = [moment for moment, _ in steps] + ([end] if steps else [])
    y = [t.category(category) for _, category in steps]
    y += y[-1:]
    figure = go.Figure()
    figure.add_scatter(
        x=x,
        y=y,
        mode="lines",
        line={"shape": "hv", "width": 3},
        name=t("state"),
        hovertemplate="%{y}<extra></extra>",
    )
    figure.update_layout(
        title=t("state_timeline"),
        yaxis={"type": "category", "categoryorder": "array", "categoryarray": labels},
        showlegend=False,
    )
    return figure


def demand_figure(
    demand: pd.Series, peak_at: pd.Timestamp | None, peak_kw: float | None, t: Translator
) -> go.Figure:
    figure = go.Figure()
    figure.add_scatter(
        x=demand.index.to_numpy(),
        y=demand.to_numpy().round(2),
        mode="lines",
        name=t("demand"),
        line={"shape": "hv"},
    )
    if peak_at is not None and peak_kw is not None:
        figure.add_scatter(
            x=[peak_at],
            y=[round(peak_kw, 2)],
            mode="markers+text",
            name=t("peak_demand"),
            text=[f"{peak_kw:.0f} kW"],
            textposition="top center",
            cliponaxis=False,
            marker={"size": 11, "color": "#dc2626"},
        )
    figure.update_layout(title=t("demand"), yaxis={"title": "kW", "rangemode": "tozero"})
    return figure


def load_profile_figure(profile: pd.DataFrame, t: Translator) -> go.Figure:
    figure = go.Figure()
    for column in profile.columns:
        values = profile[column]
        figure.add_scatter(
            x=list(profile.index),
            y=[None if pd.isna(v) else round(v, 2) for v in values],
            mode="lines",
            name=t(str(column)),
            connectgaps=True,
        )
    figure.update_layout(
        title=t("load_profile"),
        xaxis={"title": t("time_of_day"), "type": "category"},
        yaxis={"title": "kW", "rangemode": "tozero"},
    )
    return figure


def tariff_figure(invoice: Bill, tariff: Tariff, t: Translator) -> go.Figure:
    """kWh (bars) and energy cost (bars, right axis) per tariff period, priciest first."""
    # Periods the range used (a season may have no sharp peak), priciest first.
    used = [p for p in tariff.prices if invoice.energy_kwh.get(p, 0.0) > 0]
    periods = sorted(used or tariff.prices, key=lambda p: -tariff.prices[p])
    names = [t(p) if p in ("sharp", "peak", "flat", "valley") else p for p in periods]
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    figure.add_bar(
        x=names,
        y=[round(invoice.energy_kwh[p], 1) for p in periods],
        name=t("kwh"),
        offsetgroup="kwh",
        secondary_y=False,
    )
    figure.add_bar(
        x=names,
        y=[round(invoice.energy_cost[p], 2) for p in periods],
        name=f"{t('cost')} ({tariff.currency})",
        offsetgroup="cost",
        secondary_y=True,
    )
    figure.update_layout(title=t("cost_by_period"), barmode="group", hovermode="closest")
    figure.update_yaxes(title_text="kWh", secondary_y=False, rangemode="tozero")
    figure.update_yaxes(title_text=tariff.currency, secondary_y=True, rangemode="tozero")
    return figure


def specific_energy_figure(
    x: Sequence[datetime], kwh_per_unit: Sequence[float | None], t: Translator
) -> go.Figure:
    figure = go.Figure()
    figure.add_bar(
        x=list(x),
        y=[None if v is None else round(v, 4) for v in kwh_per_unit],
        name=t("kwh_per_unit"),
    )
    figure.update_layout(
        title=t("specific_energy"), yaxis={"title": "kWh / " + t("units"), "rangemode": "tozero"}
    )
    return figure
