"""Training and scoring on histories recorded from the plant simulators with injected
faults: the faulty asset ranks first, names the drifting signal and when it started,
the healthy ones stay low, and the warning comes more than a day before the trip."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from historian import Point, SqliteHistorian
from maintenance import registry
from maintenance.asset_anomaly_model import TrainingDataError
from maintenance.asset_history import AssetRef, ns_instant
from maintenance.registry_models import ModelKind
from maintenance.scoring import open_predictions, score
from maintenance.training import train
from tenants.db import make_engine, session_factory, upgrade
from tenants.models import Tenant
from tenants.onboarding import create_tenant, ensure_default_plans
from tests.maintenance_sim_data import HOUR_NS, MOULDING, PUMPS, T0, RecordedPlant

pytest_plugins = ["tests.fixtures_maintenance"]  # the recorded plant histories
START = ns_instant(T0)


@pytest.fixture
def session(tmp_path: Path) -> Iterator:
    url = f"sqlite:///{tmp_path / 'meta.db'}"
    upgrade(url)
    engine = make_engine(url)
    with session_factory(engine)() as session:
        ensure_default_plans(session)
        create_tenant(session, "zhenhai-petrochem", "Zhenhai", "starter", "test")
        session.commit()
        yield session
    engine.dispose()


def tenant_id(session) -> int:
    return session.scalar(select(Tenant.id).where(Tenant.key == "zhenhai-petrochem"))


def at(ns: int):
    return ns_instant(ns)


def train_pumps(session, plant: RecordedPlant, **options):
    with SqliteHistorian(plant.path) as historian:
        return train(
            session, historian, tenant_id(session), "pump", PUMPS, START,
            at(plant.healthy_until_ns), promote=True, **options,
        )  # fmt: skip


def test_bearing_wear_ranks_its_pump_first_with_vibration_named(
    session, pump_history: RecordedPlant
) -> None:
    shares: list[float] = []
    version = train_pumps(session, pump_history, progress=lambda share, _: shares.append(share))
    assert shares == sorted(shares) and shares[-1] == 1.0
    assert version.state == "promoted" and version.metrics["regimes"] == 2  # running / stopped
    assert set(version.params["settings"]) == {"running"}
    until = at(pump_history.failed_at_ns - 12 * HOUR_NS)
    with SqliteHistorian(pump_history.path) as historian:
        outcome = score(session, historian, tenant_id(session), until=until)
    session.commit()
    ranked = open_predictions(session, tenant_id(session))
    assert ranked[0].asset == "P-101"
    faulty, *healthy = ranked
    assert faulty.risk >= 0.9, faulty.evidence
    assert all(p.risk < 0.5 for p in healthy), [(p.asset, p.risk, p.evidence) for p in healthy]
    top = faulty.evidence[0]
    assert top["signal"] == "vibration_rms" and top["deviation"] > 5
    drifting = top["drifting_since"]
    assert drifting is not None
    assert at(pump_history.healthy_until_ns).isoformat() <= drifting < until.isoformat()
    assert faulty.window_end <= until and faulty.model_version_id == version.id
    assert len(outcome.predictions) == 3 and outcome.skipped == []


def test_the_warning_comes_a_day_before_the_trip_and_healthy_pumps_stay_quiet(
    session, pump_history: RecordedPlant
) -> None:
    train_pumps(session, pump_history)
    first_warning = None
    healthy_peak = 0.0
    # Score hourly from the fault's start until the trip, as the scoring job would.
    with SqliteHistorian(pump_history.path) as historian:
        end = pump_history.healthy_until_ns + HOUR_NS
        while end <= pump_history.failed_at_ns:
            outcome = score(
                session, historian, tenant_id(session), until=at(end), lookback=timedelta(hours=3)
            )
            for p in outcome.predictions:
                if p.asset == "P-101" and p.risk >= 0.8 and first_warning is None:
                    first_warning = end
                if p.asset != "P-101":
                    healthy_peak = max(healthy_peak, p.risk)
            end += HOUR_NS
    assert first_warning is not None
    lead_hours = (pump_history.failed_at_ns - first_warning) / HOUR_NS
    assert lead_hours >= 24, lead_hours
    assert healthy_peak < 0.8, healthy_peak


def test_heater_failure_names_melt_temperature_and_when_it_began(
    session, moulding_history: RecordedPlant
) -> None:
    with SqliteHistorian(moulding_history.path) as historian:
        version = train(
            session, historian, tenant_id(session), "injection_moulding_machine", MOULDING,
            START, at(moulding_history.healthy_until_ns), promote=True,
        )  # fmt: skip
        assert "shot_count" in version.params["counters"]  # a counter: learnt as a rate
        until = at(moulding_history.failed_at_ns)
        score(session, historian, tenant_id(session), until=until, lookback=timedelta(hours=6))
    ranked = open_predictions(session, tenant_id(session))
    assert [p.asset for p in ranked] == ["IMM-01", "IMM-02"]
    faulty, healthy = ranked
    assert faulty.risk >= 0.9 and healthy.risk < 0.5, (faulty.risk, healthy.evidence)
    assert faulty.evidence[0]["signal"] == "melt_temp"
    since = faulty.evidence[0]["drifting_since"]
    failed = at(moulding_history.healthy_until_ns)
    # The melt cools with a 15-minute time constant: the drift shows within half an hour.
    began = datetime.fromisoformat(since)
    assert failed - timedelta(minutes=5) <= began <= failed + timedelta(minutes=30)


def test_a_new_score_supersedes_the_last_and_rolls_back_with_the_model(
    session, pump_history: RecordedPlant
) -> None:
    first = train_pumps(session, pump_history)
    second = train_pumps(session, pump_history, config=None, tags=["vibration_rms", "running"])
    assert second.version == 2 and second.tags == ["vibration_rms", "running"]
    until = at(pump_history.failed_at_ns - 6 * HOUR_NS)
    with SqliteHistorian(pump_history.path) as historian:
        score(session, historian, tenant_id(session), until=until)
        registry.rollback(session, tenant_id(session), "pump", ModelKind.ANOMALY, "admin")
        score(session, historian, tenant_id(session), until=until)
    current = open_predictions(session, tenant_id(session))
    assert len(current) == 3 and {p.model_version_id for p in current} == {first.id}


def test_training_refuses_what_it_cannot_learn_from(session, pump_history: RecordedPlant) -> None:
    a = tenant_id(session)
    with SqliteHistorian(pump_history.path) as historian:
        with pytest.raises(ValueError, match="must be before until"):
            train(session, historian, a, "pump", PUMPS, at(T0 + HOUR_NS), START)
        with pytest.raises(ValueError, match="no numeric series"):
            train(
                session, historian, a, "pump", [AssetRef("x", "y", "P-9")], START, at(T0 + HOUR_NS)
            )
        with pytest.raises(ValueError, match="not numeric series of every asset"):
            train(session, historian, a, "pump", PUMPS, START, at(T0 + HOUR_NS), tags=["nope"])
        with pytest.raises(TrainingDataError, match="train over a longer range"):
            train(session, historian, a, "pump", PUMPS, START, at(T0 + HOUR_NS))
        with pytest.raises(LookupError, match="no anomaly model is promoted"):
            score(session, historian, a, asset_type="pump")


def write_fan_history(path: Path) -> tuple[AssetRef, int, int]:
    """A fan alternating between 1000 and 3000 rpm every two hours for two days; then,
    after 3 h more, it vibrates at low speed as much as a healthy fan does at high speed.
    Returns the fan, the end of the healthy days and a moment inside the fault at low
    speed."""
    rng = np.random.default_rng(3)
    fan = AssetRef("site", "hall", "FAN-1")
    step, healthy = 10, 2 * 86_400 // 10
    points = []
    for i in range(healthy + 6 * 360):
        t = T0 + i * step * 1_000_000_000
        speed = 1000.0 if (i * step // 7200) % 2 == 0 else 3000.0
        vibration = 1.0 + 0.002 * speed + rng.normal(0, 0.1)
        if i >= healthy + 3 * 360 and speed == 1000.0:
            vibration += 2.0
        points += [
            Point(fan.key("speed_setpoint"), t, speed),
            Point(fan.key("vibration"), t, vibration),
            Point(fan.key("bearing_temp"), t, 40 + 0.005 * speed + rng.normal(0, 0.2)),
        ]
    with SqliteHistorian(path) as historian:
        historian.write(points)
    return fan, T0 + healthy * step * 1_000_000_000, T0 + (healthy + 5 * 360) * step * 1_000_000_000


def test_regimes_of_a_setpoint_reveal_what_the_mixed_data_hides(session, tmp_path: Path) -> None:
    fan, healthy_until, during_fault = write_fan_history(tmp_path / "fan.db")
    risks = {}
    with SqliteHistorian(tmp_path / "fan.db") as historian:
        for asset_type, setpoints in (("fan-plain", ()), ("fan", ("speed_setpoint",))):
            version = train(
                session, historian, tenant_id(session), asset_type, [fan], START,
                at(healthy_until), setpoints=setpoints, promote=True,
            )  # fmt: skip
            outcome = score(
                session, historian, tenant_id(session), asset_type=asset_type, assets=[fan],
                until=at(during_fault), lookback=timedelta(hours=3),
            )  # fmt: skip
            (prediction,) = outcome.predictions
            risks[asset_type] = (version.metrics["regimes"], prediction.risk, prediction.evidence)
    regimes, risk, evidence = risks["fan"]
    assert regimes >= 2 and risk >= 0.9 and evidence[0]["signal"] == "vibration"
    # Without the regimes the fault sits inside the healthy range of the mixed speeds.
    assert risks["fan-plain"][0] == 1 and risks["fan-plain"][1] < 0.6
