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
    PLATFORM = "platform"


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
            help="Where the enterprises' facts come from: 'region', the synthetic region of"
            " analytics/bureau/region.py (35 enterprises, 5 districts, 3 industry clouds), or"
            " 'platform': every tenant of --metadata-url, its historian in --storage (the"
            " months before --period from the facts the monthly job stored)."
        ),
    ] = FactsSource.REGION,
    metadata_url: Annotated[
        str | None,
        typer.Option(
            help="With --source platform: sqlite:///PATH or postgresql+psycopg://…",
            envvar="MINGZHOU_METADATA",
        ),
    ] = None,
    storage: Annotated[
        str | None,
        typer.Option(
            help="With --source platform: sqlite:DIR or influxdb://[user:pass@]host:port",
            envvar="MINGZHOU_STORAGE",
        ),
    ] = None,
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

    The facts come from the synthetic region (--source region, the default; the report
    says so on its first page) or from the platform (--source platform), gathered now for
    --period, with a progress bar over the tenants.
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
    if source is FactsSource.PLATFORM:
        facts, note = _platform_facts(period, months, metadata_url, storage)
    else:
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


def _platform_facts(
    period: str, months: int, metadata_url: str | None, storage: str | None
) -> tuple[list, str]:
    """Every tenant's facts of ``period`` gathered now, and the stored facts of the months
    before it; a bad URL or an unreadable store is a clear error, not a traceback."""
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from analytics.bureau.facts import previous_periods
    from analytics.bureau.platform_facts import gather_platform_facts, month_range
    from analytics.bureau.report_job import platform_note
    from analytics.bureau.stored_facts import load_facts
    from cloud.tenant_storage import TenantStorage
    from jobs.progress_bar import progress_bar
    from tenants.db import make_engine, session_factory

    if not metadata_url:
        raise typer.BadParameter("needed with --source platform", param_hint="--metadata-url")
    if not storage:
        raise typer.BadParameter("needed with --source platform", param_hint="--storage")
    try:
        complete = month_range(period).complete
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--period") from None
    try:
        store = TenantStorage(storage)
    except (ValueError, OSError) as exc:
        raise typer.BadParameter(str(exc), param_hint="--storage") from None
    try:
        engine = make_engine(metadata_url)
    except (ArgumentError, ValueError) as exc:
        raise typer.BadParameter(f"{metadata_url!r}: {exc}", param_hint="--metadata-url") from None
    try:
        with session_factory(engine)() as session, progress_bar("gathering facts") as bar:
            gathered = gather_platform_facts(
                session,
                store,
                period,
                progress=lambda done, total, key: bar.update(done, total, key),
            )
            earlier = load_facts(session, previous_periods(period, months)[:-1])
    except SQLAlchemyError as exc:
        first_line = str(exc).splitlines()[0]
        print(f"error: the metadata store cannot be read: {first_line}", file=sys.stderr)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
        store.close()
    for key, why in gathered.failed:
        print(f"warning: tenant {key}: left out: {why}", file=sys.stderr)
    if not gathered.facts:
        print(f"error: no tenant's facts of {period} could be gathered", file=sys.stderr)
        raise typer.Exit(1)
    note = platform_note(period, len(gathered.facts), len(gathered.failed), complete)
    return [*earlier, *gathered.facts], note
