"""``mingzhou maintenance`` end to end on the shared real data, with fast settings."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from mingzhou.cli import app

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
runner = CliRunner()


def shared(relative: str) -> Path:
    path = DATA / relative
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing; the maintenance tests read the shared public data sets in "
            "place (see /work/shared/data/README.md)"
        )
    return path


def run_json(*args: str) -> dict:
    result = runner.invoke(app, ["maintenance", *args])
    assert result.exit_code == 0, result.output
    # stdout holds exactly one JSON object; progress lines go to stderr.
    return json.loads(result.stdout)


def test_evaluate_cmapss_fd001_fast_on_forty_training_units() -> None:
    result = run_json(
        "evaluate",
        "cmapss",
        "--train",
        str(shared("cmapss/train_FD001.txt")),
        "--test",
        str(shared("cmapss/test_FD001.txt")),
        "--rul",
        str(shared("cmapss/RUL_FD001.txt")),
        "--fast",
        "--train-units",
        "40",
    )
    assert result["n_units"] == 100
    assert 5 < result["rmse"] < 25
    assert 0 < result["phm_score"] < 5000
    assert result["n_regimes"] == 1  # FD001 flies one operating condition
    assert result["sensors_used"] < 21  # constant sensors are dropped


def test_split_then_evaluate_ai4i_fast(tmp_path: Path) -> None:
    source = shared("ai4i2020/ai4i2020.csv")
    summary = run_json("split", "ai4i", "--input", str(source), "--out", str(tmp_path))
    train, test = pd.read_csv(tmp_path / "train.csv"), pd.read_csv(tmp_path / "test.csv")
    assert len(train) == 6000 and len(test) == 2000
    assert not set(train["UDI"]) & set(test["UDI"])
    # Stratified: the failure share is the same to within one row.
    assert abs(train["Machine failure"].mean() - test["Machine failure"].mean()) < 1 / 2000
    assert summary["test_failures"] == int(test["Machine failure"].sum())

    result = run_json(
        "evaluate",
        "ai4i",
        "--train",
        str(tmp_path / "train.csv"),
        "--test",
        str(tmp_path / "test.csv"),
        "--fast",
        "--folds",
        "3",
    )
    for key in ("f1", "precision", "recall", "roc_auc"):
        assert 0 <= result[key] <= 1, key
    assert result["f1"] > 0.7
    assert result["roc_auc"] > 0.9
    assert "split" not in result


def test_evaluate_ai4i_refuses_both_input_and_train() -> None:
    source = str(shared("ai4i2020/ai4i2020.csv"))
    result = runner.invoke(
        app, ["maintenance", "evaluate", "ai4i", "--input", source, "--train", source]
    )
    assert result.exit_code != 0
    assert "give --train and --test, or --input alone" in result.output


def test_a_file_in_another_format_is_one_clear_error(tmp_path) -> None:
    import subprocess
    import sys

    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    for args in (
        ["maintenance", "evaluate", "ai4i", "--input", str(bad)],
        [
            "maintenance",
            "evaluate",
            "cmapss",
            "--train",
            str(bad),
            "--test",
            str(bad),
            "--rul",
            str(bad),
            "--fast",
        ],
        ["energy", "baseline", "--input", str(bad), "--split-at", "2018-07-01"],
    ):
        result = subprocess.run(
            [sys.executable, "-m", "mingzhou", *args], capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 2, (args, result.stderr)
        assert "Traceback" not in result.stderr and "bad.csv" in result.stderr, result.stderr
