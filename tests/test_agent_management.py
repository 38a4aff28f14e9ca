"""Remote agent management: configs set in the cloud, fetched by agents (ETag, 304),
status reported and shown per site; every endpoint scoped to one tenant and one token.

The API tests run on SQLite and PostgreSQL metadata (the ``world`` fixture of the
platform tests); the end-to-end test runs the platform and ``mingzhou edge run
--cloud-url`` as real processes against a simulated PLC.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import yaml
from sqlalchemy import select

from edge_agent.cloud_config import CloudConfig, ConfigCache
from historian.sqlite_store import SqliteHistorian
from protocols.simulators import PLANTS
from tenants.agent_registry import RegisteredAgent, agent_by_name
from tenants.models import AuditEvent, Tenant, utcnow
from tenants.onboarding import create_user
from tenants.roles import Role
from tests.conftest import free_port
from tests.edge_fault_helpers import eventually
from tests.platform_process import ADMIN, start_replica, stop_replica
from tests.test_cloud_platform import World, login, world  # noqa: F401  (the fixture)


def agent_yaml(name: str = "edge-1", site: str = "site-a", interval: str = "1s") -> str:
    """A small valid config; line numbers below are relied on by the 422 tests."""
    return f"""\
agent:
  name: {name}
  site: {site}
devices:
  - name: press-plc
    protocol: modbus
    host: 127.0.0.1
    port: 5020
    interval: {interval}
    tags:
      - {{name: pressure, asset: P-1, line: line-1, table: holding, address: 0, type: uint16}}
outputs:
  - type: cloud
    url: http://127.0.0.1:8100
    token: ${{MINGZHOU_AGENT_TOKEN}}
"""


def status_body(site: str | None = "site-a", **changes: object) -> dict:
    body = {
        "agent_version": "0.1.0",
        "site": site,
        "state": "ok",
        "interval_seconds": 15,
        "uptime_seconds": 120.5,
        "buffer": {"points": 4200, "oldest_age_seconds": 37.5, "bytes": 250_000},
        "devices": {"press-plc": {"connected": True, "reads": 120, "samples": 2400}},
        "outputs": {"cloud:x": {"pending": 4200, "oldest_age_seconds": 37.5, "delivered": 9}},
        "config_version": 1,
        "config_source": "cloud",
        "errors": [],
    }
    body.update(changes)
    return body


@dataclass
class Fleet:
    """The platform tests' world, with configs set and more callers."""

    world: World
    ids: dict[str, int]  # token name -> id, of tenant-a

    @property
    def client(self):
        return self.world.client

    def auth(self, who: str | None) -> dict[str, str]:
        return self.world.auth(who) if who else {}


@pytest.fixture
def fleet(world: World) -> Iterator[Fleet]:  # noqa: F811
    c = world.client
    with c.app.state.sessions() as session:
        create_user(session, "bureau@gov.cn", "password-1", Role.BUREAU_ANALYST, "test")
        session.commit()
    world.tokens["bureau"] = login(c, "bureau@gov.cn", "password-1")
    admin_a = world.auth("tenant_admin:tenant-a")
    # Another site of tenant-a, with its own agent and token.
    other = c.post(
        "/api/tenants/tenant-a/agent-tokens",
        json={"site": "site-a2", "name": "edge-2"},
        headers=admin_a,
    )
    assert other.status_code == 201, other.text
    world.tokens["agent2:tenant-a"] = other.json()["token"]
    for tenant, site in (("tenant-a", "site-a"), ("tenant-b", "site-b")):
        put = c.put(
            f"/api/tenants/{tenant}/agents/edge-1/config",
            json={"config": agent_yaml(site=site)},
            headers=world.auth(f"tenant_admin:{tenant}"),
        )
        assert put.status_code == 200, put.text
    tokens = c.get("/api/tenants/tenant-a/agent-tokens", headers=admin_a).json()
    yield Fleet(world, {t["name"]: t["id"] for t in tokens})


