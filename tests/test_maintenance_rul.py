"""Remaining useful life with an interval, learnt from bearing failures that work orders
recorded on the simulated pump station, and predicted for a new failure."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from historian import SqliteHistorian
from maintenance.asset_history import ns_instant
from maintenance.rul_training import train_rul
from maintenance.scoring import open_predictions, score
from maintenance.training import train
from maintenance.work_order_models import WorkOrder
from tests.maintenance_records import tenants
from tests.maintenance_sim_data import HOUR_NS, PUMPS, T0, RecordedFailures

pytest_plugins = ["tests.fixtures_maintenance"]
SITE, LINE = PUMPS[0].site, PUMPS[0].line


@pytest.fixture
def session(sqlite_session: Session) -> Session:
    return sqlite_session


def found_failure(session, tenant_id: int, asset: str, at_ns: int) -> None:
    """What a finished work order leaves behind: the cause and when the failure came."""
    failed = ns_instant(at_ns)
    session.add(
        WorkOrder(
            tenant_id=tenant_id,
            site=SITE,
            line=LINE,
            asset=asset,
            asset_type="pump",
            status="done",
            cause="bearing_wear",
            failed_at=failed,
            created_by="engineer",
            created_at=failed,
            done_at=failed + timedelta(hours=4),
            done_by="engineer",
        )
    )
    session.flush()


def test_remaining_life_comes_with_an_interval_that_holds_the_truth(
    session, pump_failures: RecordedFailures
) -> None:
    tenant = tenants(session, "zhenhai-petrochem")["zhenhai-petrochem"]
    *learnt, (new_asset, new_trip) = pump_failures.trips
    assert len(learnt) == 4 and new_asset == "P-101"
    with SqliteHistorian(pump_failures.path) as historian:
        train(
            session, historian, tenant, "pump", PUMPS, ns_instant(T0),
            ns_instant(pump_failures.healthy_until_ns), promote=True,
        )  # fmt: skip
        with pytest.raises(ValueError, match="needs at least 3"):
            train_rul(session, historian, tenant, "pump")
        for asset, trip in learnt:
            found_failure(session, tenant, asset, trip)
        version = train_rul(session, historian, tenant, "pump", promote=True)
        metrics = version.metrics
        assert metrics["histories"] == 4 and version.params["anomaly_version_id"] is not None
        assert metrics["cv_interval_coverage"] >= 0.75 and metrics["cv_mae_hours"] < 6, metrics
        for hours_left in (20, 10, 4):
            until = ns_instant(new_trip - hours_left * HOUR_NS)
            score(session, historian, tenant, until=until, lookback=timedelta(hours=6))
            ranked = open_predictions(session, tenant)
            worn = next(p for p in ranked if p.asset == "P-101")
            low, high = worn.rul_low_hours, worn.rul_high_hours
            assert low <= hours_left + 1 and high >= hours_left - 1, (
                hours_left,
                low,
                worn.rul_hours,
                high,
            )
            assert abs(worn.rul_hours - hours_left) <= max(4.0, 0.5 * hours_left), (
                hours_left,
                worn.rul_hours,
            )
            assert worn.rul_model_version_id == version.id
            # P-102 was repaired: no failure in sight within what the model has learnt.
            healthy = next(p for p in ranked if p.asset == "P-102")
            assert healthy.rul_high_hours >= 24, healthy.rul_high_hours
            print(f"{hours_left} h left: P-101 {low}..{worn.rul_hours}..{high}, P-102 "
                  f"{healthy.rul_low_hours}..{healthy.rul_hours}..{healthy.rul_high_hours}")  # fmt: skip
            if hours_left <= 10:
                assert healthy.rul_low_hours > worn.rul_high_hours, (healthy.rul_low_hours, high)
    print(f"RUL metrics: {metrics}")
