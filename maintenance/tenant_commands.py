"""``mingzhou maintenance train`` and ``score``: the models on a tenant's historian.

Both print one JSON object on stdout and draw a progress bar on stderr. The model
registry, predictions and alerts live in the metadata store (``--metadata``, default
``$MINGZHOU_METADATA`` as the cloud uses it).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer

from cloud.timeparams import parse_datetime
from historian.durations import parse_duration
from tenants.cli_stores import tenant_stores

DEFAULT_METADATA = "sqlite:///.cloud/metadata.db"

HistorianOption = Annotated[
    str,
    typer.Option("--historian", help="sqlite:PATH or influxdb://user:password@host:port/database"),
]
MetadataOption = Annotated[
    str,
    typer.Option(
        "--metadata",
        envvar="MINGZHOU_METADATA",
        help="The metadata store: sqlite:///path.db or postgresql+psycopg://...",
    ),
]
TenantOption = Annotated[str, typer.Option("--tenant", help="The tenant's key.")]
AssetOption = Annotated[
    list[str] | None, typer.Option("--asset", help="An asset (repeat for several).")
]
AssetTypeOption = Annotated[
    str | None,
    typer.Option(
        "--asset-type", help="The asset type the model is for (default: the asset's name)."
    ),
]


def train_command(
    historian: HistorianOption,
    tenant: TenantOption,
    site: Annotated[str, typer.Option(help="The assets' site.")],
    line: Annotated[str, typer.Option(help="The assets' line.")],
    asset: AssetOption = None,
    since: Annotated[str, typer.Option(help="Start: ISO 8601 or now-30d.")] = "now-30d",
    until: Annotated[str, typer.Option(help="End: ISO 8601 or now.")] = "now",
    asset_type: AssetTypeOption = None,
    window: Annotated[str, typer.Option(help="Feature window, e.g. 5m.")] = "5m",
    setpoint: Annotated[
        list[str] | None,
        typer.Option(help="A continuous operating setting (speed, load) to learn regimes of."),
    ] = None,
    promote: Annotated[bool, typer.Option(help="Promote the new version for scoring.")] = False,
    metadata: MetadataOption = DEFAULT_METADATA,
) -> None:
    """Learn an asset type's healthy behaviour from the historian and register the model."""
    from maintenance.asset_anomaly_model import AnomalyConfig
    from maintenance.asset_history import AssetRef
    from maintenance.training import train

    if not asset:
        raise typer.BadParameter("name at least one --asset")
    kind = asset_type or _single_type(asset)
    with _usage_errors():
        since_at, until_at = parse_datetime(since), parse_datetime(until)
        config = replace(AnomalyConfig(), window_s=parse_duration(window))
    refs = [AssetRef(site, line, name) for name in asset]
    with tenant_stores(historian, metadata) as (store, session), _usage_errors():
        tenant_id = _tenant_id(session, tenant)
        with _progress_bar(f"training {kind}") as progress:
            version = train(
                session, store, tenant_id, kind, refs, since_at, until_at,
                config=config, setpoints=setpoint or (), promote=promote,
                actor="mingzhou maintenance train",
                progress=progress,
            )  # fmt: skip
        session.commit()
        print(json.dumps(_version_summary(version)))


