"""``GET /api/tenants/{key}/usage``: each quota of a tenant's plan beside what it uses, on
a real platform (SQLite metadata and series, the rate limits in memory and in the real
Redis): the figures move as agents send points and admins add users and agents; only
the tenant's own people and platform admins read them; Redis or the store away is 503."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cloud.platform_app import create_platform_app
from cloud.platform_settings import PlatformSettings
from historian import Historian, Point, SeriesKey, encode_points
from tenants.models import Plan, Tenant
from tenants.onboarding import create_industry_cloud, create_tenant, create_user
from tenants.roles import Role
from tenants.scope import Principal, TenantScope
from tests.conftest import free_port
from tests.test_cloud_platform import ADMIN, login

T0 = 1_790_000_000_000_000_000
S = 1_000_000_000
REDIS_URL = "redis://127.0.0.1:6379/0"
PEOPLE = ("tenant_admin", "plant_manager", "service_engineer")
STARTER = {"points_per_s": 2_000, "series": 5_000, "retention_days": 90, "users": 10, "agents": 3}


def batch(tags: int, seconds: int = 1, start: int = T0, site: str = "site-1") -> bytes:
    """What an agent sends: every tag once a second."""
    return encode_points(
        Point(SeriesKey(site, "line-1", "IMM-01", f"tag-{t}"), start + s * S, float(t + s))
        for s in range(seconds)
        for t in range(tags)
    ).encode()


@dataclass
class World:
    client: TestClient
    tenants: tuple[str, str]  # the one under test, and another enterprise
    tokens: dict[str, str]  # who -> session or agent token

    @property
    def admin(self) -> dict[str, str]:
        return self.auth("admin")

    def auth(self, who: str | None) -> dict[str, str]:
        if who is None:
            return {}
        value = self.tokens[who]
        return {"Authorization": ("Token " if value.startswith("mzat_") else "Bearer ") + value}

    def usage(self, tenant: str, who: str | None = "admin") -> httpx.Response:
        return self.client.get(f"/api/tenants/{tenant}/usage", headers=self.auth(who))

    def figures(self, tenant: str, who: str = "admin") -> dict:
        answer = self.usage(tenant, who)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def ingest(self, tenant: str, body: bytes) -> httpx.Response:
        return self.client.post("/api/ingest", content=body, headers=self.auth(f"agent:{tenant}"))

    def store(self, tenant: str) -> Historian:
        return self.client.app.state.storage.historian(f"mz_{tenant.replace('-', '_')}")

    def use_plan(self, tenant: str, per_s: int) -> None:
        """Put the tenant on a plan of its own with this ingest rate."""
        with self.client.app.state.sessions() as session:
            plan = Plan(key=f"plan-{uuid.uuid4().hex[:8]}", ingest_points_per_s=per_s,
                        max_series=50, retention_days=30, max_users=4, max_agents=2)  # fmt: skip
            session.add(plan)
            session.scalar(select(Tenant).where(Tenant.key == tenant)).plan = plan
            session.commit()


@contextmanager
def platform(tmp_path: Path, rate_limits: str = "memory://", **settings: object) -> Iterator:
    values: dict[str, object] = {
        "metadata_url": f"sqlite:///{tmp_path / 'meta.db'}",
        "storage": f"sqlite:{tmp_path / 'series'}",
        "rate_limits": rate_limits,
        "admin_email": ADMIN[0],
        "admin_password": ADMIN[1],
        # No background passes: the figures move only with what a test does.
        "rollup_interval_s": 0,
        "series_reconcile_s": 0,
        "retention_interval_s": 0,
        **settings,
    }
    with TestClient(create_platform_app(PlatformSettings(**values))) as client:  # type: ignore[arg-type]
        yield client


def build_world(client: TestClient, suffix: str = "") -> World:
    """Two enterprises of one industry cloud, each with its three kinds of people and an
    agent; the cloud's operator (whom the first grants its dashboards), an outside service
    team (granted by the first), and the bureau."""
    tenants = (f"acme{suffix}", f"rival{suffix}")
    tokens = {"admin": login(client, *ADMIN)}
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    with client.app.state.sessions() as session:
        cloud = create_industry_cloud(session, f"mold{suffix}", "Mold cloud", "test")
        create_user(session, f"op@mold{suffix}.cn", "password-1", Role.INDUSTRY_OPERATOR, "test",
                    industry_cloud=cloud)  # fmt: skip
        create_user(session, f"analyst@bureau{suffix}.cn", "password-1", Role.BUREAU_ANALYST, "t")
        session.commit()
    tokens["operator"] = login(client, f"op@mold{suffix}.cn", "password-1")
    tokens["bureau"] = login(client, f"analyst@bureau{suffix}.cn", "password-1")
    for tenant in tenants:
        made = client.post("/api/tenants", headers=admin,
                           json={"key": tenant, "name": tenant, "industry_cloud": f"mold{suffix}"})  # fmt: skip
        assert made.status_code == 201, made.text
        for role in PEOPLE:
            email = f"{role}@{tenant}.cn"
            body = {"email": email, "password": "password-1", "role": role}
            added = client.post(f"/api/tenants/{tenant}/users", json=body, headers=admin)
            assert added.status_code == 201, added.text
            tokens[f"{role}:{tenant}"] = login(client, email, "password-1")
        issued = client.post(f"/api/tenants/{tenant}/agent-tokens", headers=admin,
                             json={"site": "site-1", "name": "edge-1"})  # fmt: skip
        assert issued.status_code == 201, issued.text
        tokens[f"agent:{tenant}"] = issued.json()["token"]
    granted = client.patch(f"/api/tenants/{tenants[0]}/settings", headers=admin,
                           json={"grants_operator_dashboards": True})  # fmt: skip
    assert granted.status_code == 200, granted.text
    team = f"fixers{suffix}"
    assert client.post("/api/service-teams", json={"key": team, "name": "Fixers"},
                       headers=admin).status_code == 201  # fmt: skip
    engineer = {"email": f"eng@{team}.cn", "password": "password-1"}
    assert client.post(f"/api/service-teams/{team}/users", json=engineer,
                       headers=admin).status_code == 201  # fmt: skip
    assert client.put(f"/api/tenants/{tenants[0]}/service-teams/{team}",
                      headers=admin).status_code == 201  # fmt: skip
    tokens["service team"] = login(client, engineer["email"], engineer["password"])
    return World(client, tenants, tokens)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with platform(tmp_path) as client:
        yield build_world(client)


def test_a_new_tenant_sees_its_plan_and_nothing_used(world: World) -> None:
    acme = world.tenants[0]
    assert world.figures(acme, f"tenant_admin:{acme}") == {
        "tenant": acme,
        "plan": "starter",
        "series": {"used": 0, "limit": STARTER["series"]},
        "ingest": {
            "used": 0,
            "limit": STARTER["points_per_s"] * 10,
            "window_seconds": 10,
            "resets_in_s": 0.0,
            "points_per_s": STARTER["points_per_s"],
        },
        "users": {"used": 3, "limit": STARTER["users"]},
        "agents": {"used": 1, "limit": STARTER["agents"]},
        "retention_days": STARTER["retention_days"],
    }


def test_the_figures_move_with_points_users_and_agents(world: World) -> None:
    acme, rival = world.tenants
    # Series the store held before this process admitted any: counted from the store, as
    # the series quota would start from it.
    world.store(acme).write([Point(SeriesKey("site-1", "old", "a", "t"), T0, 1.0)])
    assert world.figures(acme)["series"]["used"] == 1
    assert world.ingest(acme, batch(tags=5, seconds=4)).status_code == 204
    figures = world.figures(acme, f"plant_manager:{acme}")
    assert figures["series"]["used"] == 6  # now the quota's own count: 1 stored + 5 new
    assert figures["ingest"]["used"] == 20
    assert 0 < figures["ingest"]["resets_in_s"] <= 10
    assert world.ingest(acme, batch(tags=7, start=T0 + 10 * S)).status_code == 204
    figures = world.figures(acme, f"service_engineer:{acme}")
    assert figures["series"]["used"] == 8 and figures["ingest"]["used"] == 27
    # Users and agents, as the tenant's admin adds and revokes them.
    ta = world.auth(f"tenant_admin:{acme}")
    body = {"email": f"second@{acme}.cn", "password": "password-1", "role": "plant_manager"}
    assert world.client.post(f"/api/tenants/{acme}/users", json=body, headers=ta).status_code == 201
    issued = world.client.post(f"/api/tenants/{acme}/agent-tokens", headers=ta,
                               json={"site": "site-2", "name": "edge-2"})  # fmt: skip
    assert issued.status_code == 201
    figures = world.figures(acme, f"tenant_admin:{acme}")
    assert figures["users"] == {"used": 4, "limit": 10}
    assert figures["agents"] == {"used": 2, "limit": 3}
    revoked = world.client.delete(f"/api/tenants/{acme}/agent-tokens/{issued.json()['id']}",
                                  headers=ta)  # fmt: skip
    assert revoked.status_code == 204
    assert world.figures(acme)["agents"] == {"used": 1, "limit": 3}
    # The other enterprise's figures did not move.
    other = world.figures(rival, f"tenant_admin:{rival}")
    assert other["series"]["used"] == 0 and other["ingest"]["used"] == 0
    assert other["users"]["used"] == 3 and other["agents"]["used"] == 1


# Who asks for the first tenant's usage, and the answer: its own people and platform
# admins read it; the operator and the service team it grants see its data, not its
# account (403); everyone else is told there is no such tenant (404), as for a tenant that
# does not exist; agents only send data.
CALLERS = [
    ("admin", 200),
    *[(f"{role}:acme", 200) for role in PEOPLE],
    *[(f"{role}:rival", 404) for role in PEOPLE],
    ("operator", 403),
    ("service team", 403),
    ("bureau", 404),
    ("agent:acme", 403),
    ("agent:rival", 403),
    (None, 401),
]


def test_only_the_tenants_own_people_and_platform_admins_read_it(world: World) -> None:
    acme, rival = world.tenants
    assert world.ingest(acme, batch(tags=9, seconds=3)).status_code == 204
    assert world.ingest(rival, batch(tags=4)).status_code == 204
    for who, status in CALLERS:
        answer = world.usage(acme, who)
        assert answer.status_code == status, (who, answer.text)
        if status == 200:
            assert answer.json()["series"]["used"] == 9, who
            continue
        # A refusal names no figure of either enterprise.
        assert set(answer.json()) == {"detail"}, (who, answer.text)
        assert "series" not in answer.text and "27" not in answer.text, (who, answer.text)
    # Each enterprise's people read their own figures, never the other's.
    assert world.figures(rival, f"plant_manager:{rival}")["series"]["used"] == 4
    # The operator is not granted the other's dashboards: to it, that tenant is not there.
    assert world.usage(rival, "operator").status_code == 404
    assert world.usage(rival, "service team").status_code == 404
    # No such tenant: the same answer as another enterprise's.
    missing = world.usage("nowhere", f"tenant_admin:{acme}")
    assert missing.status_code == 404
    assert missing.json()["detail"] == "no tenant 'nowhere' whose usage you may see"
    assert world.usage("bad%00key", f"tenant_admin:{acme}").status_code == 404
    assert "/api/tenants/{key}/usage" in world.client.get("/openapi.json").json()["paths"]


def test_the_scope_decides_who_reads_usage(world: World) -> None:
    with world.client.app.state.sessions() as session:
        acme, rival = (
            session.scalar(select(Tenant.id).where(Tenant.key == key)) for key in world.tenants
        )
        for role in Role:
            mine = Principal("x", role, acme if role.belongs_to_tenant else None)
            expected = role is Role.PLATFORM_ADMIN or role.belongs_to_tenant
            assert TenantScope(session, mine).can_read_usage(acme) is expected, role
            if role is not Role.PLATFORM_ADMIN:
                assert not TenantScope(session, mine).can_read_usage(rival), role
        agent = Principal("agent", None, acme, agent_site="site-1")
        team = Principal("eng", Role.SERVICE_ENGINEER, None, service_team_id=1)
        assert not TenantScope(session, agent).can_read_usage(acme)
        assert not TenantScope(session, team).can_read_usage(acme)


@pytest.mark.parametrize("limits", ["memory://", REDIS_URL])
def test_the_rate_window_counts_refused_points_too(tmp_path: Path, limits: str) -> None:
    # Tenant keys of their own: the Redis is shared with other tests and runs.
    suffix = f"-{uuid.uuid4().hex[:8]}"
    with platform(tmp_path, limits) as client:
        world = build_world(client, suffix)
        acme, rival = world.tenants
        world.use_plan(acme, per_s=10)  # 100 points a window
        assert world.ingest(acme, batch(tags=10, seconds=8)).status_code == 204
        figures = world.figures(acme, f"tenant_admin:{acme}")
        assert figures["ingest"]["used"] == 80 and figures["ingest"]["limit"] == 100
        assert figures["ingest"]["points_per_s"] == 10
        assert 0 < figures["ingest"]["resets_in_s"] <= 10
        assert figures["series"] == {"used": 10, "limit": 50}
        assert figures["users"]["limit"] == 4 and figures["agents"]["limit"] == 2
        assert figures["retention_days"] == 30
        over = world.ingest(acme, batch(tags=10, seconds=3, start=T0 + 8 * S))
        assert over.status_code == 429
        # The window counted the refused 30: they are what keeps the tenant waiting.
        assert world.figures(acme)["ingest"]["used"] == 110
        assert world.figures(rival)["ingest"]["used"] == 0


def test_redis_away_is_503_with_retry_after(tmp_path: Path) -> None:
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    with platform(tmp_path, dead_redis) as client:
        admin = {"Authorization": f"Bearer {login(client, *ADMIN)}"}
        assert client.post("/api/tenants", json={"key": "no-redis", "name": "N"},
                           headers=admin).status_code == 201  # fmt: skip
        away = client.get("/api/tenants/no-redis/usage", headers=admin)
        assert away.status_code == 503, away.text
        assert away.headers["Retry-After"] == "5"
        assert away.json()["detail"].startswith("cannot reach Redis for the rate limits")


def test_the_store_away_is_503_with_retry_after(tmp_path: Path) -> None:
    # An InfluxDB where nothing listens: the tenant's series cannot be counted.
    storage = f"influxdb://127.0.0.1:{free_port()}"
    with platform(tmp_path, storage=storage) as client:
        with client.app.state.sessions() as session:
            create_tenant(session, "no-store", "N", "starter", "test")  # its store never made
            session.commit()
        admin = {"Authorization": f"Bearer {login(client, *ADMIN)}"}
        away = client.get("/api/tenants/no-store/usage", headers=admin)
        assert away.status_code == 503, away.text
        assert away.headers["Retry-After"] == "5"
        assert away.json()["detail"].startswith("the time-series store cannot count the series")


def test_the_agents_page_shows_the_usage_to_the_tenants_people_only(world: World) -> None:
    acme = world.tenants[0]
    assert world.ingest(acme, batch(tags=4, seconds=2)).status_code == 204
    page = world.client.get(f"/t/{acme}/agents", headers=world.auth(f"plant_manager:{acme}"))
    assert page.status_code == 200, page.text
    assert 'data-plan="starter"' in page.text
    assert '<tr class="quota" data-quota="series"><td class="name">series</td><td>4</td>' in (
        page.text
    )
    assert "<td>5,000</td>" in page.text and "<td>20,000</td>" in page.text
    # The operator and the service team it grants see its agents, not its account.
    for who in ("operator", "service team"):
        page = world.client.get(f"/t/{acme}/agents", headers=world.auth(who))
        assert page.status_code == 200, (who, page.text)
        assert "data-plan" not in page.text and "quota" not in page.text, who


def test_the_agents_page_says_when_the_usage_is_unavailable(tmp_path: Path) -> None:
    with platform(tmp_path, f"redis://127.0.0.1:{free_port()}/0") as client:
        admin = {"Authorization": f"Bearer {login(client, *ADMIN)}"}
        assert client.post("/api/tenants", json={"key": "no-redis", "name": "N"},
                           headers=admin).status_code == 201  # fmt: skip
        page = client.get("/t/no-redis/agents", headers=admin)
        assert page.status_code == 200, page.text
        assert "Plan usage unavailable: cannot reach Redis for the rate limits" in page.text
