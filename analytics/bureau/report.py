"""The bureau's report of one month: two CSV files, a printable HTML page with Plotly
charts (plotly.js inlined from the installed plotly package, so it opens offline and
prints without a network), and a PDF printed by Debian's headless Chromium when it is
installed.

Everything here reads ``BureauAggregates`` only: no enterprise key, name or series can
reach a report because none reaches its input.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
from jinja2 import Environment, FileSystemLoader, select_autoescape
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

from analytics.bureau.aggregation import (
    INDEX_MEASURE,
    MEASURES,
    BureauAggregates,
    Dimension,
    GroupAggregate,
    MeasureAggregate,
    MeasureStatus,
    PeriodAggregates,
)
from analytics.bureau.index import IndexConfig, load_index_config
from analytics.bureau.indicators import DEFINITIONS, Indicator

CHROMIUM = Path("/usr/bin/chromium")
FIGURE_WIDTH, FIGURE_HEIGHT = 760, 380  # fits A4 portrait at 96 dpi with 12 mm margins
LEVEL_COLOURS = ("#d9534f", "#f0ad4e", "#5bc0de", "#5cb85c", "#337ab7", "#8e44ad")
_TEMPLATES = Path(__file__).with_name("templates")


class ReportError(RuntimeError):
    """A report that could not be written; the message says which file and why."""


@dataclass(frozen=True)
class ReportFiles:
    groups_csv: Path
    trends_csv: Path
    html: Path
    pdf: Path | None  # None when Chromium is absent, not asked for, or failed
    pdf_error: str | None = None  # why the PDF is missing when Chromium failed


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def _cell(value: Any) -> Any:
    # Group labels come from users (district names): a leading = + - @ would run as a
    # formula when the CSV is opened in a spreadsheet.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _periods_up_to(aggregates: BureauAggregates, period: str) -> list[PeriodAggregates]:
    aggregates.period(period)  # KeyError naming the periods there are
    return [p for p in aggregates.periods if p.period <= period]


def _all_groups(p: PeriodAggregates) -> list[GroupAggregate]:
    return [p.region, *p.districts, *p.industry_clouds]


def group_rows(aggregates: BureauAggregates, period: str) -> list[dict[str, Any]]:
    """One row per group of ``period`` (region, districts, industry clouds)."""
    rows = []
    for g in _all_groups(aggregates.period(period)):
        row: dict[str, Any] = {
            "period": g.period,
            "dimension": g.dimension.value,
            "group": g.group,
            "merged_groups": ";".join(g.merged_groups),
            "enterprises": g.enterprises,
            "index_mean": _round(g.index.mean, 1),
            "index_contributors": g.index.contributors,
            "index_status": g.index.status.value,
        }
        for key, _ in aggregates.levels:
            row[f"level_{key}"] = None if g.level_counts is None else g.level_counts[key]
        for key in Indicator:
            m = g.indicators[key]
            row[f"{key.value}_mean"] = _round(m.mean)
            row[f"{key.value}_unit"] = m.unit
            row[f"{key.value}_contributors"] = m.contributors
            row[f"{key.value}_status"] = m.status.value
        rows.append(row)
    return rows


def trend_rows(aggregates: BureauAggregates, period: str) -> list[dict[str, Any]]:
    """Long format: one row per month, group and measure, for the months up to ``period``."""
    rows = []
    for p in _periods_up_to(aggregates, period):
        for g in _all_groups(p):
            for name in MEASURES:
                m = g.measure(name)
                rows.append(
                    {
                        "period": p.period,
                        "dimension": g.dimension.value,
                        "group": g.group,
                        "merged_groups": ";".join(g.merged_groups),
                        "measure": name,
                        "mean": _round(m.mean, 1 if name == INDEX_MEASURE else 2),
                        "unit": m.unit,
                        "contributors": m.contributors,
                        "status": m.status.value,
                    }
                )
    return rows


def _write_csv(rows: list[dict[str, Any]], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    # utf-8-sig: spreadsheets on Chinese Windows read district names right only with a BOM.
    with path.open("w", newline="", encoding="utf-8-sig") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(v) for k, v in row.items()})
    return path


def csv_text(rows: list[dict[str, Any]]) -> str:
    """The rows as CSV text (formulas escaped as in the files), for a download; the caller
    adds the BOM when it sends bytes."""
    import io

    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(v) for k, v in row.items()})
    return out.getvalue()


def write_groups_csv(aggregates: BureauAggregates, period: str, path: str | Path) -> Path:
    return _write_csv(group_rows(aggregates, period), Path(path))


def write_trends_csv(aggregates: BureauAggregates, period: str, path: str | Path) -> Path:
    return _write_csv(trend_rows(aggregates, period), Path(path))


# --- charts ------------------------------------------------------------------------------


def _layout(figure: go.Figure, title: str, yaxis: str) -> go.Figure:
    figure.update_layout(
        title=title,
        yaxis_title=yaxis,
        template="plotly_white",
        width=FIGURE_WIDTH,
        height=FIGURE_HEIGHT,
        margin={"l": 60, "r": 20, "t": 50, "b": 60},
        legend={"orientation": "h", "y": -0.2},
    )
    return figure


def _status_text(m: MeasureAggregate, k: int) -> str:
    return {
        MeasureStatus.SUPPRESSED: f"suppressed (k={k})",
        MeasureStatus.NO_DATA: "no data",
        MeasureStatus.NOT_COMPARABLE: "units differ",
    }.get(m.status, "")


def index_by_group_figure(
    aggregates: BureauAggregates, period: str, dimension: Dimension, config: IndexConfig
) -> go.Figure:
    """Mean index of each group of ``dimension`` in ``period``, with the level bands and
    the region's mean; a suppressed group keeps its place with the reason as text."""
    p = aggregates.period(period)
    groups = p.groups(dimension)
    y = [_round(g.index.mean, 1) for g in groups]
    text = [
        f"{g.index.mean:.1f}" if g.index.mean is not None else _status_text(g.index, aggregates.k)
        for g in groups
    ]
    figure = go.Figure(
        go.Bar(
            x=[g.group for g in groups],
            y=y,
            text=text,
            textposition="outside",
            name="mean index",
            customdata=[g.enterprises for g in groups],
            hovertemplate="%{x}: %{y:.1f} (%{customdata} enterprises)<extra></extra>",
        )
    )
    bounds = [lv.min_score for lv in config.levels] + [100.0]
    for i, level in enumerate(config.levels):
        figure.add_hrect(
            y0=bounds[i],
            y1=bounds[i + 1],
            fillcolor=LEVEL_COLOURS[i % len(LEVEL_COLOURS)],
            opacity=0.08,
            line_width=0,
            annotation_text=level.name,
            annotation_position="top left",
            annotation_font_size=9,
        )
    if p.region.index.mean is not None:
        figure.add_hline(
            y=round(p.region.index.mean, 1),
            line_dash="dash",
            annotation_text=f"region {p.region.index.mean:.1f}",
        )
    label = "district" if dimension is Dimension.DISTRICT else "industry cloud"
    _layout(figure, f"Digitalization index by {label}, {period}", "index (0–100)")
    figure.update_yaxes(range=[0, 105])
    return figure