def test_an_agent_fetches_its_config_by_etag_and_new_versions_replace_it(fleet: Fleet) -> None:
    c, agent = fleet.client, fleet.auth("agent:tenant-a")
    first = c.get("/api/agent/config", headers=agent)
    assert first.status_code == 200, first.text
    body, etag = first.json(), first.headers["ETag"]
    assert body["version"] == 1 and body["etag"] == etag and body["name"] == "edge-1"
    assert body["config"] == agent_yaml()  # as written: ${MINGZHOU_AGENT_TOKEN} kept
    assert c.get("/api/agent/config", headers={**agent, "If-None-Match": etag}).status_code == 304
    weak_list = f'"other", W/{etag}'
    assert (
        c.get("/api/agent/config", headers={**agent, "If-None-Match": weak_list}).status_code == 304
    )

    admin = fleet.auth("tenant_admin:tenant-a")
    path = "/api/tenants/tenant-a/agents/edge-1/config"
    same = c.put(path, json={"config": agent_yaml()}, headers=admin)
    assert same.json()["desired_config"]["version"] == 1  # unchanged text: no new version
    changed = c.put(path, json={"config": agent_yaml(interval="2s")}, headers=admin)
    assert changed.status_code == 200 and changed.json()["desired_config"]["version"] == 2
    fresh = c.get("/api/agent/config", headers={**agent, "If-None-Match": etag})
    assert fresh.status_code == 200 and fresh.json()["version"] == 2
    assert "interval: 2s" in fresh.json()["config"] and fresh.headers["ETag"] != etag

    with c.app.state.sessions() as session:
        events = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "agent.config.set")
            .order_by(AuditEvent.id)
        ).all()
    tenant_a = [e for e in events if e.detail["site"] == "site-a"]
    assert [e.detail["version"] for e in tenant_a] == [1, 2]
    assert tenant_a[-1].actor == "tenant_admin@tenant-a.cn"
    assert tenant_a[-1].detail["previous_version"] == 1


def test_an_agent_without_a_config_gets_a_404_that_says_what_to_do(fleet: Fleet) -> None:
    answer = fleet.client.get("/api/agent/config", headers=fleet.auth("agent2:tenant-a"))
    assert answer.status_code == 404
    assert "PUT /api/tenants/tenant-a/agents/edge-2/config" in answer.json()["detail"]


# (config text, line, field, what the message says): each is refused with a 422.
INVALID_CONFIGS = [
    (agent_yaml(interval="soon"), 9, "devices[0].interval", "expected a duration"),
    (agent_yaml(site="site-b"), 3, "agent.site", "not the site of this agent's token"),
    (agent_yaml(name="edge-9"), 2, "agent.name", "not this agent's name"),
    (agent_yaml().replace("${MINGZHOU_AGENT_TOKEN}", "mzat_secret123"), 15, "outputs[0].token",
     "visible to everyone"),
    (agent_yaml().replace("interval:", "intervall:"), 9, "devices[0].intervall",
     "did you mean 'interval'"),
    (agent_yaml().replace("    port: 5020\n", "    port: [5020\n"), 9, "", "invalid YAML"),
    ("just text", 1, "", "must be a mapping"),
    ("a: &x [1, 2]\nb: [*x, *x]\n" + agent_yaml(), 2, "", "aliases (*name) are not accepted"),
]  # fmt: skip


def test_an_invalid_config_is_refused_with_line_and_field_and_not_stored(fleet: Fleet) -> None:
    # One fixture for every case: each world costs sign-ins and a migrated store.
    c = fleet.client
    for text, line, field, says in INVALID_CONFIGS:
        answer = c.put(
            "/api/tenants/tenant-a/agents/edge-1/config",
            json={"config": text},
            headers=fleet.auth("tenant_admin:tenant-a"),
        )
        assert answer.status_code == 422, (says, answer.text)
        issue = next(i for i in answer.json()["issues"] if says in i["message"])
        assert (issue["line"], issue["field"]) == (line, field), (says, issue)
        assert f"line {line}:" in answer.json()["detail"]
    served = c.get("/api/agent/config", headers=fleet.auth("agent:tenant-a")).json()
    assert served["version"] == 1 and served["config"] == agent_yaml()


