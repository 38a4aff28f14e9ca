"""The platform API as real processes: an edge agent delivering through it, and two
replicas on one PostgreSQL and one Redis holding a tenant's rate limit together."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
import pytest
import yaml

from edge_agent.agent import EdgeAgent
from edge_agent.config import load_config
from historian import Point, SeriesKey
from historian.line_protocol import encode_points
from historian.sqlite_store import SqliteHistorian
from protocols.simulators import PLANTS
from tests.edge_fault_helpers import contents, eventually
from tests.fixtures_metadata import _fresh_schema
from tests.platform_process import ADMIN, start_replica, stop_replica


def onboard(url: str, tenant: str, site: str, admin: dict[str, str] = ADMIN) -> str:
    """A tenant with one agent token for ``site``, through the API; returns the token."""
    admin = httpx.post(f"{url}/api/auth/login", json=admin).json()["token"]
    headers = {"Authorization": f"Bearer {admin}"}
    assert (
        httpx.post(
            f"{url}/api/tenants", json={"key": tenant, "name": tenant}, headers=headers
        ).status_code
        == 201
    )
    issued = httpx.post(
        f"{url}/api/tenants/{tenant}/agent-tokens",
        json={"site": site, "name": "edge"},
        headers=headers,
    )
    assert issued.status_code == 201, issued.text
    return issued.json()["token"]


@pytest.fixture
def replica_secret() -> str:
    return uuid.uuid4().hex * 2


async def test_an_edge_agent_delivers_through_the_cloud(
    tmp_path: Path, appliance_sim, replica_secret: str
) -> None:
    _, host, plc_port = appliance_sim
    process, url = start_replica(
        tmp_path,
        f"sqlite:///{tmp_path / 'meta.db'}",
        f"sqlite:{tmp_path / 'series'}",
        "memory://",
        replica_secret,
    )
    try:
        site = PLANTS["appliance"].site
        token = await asyncio.to_thread(onboard, url, "hefei-appliance", site)
        config = PLANTS["appliance"].agent_config(host, plc_port)
        config["outputs"] = [
            {"type": "cloud", "url": url, "token": "${AGENT_TOKEN}", "flush_interval": "200ms"},
            {"type": "sqlite", "path": "local.db", "flush_interval": "200ms"},
        ]
        config["status"] = {"port": 0}
        path = tmp_path / "agent.yaml"
        path.write_text(yaml.safe_dump(config))
        agent = EdgeAgent(load_config(path, {"AGENT_TOKEN": token}), base_dir=tmp_path)
        stop = asyncio.Event()
        task = asyncio.create_task(agent.run(stop))
        try:
            await eventually(
                lambda: agent.forwarders[0].stats.delivered >= 17 * 4, 30, "deliveries"
            )
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)
        assert agent.forwarders[0].stats.failures == 0
        in_cloud = contents(
            SqliteHistorian(tmp_path / "series" / "mz_hefei_appliance.db"), "appliance"
        )
        local = contents(SqliteHistorian(tmp_path / "local.db"), "appliance")
        assert in_cloud == local and all(local.values())
    finally:
        stop_replica(process)


def test_two_replicas_share_one_tenant_rate_limit(
    tmp_path: Path, postgres_database: str, replica_secret: str
) -> None:
    metadata = _fresh_schema(postgres_database)
    storage = f"sqlite:{tmp_path / 'series'}"
    first, first_url = start_replica(
        tmp_path, metadata, storage, "redis://127.0.0.1:6379/0", replica_secret
    )
    second, second_url = start_replica(
        tmp_path, metadata, storage, "redis://127.0.0.1:6379/0", replica_secret
    )
    try:
        tenant = f"shared-{uuid.uuid4().hex[:8]}"  # fresh Redis counters for this run
        token = onboard(first_url, tenant, "site-1")
        key = SeriesKey("site-1", "l", "a", "t")
        accepted = {first_url: 0, second_url: 0}
        refused = None
        for n in range(40):
            url = (first_url, second_url)[n % 2]
            body = encode_points(
                [Point(key, 10**18 + (n * 1500 + i) * 10**6, float(i)) for i in range(1500)]
            )
            answer = httpx.post(
                f"{url}/api/ingest", content=body, headers={"Authorization": f"Token {token}"}
            )
            if answer.status_code == 429:
                refused = answer
                break
            assert answer.status_code == 204, answer.text
            accepted[url] += 1500
        capacity = 2_000 * 10  # the starter plan over one 10-second window
        assert refused is not None, accepted
        # Together they stopped at the tenant's limit; alone, neither came near it.
        assert capacity - 1500 < sum(accepted.values()) <= capacity
        assert all(count < capacity * 0.6 for count in accepted.values())
        assert "Retry-After" in refused.headers
    finally:
        stop_replica(first)
        stop_replica(second)