def index_trend_figure(aggregates: BureauAggregates, period: str) -> go.Figure:
    """Monthly mean index of the region, each district and each industry cloud."""
    months = [p.period for p in _periods_up_to(aggregates, period)]
    figure = make_subplots(
        rows=2, cols=1, shared_xaxes=True, subplot_titles=("by district", "by industry cloud")
    )
    region = [_round(t.mean, 1) for t in aggregates.trend(Dimension.REGION, "region", "index")]
    for row, dimension in ((1, Dimension.DISTRICT), (2, Dimension.INDUSTRY_CLOUD)):
        figure.add_scatter(
            x=months,
            y=region[: len(months)],
            name="region",
            line={"color": "black", "width": 3},
            legendgroup="region",
            showlegend=row == 1,
            row=row,
            col=1,
        )
        for label in aggregates.group_labels(dimension):
            trend = aggregates.trend(dimension, label, INDEX_MEASURE)[: len(months)]
            figure.add_scatter(
                x=months,
                y=[_round(t.mean, 1) for t in trend],
                name=label,
                mode="lines+markers",
                line={"dash": "solid" if row == 1 else "dot"},
                row=row,
                col=1,
            )
    _layout(figure, f"Digitalization index by month, to {period}", "index (0–100)")
    figure.update_layout(height=FIGURE_HEIGHT * 1.6)
    figure.update_yaxes(title_text="index", range=[0, 100])
    return figure