def test_status_reports_are_listed_per_site_with_buffer_depth_and_a_stale_flag(
    fleet: Fleet,
) -> None:
    c = fleet.client
    sent = c.post("/api/agent/status", json=status_body(), headers=fleet.auth("agent:tenant-a"))
    assert sent.status_code == 204, sent.text
    other_site = status_body(site="site-a2", config_version=None, state="waiting")
    sent = c.post("/api/agent/status", json=other_site, headers=fleet.auth("agent2:tenant-a"))
    assert sent.status_code == 204, sent.text

    people = fleet.auth("plant_manager:tenant-a")
    agents = {a["name"]: a for a in c.get("/api/tenants/tenant-a/agents", headers=people).json()}
    assert set(agents) == {"edge-1", "edge-2"}  # edge-2 registered by its first report
    edge1 = agents["edge-1"]
    assert edge1["buffer"] == {"points": 4200, "oldest_age_seconds": 37.5, "bytes": 250_000}
    assert edge1["agent_version"] == "0.1.0" and edge1["state"] == "ok"
    assert edge1["config_in_sync"] and edge1["applied_config_version"] == 1
    assert edge1["devices"]["press-plc"]["connected"] is True and not edge1["stale"]
    assert edge1["last_contact"].endswith("Z")
    assert agents["edge-2"]["desired_config"] is None and agents["edge-2"]["state"] == "waiting"
    only = c.get("/api/tenants/tenant-a/agents", params={"site": "site-a2"}, headers=people)
    assert [a["name"] for a in only.json()] == ["edge-2"]

    # Last heard 46 s ago with a 15 s interval: more than 3 intervals, so stale.
    with c.app.state.sessions() as session:
        tenant = session.scalar(select(Tenant).where(Tenant.key == "tenant-a"))
        row = agent_by_name(session, tenant.id, "edge-1")
        row.reported_at = utcnow() - timedelta(seconds=46)
        session.commit()
    one = c.get("/api/tenants/tenant-a/agents/edge-1", headers=people).json()
    assert one["stale"] is True and one["seconds_since_contact"] >= 46
    assert one["config"] is None  # a plant manager does not read configs (passwords)
    admin = c.get(
        "/api/tenants/tenant-a/agents/edge-1", headers=fleet.auth("tenant_admin:tenant-a")
    )
    assert admin.json()["config"] == agent_yaml()

    page = c.get("/t/tenant-a/agents", headers=people)
    assert page.status_code == 200
    assert 'data-agent="edge-1"' in page.text and "4,200 points" in page.text
    assert 'class="badge stale"' in page.text and 'data-site="site-a2"' in page.text


def test_staleness_is_three_missed_intervals() -> None:
    now = utcnow()
    agent = RegisteredAgent(report_interval_s=10.0, reported_at=now - timedelta(seconds=30))
    assert not agent.is_stale(now)
    agent.reported_at = now - timedelta(seconds=31)
    assert agent.is_stale(now)
    assert not RegisteredAgent(report_interval_s=10.0).is_stale(now)  # never reported


MALFORMED_STATUSES = [
    (status_body(interval_seconds=0), "interval_seconds"),
    (status_body(buffer={"points": -1, "oldest_age_seconds": 0, "bytes": 0}), "points"),
    (status_body(state="dancing"), "state"),
    (status_body(errors=["x" * 3000]), "errors"),
    ({"agent_version": "1"}, "state"),
]  # fmt: skip


def test_a_malformed_status_is_refused_naming_the_field(fleet: Fleet) -> None:
    for body, field in MALFORMED_STATUSES:
        answer = fleet.client.post(
            "/api/agent/status", json=body, headers=fleet.auth("agent:tenant-a")
        )
        assert answer.status_code == 422, (field, answer.text)
        assert any(field in map(str, error["loc"]) for error in answer.json()["detail"]), field
    listed = fleet.client.get(
        "/api/tenants/tenant-a/agents/edge-1", headers=fleet.auth("tenant_admin:tenant-a")
    )
    assert listed.json()["state"] == "never"  # nothing malformed was recorded


