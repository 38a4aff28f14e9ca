"""Training an asset type's remaining-useful-life model from the failures its work
orders recorded, on the tenant's historian, and registering it.

Like ``training.train`` it is a plain function with a progress callback (share done,
message) for the job layer and the CLI.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.orm import Session

from historian import Historian
from maintenance import registry
from maintenance.asset_history import AssetRef, instant_ns, ns_instant, read_samples
from maintenance.asset_rul_model import AssetRulModel, RulConfig, RunToFailure
from maintenance.asset_windows import window_table
from maintenance.registry_models import ModelKind, ModelVersion
from maintenance.work_orders import training_labels

Progress = Callable[[float, str], None]


def train_rul(
    session: Session,
    historian: Historian,
    tenant_id: int,
    asset_type: str,
    *,
    config: RulConfig | None = None,
    promote: bool = False,
    actor: str = "maintenance training",
    progress: Progress | None = None,
) -> ModelVersion:
    """Learn remaining life from every recorded failure of ``asset_type`` (work orders done
    with a cause other than no_fault_found), on top of the promoted anomaly model."""
    report = progress or (lambda share, message: None)
    config = config or RulConfig()
    anomaly = registry.load_promoted(session, tenant_id, asset_type, ModelKind.ANOMALY)
    if anomaly is None:
        raise LookupError(
            f"no anomaly model is promoted for asset type {asset_type!r}: train and promote "
            "one first (remaining life builds on its view of healthy)"
        )
    failures = [x for x in training_labels(session, tenant_id, asset_type) if x.is_failure]
    report(0.02, f"{len(failures)} recorded failure(s) of {asset_type}")
    model = anomaly.model
    window_ns = round(model.config.window_s * 1e9)
    history_ns = round(config.history_hours * 3600e9)
    histories, previous = [], {}
    for i, label in enumerate(failures):
        asset = AssetRef(label.site, label.line, label.asset)
        end = instant_ns(label.time)
        # A history starts after the asset's previous failure: a repaired asset is new.
        start = max(end - history_ns, previous.get(asset, end - history_ns))
        previous[asset] = end
        report(0.05 + 0.7 * i / max(len(failures), 1), f"reading {asset} before {label.time}")
        if end - start < 2 * window_ns:
            continue
        samples = read_samples(
            historian, asset, list(model.roles.tags), start, end,
            resolution_s=anomaly.version.params.get("resolution_s"),
        )  # fmt: skip
        table = window_table(
            samples, model.roles, start, end, model.config.window_s, model.config.min_samples
        )
        scored = model.score(table)
        if len(scored.scores) >= 2:
            histories.append(RunToFailure(f"{asset}@{label.time.isoformat()}", scored, end))
    report(0.8, f"fitting on {len(histories)} run-to-failure histories")
    rul = AssetRulModel(model, config)
    metrics = rul.fit(histories)
    starts = [int(h.scored.scores.index[0]) for h in histories]
    ends = [h.failed_at_ns for h in histories]
    assets = sorted({(x.site, x.line, x.asset) for x in failures})
    version = registry.register(
        session,
        tenant_id,
        asset_type,
        ModelKind.RUL,
        rul,
        trained_from=ns_instant(min(starts)),
        trained_until=ns_instant(max(ends)) + timedelta(microseconds=1),
        assets=[{"site": s, "line": li, "asset": a} for s, li, a in assets],
        tags=list(model.roles.tags),
        features=rul.columns,
        metrics=metrics,
        params={**config.as_dict(), "anomaly_version_id": anomaly.version.id},
        actor=actor,
    )
    if promote:
        registry.promote(session, tenant_id, version.id, actor)
    report(1.0, f"registered {asset_type} remaining-life model v{version.version}")
    return version