def level_distribution_figure(aggregates: BureauAggregates, period: str) -> go.Figure:
    """Enterprises per level, for the region and each group whose index is published."""
    p = aggregates.period(period)
    groups = [g for g in _all_groups(p) if g.level_counts is not None]
    labels = [g.group for g in groups]
    figure = go.Figure()
    for i, (key, name) in enumerate(aggregates.levels):
        figure.add_bar(
            x=labels,
            y=[g.level_counts[key] for g in groups],  # type: ignore[index]
            name=name,
            marker_color=LEVEL_COLOURS[i % len(LEVEL_COLOURS)],
        )
    _layout(figure, f"Enterprises by level, {period}", "enterprises")
    # Slanted group names need room below the axis, the legend goes under them.
    figure.update_layout(
        barmode="stack",
        xaxis_tickangle=-30,
        margin_b=110,
        legend_y=-0.45,
        height=FIGURE_HEIGHT + 40,
    )
    return figure


def energy_intensity_figure(aggregates: BureauAggregates, period: str) -> go.Figure:
    """Mean kWh per 10,000 yuan of output value by district and by industry cloud."""
    p = aggregates.period(period)
    key = Indicator.ENERGY_PER_10K_YUAN
    figure = go.Figure()
    for dimension, name in ((Dimension.DISTRICT, "district"), (Dimension.INDUSTRY_CLOUD, "cloud")):
        groups = p.groups(dimension)
        figure.add_bar(
            x=[g.group for g in groups],
            y=[_round(g.indicators[key].mean, 1) for g in groups],
            text=[
                f"{g.indicators[key].mean:,.0f}"
                if g.indicators[key].mean is not None
                else _status_text(g.indicators[key], aggregates.k)
                for g in groups
            ],
            textposition="outside",
            name=f"by {name}",
        )
    region = p.region.indicators[key].mean
    if region is not None:
        figure.add_hline(y=round(region, 1), line_dash="dash", annotation_text="region")
    return _layout(
        figure,
        f"Electricity per 10,000 yuan of output value, {period}",
        DEFINITIONS[key].unit,
    )


def report_figures(
    aggregates: BureauAggregates, period: str, config: IndexConfig
) -> dict[str, go.Figure]:
    """The report's charts by id (the id is the HTML element that holds each)."""
    return {
        "index-by-district": index_by_group_figure(aggregates, period, Dimension.DISTRICT, config),
        "index-by-industry": index_by_group_figure(
            aggregates, period, Dimension.INDUSTRY_CLOUD, config
        ),
        "index-trend": index_trend_figure(aggregates, period),
        "level-distribution": level_distribution_figure(aggregates, period),
        "energy-intensity": energy_intensity_figure(aggregates, period),
    }


# --- HTML and PDF --------------------------------------------------------------------------


def _format(m: MeasureAggregate, digits: int = 1) -> str:
    if m.mean is not None:
        return f"{m.mean:,.{digits}f}"
    return {
        MeasureStatus.SUPPRESSED: "suppressed",
        MeasureStatus.NO_DATA: "–",
        MeasureStatus.NOT_COMPARABLE: "units differ",
    }[m.status]


def _figure_json(figure: go.Figure) -> str:
    # Inside <script type="application/json">: "</" would end the element early.
    return figure.to_json().replace("</", "<\\/")


def render_html(
    aggregates: BureauAggregates,
    period: str,
    config: IndexConfig | None = None,
    *,
    title: str = "Digitalization and energy report",
    source_note: str = "",
) -> str:
    """The printable report of ``period`` as one self-contained HTML document."""
    config = config or load_index_config()
    p = aggregates.period(period)
    env = Environment(loader=FileSystemLoader(_TEMPLATES), autoescape=select_autoescape(["html"]))
    env.filters["measure"] = _format
    figures = report_figures(aggregates, period, config)
    return env.get_template("bureau_report.html").render(
        title=title,
        period=period,
        source_note=source_note,
        k=aggregates.k,
        region=p.region,
        tables=[
            ("Districts", [p.region, *p.districts]),
            ("Industry clouds", [p.region, *p.industry_clouds]),
        ],
        indicators=[DEFINITIONS[key] for key in Indicator],
        levels=config.levels,
        level_names=dict(aggregates.levels),
        weights=[(DEFINITIONS[key], w) for key, w in config.weights.items()],
        total_weight=config.total_weight,
        config=config,
        figures={fid: _figure_json(fig) for fid, fig in figures.items()},
        plotly_js=get_plotlyjs(),
    )