# Every new endpoint, for every kind of caller that must be refused.
CONFIG_PUT = "/api/tenants/tenant-a/agents/edge-1/config"


REFUSALS = [
    (None, "get", "/api/agent/config", 401),
    ("garbage", "get", "/api/agent/config", 401),
    ("plant_manager:tenant-a", "get", "/api/agent/config", 403),
    ("admin", "get", "/api/agent/config", 403),
    (None, "post", "/api/agent/status", 401),
    ("garbage", "post", "/api/agent/status", 401),
    ("tenant_admin:tenant-a", "post", "/api/agent/status", 403),
    ("agent2:tenant-a", "post", "/api/agent/status", 403),  # its site is site-a2
    ("agent:tenant-b", "post", "/api/agent/status", 403),
    (None, "put", CONFIG_PUT, 401),
    ("agent:tenant-a", "put", CONFIG_PUT, 403),
    ("plant_manager:tenant-a", "put", CONFIG_PUT, 403),
    ("tenant_admin:tenant-b", "put", CONFIG_PUT, 404),
    ("bureau", "put", CONFIG_PUT, 404),
    (None, "get", "/api/tenants/tenant-a/agents", 401),
    ("agent:tenant-a", "get", "/api/tenants/tenant-a/agents", 403),
    ("tenant_admin:tenant-b", "get", "/api/tenants/tenant-a/agents", 404),
    ("plant_manager:tenant-b", "get", "/api/tenants/tenant-a/agents", 404),
    ("bureau", "get", "/api/tenants/tenant-a/agents", 404),
    ("agent:tenant-a", "get", "/api/tenants/tenant-a/agents/edge-1", 403),
    ("tenant_admin:tenant-b", "get", "/api/tenants/tenant-a/agents/edge-1", 404),
    ("bureau", "get", "/api/tenants/tenant-a/agents/edge-1", 404),
    ("plant_manager:tenant-b", "get", "/t/tenant-a/agents", 404),
    ("bureau", "get", "/t/tenant-a/agents", 404),
    ("agent:tenant-a", "get", "/t/tenant-a/agents", 403),
]  # fmt: skip


def test_every_agent_endpoint_refuses_whoever_is_not_allowed(fleet: Fleet) -> None:
    c = fleet.client
    c.post("/api/agent/status", json=status_body(), headers=fleet.auth("agent:tenant-a"))
    for who, method, path, status in REFUSALS:
        auth = {"Authorization": "Token mzat_guessed"} if who == "garbage" else fleet.auth(who)
        kwargs: dict = {}
        if method == "put":
            kwargs["json"] = {"config": agent_yaml(interval="5s")}
        if method == "post":
            kwargs["json"] = status_body()
        answer = getattr(c, method)(path, headers=auth, **kwargs)
        assert answer.status_code == status, (who, method, path, answer.text)
        # A refusal never carries tenant-a's agent data.
        assert "press-plc" not in answer.text and "4200" not in answer.text, (who, path)
    served = c.get("/api/agent/config", headers=fleet.auth("agent:tenant-a")).json()
    assert served["version"] == 1  # nothing refused changed the config
    listed = c.get("/api/tenants/tenant-a/agents/edge-1", headers=fleet.auth("admin")).json()
    assert listed["buffer"]["points"] == 4200  # nor the status tenant-a's agent reported


def test_tokens_see_only_their_own_agent_and_tenants_only_their_own_agents(fleet: Fleet) -> None:
    c = fleet.client
    b = c.get("/api/agent/config", headers=fleet.auth("agent:tenant-b")).json()
    assert b["site"] == "site-b" and "site: site-b" in b["config"]
    c.post("/api/agent/status", json=status_body(), headers=fleet.auth("agent:tenant-a"))
    listing = c.get("/api/tenants/tenant-b/agents", headers=fleet.auth("tenant_admin:tenant-b"))
    assert [a["site"] for a in listing.json()] == ["site-b"]
    assert "press-plc" not in listing.text  # tenant-b's agent has not reported; a's did
    page = c.get("/t/tenant-b/agents", headers=fleet.auth("plant_manager:tenant-b"))
    assert "site-a" not in page.text and 'data-agent="edge-1"' in page.text
    # The platform admin may look at any tenant's agents.
    assert c.get("/api/tenants/tenant-a/agents", headers=fleet.auth("admin")).status_code == 200
    # A person without a session is sent to sign in.
    away = c.get("/t/tenant-a/agents", headers={"Accept": "text/html"}, follow_redirects=False)
    assert away.status_code == 303 and away.headers["location"] == "/login"