def score_command(
    historian: HistorianOption,
    tenant: TenantOption,
    site: Annotated[str | None, typer.Option(help="With --asset: the assets' site.")] = None,
    line: Annotated[str | None, typer.Option(help="With --asset: the assets' line.")] = None,
    asset: AssetOption = None,
    asset_type: AssetTypeOption = None,
    until: Annotated[str, typer.Option(help="Score the time up to: ISO 8601 or now.")] = "now",
    lookback: Annotated[str, typer.Option(help="How far back each score looks.")] = "24h",
    deliver: Annotated[
        bool, typer.Option(help="Send the alert messages that are due (SMTP from MINGZHOU_SMTP_*).")
    ] = True,
    metadata: MetadataOption = DEFAULT_METADATA,
) -> None:
    """Score assets with the promoted models: predictions, alerts, and their messages."""
    from maintenance.alert_delivery import SmtpSettings, deliver_due
    from maintenance.asset_history import AssetRef
    from maintenance.scoring import score

    refs = None
    if asset:
        if not (site and line):
            raise typer.BadParameter("--asset needs --site and --line")
        refs = [AssetRef(site, line, name) for name in asset]
    kind = asset_type or (_single_type(asset) if asset else None)
    with _usage_errors():
        until_at = parse_datetime(until)
        span = timedelta(seconds=parse_duration(lookback))
    with tenant_stores(historian, metadata) as (store, session), _usage_errors():
        tenant_id = _tenant_id(session, tenant)
        with _progress_bar("scoring") as progress:
            outcome = score(
                session, store, tenant_id, asset_type=kind, assets=refs, until=until_at,
                lookback=span, progress=progress,
            )  # fmt: skip
        session.commit()
        summary: dict[str, Any] = {
            "predictions": [_prediction_summary(p) for p in outcome.predictions],
            "alerts": [
                {"id": c.alert.id, "asset": c.alert.asset, "change": c.change}
                for c in outcome.alerts
            ],
            "skipped": [{"asset": a, "reason": r} for a, r in outcome.skipped],
        }
        if deliver:
            report = deliver_due(session, datetime.now(UTC), SmtpSettings.from_environment())
            summary["deliveries"] = vars(report)
        print(json.dumps(summary))


def _single_type(assets: list[str]) -> str:
    if len(assets) != 1:
        raise typer.BadParameter("several assets: say which type they are with --asset-type")
    return assets[0]


def _tenant_id(session, key: str) -> int:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from tenants.models import Tenant

    tenant_id = session.scalar(select(Tenant.id).where(Tenant.key == key))
    if tenant_id is None:
        raise LookupError(f"--tenant: no tenant {key!r} in the metadata store")
    return tenant_id


@contextmanager
def _usage_errors() -> Iterator[None]:
    """Bad input is the caller's mistake: one line on stderr, exit 2; a store that cannot
    be reached is exit 1."""
    from historian import HistorianError, HistorianUnavailable
    from maintenance.registry import RegistryError

    try:
        yield
    except HistorianUnavailable as exc:
        print(f"error: historian unavailable: {exc}", file=sys.stderr)
        raise typer.Exit(1) from None
    except (ValueError, LookupError, RegistryError, HistorianError) as exc:
        raise typer.BadParameter(str(exc)) from None


@contextmanager
def _progress_bar(description: str) -> Iterator[Callable[[float, str], None]]:
    """A bar on stderr driven by (share done, message) callbacks."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        TextColumn("{task.fields[message]}"),
        console=console,
        transient=False,
    ) as bar:
        task = bar.add_task(description, total=1000, message="")

        def report(share: float, message: str) -> None:
            bar.update(task, completed=round(1000 * min(max(share, 0.0), 1.0)), message=message)

        yield report


def _version_summary(version) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return {
        "id": version.id,
        "asset_type": version.asset_type,
        "kind": version.kind,
        "version": version.version,
        "state": version.state,
        "trained_from": version.trained_from.isoformat(),
        "trained_until": version.trained_until.isoformat(),
        "assets": version.assets,
        "tags": version.tags,
        "metrics": version.metrics,
    }


def _prediction_summary(prediction) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return {
        "site": prediction.site,
        "line": prediction.line,
        "asset": prediction.asset,
        "asset_type": prediction.asset_type,
        "risk": prediction.risk,
        "rul_hours": prediction.rul_hours,
        "rul_low_hours": prediction.rul_low_hours,
        "rul_high_hours": prediction.rul_high_hours,
        "evidence": prediction.evidence,
        "window_start": prediction.window_start.isoformat(),
        "window_end": prediction.window_end.isoformat(),
        "model_version_id": prediction.model_version_id,
    }
