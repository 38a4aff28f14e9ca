"""The series quota's sets shrink to what the tenants' stores still hold (issue #5).

Against the real Redis at 127.0.0.1:6379 and memory://, with real historians: SQLite
(points deleted as a retention would) and InfluxDB (DROP SERIES).
"""

from __future__ import annotations

import logging
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import redis

from cloud import series_quota
from cloud.series_quota import (
    SeriesQuotaExceeded,
    SeriesQuotaUnavailable,
    SeriesRegistry,
    TenantSeries,
)
from historian import (
    Historian,
    HistorianUnavailable,
    InfluxV1Historian,
    Point,
    SeriesKey,
    SqliteHistorian,
    encode_points,
)
from tests.conftest import free_port
from tests.test_ingest_fast_path import Platform, batch, make_platform, onboard

REDIS_URL = "redis://127.0.0.1:6379/0"
T0 = 1_700_000_000_000_000_000


def key(tag: str) -> SeriesKey:
    return SeriesKey("site-a", "line-1", "IMM-01", tag)


def keys(*tags: str) -> set[SeriesKey]:
    return {key(tag) for tag in tags}


@pytest.fixture
def tenant() -> Iterator[TenantSeries]:
    series = TenantSeries(f"rec-{uuid.uuid4().hex[:10]}", 7, datetime(2026, 1, 1, tzinfo=UTC))
    yield series
    store = redis.Redis.from_url(REDIS_URL)
    for pattern in (f"mingzhou:series:{series.key}:*", f"mingzhou:series-state:{series.key}:*"):
        for name in store.scan_iter(pattern):
            store.delete(name)
    store.close()


def registry_for(mode: str, admit_grace_s: float = 0.0) -> SeriesRegistry:
    return SeriesRegistry(REDIS_URL if mode == "redis" else "memory://", admit_grace_s)


@pytest.fixture(params=["memory", "redis"])
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteHistorian]:
    historian = SqliteHistorian(tmp_path / "tenant.db")
    yield historian
    historian.close()


def write(historian: Historian, *tags: str) -> None:
    historian.write([Point(key(tag), T0, 1.0) for tag in tags])


def drop_from_sqlite(historian: SqliteHistorian, *tags: str) -> None:
    """What a retention does to a series whose every point is old: no point is left."""
    with sqlite3.connect(historian.path) as conn:
        for tag in tags:
            conn.execute(
                "DELETE FROM points WHERE series_id IN (SELECT id FROM series WHERE tag = ?)",
                (tag,),
            )


def lister(historian: Historian) -> Callable[[], list[SeriesKey]]:
    return lambda: [info.key for info in historian.list_series()]


def test_a_tenant_at_its_quota_admits_new_series_once_the_old_are_gone(
    mode: str, tenant: TenantSeries, store: SqliteHistorian
) -> None:
    registry = registry_for(mode)
    write(store, "old-0", "old-1", "old-2")
    existing = lister(store)
    with pytest.raises(SeriesQuotaExceeded) as refused:
        registry.admit(tenant, keys("new-0"), 3, existing)  # the set starts from the store
    assert refused.value.in_use == 3
    drop_from_sqlite(store, "old-0", "old-1")
    assert registry.reconcile(tenant, existing) == 1
    assert registry.in_use(tenant) == 1
    registry.admit(tenant, keys("new-0", "new-1"), 3, existing)
    # old-2 is still in the store: it still counts.
    with pytest.raises(SeriesQuotaExceeded) as again:
        registry.admit(tenant, keys("new-2"), 3, existing)
    assert again.value.in_use == 3 and again.value.refused == [key("new-2")]
    registry.admit(tenant, keys("old-2", "new-0", "new-1"), 3, existing)  # all counted
    assert registry.all_known(tenant, keys("old-2", "new-0", "new-1"))
    registry.close()