def test_binding_a_token_of_another_site_or_tenant_is_refused(fleet: Fleet) -> None:
    c, admin = fleet.client, fleet.auth("tenant_admin:tenant-a")
    # edge-2's token is for site-a2: a config for site-a is refused at agent.site.
    wrong_site = c.put(
        "/api/tenants/tenant-a/agents/edge-2/config",
        json={"config": agent_yaml(name="edge-2", site="site-a")},
        headers=admin,
    )
    assert wrong_site.status_code == 422
    assert wrong_site.json()["issues"][0]["field"] == "agent.site"
    # edge-1 still holds its active site-a token: it cannot take edge-2's.
    taken = c.put(
        CONFIG_PUT,
        json={"config": agent_yaml(site="site-a2"), "token_id": fleet.ids["edge-2"]},
        headers=admin,
    )
    assert taken.status_code == 409 and "site" in taken.json()["detail"]
    b_token = c.get(
        "/api/tenants/tenant-b/agent-tokens", headers=fleet.auth("tenant_admin:tenant-b")
    ).json()[0]["id"]
    foreign = c.put(CONFIG_PUT, json={"config": agent_yaml(), "token_id": b_token}, headers=admin)
    assert foreign.status_code == 400 and "no agent token" in foreign.json()["detail"]
    unknown = c.put(
        "/api/tenants/tenant-a/agents/edge-7/config",
        json={"config": agent_yaml(name="edge-7")},
        headers=admin,
    )
    assert unknown.status_code == 400 and "token_id" in unknown.json()["detail"]


def test_a_revoked_token_is_refused_and_a_new_one_takes_over_the_agent(fleet: Fleet) -> None:
    c, admin = fleet.client, fleet.auth("tenant_admin:tenant-a")
    old_id = fleet.ids["edge-1"]
    assert (
        c.delete(f"/api/tenants/tenant-a/agent-tokens/{old_id}", headers=admin).status_code == 204
    )
    old = fleet.auth("agent:tenant-a")
    assert c.get("/api/agent/config", headers=old).status_code == 401
    assert c.post("/api/agent/status", json=status_body(), headers=old).status_code == 401
    listed = c.get("/api/tenants/tenant-a/agents/edge-1", headers=admin).json()
    assert listed["token_revoked"] is True
    page = c.get("/t/tenant-a/agents", headers=admin)
    assert 'class="badge revoked"' in page.text

    issued = c.post(
        "/api/tenants/tenant-a/agent-tokens",
        json={"site": "site-a", "name": "edge-1-new"},
        headers=admin,
    ).json()
    rebound = c.put(
        CONFIG_PUT, json={"config": agent_yaml(), "token_id": issued["id"]}, headers=admin
    )
    assert rebound.status_code == 200 and rebound.json()["token_id"] == issued["id"]
    assert rebound.json()["desired_config"]["version"] == 1  # same text, same version
    fetched = c.get("/api/agent/config", headers={"Authorization": f"Token {issued['token']}"})
    assert fetched.status_code == 200 and fetched.json()["name"] == "edge-1"
    with c.app.state.sessions() as session:
        actions = session.scalars(select(AuditEvent.action)).all()
    assert "agent.rebind" in actions


def test_the_config_cache_survives_a_hand_edit_by_dropping_its_version(tmp_path: Path) -> None:
    cache = ConfigCache(tmp_path / "agent.yaml")
    assert cache.load() is None
    cache.save(CloudConfig(3, '"v3-abc"', agent_yaml()))
    assert cache.load() == CloudConfig(3, '"v3-abc"', agent_yaml())
    (tmp_path / "agent.yaml").write_text(agent_yaml(interval="9s"))
    # Edited by hand: still usable to start with, but the cloud's copy replaces it.
    assert cache.load() == CloudConfig(0, "", agent_yaml(interval="9s"))


