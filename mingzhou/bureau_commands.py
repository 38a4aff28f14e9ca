"""``mingzhou bureau``: the economic bureau's digitalization and energy report."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    no_args_is_help=True,
    help="Digitalization (两化融合) and energy metrics for the economic bureau.",
)


class FactsSource(StrEnum):
    REGION = "region"


SYNTHETIC_NOTE = (
    "Synthetic data: a simulated region of {n} enterprises (analytics/bureau/region.py,"
    " seed {seed}), not real enterprises."
)


@app.command()
def report(
    period: Annotated[str, typer.Option(help="Month of the report, YYYY-MM (e.g. 2026-10).")],
    out: Annotated[Path, typer.Option(help="Folder for the CSV, HTML and PDF files.")],
    k: Annotated[
        int,
        typer.Option(help="Smallest group shown: fewer enterprises are merged or suppressed."),
    ] = 5,
    weights: Annotated[
        Path | None,
        typer.Option(help="Index weights and levels (YAML); default: the shipped file."),
    ] = None,
    source: Annotated[
        FactsSource,
        typer.Option(
            help="Where the enterprises' facts come from. Only 'region' for now: the"
            " synthetic region of analytics/bureau/region.py (35 enterprises, 5 districts,"
            " 3 industry clouds), until the platform's facts gatherer lands."
        ),
    ] = FactsSource.REGION,
    months: Annotated[
        int, typer.Option(min=1, max=120, help="Months of trend, ending at --period.")
    ] = 12,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic region.")] = 2026,
    pdf: Annotated[
        bool, typer.Option(help="Also print a PDF with Chromium when it is installed.")
    ] = True,
) -> None:
    """Write bureau-PERIOD-groups.csv, bureau-PERIOD-trends.csv, bureau-PERIOD.html and
    (with Chromium) bureau-PERIOD.pdf into OUT, and print their paths as JSON.

    The facts come from the synthetic region (--source region, the default) until the
    platform's facts gatherer lands; the report says so on its first page.
    """
    from analytics.bureau.aggregation import aggregate
    from analytics.bureau.facts import check_period
    from analytics.bureau.index import IndexConfigError, load_index_config
    from analytics.bureau.region import build_region
    from analytics.bureau.report import ReportError, write_report

    try:
        check_period(period)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--period") from None
    if k < 2:
        raise typer.BadParameter(f"must be at least 2, not {k}", param_hint="--k")
    try:
        config = load_index_config(weights)
    except IndexConfigError as exc:
        raise typer.BadParameter(str(exc), param_hint="--weights") from None
    facts = build_region(period, months=months, seed=seed)
    note = SYNTHETIC_NOTE.format(n=len({f.enterprise_key for f in facts}), seed=seed)
    aggregates = aggregate(facts, k=k, config=config)
    try:
        files = write_report(aggregates, period, out, config, pdf=pdf, source_note=note)
    except (ReportError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(1) from None
    print(
        json.dumps(
            {
                "period": period,
                "k": k,
                "source": source.value,
                "groups_csv": str(files.groups_csv),
                "trends_csv": str(files.trends_csv),
                "html": str(files.html),
                "pdf": str(files.pdf) if files.pdf else None,
            }
        )
    )
    if files.pdf_error:
        print(f"warning: {files.pdf_error}", file=sys.stderr)
        raise typer.Exit(1)