def write_html(
    aggregates: BureauAggregates,
    period: str,
    path: str | Path,
    config: IndexConfig | None = None,
    **kwargs: str,
) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(aggregates, period, config, **kwargs), encoding="utf-8")
    return path


def chromium_path() -> Path | None:
    """Debian's Chromium, or another ``chromium`` on PATH; None when there is none."""
    if CHROMIUM.exists():
        return CHROMIUM
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    return Path(found) if found else None


def write_pdf(html: str | Path, pdf: str | Path, *, timeout_s: float = 120.0) -> Path:
    """Print ``html`` to ``pdf`` with headless Chromium; ReportError when it cannot."""
    browser = chromium_path()
    if browser is None:
        raise ReportError("no PDF: Chromium is not installed (apt install chromium)")
    html, pdf = Path(html).resolve(), Path(pdf).resolve()
    pdf.unlink(missing_ok=True)
    # A throwaway profile: a user's running Chromium or another job must not share it.
    with tempfile.TemporaryDirectory(prefix="mingzhou-pdf-") as profile:
        command = [
            str(browser),
            "--headless",
            "--no-sandbox",  # root in containers; the page is our own file
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",  # no calls to Google's servers
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--no-pdf-header-footer",
            # Lets the charts' scripts finish drawing before the page is printed.
            "--run-all-compositor-stages-before-draw",
            "--virtual-time-budget=15000",
            f"--print-to-pdf={pdf}",
            html.as_uri(),
        ]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise ReportError(f"no PDF: Chromium took more than {timeout_s:.0f} s") from None
    if done.returncode != 0 or not pdf.is_file() or pdf.stat().st_size == 0:
        tail = (done.stderr or "").strip().splitlines()[-3:]
        raise ReportError(
            f"no PDF: Chromium exited {done.returncode} without writing {pdf}: {' | '.join(tail)}"
        )
    return pdf


def write_report(
    aggregates: BureauAggregates,
    period: str,
    out_dir: str | Path,
    config: IndexConfig | None = None,
    *,
    pdf: bool = True,
    title: str = "Digitalization and energy report",
    source_note: str = "",
) -> ReportFiles:
    """``bureau-PERIOD-groups.csv``, ``bureau-PERIOD-trends.csv``, ``bureau-PERIOD.html``
    and, when Chromium is installed and ``pdf``, ``bureau-PERIOD.pdf`` in ``out_dir``."""
    aggregates.period(period)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(f"cannot create the output folder {out}: {exc}") from None
    stem = f"bureau-{period}"
    groups = write_groups_csv(aggregates, period, out / f"{stem}-groups.csv")
    trends = write_trends_csv(aggregates, period, out / f"{stem}-trends.csv")
    html = write_html(
        aggregates, period, out / f"{stem}.html", config, title=title, source_note=source_note
    )
    pdf_path, pdf_error = None, None
    if pdf and chromium_path() is not None:
        try:
            pdf_path = write_pdf(html, out / f"{stem}.pdf")
        except ReportError as exc:
            pdf_error = str(exc)
    return ReportFiles(groups, trends, html, pdf_path, pdf_error)


def figure_data(html: str) -> dict[str, dict[str, Any]]:
    """The charts' Plotly JSON embedded in a report, by figure id (for checks and tests)."""
    from html.parser import HTMLParser

    found: dict[str, dict[str, Any]] = {}

    class _Scripts(HTMLParser):
        current: str | None = None
        chunks: list[str] = []  # noqa: RUF012 (one parser, one use)

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            a = dict(attrs)
            if tag == "script" and a.get("type") == "application/json" and a.get("data-figure"):
                self.current, self.chunks = a["data-figure"], []

        def handle_endtag(self, tag: str) -> None:
            if self.current:
                found[self.current] = json.loads("".join(self.chunks))
            self.current = None

        def handle_data(self, data: str) -> None:
            if self.current:
                self.chunks.append(data)  # the parser may hand long text over in pieces

    _Scripts().feed(html)
    return found
