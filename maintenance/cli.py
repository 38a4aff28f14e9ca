"""``mingzhou maintenance``: evaluate the predictive-maintenance models on public data sets,
and train and score them on a tenant's historian (``maintenance.tenant_commands``).

Each command prints one JSON object on stdout; progress goes to stderr.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from maintenance.tenant_commands import score_command, train_command

app = typer.Typer(
    no_args_is_help=True, help="Predictive maintenance: evaluation, training and scoring."
)
evaluate_app = typer.Typer(no_args_is_help=True, help="Score a model on a public data set.")
split_app = typer.Typer(no_args_is_help=True, help="Cut a data set into train and test files.")
app.add_typer(evaluate_app, name="evaluate")
app.add_typer(split_app, name="split")
# On a tenant's historian: learn an asset type, then score its assets.
app.command("train")(train_command)
app.command("score")(score_command)

FullOption = Annotated[
    bool,
    typer.Option(
        "--full/--fast",
        help="--full chooses parameters by cross-validation over a grid; --fast uses defaults.",
    ),
]


def _progress(message: str) -> None:
    print(f"[maintenance] {message}", file=sys.stderr, flush=True)


@contextmanager
def _readable(what: str) -> Iterator[None]:
    """A file that is not in the expected format is the caller's mistake: one line, exit 2."""
    import pandas as pd

    try:
        yield
    except (ValueError, KeyError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        reason = f"no column {exc}" if isinstance(exc, KeyError) else str(exc)
        raise typer.BadParameter(f"cannot read {what}: {reason}") from None


def _existing(path: Path) -> Path:
    if not path.is_file():
        raise typer.BadParameter(f"{path} does not exist")
    return path


@evaluate_app.command("cmapss")
def evaluate_cmapss_command(
    train: Annotated[Path, typer.Option(help="C-MAPSS train_FD00N.txt (run to failure).")],
    test: Annotated[Path, typer.Option(help="C-MAPSS test_FD00N.txt.")],
    rul: Annotated[Path, typer.Option(help="C-MAPSS RUL_FD00N.txt (truth for the test).")],
    full: FullOption = True,
    folds: Annotated[int, typer.Option(help="Grouped CV folds (units never split).")] = 5,
    train_units: Annotated[
        int | None, typer.Option(help="Use only the first N training units (quick runs).")
    ] = None,
) -> None:
    """Remaining-useful-life regression: RMSE and PHM08 score on each test unit's last cycle."""
    from maintenance.cmapss_evaluation import evaluate_cmapss
    from maintenance.rul_model import DEFAULT_PARAMS, FULL_GRID

    grid = FULL_GRID if full else (DEFAULT_PARAMS,)
    with _readable("the C-MAPSS files"):
        result = evaluate_cmapss(
            _existing(train),
            _existing(test),
            _existing(rul),
            grid=grid,
            n_splits=folds,
            train_units=train_units,
            progress=_progress,
        )
    print(json.dumps(result))


@evaluate_app.command("ai4i")
def evaluate_ai4i_command(
    train: Annotated[Path | None, typer.Option(help="AI4I training CSV.")] = None,
    test: Annotated[Path | None, typer.Option(help="AI4I test CSV.")] = None,
    input: Annotated[
        Path | None,
        typer.Option("--input", help="One AI4I CSV, split here (stratified 75/25, seed 0)."),
    ] = None,
    full: FullOption = True,
    folds: Annotated[int, typer.Option(help="Stratified folds for the threshold choice.")] = 5,
) -> None:
    """Machine-failure classification: F1, precision, recall and ROC AUC on the test rows."""
    from maintenance.ai4i_data import describe_split, read_ai4i, stratified_split
    from maintenance.ai4i_evaluation import evaluate_ai4i
    from maintenance.failure_classifier import DEFAULT_PARAMS, FULL_GRID

    extra: dict[str, str] = {}
    if input is not None and train is None and test is None:
        with _readable(f"{input} as AI4I data"):
            frame = read_ai4i(_existing(input))
        train_frame, test_frame = stratified_split(frame, 0.25, 0)
        extra["split"] = describe_split(0.25, 0)
    elif input is None and train is not None and test is not None:
        with _readable("the AI4I files"):
            train_frame = read_ai4i(_existing(train))
            # The test file's failure-mode flags are dropped unread.
            test_frame = read_ai4i(_existing(test), failure_modes=False)
    else:
        raise typer.BadParameter("give --train and --test, or --input alone")
    grid = FULL_GRID if full else (DEFAULT_PARAMS,)
    result = evaluate_ai4i(train_frame, test_frame, grid=grid, n_splits=folds, progress=_progress)
    print(json.dumps({**result, **extra}))


@split_app.command("ai4i")
def split_ai4i_command(
    input: Annotated[Path, typer.Option("--input", help="The AI4I 2020 CSV.")],
    out: Annotated[Path, typer.Option(help="Folder for train.csv and test.csv.")],
    test_size: Annotated[float, typer.Option(help="Share of rows in test.csv.")] = 0.25,
    seed: Annotated[int, typer.Option(help="Random seed of the split.")] = 0,
) -> None:
    """Write a stratified train.csv and test.csv (the failure share kept in both)."""
    from maintenance.ai4i_data import LABEL, describe_split, read_ai4i, stratified_split

    if not 0 < test_size < 1:
        raise typer.BadParameter("must be between 0 and 1", param_hint="--test-size")
    with _readable(f"{input} as AI4I data"):
        frame = read_ai4i(_existing(input))
    train_frame, test_frame = stratified_split(frame, test_size, seed)
    out.mkdir(parents=True, exist_ok=True)
    train_path, test_path = out / "train.csv", out / "test.csv"
    train_frame.to_csv(train_path, index=False)
    test_frame.to_csv(test_path, index=False)
    summary = {
        "train": str(train_path),
        "test": str(test_path),
        "train_failures": int(train_frame[LABEL].sum()),
        "test_failures": int(test_frame[LABEL].sum()),
        "split": describe_split(test_size, seed),
    }
    print(json.dumps(summary))
