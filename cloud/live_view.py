"""The live plant view's data: series grouped by site and asset, and Plotly figures.

Figures are built once per page load with Plotly in Python; afterwards the browser
asks only for the last seconds of every series and appends them, so a wall screen
refreshing every two seconds costs the server a few small reads, not a page render.
"""

from __future__ import annotations

import hashlib
import time
from collections import defaultdict
from dataclasses import dataclass, field

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from historian import Historian, SeriesInfo, SeriesKey

TREND_SECONDS = 600
ROW_HEIGHT = 80


def series_id(key: SeriesKey) -> str:
    """A short, stable id for a series, safe in HTML attributes and JSON keys."""
    text = "\x1f".join((key.site, key.line, key.asset, key.tag))
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


@dataclass
class AssetView:
    site: str
    line: str
    asset: str
    numeric: list[SeriesInfo] = field(default_factory=list)
    states: list[SeriesInfo] = field(default_factory=list)

    @property
    def dom_id(self) -> str:
        return "fig-" + series_id(SeriesKey(self.site, self.line, self.asset, "~asset"))


@dataclass
class SiteView:
    site: str
    assets: list[AssetView]


def group_series(series: list[SeriesInfo]) -> list[SiteView]:
    """Sites, then assets within them, each sorted by name."""
    assets: dict[tuple[str, str, str], AssetView] = {}
    for info in sorted(series, key=lambda s: s.key):
        k = info.key
        view = assets.setdefault((k.site, k.line, k.asset), AssetView(k.site, k.line, k.asset))
        (view.numeric if info.kind.numeric else view.states).append(info)
    sites: dict[str, list[AssetView]] = defaultdict(list)
    for view in assets.values():
        sites[view.site].append(view)
    return [SiteView(site, views) for site, views in sorted(sites.items())]


def trend_figure(view: AssetView) -> go.Figure:
    """One subplot per numeric tag, sharing the time axis; traces carry the series id.

    The traces start empty: the browser fills them through the same live endpoint it
    refreshes from, so there is one path for data, not two.
    """
    rows = max(len(view.numeric), 1)
    figure = make_subplots(
        rows=rows,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=min(0.08, 0.35 / rows),
        subplot_titles=[info.key.tag for info in view.numeric] or ["no numeric tags"],
    )
    for row, info in enumerate(view.numeric, start=1):
        figure.add_trace(
            go.Scatter(
                x=[],
                y=[],
                mode="lines",
                name=info.key.tag,
                meta=series_id(info.key),
                line={"width": 1.5},
                hovertemplate="%{y:.4g}<extra>" + info.key.tag + "</extra>",
            ),
            row=row,
            col=1,
        )
    figure.update_layout(
        height=60 + ROW_HEIGHT * rows,
        margin={"l": 50, "r": 10, "t": 24, "b": 24},
        showlegend=False,
        template="plotly_white",
        font={"size": 11},
        uirevision=view.dom_id,
    )
    figure.update_xaxes(type="date")
    figure.update_annotations(font_size=11)
    return figure


def recent_values(
    historian: Historian, series: list[SeriesInfo], seconds: float
) -> dict[str, tuple[list[int], list[float]]]:
    """Epoch milliseconds and values of every numeric series over the last ``seconds``."""
    end_ns = time.time_ns() + 1
    start_ns = end_ns - round(seconds * 1e9)
    result: dict[str, tuple[list[int], list[float]]] = {}
    for info in series:
        if not info.kind.numeric:
            continue
        rows = historian.read(info.key, start_ns, end_ns, limit=20_000)
        result[series_id(info.key)] = ([t // 1_000_000 for t, _ in rows], [v for _, v in rows])
    return result
