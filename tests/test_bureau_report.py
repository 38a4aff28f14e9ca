"""The synthetic region, the bureau's report files (CSV, HTML with Plotly data, PDF with
Chromium) and the ``mingzhou bureau report`` command."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from pathlib import Path

import pytest
from plotly.offline import get_plotlyjs
from typer.testing import CliRunner

from analytics.bureau.aggregation import (
    INDEX_MEASURE,
    OTHER_GROUP,
    BureauAggregates,
    Dimension,
    MeasureStatus,
    aggregate,
)
from analytics.bureau.facts import previous_periods
from analytics.bureau.index import assess_enterprise, load_index_config
from analytics.bureau.indicators import Indicator, compute_indicators
from analytics.bureau.region import build_region
from analytics.bureau.report import ReportFiles, chromium_path, figure_data, write_report
from mingzhou.cli import app

PERIOD = "2026-10"


@pytest.fixture(scope="module")
def region() -> list:
    return build_region(PERIOD)


@pytest.fixture(scope="module")
def aggregates(region) -> BureauAggregates:
    return aggregate(region, k=5)


@pytest.fixture(scope="module")
def report(aggregates, tmp_path_factory) -> ReportFiles:
    out = tmp_path_factory.mktemp("bureau")
    return write_report(aggregates, PERIOD, out, source_note="Synthetic region for the tests")


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


# --- the region ------------------------------------------------------------------------


def test_region_spans_30_enterprises_4_districts_3_clouds_every_month(region) -> None:
    months = previous_periods(PERIOD, 12)
    keys = {f.enterprise_key for f in region}
    assert len(keys) >= 30
    assert len({f.district for f in region}) >= 4
    assert {f.industry_cloud for f in region} == {
        "mold-cloud",
        "appliance-cloud",
        "petrochem-cloud",
    }
    assert Counter((f.enterprise_key, f.period) for f in region) == {
        (k, m): 1 for k in keys for m in months
    }
    # Same seed, same region; another seed, another one.
    assert build_region(PERIOD) == region
    assert build_region(PERIOD, seed=7) != region


def test_region_has_varied_levels_and_every_indicator_computes(region) -> None:
    config = load_index_config()
    last = [f for f in region if f.period == PERIOD]
    levels = Counter(assess_enterprise(f, config).index.level for f in last)
    assert len([lv for lv in levels if lv]) >= 3, levels
    for key in Indicator:
        values = [compute_indicators(f).value(key) for f in last]
        assert any(v is not None for v in values), key
    # Machines per enterprise are the simulated plants' machine types: tags per machine
    # come from protocols/simulators/plants.py (IMM 7, station 5, pump 6, meter 2).
    per_machine = {"mold-cloud": 7, "appliance-cloud": 5, "petrochem-cloud": 6}
    for f in last:
        meters = 1 + f.machines_registered // 15
        machine_tags = f.tags_configured - 2 * meters
        assert machine_tags % per_machine[f.industry_cloud] == 0, f
        assert (
            f.machines_connected
            <= machine_tags // per_machine[f.industry_cloud]
            <= f.machines_registered
        )


def test_region_index_rises_over_the_year(aggregates) -> None:
    trend = aggregates.trend(Dimension.REGION, "region", INDEX_MEASURE)
    assert [t.period for t in trend] == previous_periods(PERIOD, 12)
    assert all(t.status is MeasureStatus.PUBLISHED for t in trend)
    assert trend[-1].mean > trend[0].mean + 3


def test_region_merges_its_small_district(aggregates) -> None:
    districts = {g.group: g for g in aggregates.period(PERIOD).districts}
    assert "Yinzhou" not in districts
    assert "Yinzhou" in districts[OTHER_GROUP].merged_groups
    assert all(g.enterprises >= 5 for g in districts.values())


# --- report files --------------------------------------------------------------------------


def test_groups_csv_holds_the_published_aggregates(report, aggregates) -> None:
    rows = _read_csv(report.groups_csv)
    p = aggregates.period(PERIOD)
    groups = [p.region, *p.districts, *p.industry_clouds]
    assert [(r["dimension"], r["group"]) for r in rows] == [
        (g.dimension.value, g.group) for g in groups
    ]
    for row, g in zip(rows, groups, strict=True):
        assert int(row["enterprises"]) == g.enterprises
        assert row["index_status"] == g.index.status.value
        expected = "" if g.index.mean is None else str(round(g.index.mean, 1))
        assert row["index_mean"] == expected
        for key in Indicator:
            m = g.indicators[key]
            assert row[f"{key.value}_status"] == m.status.value
            assert row[f"{key.value}_mean"] == ("" if m.mean is None else str(round(m.mean, 2)))
        if g.level_counts is not None:
            assert (
                sum(int(row[f"level_{lv}"]) for lv, _ in aggregates.levels) == g.index.contributors
            )
    other = next(r for r in rows if r["group"] == OTHER_GROUP)
    assert "Yinzhou" in other["merged_groups"].split(";")


def test_trends_csv_has_every_month_group_and_measure(report, aggregates) -> None:
    rows = _read_csv(report.trends_csv)
    months = {r["period"] for r in rows}
    assert months == set(previous_periods(PERIOD, 12))
    region_index = [r for r in rows if r["dimension"] == "region" and r["measure"] == "index"]
    expected = [round(t.mean, 1) for t in aggregates.trend("region", "region", "index")]
    assert [float(r["mean"]) for r in region_index] == expected


def test_html_embeds_plotly_and_the_figures_data(report, aggregates) -> None:
    html = report.html.read_text(encoding="utf-8")
    # plotly.js inlined from the installed package, no CDN.
    plotly_js = get_plotlyjs()
    assert plotly_js[:200] in html
    # No script is loaded from anywhere; the only CDN addresses are plotly.js's own
    # defaults for map data, which these charts never fetch.
    assert "<script src" not in html
    assert html.count("cdn.plot.ly") == plotly_js.count("cdn.plot.ly")
    figures = figure_data(html)
    assert set(figures) == {
        "index-by-district",
        "index-by-industry",
        "index-trend",
        "level-distribution",
        "energy-intensity",
    }
    p = aggregates.period(PERIOD)
    by_district = figures["index-by-district"]["data"][0]
    assert by_district["x"] == [g.group for g in p.districts]
    assert by_district["y"] == [
        None if g.index.mean is None else round(g.index.mean, 1) for g in p.districts
    ]
    by_cloud = figures["index-by-industry"]["data"][0]
    assert by_cloud["x"] == [g.group for g in p.industry_clouds]
    assert by_cloud["y"] == [round(g.index.mean, 1) for g in p.industry_clouds]
    # Level distribution: one stacked trace per level; the region's bars add up to the
    # enterprises with an index.
    levels = figures["level-distribution"]["data"]
    assert [t["name"] for t in levels] == [name for _, name in aggregates.levels]
    assert sum(t["y"][0] for t in levels) == p.region.index.contributors
    assert [t["y"][0] for t in levels] == [
        p.region.level_counts[key] for key, _ in aggregates.levels
    ]
    # Trend: region and each group, one point a month.
    trend = figures["index-trend"]["data"]
    assert {t["name"] for t in trend} >= {"region", "Beilun", "mold-cloud"}
    assert all(t["x"] == previous_periods(PERIOD, 12) for t in trend)
    energy = figures["energy-intensity"]["data"][0]
    key = Indicator.ENERGY_PER_10K_YUAN
    assert energy["y"] == [
        None if g.indicators[key].mean is None else round(g.indicators[key].mean, 1)
        for g in p.districts
    ]
    assert "Synthetic region for the tests" in html
    assert "suppressed" in html


def test_reports_hold_no_enterprise_key(report, region) -> None:
    keys = {f.enterprise_key for f in region}
    for path in (report.groups_csv, report.trends_csv, report.html):
        text = path.read_text(encoding="utf-8-sig")
        assert not [k for k in keys if k in text], path


def test_pdf_is_printed_when_chromium_is_installed(report) -> None:
    if chromium_path() is None:
        assert report.pdf is None and report.pdf_error is None
        return
    assert report.pdf_error is None
    assert report.pdf is not None
    data = report.pdf.read_bytes()
    assert data[:5] == b"%PDF-"
    # Charts, two tables and the methods make several A4 pages.
    pages = [int(n) for n in re.findall(rb"/Type /Pages\b[^>]*?/Count (\d+)", data)]
    assert pages and pages[0] >= 4, pages


def test_unknown_period_is_a_clear_error(aggregates, tmp_path) -> None:
    with pytest.raises(KeyError, match="no facts for period 2027-01; periods with facts: 2025-11"):
        write_report(aggregates, "2027-01", tmp_path, pdf=False)


def test_spreadsheet_formulas_in_labels_are_defused(tmp_path) -> None:
    facts = [f for f in build_region(PERIOD, months=1)]
    from dataclasses import replace

    renamed = [replace(f, district='=HYPERLINK("x")') if f.district == "Cixi" else f for f in facts]
    files = write_report(aggregate(renamed), PERIOD, tmp_path, pdf=False)
    groups = [r["group"] for r in _read_csv(files.groups_csv)]
    assert '\'=HYPERLINK("x")' in groups
    assert not any(g.startswith("=") for g in groups)


# --- the command -----------------------------------------------------------------------


def test_cli_writes_the_report(tmp_path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "bureau",
            "report",
            "--period",
            PERIOD,
            "--out",
            str(tmp_path),
            "--months",
            "3",
            "--no-pdf",
        ],
    )
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout.strip().splitlines()[-1])
    assert printed["source"] == "region" and printed["k"] == 5 and printed["pdf"] is None
    for name in ("groups_csv", "trends_csv", "html"):
        assert Path(printed[name]).is_file()
    assert {r["period"] for r in _read_csv(Path(printed["trends_csv"]))} == set(
        previous_periods(PERIOD, 3)
    )
    assert "Synthetic data" in Path(printed["html"]).read_text(encoding="utf-8")


def test_cli_k_and_weights_change_the_report(tmp_path) -> None:
    weights = tmp_path / "w.yaml"
    weights.write_text(
        "weights: {equipment_networking_rate: 1}\nlevels: [{key: low, name: Low, min_score: 0}, {key: high, name: High, min_score: 50}]\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    args = ["bureau", "report", "--period", PERIOD, "--out", str(out), "--months", "1", "--no-pdf"]
    result = CliRunner().invoke(app, [*args, "--k", "9", "--weights", str(weights)])
    assert result.exit_code == 0, result.output
    rows = _read_csv(out / f"bureau-{PERIOD}-groups.csv")
    region = rows[0]
    # The index is now the networking rate alone, the levels are the file's two.
    assert region["index_mean"] == str(round(float(region["equipment_networking_rate_mean"]), 1))
    assert {"level_low", "level_high"} <= set(region)
    # With k = 9 every district shown has at least 9 enterprises.
    assert all(int(r["enterprises"]) >= 9 for r in rows if r["dimension"] == "district")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--period", "2026-13"], "Invalid value for --period: period '2026-13' is not a month"),
        (["--period", PERIOD, "--k", "1"], "Invalid value for --k: must be at least 2, not 1"),
        (["--period", PERIOD, "--source", "nowhere"], "Invalid value for '--source'"),
        (
            ["--period", PERIOD, "--source", "platform", "--metadata-url", "sqlite:///x.db"],
            "Invalid value for --storage: needed with --source platform",
        ),
    ],
)
def test_cli_refuses_bad_options(tmp_path, extra: list[str], message: str) -> None:
    # The platform's URLs may come from the environment: none here.
    unset = {"MINGZHOU_METADATA": None, "MINGZHOU_STORAGE": None}
    result = CliRunner().invoke(
        app, ["bureau", "report", "--out", str(tmp_path), *extra], env=unset
    )
    assert result.exit_code == 2
    assert message in " ".join(result.output.replace("│", " ").split())


def test_cli_bad_weights_file_names_file_and_field(tmp_path) -> None:
    weights = tmp_path / "w.yaml"
    weights.write_text(
        "weights: {oee_level: 1}\nlevels: [{key: a, name: A, min_score: 5}]\n", encoding="utf-8"
    )
    result = CliRunner().invoke(
        app,
        ["bureau", "report", "--period", PERIOD, "--out", str(tmp_path), "--weights", str(weights)],
    )
    assert result.exit_code == 2
    flat = "".join(result.output.replace("│", " ").split())
    assert (
        f"{weights}:levels:Valueerror,thefirstlevelmuststartatmin_score0".replace(" ", "") in flat
    )


@pytest.mark.browser
def test_report_renders_in_chromium(report, artifacts) -> None:
    from tests.browser import open_page

    with open_page(report.html.as_uri(), width=900, height=1200) as page:
        page.wait_for_selector(".js-plotly-plot")
        assert page.locator(".js-plotly-plot").count() == 5
        # The district chart draws one bar per district group.
        bars = page.locator("#index-by-district .bars .point").count()
        assert bars == 4
        page.screenshot(path=str(artifacts / "bureau-report.png"), full_page=True)
        assert page.errors == []