def test_the_demo_seeding_twice_rebinds_its_agents_to_fresh_tokens(tmp_path: Path) -> None:
    from mingzhou.demo import agent_config_texts
    from mingzhou.demo_agents import register_demo_agents
    from mingzhou.demo_tenants import seed
    from tenants.db import make_engine, session_factory, upgrade
    from tenants.onboarding import ensure_default_plans

    url = f"sqlite:///{tmp_path / 'meta.db'}"
    upgrade(url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    plants = {"appliance": (PLANTS["appliance"].site, PLANTS["appliance"].display_name)}
    tokens = []
    for _ in range(2):  # `make demo`, stopped and started again on the same folder
        with sessions() as session:
            ensure_default_plans(session)
            tenants = seed(session, plants)
            register_demo_agents(session, tenants, agent_config_texts(5020, "http://x:1"))
            session.commit()
            tokens.append(tenants[0].token)
    with sessions() as session:
        (agent,) = session.scalars(select(RegisteredAgent)).all()
        assert agent.name == f"{PLANTS['appliance'].site}-edge"
        assert agent.config_version == 1 and agent.token.revoked_at is None
        assert agent.token.prefix == tokens[1][: len(agent.token.prefix)]
    engine.dispose()


# --- a real agent process against a real platform process ---------------------------------


async def _wait(check, timeout: float, what: str) -> None:
    async def in_thread():
        return await asyncio.to_thread(check)

    await eventually(in_thread, timeout, what)


@pytest.mark.timeout(240)
async def test_a_real_agent_runs_the_clouds_config_follows_changes_and_starts_from_cache(
    tmp_path: Path, appliance_sim
) -> None:
    _, plc_host, plc_port = appliance_sim
    plant = PLANTS["appliance"]
    platform, url = await asyncio.to_thread(
        start_replica,
        tmp_path,
        f"sqlite:///{tmp_path / 'meta.db'}",
        f"sqlite:{tmp_path / 'series'}",
        "memory://",
        "s" * 48,
    )
    cloud = httpx.Client(base_url=url, timeout=10)
    admin = {"Authorization": f"Bearer {cloud.post('/api/auth/login', json=ADMIN).json()['token']}"}
    assert cloud.post(
        "/api/tenants", json={"key": "acme", "name": "Acme"}, headers=admin
    ).is_success
    issued = cloud.post(
        "/api/tenants/acme/agent-tokens",
        json={"site": plant.site, "name": "line-edge"},
        headers=admin,
    )
    assert issued.status_code == 201, (issued.status_code, issued.text)
    token = issued.json()["token"]
    status_port = free_port()
    config = plant.agent_config(plc_host, plc_port)
    config["agent"]["name"] = "line-edge"
    config["outputs"] = [
        {
            "type": "cloud",
            "url": url,
            "token": "${MINGZHOU_AGENT_TOKEN}",
            "flush_interval": "500ms",
        },
        {"type": "sqlite", "path": "local.db", "flush_interval": "500ms"},
        # Nothing listens here: its share of the buffer only grows, and shows in the status.
        {"type": "influxdb_v1", "url": f"http://127.0.0.1:{free_port()}", "database": "plant"},
    ]
    config["status"] = {"port": status_port}
    put = "/api/tenants/acme/agents/line-edge/config"

    def set_config() -> httpx.Response:
        return cloud.put(
            put, json={"config": yaml.safe_dump(config, sort_keys=False)}, headers=admin
        )

    assert set_config().status_code == 200
    cache = tmp_path / "agent" / "cache.yaml"
    agent_log = tmp_path / "agent.log"

    async def start_agent() -> asyncio.subprocess.Process:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "MINGZHOU_AGENT_TOKEN": token}
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "mingzhou", "edge", "run", "--cloud-url", url,
            "--cache", str(cache), "--poll-interval", "0.5", "--report-interval", "0.5",
            stdout=agent_log.open("ab"), stderr=asyncio.subprocess.STDOUT, env=env,
        )  # fmt: skip

    def seen() -> dict:
        (agent,) = cloud.get("/api/tenants/acme/agents", headers=admin).json()
        return agent

    process = await start_agent()
    try:
        # 1. It fetched v1, runs it, and its reports show version, devices and buffer.
        await _wait(
            lambda: (
                (a := seen())["applied_config_version"] == 1
                and a["devices"].get(f"{plant.site}-plc", {}).get("reads", 0) >= 2
                and a["buffer"]["points"] > 0
                and a["buffer"]["oldest_age_seconds"] > 0
            ),
            60,
            "the agent's report of config v1 with reads and a buffer",
        )
        first = seen()
        assert first["agent_version"] == importlib_version()
        assert first["config_source"] == "cloud" and first["config_in_sync"]
        assert not first["stale"]
        dead = next(o for o in first["outputs"] if o.startswith("influxdb_v1:"))
        assert first["outputs"][dead]["pending"] > 0 and first["state"] == "degraded"
        assert yaml.safe_load(cache.read_text())["agent"]["name"] == "line-edge"
        local = SqliteHistorian(cache.parent / "local.db")
        await _wait(lambda: len(local.list_series()) == len(plant.points), 30, "local points")
        local.close()

        # 2. A new version is picked up by the running process: same pid, new device name.
        config["devices"][0]["name"] = "line-plc"
        assert set_config().json()["desired_config"]["version"] == 2
        await _wait(
            lambda: (a := seen())["applied_config_version"] == 2 and "line-plc" in a["devices"],
            30,
            "config v2 applied without a restart",
        )
        assert process.returncode is None

        # 3. Invalid for the cloud: 422, nothing changes. Valid for the cloud but not
        #    runnable here (a variable this machine lacks): refused, v2 keeps running.
        bad = yaml.safe_dump(config, sort_keys=False).replace("interval: 1s", "interval: often")
        refused = cloud.put(put, json={"config": bad}, headers=admin)
        assert refused.status_code == 422 and "devices[0].interval" in refused.text
        config["devices"][0]["host"] = "${PLC_HOST_NOT_SET_HERE}"
        assert set_config().json()["desired_config"]["version"] == 3
        await _wait(
            lambda: any("v3 refused" in e for e in seen()["errors"]), 30, "the refusal reported"
        )
        now = seen()
        assert now["applied_config_version"] == 2 and not now["config_in_sync"]
        assert "PLC_HOST_NOT_SET_HERE" in " ".join(now["errors"])
        reads = now["devices"]["line-plc"]["reads"]
        await _wait(
            lambda: seen()["devices"]["line-plc"]["reads"] > reads, 20, "v2 to keep reading"
        )
        page = cloud.get("/t/acme/agents", headers=admin).text
        assert 'data-agent="line-edge"' in page and "v2 → v3" in page
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0, agent_log.read_text()

    # 4. The cloud goes away: the agent starts with its cached v2 and reads the PLC.
    await asyncio.to_thread(stop_replica, platform)
    cloud.close()
    process = await start_agent()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{status_port}") as local_status:

            async def from_cache() -> bool:
                try:
                    status = (await local_status.get("/status")).json()
                except httpx.HTTPError:
                    return False
                device = status["devices"].get("line-plc", {})
                return status["config"]["source"] == "cache" and device.get("reads", 0) >= 2

            await eventually(from_cache, 60, "the agent to run its cached config")
            status = (await local_status.get("/status")).json()
        assert status["config"]["version"] == 2
        assert "config not fetched" in status["config"]["problems"]["fetch"]
        cloud_output = next(o for o in status["outputs"] if o.startswith("cloud:"))
        assert status["outputs"][cloud_output]["pending"] > 0  # kept for when it is back
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0, agent_log.read_text()
    assert "starting with the cached cloud config v2" in agent_log.read_text()
    assert "Traceback" not in agent_log.read_text()


def importlib_version() -> str:
    import importlib.metadata

    return importlib.metadata.version("mingzhou")