def test_a_reconcile_keeps_series_admitted_within_the_grace(
    mode: str, tenant: TenantSeries, store: SqliteHistorian
) -> None:
    # Ingestion admits a request's series before it writes them: one admitted a moment
    # ago and not yet in the store keeps its place; with no grace it would go.
    write(store, "old-0")
    registry = registry_for(mode, admit_grace_s=300)
    registry.admit(tenant, keys("new-0"), 2, lister(store))  # not written (yet)
    drop_from_sqlite(store, "old-0")
    assert registry.reconcile(tenant, lister(store)) == 1
    registry.admit(tenant, keys("new-0"), 1, lister(store))  # still counted: it fits
    assert registry.in_use(tenant) == 1
    registry.close()
    # With no grace, the unwritten series goes too.
    graceless = registry_for(mode, admit_grace_s=0)
    if mode == "memory":  # a new process: start it again
        graceless.admit(tenant, keys("new-0"), 2, lister(store))
    assert graceless.reconcile(tenant, lister(store)) == 0
    assert graceless.in_use(tenant) == 0
    graceless.close()


def test_a_series_admitted_while_the_store_is_read_is_not_lost(
    mode: str, tenant: TenantSeries, store: SqliteHistorian
) -> None:
    registry = registry_for(mode)
    write(store, "old-0", "old-1")
    existing = lister(store)
    registry.admit(tenant, keys("old-0"), 2, existing)
    drop_from_sqlite(store, "old-0", "old-1")

    def reading_the_store() -> list[SeriesKey]:
        listed = existing()
        registry.admit(tenant, keys("during-list"), 3, existing)  # the store was read
        return listed

    def before_the_swap() -> None:
        registry.admit(tenant, keys("before-swap"), 4, existing)

    assert registry.reconcile(tenant, reading_the_store, after_listing=before_the_swap) == 2
    assert registry.in_use(tenant) == 2
    # Both still count: at a quota of 2, a third new series is refused.
    with pytest.raises(SeriesQuotaExceeded) as refused:
        registry.admit(tenant, keys("during-list", "before-swap", "third"), 2, existing)
    assert refused.value.refused == [key("third")] and refused.value.in_use == 2
    registry.close()


