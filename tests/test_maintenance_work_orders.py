"""Work orders follow alerts (open → acknowledged → scheduled → done), refuse moves out of
order with a reason, carry their alert along, and turn found causes into training
labels that the next training and a failure classifier use."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from historian import SqliteHistorian
from maintenance.alerts import on_prediction
from maintenance.asset_history import instant_ns, ns_instant, read_samples
from maintenance.asset_windows import classify_tags, window_table
from maintenance.failure_classifier import FailureClassifier
from maintenance.training import train
from maintenance.work_order_models import WorkOrderStatus
from maintenance.work_orders import (
    TrainingLabel,
    WorkOrderError,
    failure_targets,
    labels_frame,
    open_from_alert,
    training_labels,
    transition,
)
from tenants.db import make_engine, session_factory
from tests.maintenance_records import NOW, contract, model_version, prediction, tenants
from tests.maintenance_sim_data import HOUR_NS, PUMPS, T0, RecordedPlant

pytest_plugins = ["tests.fixtures_maintenance"]
A = WorkOrderStatus


@pytest.fixture
def session(metadata_url: str) -> Iterator:
    engine = make_engine(metadata_url)
    with session_factory(engine)() as session:
        yield session
    engine.dispose()


def test_a_work_order_walks_its_states_and_carries_the_alert(session) -> None:
    tenant = tenants(session, "tenant-a")["tenant-a"]
    version = model_version(session, tenant)
    contract(session, tenant, emails=["team@x.cn"])
    alert = on_prediction(session, prediction(session, tenant, version), NOW).alert
    order = open_from_alert(session, tenant, alert.id, "engineer", NOW)
    with pytest.raises(WorkOrderError, match="has work order"):
        open_from_alert(session, tenant, alert.id, "engineer", NOW)

    def move(to: WorkOrderStatus, **fields):
        return transition(
            session, tenant, order.id, to, "engineer", NOW + timedelta(hours=1), **fields
        )

    with pytest.raises(
        WorkOrderError, match="is open: it can move to acknowledged, not to scheduled"
    ):
        move(A.SCHEDULED, scheduled_for=date(2026, 10, 3))
    move(A.ACKNOWLEDGED)
    assert (alert.status, alert.acknowledged_by) == ("acknowledged", "engineer")
    with pytest.raises(WorkOrderError, match="scheduled_for: a scheduled work order needs a date"):
        move(A.SCHEDULED)
    move(A.SCHEDULED, scheduled_for=date(2026, 10, 3))
    with pytest.raises(WorkOrderError, match="cause: say what was found"):
        move(A.DONE)
    with pytest.raises(WorkOrderError, match="failed_at: a failure cannot be in the future"):
        move(A.DONE, cause="seal_leak", failed_at=NOW + timedelta(days=2))
    done = move(A.DONE, cause="seal_leak", notes="mechanical seal weeping", failed_at=NOW)
    assert (done.status, done.cause, done.failed_at) == ("done", "seal_leak", NOW)
    assert alert.status == "closed" and alert.closed_at is not None
    with pytest.raises(WorkOrderError, match="is done; it cannot move"):
        move(A.SCHEDULED, scheduled_for=date(2026, 10, 9))
    with pytest.raises(WorkOrderError, match="is closed"):
        open_from_alert(session, tenant, alert.id, "engineer", NOW)
    # The alert closed: the next risky prediction raises a fresh one.
    again = on_prediction(session, prediction(session, tenant, version), NOW + timedelta(days=1))
    assert again.change == "raised" and again.alert.id != alert.id
    with pytest.raises(LookupError):
        transition(session, tenants(session, "tenant-b")["tenant-b"], order.id, A.DONE, "x", NOW)


def test_found_causes_export_as_labels(session) -> None:
    ids = tenants(session, "tenant-a", "tenant-b")
    versions = {key: model_version(session, tenant) for key, tenant in ids.items()}
    for key, asset, cause in (
        ("tenant-a", "P-101", "bearing_wear"),
        ("tenant-a", "P-102", "no_fault_found"),
        ("tenant-b", "P-101", "cavitation"),
    ):
        contract(session, ids[key])
        risky = prediction(session, ids[key], versions[key], asset)
        alert = on_prediction(session, risky, NOW).alert
        order = open_from_alert(session, ids[key], alert.id, "e", NOW)
        for to, fields in (
            (A.ACKNOWLEDGED, {}),
            (A.SCHEDULED, {"scheduled_for": date(2026, 10, 2)}),
            (A.DONE, {"cause": cause, "failed_at": NOW - timedelta(hours=3)}),
        ):
            transition(session, ids[key], order.id, to, "e", NOW, **fields)
    labels = training_labels(session, ids["tenant-a"], "pump")
    assert [(x.asset, x.cause, x.is_failure) for x in labels] == [
        ("P-101", "bearing_wear", True),
        ("P-102", "no_fault_found", False),
    ]
    frame = labels_frame(labels)
    assert list(frame.columns) == ["site", "line", "asset", "time", "cause", "failure"]
    assert frame["failure"].tolist() == [1, 0] and str(frame["time"].dt.tz) == "UTC"
    assert training_labels(session, ids["tenant-a"], "injection_moulding_machine") == []


def test_labels_keep_failures_out_of_the_next_training(
    sqlite_session, pump_history: RecordedPlant
) -> None:
    session = sqlite_session
    tenant = tenants(session, "zhenhai-petrochem")["zhenhai-petrochem"]
    version = model_version(session, tenant)
    contract(session, tenant)
    alert = on_prediction(session, prediction(session, tenant, version, "P-102"), NOW).alert
    order = open_from_alert(session, tenant, alert.id, "e", NOW)
    transition(session, tenant, order.id, A.ACKNOWLEDGED, "e", NOW)
    transition(session, tenant, order.id, A.SCHEDULED, "e", NOW, scheduled_for=date(2026, 10, 2))
    failed = ns_instant(T0 + 12 * HOUR_NS)  # a failure of P-102 inside the training range
    transition(session, tenant, order.id, A.DONE, "e", NOW, cause="seal_leak", failed_at=failed)
    with SqliteHistorian(pump_history.path) as historian:
        trained = train(
            session, historian, tenant, "pump", PUMPS, ns_instant(T0),
            ns_instant(pump_history.healthy_until_ns),
        )  # fmt: skip
    # P-102's windows from the start (12 h before, within the 3-day margin) to 12 h after.
    excluded = trained.metrics["windows_near_failures_excluded"]
    assert 24 * 12 - 2 <= excluded <= 24 * 12 + 1, excluded


def test_labels_make_targets_a_failure_classifier_learns_from(pump_history: RecordedPlant) -> None:
    """The trip of the worn pump, recorded as a work order's cause, labels the windows of
    the day before it; a classifier trained on those windows' features separates them."""
    start, end = pump_history.failed_at_ns - 60 * HOUR_NS, pump_history.failed_at_ns
    label = TrainingLabel(
        "zhenhai-petrochem", "pump-station-1", "P-101", "pump", ns_instant(end), "bearing_wear"
    )
    features, targets = [], []
    with SqliteHistorian(pump_history.path) as historian:
        for asset in PUMPS[:2]:
            samples = read_samples(historian, asset, ["vibration_rms", "bearing_temp"], start, end)
            roles = classify_tags(samples)
            table = window_table(samples, roles, start, end, 1200.0).dropna()
            features.append(table[roles.feature_columns()])
            targets.append(
                failure_targets(
                    table.index.to_numpy(),
                    asset.site,
                    asset.line,
                    asset.asset,
                    [label],
                    timedelta(hours=24),
                )
            )
    x, y = pd.concat(features, ignore_index=True), np.concatenate(targets)
    assert 60 < y.sum() < 75  # a day of twenty-minute windows of P-101
    # One thread: the boosted trees' OpenMP threads only fight each other on a busy machine.
    with threadpool_limits(1):
        classifier = FailureClassifier(n_splits=3).fit(x, y)
    assert classifier.cv_f1 > 0.8
    assert instant_ns(label.time) == end
