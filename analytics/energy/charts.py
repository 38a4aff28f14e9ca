"""Plotly charts written as self-contained HTML (plotly.js inlined, so they open offline)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analytics.energy.shiftable_loads import (
    Schedule,
    ShiftProblem,
    load_profile_kw,
    schedule_cost,
    store_levels,
)


def write_baseline_chart(
    actual: pd.Series, expected: pd.Series, naive: pd.Series, path: str | Path
) -> Path:
    figure = go.Figure()
    figure.add_scatter(x=actual.index, y=actual, name="metered kWh", line={"width": 1})
    figure.add_scatter(x=expected.index, y=expected, name="baseline (lagged)", line={"width": 1})
    figure.add_scatter(
        x=naive.index, y=naive, name="time-of-week mean", line={"width": 1, "dash": "dot"}
    )
    figure.update_layout(title="Hourly energy: metered vs baseline", yaxis_title="kWh per hour")
    return _write(figure, path)


def write_schedule_chart(
    problem: ShiftProblem, before: Schedule, after: Schedule, path: str | Path
) -> Path:
    times = problem.slot_starts()
    currency = problem.tariff.currency
    figure = make_subplots(
        rows=3,
        cols=1,
        shared_xaxes=True,
        subplot_titles=(
            f"{before.method}: {schedule_cost(problem, before).total:,.0f} {currency}",
            f"{after.method}: {schedule_cost(problem, after).total:,.0f} {currency}",
            "price and chilled-water store",
        ),
        specs=[[{}], [{}], [{"secondary_y": True}]],
    )
    for row, schedule in ((1, before), (2, after)):
        figure.add_bar(
            x=times,
            y=problem.base_load_kw,
            name="fixed load",
            row=row,
            col=1,
            marker_color="#bbbbbb",
            showlegend=row == 1,
        )
        for batch in problem.batches:
            start = schedule.starts[batch.name]
            kw = [
                batch.power_kw if start <= t < start + batch.duration else 0.0
                for t in range(problem.slots)
            ]
            figure.add_bar(
                x=times,
                y=kw,
                name=batch.name,
                row=row,
                col=1,
                legendgroup=batch.name,
                showlegend=row == 1,
            )
        if schedule.chiller_kw is not None:
            figure.add_bar(
                x=times,
                y=schedule.chiller_kw,
                name="chiller",
                row=row,
                col=1,
                legendgroup="chiller",
                showlegend=row == 1,
            )
        figure.add_scatter(
            x=times,
            y=load_profile_kw(problem, schedule),
            name="total kW",
            mode="lines",
            line={"color": "black", "width": 1},
            row=row,
            col=1,
            showlegend=False,
        )
    figure.add_scatter(
        x=times, y=problem.prices(), name="price per kWh", line_shape="hv", row=3, col=1
    )
    if after.chiller_kw is not None:
        figure.add_scatter(
            x=times,
            y=store_levels(problem, after.chiller_kw),
            name="store kWh",
            row=3,
            col=1,
            secondary_y=True,
        )
    figure.update_layout(
        barmode="stack", bargap=0, height=900, title="Shiftable loads: earliest start vs optimised"
    )
    return _write(figure, path)


def _write(figure: go.Figure, path: str | Path) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    figure.write_html(target, include_plotlyjs=True, full_html=True)
    return target
