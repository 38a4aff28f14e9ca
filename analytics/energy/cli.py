"""``mingzhou energy``: baseline, split, anomalies, savings and optimise on meter files,
and ``analyse`` on a tenant's historian (``tenant_commands``). Each prints one JSON object
(or, for ``optimise``, a readable schedule plus a JSON summary line) so scripts can read
it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from analytics.energy.tenant_commands import analyse_command

app = typer.Typer(no_args_is_help=True, help="Energy baselines, savings and load scheduling.")
# On a tenant's historian: the energy_analysis job's work, with a progress bar.
app.command("analyse")(analyse_command)

FormatOption = Annotated[str, typer.Option("--format", help="Meter file format: steel or plain.")]
HolidaysOption = Annotated[
    str, typer.Option(help="Public-holiday calendar: KR (the steel plant's) or none.")
]


def _load(path: Path, fmt: str):
    import pandas as pd

    from analytics.energy.meter_data import read_meter_csv

    if not path.is_file():
        raise typer.BadParameter(f"{path} does not exist")
    try:
        return read_meter_csv(path, fmt)
    except (ValueError, KeyError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        # A file in another format is the caller's mistake: one line, not a traceback.
        reason = f"no column {exc}" if isinstance(exc, KeyError) else str(exc)
        raise typer.BadParameter(f"{path} is not a {fmt!r} meter file: {reason}") from None


@app.command()
def split(
    input: Annotated[Path, typer.Option("--input", help="Steel-format meter CSV.")],
    at: Annotated[str, typer.Option(help="First interval start of test.csv, e.g. 2018-07-01.")],
    out: Annotated[Path, typer.Option(help="Folder for train.csv and test.csv.")],
) -> None:
    """Cut a steel-format file into train.csv (before AT) and test.csv (from AT on)."""
    import pandas as pd

    from analytics.energy.meter_data import split_steel_csv

    train, test = split_steel_csv(input, pd.Timestamp(at), out)
    print(json.dumps({"train": str(train), "test": str(test)}))


@app.command()
def baseline(
    train: Annotated[Path | None, typer.Option(help="Meter file to fit on.")] = None,
    test: Annotated[Path | None, typer.Option(help="Later meter file to score on.")] = None,
    input: Annotated[
        Path | None, typer.Option("--input", help="One file, cut at --split-at.")
    ] = None,
    split_at: Annotated[str | None, typer.Option(help="With --input: start of the test.")] = None,
    fmt: FormatOption = "steel",
    holidays: HolidaysOption = "KR",
    plot: Annotated[Path | None, typer.Option(help="Write actual vs baseline as HTML.")] = None,
) -> None:
    """Fit the hourly baseline on one period, score it (ASHRAE 14) on a later one."""
    import pandas as pd

    from analytics.energy.baseline import evaluate_baseline
    from analytics.energy.holiday_calendars import CALENDARS

    if input is not None and split_at is not None:
        frame = _load(input, fmt)
        cut = pd.Timestamp(split_at)
        train_frame, test_frame = frame[frame.index < cut], frame[frame.index >= cut]
    elif train is not None and test is not None:
        train_frame, test_frame = _load(train, fmt), _load(test, fmt)
    else:
        raise typer.BadParameter("give --train and --test, or --input and --split-at")
    evaluation = evaluate_baseline(train_frame, test_frame, CALENDARS[holidays])
    if plot is not None:
        from analytics.energy.charts import write_baseline_chart

        write_baseline_chart(
            evaluation.actual, evaluation.expected, evaluation.naive_expected, plot
        )
    print(json.dumps(evaluation.as_json()))


@app.command()
def anomalies(
    train: Annotated[Path, typer.Option(help="Meter file to fit the baseline on.")],
    test: Annotated[Path, typer.Option(help="Later meter file to look for anomalies in.")],
    fmt: FormatOption = "steel",
    holidays: HolidaysOption = "KR",
    tariff: Annotated[
        Path | None, typer.Option(help="Tariff YAML (default: the Zhejiang example).")
    ] = None,
    z: Annotated[float, typer.Option(help="Threshold in residual standard deviations.")] = 3.0,
    top: Annotated[int, typer.Option(help="Episodes to list, costliest first.")] = 10,
) -> None:
    """Consumption above the baseline and power-factor penalties, each with its cost."""
    from analytics.energy.anomalies import meter_anomalies
    from analytics.energy.holiday_calendars import CALENDARS
    from analytics.energy.tariff import Tariff, default_tariff

    prices = Tariff.from_yaml(tariff) if tariff else default_tariff()
    try:
        found = meter_anomalies(
            _load(train, fmt), _load(test, fmt), prices, CALENDARS[holidays], z=z
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    print(json.dumps({"currency": prices.currency, **found.as_json(top)}))


@app.command()
def savings(
    input: Annotated[Path, typer.Option("--input", help="Meter file.")],
    split_at: Annotated[str, typer.Option(help="End of the baseline period.")],
    from_: Annotated[
        str | None, typer.Option("--from", help="Start of the reporting period.")
    ] = None,
    inject: Annotated[
        float, typer.Option(help="Take this share off every interval from --from (a test).")
    ] = 0.0,
    fmt: FormatOption = "steel",
    confidence: Annotated[float, typer.Option(help="Confidence of the band.")] = 0.90,
) -> None:
    """IPMVP option C savings of the reporting period, with ASHRAE 14 uncertainty."""
    import pandas as pd

    from analytics.energy.savings import estimate_savings, inject_saving

    frame = _load(input, fmt)
    baseline_end = pd.Timestamp(split_at)
    reporting_start = pd.Timestamp(from_) if from_ else baseline_end
    if inject:
        frame = inject_saving(frame, inject, reporting_start)
    estimate = estimate_savings(frame, baseline_end, reporting_start, confidence)
    print(json.dumps({**estimate.as_json(), "injected_percent": inject * 100}))


@app.command()
def optimise(
    demo: Annotated[bool, typer.Option("--demo", help="Run the documented demo case.")] = False,
    tariff: Annotated[
        Path | None, typer.Option(help="Tariff YAML (default: Zhejiang example).")
    ] = None,
    time_limit: Annotated[float, typer.Option(help="MILP time limit, seconds.")] = 10.0,
    plot: Annotated[Path | None, typer.Option(help="Write the schedule chart as HTML.")] = None,
) -> None:
    """Schedule shiftable loads for the least cost, demand charge included."""
    if not demo:
        raise typer.BadParameter("only --demo is available from the command line so far")
    from analytics.energy.schedule_demo import demo_problem
    from analytics.energy.schedule_milp import milp_schedule
    from analytics.energy.shiftable_loads import earliest_schedule, schedule_cost, violations
    from analytics.energy.tariff import Tariff

    problem = demo_problem(Tariff.from_yaml(tariff) if tariff else None)
    before = earliest_schedule(problem)
    after = milp_schedule(problem, time_limit=time_limit)
    broken = violations(problem, after)
    if broken:
        raise RuntimeError(f"scheduler produced an infeasible schedule: {broken}")
    cost_before, cost_after = schedule_cost(problem, before), schedule_cost(problem, after)
    times = problem.slot_starts()
    print(f"tariff: {problem.tariff.name}; method: {after.method}")
    print(f"{'batch':<14}{'earliest start':>16}{'optimised':>12}")
    for batch in problem.batches:
        print(
            f"{batch.name:<14}{times[before.starts[batch.name]]:%H:%M}".ljust(30)
            + f"{times[after.starts[batch.name]]:%H:%M}".rjust(12)
        )
    summary = {
        "method": after.method,
        "cost_before": round(cost_before.total, 2),
        "cost_after": round(cost_after.total, 2),
        "saving": round(cost_before.total - cost_after.total, 2),
        "saving_percent": round((1 - cost_after.total / cost_before.total) * 100, 2),
        "energy_cost_before": round(cost_before.energy, 2),
        "energy_cost_after": round(cost_after.energy, 2),
        "peak_kw_before": round(cost_before.peak_kw, 1),
        "peak_kw_after": round(cost_after.peak_kw, 1),
        "starts": {name: str(times[slot]) for name, slot in after.starts.items()},
        "currency": problem.tariff.currency,
    }
    if plot is not None:
        from analytics.energy.charts import write_schedule_chart

        write_schedule_chart(problem, before, after, plot)
    print(json.dumps(summary))
