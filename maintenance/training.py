"""Training an asset type's anomaly model on a tenant's history, and registering it.

``train`` is a plain function with a progress callback (share done 0..1, a message), so
the job layer can run it as a Celery task and the CLI can draw a progress bar.
Windows close to a failure found by a work order are left out of the healthy data: the
causes service engineers record make the next model cleaner.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from historian import Historian
from maintenance import registry
from maintenance.asset_anomaly_model import AnomalyConfig, AssetAnomalyModel
from maintenance.asset_history import AssetRef, instant_ns, numeric_tags, read_samples
from maintenance.asset_windows import classify_tags, window_table
from maintenance.registry_models import ModelKind, ModelVersion
from maintenance.work_orders import TrainingLabel, training_labels

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class LabelMargins:
    """How long before and after a labelled failure the asset is not taken as healthy."""

    before: timedelta = timedelta(days=3)
    after: timedelta = timedelta(hours=12)


def train(
    session: Session,
    historian: Historian,
    tenant_id: int,
    asset_type: str,
    assets: Sequence[AssetRef],
    since: datetime,
    until: datetime,
    *,
    tags: Sequence[str] | None = None,
    counters: Sequence[str] | None = None,
    setpoints: Sequence[str] = (),
    config: AnomalyConfig | None = None,
    resolution_s: float | None = None,
    margins: LabelMargins = LabelMargins(),
    promote: bool = False,
    actor: str = "maintenance training",
    progress: Progress | None = None,
) -> ModelVersion:
    """Fit an anomaly model on ``assets`` over [since, until), taken as healthy operation
    apart from labelled failures, and register it as a candidate (or promote it).
    ``setpoints`` name continuous operating settings (speed, load) to learn regimes from;
    binary tags (running) are settings without being named.

    Raises ValueError (TrainingDataError for too little data) with what was wrong."""
    report = progress or (lambda share, message: None)
    config = config or AnomalyConfig()
    if not assets:
        raise ValueError("assets: name at least one asset to learn from")
    _check_range(since, until)
    start_ns, end_ns = instant_ns(since), instant_ns(until)
    kinds = _common_tags(historian, assets, tags)
    unknown = sorted(set(setpoints) - set(kinds))
    if unknown:
        raise ValueError(f"setpoints: {unknown} are not numeric tags of every asset")
    report(0.02, f"{len(assets)} asset(s), tags {', '.join(sorted(kinds))}")
    samples = {}
    for i, asset in enumerate(assets):

        def on_chunk(share: float, i: int = i, asset: AssetRef = asset) -> None:
            report(0.05 + 0.6 * (i + share) / len(assets), f"reading {asset}")

        samples[asset] = read_samples(
            historian, asset, sorted(kinds), start_ns, end_ns,
            resolution_s=resolution_s, kinds=kinds, on_chunk=on_chunk,
        )  # fmt: skip
    pooled = {tag: pd.concat([s[tag] for s in samples.values()]) for tag in kinds}
    roles = classify_tags(pooled, counters=counters, setpoints=setpoints)
    if not roles.signals and not roles.counters:
        raise ValueError(f"no numeric signal with data between {since} and {until}")
    report(0.68, "computing window features")
    labels = [label for label in training_labels(session, tenant_id) if label.is_failure]
    tables, excluded = {}, 0
    for asset, asset_samples in samples.items():
        table = window_table(
            asset_samples, roles, start_ns, end_ns, config.window_s, config.min_samples
        )
        keep = _away_from_failures(table.index.to_numpy(), asset, labels, margins, config.window_s)
        excluded += int((~keep).sum())
        tables[str(asset)] = table[keep]
    report(0.75, "fitting the anomaly model")
    model = AssetAnomalyModel(config, roles)
    metrics = model.fit(tables)
    metrics["windows_near_failures_excluded"] = excluded
    report(0.95, "registering the model")
    version = registry.register(
        session,
        tenant_id,
        asset_type,
        ModelKind.ANOMALY,
        model,
        trained_from=since,
        trained_until=until,
        assets=[asset.as_dict() for asset in assets],
        tags=list(roles.tags),
        features=model.features,
        metrics=metrics,
        params={
            **config.as_dict(),
            "resolution_s": resolution_s,
            "settings": list(roles.settings),
            "setpoints": list(roles.setpoints),
            "counters": list(roles.counters),
        },
        actor=actor,
    )
    if promote:
        registry.promote(session, tenant_id, version.id, actor)
    report(1.0, f"registered {asset_type} anomaly model v{version.version}")
    return version


def _check_range(since: datetime, until: datetime) -> None:
    if since.tzinfo is None or until.tzinfo is None:
        raise ValueError("since and until need a time zone (UTC: ...Z)")
    if since >= until:
        raise ValueError(f"since ({since.isoformat()}) must be before until ({until.isoformat()})")


def _common_tags(historian: Historian, assets: Sequence[AssetRef], tags: Sequence[str] | None):  # type: ignore[no-untyped-def]
    """Numeric and boolean tags every asset has (or the ``tags`` asked for, checked)."""
    per_asset = [numeric_tags(historian, asset) for asset in assets]
    for asset, found in zip(assets, per_asset, strict=True):
        if not found:
            raise ValueError(f"asset {asset} has no numeric series in this historian")
    common = set(per_asset[0]).intersection(*per_asset[1:])
    if tags is not None:
        missing = {
            str(asset): sorted(set(tags) - set(found))
            for asset, found in zip(assets, per_asset, strict=True)
            if set(tags) - set(found)
        }
        if missing:
            raise ValueError(f"tags: not numeric series of every asset: {missing}")
        common = set(tags)
    if not common:
        raise ValueError("the assets share no numeric tag; train them as separate types")
    return {tag: per_asset[0][tag] for tag in sorted(common)}


def _away_from_failures(
    starts: np.ndarray,
    asset: AssetRef,
    labels: Sequence[TrainingLabel],
    margins: LabelMargins,
    window_s: float,
) -> np.ndarray:
    keep = np.ones(len(starts), dtype=bool)
    window_ns = round(window_s * 1e9)
    for label in labels:
        if (label.site, label.line, label.asset) != (asset.site, asset.line, asset.asset):
            continue
        failed = instant_ns(label.time)
        low = failed - round(margins.before.total_seconds() * 1e9)
        high = failed + round(margins.after.total_seconds() * 1e9)
        keep &= ~((starts + window_ns > low) & (starts < high))
    return keep