def test_another_replica_sees_the_shrink_and_the_quota_holds_across_both(
    tenant: TenantSeries, store: SqliteHistorian, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = registry_for("redis"), registry_for("redis")
    write(store, "old-0", "old-1", "old-2")
    existing = lister(store)
    first.admit(tenant, keys("old-0"), 3, existing)
    second.admit(tenant, keys("old-0", "old-1"), 3, existing)  # cached by the second
    assert second.all_known(tenant, keys("old-0", "old-1"))
    drop_from_sqlite(store, "old-0", "old-1")
    assert first.reconcile(tenant, existing) == 1
    assert second.in_use(tenant) == 1
    # Within GENERATION_CHECK_S the second replica may still trust its cache; past it,
    # it asks again, and a removed series that comes back is counted again.
    monkeypatch.setattr(series_quota, "GENERATION_CHECK_S", 0.0)
    assert not second.all_known(tenant, keys("old-0"))
    second.admit(tenant, keys("old-0"), 3, existing)
    assert first.in_use(tenant) == 2
    first.admit(tenant, keys("new-0"), 3, existing)
    for registry in (first, second):
        with pytest.raises(SeriesQuotaExceeded) as refused:
            registry.admit(tenant, keys("new-1"), 3, existing)
        assert refused.value.in_use == 3
    assert second.all_known(tenant, keys("old-0")) and first.all_known(tenant, keys("new-0"))
    first.close()
    second.close()


def test_replicas_take_turns_and_a_failed_listing_changes_nothing(
    mode: str, tenant: TenantSeries, store: SqliteHistorian
) -> None:
    first = registry_for(mode)
    second = first if mode == "memory" else registry_for(mode)
    write(store, "old-0", "old-1")
    existing = lister(store)
    assert first.reconcile(tenant, existing) is None  # never started: nothing to shrink
    first.admit(tenant, keys("old-0"), 5, existing)

    def store_away() -> list[SeriesKey]:
        raise HistorianUnavailable("the store is away")

    drop_from_sqlite(store, "old-0")
    with pytest.raises(HistorianUnavailable):
        first.reconcile(tenant, store_away, not_within_s=60)
    assert first.in_use(tenant) == 2  # left as it was, and the lock given back
    assert first.reconcile(tenant, existing, not_within_s=60) == 1
    # Done lately (by this replica or another): the next pass skips it.
    assert second.reconcile(tenant, existing, not_within_s=60) is None
    assert second.reconcile(tenant, existing) == 1  # idempotent when it does run
    first.close()
    if second is not first:
        second.close()


def test_influxdb_series_dropped_from_the_store_stop_counting(
    mode: str, tenant: TenantSeries, influxd
) -> None:
    database = influxd.new_database()
    historian = InfluxV1Historian(influxd.url, database)
    registry = registry_for(mode)
    try:
        write(historian, "old-0", "old-1")
        existing = lister(historian)
        registry.admit(tenant, keys("old-0"), 2, existing)
        dropped = httpx.post(
            f"{influxd.url}/query",
            params={"db": database, "q": """DROP SERIES WHERE "tag" = 'old-0'"""},
        )
        assert dropped.status_code == 200, dropped.text
        assert registry.reconcile(tenant, existing) == 1
        registry.admit(tenant, keys("new-0"), 2, existing)
        with pytest.raises(SeriesQuotaExceeded):
            registry.admit(tenant, keys("new-1"), 2, existing)
    finally:
        registry.close()
        historian.close()


def test_redis_away_is_a_clear_error(tenant: TenantSeries, store: SqliteHistorian) -> None:
    registry = SeriesRegistry(f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(SeriesQuotaUnavailable, match="cannot reach Redis for the series quota"):
        registry.reconcile(tenant, lister(store))
    registry.close()
    with pytest.raises(ValueError, match="admit_grace_s must be 0 or more"):
        SeriesRegistry("memory://", admit_grace_s=-1)


@pytest.mark.parametrize("rate_limits", ["memory://", REDIS_URL])
def test_the_platform_reconciles_and_the_tenant_ingests_again(
    tmp_path: Path, rate_limits: str
) -> None:
    with make_platform(tmp_path, f"sqlite:{tmp_path / 'series'}", rate_limits) as client:
        name = f"rec-{uuid.uuid4().hex[:8]}"
        platform = Platform(client, name, onboard(client, name), "sqlite")
        client.app.state.series_registry.admit_grace_s = 0  # these series were just sent
        try:
            platform.use_plan(max_series=5)
            assert platform.ingest(batch(tags=5)).status_code == 204  # tag-0 … tag-4
            later = [Point(key(f"tag-{t}"), T0 + 10**12, 1.0) for t in range(3, 6)]
            more = encode_points(later).encode()  # tag-5 is new: a sixth series
            assert platform.ingest(more).status_code == 403
            drop_from_sqlite(platform.historian(), "tag-0", "tag-1", "tag-2")
            assert client.app.state.series_reconciler.run_once() == {name: 2}
            assert platform.ingest(more).status_code == 204
            assert platform.ingest(batch(tags=5)).status_code == 403  # 3 back + 3: six
        finally:
            store = redis.Redis.from_url(REDIS_URL)
            for pattern in (f"mingzhou:series:{name}:*", f"mingzhou:series-state:{name}:*"):
                for leftover in store.scan_iter(pattern):
                    store.delete(leftover)
            store.close()


def test_the_platform_logs_and_goes_on_while_redis_is_away(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    with make_platform(tmp_path, f"sqlite:{tmp_path / 'series'}", dead) as client:
        onboard(client, "first")
        onboard(client, "second")
        with caplog.at_level(logging.WARNING, logger="cloud.series_reconciler"):
            assert client.app.state.series_reconciler.run_once() == {}
        failed = [r for r in caplog.records if "reconciling the series of" in r.getMessage()]
        assert {r.args[0] for r in failed} == {"first", "second"}  # type: ignore[index]
