"""``mingzhou energy`` end to end through the real top-level typer app."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from mingzhou.cli import app
from tests.energy_data import steel_csv

runner = CliRunner()


def run(*args: str) -> str:
    result = runner.invoke(app, ["energy", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_split_then_baseline_on_the_two_files_with_a_plot(tmp_path: Path) -> None:
    run("split", "--input", str(steel_csv()), "--at", "2018-07-01", "--out", str(tmp_path))
    plot = tmp_path / "baseline.html"
    output = run(
        "baseline",
        "--train",
        str(tmp_path / "train.csv"),
        "--test",
        str(tmp_path / "test.csv"),
        "--format",
        "steel",
        "--plot",
        str(plot),
    )
    result = json.loads(output)
    for key in ("cv_rmse", "nmbe", "r2", "cv_rmse_daily"):
        assert key in result and key in result["naive"]
    assert result["cv_rmse"] <= 0.8 * result["naive"]["cv_rmse"]
    assert abs(result["nmbe"]) < 5
    assert result["test_start"] == "2018-07-01 00:00:00"
    html = plot.read_text()
    assert "plotly" in html and len(html) > 1_000_000  # plotly.js inlined: works offline
    same = json.loads(run("baseline", "--input", str(steel_csv()), "--split-at", "2018-07-01"))
    assert same["cv_rmse"] == result["cv_rmse"]


def test_savings_command_reports_saving_and_band() -> None:
    output = run(
        "savings",
        "--input",
        str(steel_csv()),
        "--split-at",
        "2018-07-01",
        "--inject",
        "0.10",
        "--from",
        "2018-08-01",
    )
    result = json.loads(output)
    assert result["injected_percent"] == 10.0
    assert 0 < result["saving_percent"] < 20
    assert result["uncertainty_percent"] > 0


def test_optimise_demo_prints_schedule_and_saving(tmp_path: Path) -> None:
    plot = tmp_path / "schedule.html"
    output = run("optimise", "--demo", "--plot", str(plot))
    assert "annealing-1" in output
    summary = json.loads(output.strip().splitlines()[-1])
    assert summary["method"] == "MILP (HiGHS)"
    assert summary["cost_after"] < summary["cost_before"]
    assert summary["saving"] == round(summary["cost_before"] - summary["cost_after"], 2)
    assert summary["peak_kw_after"] <= summary["peak_kw_before"]
    assert "plotly" in plot.read_text()


def test_baseline_without_inputs_is_a_usage_error() -> None:
    result = runner.invoke(app, ["energy", "baseline"])
    assert result.exit_code == 2


def test_anomalies_on_the_steel_plant_rank_costly_hours_and_price_its_power_factor(
    tmp_path: Path,
) -> None:
    run("split", "--input", str(steel_csv()), "--at", "2018-07-01", "--out", str(tmp_path))
    train, test = str(tmp_path / "train.csv"), str(tmp_path / "test.csv")
    result = json.loads(run("anomalies", "--train", train, "--test", test, "--top", "5"))
    above = result["above_baseline"]
    assert above["episodes"] >= 5 and len(above["top"]) == 5
    costs = [e["cost"] for e in above["top"]]
    assert costs == sorted(costs, reverse=True) and sum(costs) <= above["cost"] + 0.01
    assert all(e["excess_kwh"] > result["threshold_kwh"] for e in above["top"])
    # July to September; the plant's PF sits under 0.90, so every month pays a penalty.
    months = result["power_factor"]["months"]
    assert [m["month"] for m in months] == ["2018-07", "2018-08", "2018-09"]
    assert all(m["power_factor"] < 0.9 and m["adjustment"] > 0 for m in months)
    # The examined period must come after the training one: one line, exit 2.
    refused = runner.invoke(app, ["energy", "anomalies", "--train", test, "--test", train])
    assert refused.exit_code == 2 and "must start after" in refused.output
