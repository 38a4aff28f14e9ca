"""A tenant's plan retention: its store keeps that much data and no more.

SQLite deletes older points itself; InfluxDB gets a default retention policy of that
length (tests/fixtures_influxd.py checks for expired shards every second) and drops, as a
partial write, points sent older than it keeps; the platform applies every tenant's plan.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from cloud.retention_keeper import RetentionKeeper
from cloud.tenant_storage import TenantStorage
from historian import Point, SeriesKey
from historian.influxdb_databases import shard_hours
from historian.influxdb_v1 import InfluxV1Historian
from historian.line_protocol import encode_points
from historian.sqlite_store import SqliteHistorian
from tenants.db import make_engine, session_factory, upgrade
from tenants.models import Plan, Tenant
from tenants.onboarding import create_tenant, ensure_default_plans

HOUR = 3600 * 10**9
DAY = 24 * HOUR
OLD = SeriesKey("s", "l", "pump", "old-only")
BOTH = SeriesKey("s", "l", "pump", "flow")


def _policy(url: str, database: str) -> dict:
    answer = httpx.get(
        f"{url}/query", params={"q": f'SHOW RETENTION POLICIES ON "{database}"'}
    ).json()
    series = answer["results"][0]["series"][0]
    return next(
        dict(zip(series["columns"], row, strict=True)) for row in series["values"] if row[-1]
    )


def test_sqlite_keeps_only_its_retention(tmp_path: Path) -> None:
    store = SqliteHistorian(tmp_path / "t.db")
    now = time.time_ns()
    store.write(
        [Point(OLD, now - 40 * DAY, 1.0), Point(BOTH, now - 40 * DAY, 2.0)]
        + [Point(BOTH, now - d * DAY, float(d)) for d in (29, 1)]
    )
    assert store.enforce_retention(timedelta(days=30), now_ns=now) == 2
    assert store.read(BOTH, 0, now) == [(now - 29 * DAY, 29.0), (now - DAY, 1.0)]
    # A series left with no point is no longer listed (nor counted toward a quota).
    assert [info.key for info in store.list_series()] == [BOTH]
    assert store.enforce_retention(timedelta(days=30), now_ns=now) == 0
    store.close()


def test_influxdb_gets_a_policy_of_the_retention(influxd) -> None:
    store = InfluxV1Historian(influxd.url, influxd.new_database())
    store.enforce_retention(timedelta(days=90))
    policy = _policy(influxd.url, store.database)
    assert (policy["duration"], policy["shardGroupDuration"]) == ("2160h0m0s", "24h0m0s")
    store.enforce_retention(timedelta(days=3650))
    assert _policy(influxd.url, store.database)["shardGroupDuration"] == "168h0m0s"
    assert shard_hours(1) == 1 and shard_hours(48) == 1 and shard_hours(49) == 24
    store.close()


def test_influxdb_drops_what_is_older_and_says_so(influxd) -> None:
    store = InfluxV1Historian(influxd.url, influxd.new_database())
    now = time.time_ns()
    # Kept four hours in hour-long shards: three hours ago, and now, are stored.
    store.enforce_retention(timedelta(hours=4))
    store.write([Point(OLD, now - 3 * HOUR, 1.0), Point(BOTH, now - 3 * HOUR, 2.0)])
    store.write([Point(BOTH, now, 3.0)])
    store.enforce_retention(timedelta(hours=1))
    # InfluxDB deletes the expired shard group (hourly shards) at its next check.
    deadline = time.monotonic() + 30
    while store.read(BOTH, 0, now + 1) != [(now, 3.0)]:
        assert time.monotonic() < deadline, store.read(BOTH, 0, now + 1)
        time.sleep(0.5)
    assert [info.key for info in store.list_series()] == [BOTH]
    # A batch with points older than the retention: the rest is stored, the old counted.
    late = [Point(BOTH, now - 5 * HOUR, 9.0), Point(BOTH, now + 1, 4.0)]
    assert store.write_line_protocol(encode_points(late)) == 1
    assert store.write(late) == 1
    assert store.read(BOTH, now, now + 2) == [(now, 3.0), (now + 1, 4.0)]
    store.close()


@pytest.fixture
def platform_db(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'meta.db'}"
    upgrade(url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    with sessions() as session:
        ensure_default_plans(session)
        session.commit()
    yield sessions
    engine.dispose()


def test_the_platform_applies_each_tenant_plan(platform_db, tmp_path: Path) -> None:
    sessions = platform_db
    with sessions() as session:
        short = create_tenant(session, "short", "Short", "starter", "test")
        long = create_tenant(session, "long", "Long", "enterprise", "test")
        session.commit()
        databases = {t.key: t.storage_database for t in (short, long)}
        days = {
            t.key: session.scalar(select(Plan.retention_days).where(Plan.id == t.plan_id))
            for t in session.scalars(select(Tenant))
        }
    assert days["short"] < 200 < days["long"]
    storage = TenantStorage(f"sqlite:{tmp_path / 'series'}")
    now = time.time_ns()
    for database in databases.values():
        storage.historian(database).write(
            [Point(BOTH, now - 200 * DAY, 1.0), Point(BOTH, now - DAY, 2.0)]
        )
    keeper = RetentionKeeper(sessions, storage, interval_s=0)
    assert keeper.run_once() == 1  # the starter tenant's 200-day-old point
    assert len(storage.historian(databases["short"]).read(BOTH, 0, now)) == 1
    assert len(storage.historian(databases["long"]).read(BOTH, 0, now)) == 2
    storage.close()


def test_an_onboarded_tenant_starts_with_its_retention(influxd) -> None:
    storage = TenantStorage("influxdb://" + influxd.url.removeprefix("http://"))
    database = influxd.new_database()
    storage.create(database, timedelta(days=90))
    assert _policy(influxd.url, database)["duration"] == "2160h0m0s"
    storage.close()
