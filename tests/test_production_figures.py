"""The Plotly figures of production KPIs carry the computed data, in both languages."""

from __future__ import annotations

from pathlib import Path

import plotly.graph_objects as go
import pytest

from analytics.production import (
    CycleTimes,
    SiteReport,
    cycle_time_histogram_figure,
    downtime_pareto_figure,
    oee_trend_figure,
    output_vs_plan_figure,
    production_report,
)
from historian.sqlite_store import SqliteHistorian
from tests.production_day import CALENDAR, DAY_END, DAY_START, site_spec, write_day

approx = pytest.approx


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> SiteReport:
    path: Path = tmp_path_factory.mktemp("figures") / "h.db"
    with SqliteHistorian(path) as historian:
        write_day(historian)
        return production_report(historian, site_spec(), CALENDAR, DAY_START, DAY_END)


def _trace(figure: go.Figure, name: str) -> go.BaseTraceType:
    (trace,) = [t for t in figure.data if t.name == name]
    return trace


def test_oee_trend_has_a_e_q_and_oee_per_hour(day: SiteReport) -> None:
    hours = day.trend("hour", line="moulding")
    figure = oee_trend_figure(hours)
    assert [t.name for t in figure.data] == ["OEE", "Availability", "Performance", "Quality"]
    for name, attr in (("OEE", "oee"), ("Availability", "availability"),
                       ("Performance", "effectiveness"), ("Quality", "quality")):  # fmt: skip
        expected = [None if getattr(h, attr) is None else 100 * getattr(h, attr) for h in hours]
        assert list(_trace(figure, name).y) == approx(expected, abs=0.01), name
    assert len(_trace(figure, "OEE").x) == 8
    # The hour with the gap (14:00) shows its measured 125 % performance, not a clipped one.
    assert _trace(figure, "Performance").y[6] == approx(125.0)
    zh = oee_trend_figure(hours, lang="zh")
    assert [t.name for t in zh.data] == ["OEE", "时间开动率", "性能开动率", "合格品率"]


def test_downtime_pareto_bars_and_cumulative_line(day: SiteReport) -> None:
    site = day.whole.site
    figure = downtime_pareto_figure(site)
    bars, line = figure.data
    assert list(bars.x) == ["machine alarm", "waiting", "station fault", "starved"]
    assert list(bars.y) == approx([45.0, 30.0, 20.0, 10.0])  # minutes
    assert sum(bars.y) == approx(site.downtime_s / 60)
    assert [c[0] for c in bars.customdata] == [2, 1, 1, 1]  # stops per reason
    assert list(line.y) == approx([100 * 45 / 105, 100 * 75 / 105, 100 * 95 / 105, 100.0], abs=0.01)
    assert line.yaxis == "y2"


def test_cycle_time_histogram_shows_the_binned_counts(day: SiteReport) -> None:
    cycles = day.whole.assets["moulding/IMM-01"].cycle_times
    assert cycles is not None
    figure = cycle_time_histogram_figure(cycles, bins=[11.25, 11.75, 12.25, 12.75])
    (bars,) = figure.data
    assert list(bars.x) == approx([11.5, 12.0, 12.5])
    assert list(bars.y) == [590, 592, 592]
    assert sum(bars.y) == cycles.n
    # Ideal and mean drawn as vertical lines.
    assert sorted(shape.x0 for shape in figure.layout.shapes) == approx(
        sorted([10.0, cycles.mean_s])
    )
    empty = cycle_time_histogram_figure(CycleTimes(()))
    assert list(empty.data[0].y) == []


def test_output_against_plan(day: SiteReport) -> None:
    hours = day.trend("hour", line="moulding")
    figure = output_vs_plan_figure(hours)
    assert list(_trace(figure, "good").y) == [h.output_quantity for h in hours]
    assert list(_trace(figure, "scrap").y) == [h.sq for h in hours]
    assert list(_trace(figure, "plan").y) == approx([300, 300, 300, 300, 150, 300, 300, 300])
    assert _trace(figure, "cumulative plan").y[-1] == approx(2250)
    assert _trace(figure, "cumulative good").y[-1] == approx(1854)
    assert figure.layout.barmode == "stack"
    # Without a plan there is no plan trace.
    hours_no_plan = day.trend("hour", line="moulding", asset="IMM-01")
    names = [t.name for t in output_vs_plan_figure(hours_no_plan).data]
    assert "plan" not in names and "cumulative good" in names


def test_figures_serialise_and_refuse_unknown_languages(day: SiteReport) -> None:
    figure = downtime_pareto_figure(day.whole.site, lang="zh")
    as_dict = figure.to_dict()
    assert as_dict["data"][0]["x"][0] == "machine alarm"
    assert as_dict["layout"]["title"]["text"] == "停机原因帕累托图"
    with pytest.raises(ValueError, match="language must be one of"):
        oee_trend_figure([], lang="fr")  # type: ignore[arg-type]
