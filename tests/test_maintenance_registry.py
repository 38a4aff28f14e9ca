"""The model registry in the metadata store, on SQLite and PostgreSQL: the migration,
versions, promotion, roll-back, loading, and refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sklearn.ensemble import IsolationForest
from sqlalchemy import inspect, select, update
from sqlalchemy.exc import IntegrityError

# Every maintenance table on Base.metadata, for the comparison with the migration.
import maintenance.alert_models
import maintenance.prediction_models
import maintenance.work_order_models  # noqa: F401
from maintenance import registry
from maintenance.registry import RegistryError
from maintenance.registry_models import ModelKind, ModelState, ModelVersion
from tenants.db import MIGRATIONS, Base, make_engine, session_factory
from tenants.models import AuditEvent
from tenants.onboarding import create_tenant, ensure_default_plans

MAINTENANCE_TABLES = {
    "maintenance_model_versions",
    "maintenance_predictions",
    "maintenance_service_contracts",
    "maintenance_alerts",
    "maintenance_alert_deliveries",
    "maintenance_work_orders",
}
SINCE = datetime(2026, 9, 1, tzinfo=UTC)
UNTIL = SINCE + timedelta(days=7)


@pytest.fixture
def sessions(metadata_url: str):
    engine = make_engine(metadata_url)
    factory = session_factory(engine)
    with factory() as session:
        ensure_default_plans(session)
        create_tenant(session, "tenant-a", "A", "starter", "test")
        create_tenant(session, "tenant-b", "B", "starter", "test")
        session.commit()
    yield factory
    engine.dispose()


def tenant_ids(session) -> tuple[int, int]:
    from tenants.models import Tenant

    ids = dict(session.execute(select(Tenant.key, Tenant.id)).all())
    return ids["tenant-a"], ids["tenant-b"]


def forest(seed: int) -> IsolationForest:
    data = np.random.default_rng(seed).normal(size=(200, 3))
    return IsolationForest(n_estimators=20, random_state=seed).fit(data)


def register(session, tenant_id: int, seed: int, asset_type: str = "pump") -> ModelVersion:
    return registry.register(
        session, tenant_id, asset_type, ModelKind.ANOMALY, forest(seed),
        trained_from=SINCE, trained_until=UNTIL,
        assets=[{"site": "s", "line": "l", "asset": "P-101"}],
        tags=["vibration_rms"], features=["vibration_rms.level"],
        metrics={"windows": 200 + seed}, actor="tester",
    )  # fmt: skip


def test_the_migration_builds_exactly_the_models_tables(metadata_url: str) -> None:
    engine = make_engine(metadata_url)
    with engine.connect() as connection:
        assert set(inspect(connection).get_table_names()) >= MAINTENANCE_TABLES
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert [d for d in differences if "maintenance" in str(d)] == []


def test_the_migration_downgrades_its_own_branch_only(metadata_url: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", metadata_url.replace("%", "%%"))
    command.downgrade(config, "0005_maintenance@-1")
    engine = make_engine(metadata_url)
    with engine.connect() as connection:
        tables = set(inspect(connection).get_table_names())
    engine.dispose()
    assert not tables & MAINTENANCE_TABLES and "tenants" in tables
    command.upgrade(config, "heads")


def test_versions_promote_retire_and_roll_back(sessions) -> None:
    with sessions() as session:
        a, _ = tenant_ids(session)
        v1, v2, v3 = (register(session, a, seed) for seed in (1, 2, 3))
        assert [v.version for v in (v1, v2, v3)] == [1, 2, 3]
        assert {v.state for v in (v1, v2, v3)} == {ModelState.CANDIDATE.value}
        registry.promote(session, a, v1.id, "admin")
        registry.promote(session, a, v3.id, "admin")
        session.commit()
        assert (v1.state, v3.state, v3.previous_id) == ("retired", "promoted", v1.id)
        # Roll back: v3 retires and v1, the version in use before it, is promoted again.
        back = registry.rollback(session, a, "pump", ModelKind.ANOMALY, "admin")
        session.commit()
        assert back.id == v1.id
        states = {v.version: v.state for v in registry.versions(session, a, "pump")}
        assert states == {1: "promoted", 2: "candidate", 3: "retired"}
        with pytest.raises(RegistryError, match="nothing to roll back to"):
            registry.rollback(session, a, "pump", ModelKind.ANOMALY, "admin")
        with pytest.raises(RegistryError, match="promoted already"):
            registry.promote(session, a, v1.id, "admin")
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.action.like("maintenance.model.%"))
        ).all()
        assert actions.count("maintenance.model.promote") == 2
        assert actions.count("maintenance.model.rollback") == 1


def test_the_promoted_model_loads_and_scores_as_trained(sessions) -> None:
    with sessions() as session:
        a, _ = tenant_ids(session)
        assert registry.load_promoted(session, a, "pump") is None
        version = register(session, a, 7)
        registry.promote(session, a, version.id, "admin")
        session.commit()
    with sessions() as session:
        loaded = registry.load_promoted(session, a, "pump")
        assert loaded is not None and loaded.version.version == 1
        rows = np.random.default_rng(0).normal(size=(5, 3))
        assert np.allclose(loaded.model.score_samples(rows), forest(7).score_samples(rows))
        assert loaded.version.trained_from == SINCE and loaded.version.metrics == {"windows": 207}
        assert len(loaded.version.artifact_sha256) == 64 and loaded.version.artifact_size > 0


def test_a_damaged_model_file_is_refused_not_unpickled(sessions) -> None:
    with sessions() as session:
        a, _ = tenant_ids(session)
        version = register(session, a, 1)
        registry.promote(session, a, version.id, "admin")
        blob = bytearray(version.artifact)
        blob[len(blob) // 2] ^= 0xFF
        session.execute(
            update(ModelVersion).where(ModelVersion.id == version.id).values(artifact=bytes(blob))
        )
        session.commit()
    with sessions() as session, pytest.raises(RegistryError, match="does not match its SHA-256"):
        registry.load_promoted(session, a, "pump")


def test_one_promoted_version_is_a_rule_of_the_database(sessions) -> None:
    with sessions() as session:
        a, _ = tenant_ids(session)
        v1, v2 = register(session, a, 1), register(session, a, 2)
        registry.promote(session, a, v1.id, "admin")
        session.commit()
        # Bypassing the registry (as a second racing writer would) is refused too.
        with pytest.raises(IntegrityError):
            session.execute(
                update(ModelVersion).where(ModelVersion.id == v2.id).values(state="promoted")
            )
            session.flush()
        session.rollback()
        # Other asset types and kinds have their own promoted version.
        other = register(session, a, 3, asset_type="injection_moulding_machine")
        registry.promote(session, a, other.id, "admin")
        session.commit()


def test_tenants_never_reach_each_others_versions(sessions) -> None:
    with sessions() as session:
        a, b = tenant_ids(session)
        version = register(session, a, 1)
        session.commit()
        with pytest.raises(RegistryError, match="no model version"):
            registry.promote(session, b, version.id, "admin-b")
        assert registry.versions(session, b) == []
        assert register(session, b, 2).version == 1  # numbering is per tenant


def test_bad_registrations_say_what_is_wrong(sessions) -> None:
    with sessions() as session:
        a, _ = tenant_ids(session)
        with pytest.raises(RegistryError, match="training range is empty"):
            registry.register(
                session, a, "pump", ModelKind.ANOMALY, forest(1),
                trained_from=UNTIL, trained_until=SINCE, assets=[], tags=[], features=[],
                metrics={}, actor="t",
            )  # fmt: skip
        with pytest.raises(RegistryError, match="asset_type must not be empty"):
            register(session, a, 1, asset_type=" ")
