"""``mingzhou energy analyse``: the ``energy_analysis`` job's work on a tenant's
historian, from the command line (no platform, no worker).

It prints one JSON object on stdout (every site's full result) and draws a progress bar
on stderr. With ``--store`` (the default) each site's result is also kept in the
metadata store (``--metadata``, default ``$MINGZHOU_METADATA`` as the cloud uses it),
where the plant manager's energy page shows it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from tenants.cli_stores import tenant_stores

DEFAULT_METADATA = "sqlite:///.cloud/metadata.db"


def analyse_command(
    historian: Annotated[
        str,
        typer.Option(
            "--historian",
            help="The tenant's store: sqlite:PATH or influxdb://user:password@host:port/database",
        ),
    ],
    tenant: Annotated[str, typer.Option("--tenant", help="The tenant's key.")],
    site: Annotated[str | None, typer.Option(help="Only this site (default: every site).")] = None,
    start: Annotated[str, typer.Option(help="Start: ISO 8601 or now-24h.")] = "now-24h",
    end: Annotated[str, typer.Option(help="End: ISO 8601 or now.")] = "now",
    baseline_days: Annotated[
        int, typer.Option(help="Days before the range the baseline is fitted on.")
    ] = 28,
    z: Annotated[float, typer.Option(help="Above-baseline threshold in residual SDs.")] = 3.0,
    time_limit: Annotated[
        float, typer.Option(help="Seconds the load scheduler may take per site.")
    ] = 5.0,
    store: Annotated[
        bool, typer.Option(help="Keep the results for the energy page (--no-store: only print).")
    ] = True,
    metadata: Annotated[
        str,
        typer.Option(
            "--metadata",
            envvar="MINGZHOU_METADATA",
            help="The metadata store: sqlite:///path.db or postgresql+psycopg://...",
        ),
    ] = DEFAULT_METADATA,
) -> None:
    """Energy KPIs, baseline goodness, anomalies with their cost and next-day advice."""
    from pydantic import ValidationError

    from analytics.energy.analysis_params import EnergyAnalysisParams

    values = {"site": site, "start": start, "end": end, "baseline_days": baseline_days,
              "z": z, "optimise_time_limit_s": time_limit}  # fmt: skip
    try:
        params = EnergyAnalysisParams.model_validate(values)
    except ValidationError as exc:
        raise typer.BadParameter(_options_said(exc)) from None
    from sqlalchemy import select

    from analytics.energy.jobs import run_energy_analysis
    from jobs.progress_bar import progress_bar
    from tenants.models import Tenant

    with tenant_stores(historian, metadata) as (store_, session), _usage_errors():
        tenant_id = session.scalar(select(Tenant.id).where(Tenant.key == tenant))
        if tenant_id is None:
            raise typer.BadParameter(
                f"no tenant {tenant!r} in the metadata store", param_hint="--tenant"
            )
        with progress_bar("energy analysis") as bar:
            results, summaries = run_energy_analysis(
                session, store_, tenant_id, params,
                created_by="mingzhou energy analyse", progress=bar.update, store=store,
            )  # fmt: skip
        session.commit()
    out: dict[str, Any] = {"start": params.start, "end": params.end, "sites": results}
    if store:
        out["stored"] = [{"site": s["site"], "result_id": s["result_id"]} for s in summaries]
    print(json.dumps(out, ensure_ascii=False))


OPTION_NAMES = {"optimise_time_limit_s": "--time-limit", "baseline_days": "--baseline-days"}


def _options_said(exc: Any) -> str:
    """pydantic's errors as the command's options: "--start: ..."."""
    parts = []
    for error in exc.errors(include_url=False):
        field = str(error["loc"][0]) if error["loc"] else ""
        option = OPTION_NAMES.get(field, f"--{field}") if field else "--start/--end"
        parts.append(f"{option}: {error['msg']}")
    return "; ".join(parts)


@contextmanager
def _usage_errors() -> Iterator[None]:
    """Bad input is the caller's mistake: one line, exit 2; a store that cannot be
    reached is exit 1."""
    from historian import HistorianError, HistorianUnavailable

    try:
        yield
    except HistorianUnavailable as exc:
        print(f"error: historian unavailable: {exc}", file=sys.stderr)
        raise typer.Exit(1) from None
    except (ValueError, LookupError, HistorianError) as exc:
        raise typer.BadParameter(str(exc)) from None
