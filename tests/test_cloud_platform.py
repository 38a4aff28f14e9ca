"""The multi-tenant cloud's sign-in, onboarding, agent tokens and ingestion, on SQLite and
PostgreSQL metadata: every refused attempt is refused, and no tenant sees another's data."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cloud.platform_app import create_platform_app
from cloud.platform_settings import PlatformSettings
from historian import Point, SeriesKey
from historian.line_protocol import encode_points
from tenants import sessions

ADMIN = ("admin@platform.cn", "admin-password")
T0 = 1_790_000_000_000_000_000


@dataclass
class World:
    client: TestClient
    settings: PlatformSettings
    tokens: dict[str, str]  # who -> bearer or agent token

    def auth(self, who: str) -> dict[str, str]:
        value = self.tokens[who]
        return {"Authorization": ("Token " if value.startswith("mzat_") else "Bearer ") + value}

    def series(self, tenant: str) -> list:
        return self.client.app.state.storage.historian(
            f"mz_{tenant.replace('-', '_')}"
        ).list_series()


def login(client: TestClient, email: str, password: str) -> str:
    response = client.post("/api/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return response.json()["token"]


@pytest.fixture
def world(metadata_url: str, tmp_path: Path) -> Iterator[World]:
    settings = PlatformSettings(
        metadata_url=metadata_url,
        storage=f"sqlite:{tmp_path / 'series'}",
        admin_email=ADMIN[0],
        admin_password=ADMIN[1],
        max_body_bytes=200_000,
    )
    with TestClient(create_platform_app(settings)) as client:
        tokens = {"admin": login(client, *ADMIN)}
        admin = {"Authorization": f"Bearer {tokens['admin']}"}
        for tenant in ("tenant-a", "tenant-b"):
            assert (
                client.post(
                    "/api/tenants", json={"key": tenant, "name": tenant.upper()}, headers=admin
                ).status_code
                == 201
            )
            for role in ("tenant_admin", "plant_manager"):
                email = f"{role}@{tenant}.cn"
                body = {"email": email, "password": "password-1", "role": role}
                assert (
                    client.post(
                        f"/api/tenants/{tenant}/users", json=body, headers=admin
                    ).status_code
                    == 201
                )
                tokens[f"{role}:{tenant}"] = login(client, email, "password-1")
            issued = client.post(
                f"/api/tenants/{tenant}/agent-tokens",
                json={"site": f"site-{tenant[-1]}", "name": "edge-1"},
                headers={"Authorization": f"Bearer {tokens[f'tenant_admin:{tenant}']}"},
            )
            assert issued.status_code == 201, issued.text
            tokens[f"agent:{tenant}"] = issued.json()["token"]
        yield World(client, settings, tokens)


def lines(site: str, count: int = 3, tag: str = "melt_temp") -> str:
    key = SeriesKey(site, "line-1", "IMM-01", tag)
    return encode_points([Point(key, T0 + i * 1_000_000_000, 200.0 + i) for i in range(count)])


def test_an_agent_sends_line_protocol_and_json_into_its_own_tenant(world: World) -> None:
    c = world.client
    sent = c.post("/api/ingest", content=lines("site-a"), headers=world.auth("agent:tenant-a"))
    assert sent.status_code == 204 and sent.headers["X-Points-Written"] == "3"
    zipped = gzip.compress(lines("site-a", 5, "mould_temp").encode())
    sent = c.post(
        "/api/ingest",
        content=zipped,
        headers={**world.auth("agent:tenant-a"), "Content-Encoding": "gzip"},
    )
    assert sent.status_code == 204
    body = [
        {
            "site": "site-a",
            "line": "l",
            "asset": "P-1",
            "tag": "running",
            "time": "2026-11-29T08:00:00Z",
            "value": True,
        }
    ]
    assert (
        c.post("/api/ingest/json", json=body, headers=world.auth("agent:tenant-a")).status_code
        == 204
    )
    assert {s.key.tag for s in world.series("tenant-a")} == {"melt_temp", "mould_temp", "running"}
    assert world.series("tenant-b") == []  # nothing crossed over


def test_hostile_names_round_trip_unchanged(world: World) -> None:
    hostile = [
        'a "quoted", name',
        "x=1 y=2",
        "中文 标签",
        "SELECT * FROM telemetry; DROP DATABASE x",
        "tab\tand, comma",
    ]
    points = [Point(SeriesKey("site-a", name, name, name), T0, name) for name in hostile]
    sent = world.client.post(
        "/api/ingest", content=encode_points(points), headers=world.auth("agent:tenant-a")
    )
    assert sent.status_code == 204, sent.text
    stored = {(s.key.line, s.key.asset, s.key.tag, s.last_value) for s in world.series("tenant-a")}
    assert stored == {(n, n, n, n) for n in hostile}


@pytest.mark.parametrize(
    ("who", "body", "headers", "status", "says"),
    [
        (None, lines("site-a"), {}, 401, "sign in first"),
        (
            "garbage",
            lines("site-a"),
            {"Authorization": "Token mzat_guessed"},
            401,
            "unknown or revoked",
        ),
        ("plant_manager:tenant-a", lines("site-a"), {}, 403, "only an edge agent"),
        ("agent:tenant-a", lines("site-b"), {}, 403, "is not the site of this agent token"),
        ("agent:tenant-a", "telemetry,site=site-a float=1 1\n", {}, 400, "line 1: missing tag"),
        ("agent:tenant-a", b"\xff\xfe", {}, 400, "not UTF-8"),
        ("agent:tenant-a", lines("site-a", 3000), {}, 413, "over the limit"),
        (
            "agent:tenant-a",
            gzip.compress(b"x" * 5_000_000),
            {"Content-Encoding": "gzip"},
            413,
            "decompressed body",
        ),
        ("agent:tenant-a", b"not gzip", {"Content-Encoding": "gzip"}, 400, "not valid gzip"),
    ],
)
def test_every_bad_ingest_is_refused_with_a_reason(
    world: World, who: str | None, body: str | bytes, headers: dict, status: int, says: str
) -> None:
    auth = world.auth(who) if who in world.tokens else {}
    response = world.client.post("/api/ingest", content=body, headers={**auth, **headers})
    assert response.status_code == status, response.text
    assert says in response.json()["detail"]
    assert world.series("tenant-a") == [] and world.series("tenant-b") == []


def test_revoked_tokens_and_expired_sessions_are_refused(world: World) -> None:
    c = world.client
    admin_a = world.auth("tenant_admin:tenant-a")
    (token,) = c.get("/api/tenants/tenant-a/agent-tokens", headers=admin_a).json()
    assert "token" not in token and token["prefix"].startswith("mzat_")  # never shown again
    assert (
        c.delete(f"/api/tenants/tenant-a/agent-tokens/{token['id']}", headers=admin_a).status_code
        == 204
    )
    refused = c.post("/api/ingest", content=lines("site-a"), headers=world.auth("agent:tenant-a"))
    assert refused.status_code == 401
    old = sessions.issue(world.settings.secret, 1, "platform_admin", None, timedelta(seconds=-1))
    expired = c.get("/api/auth/me", headers={"Authorization": f"Bearer {old}"})
    assert expired.status_code == 401 and "expired" in expired.json()["detail"]
    forged = sessions.issue("f" * 40, 1, "platform_admin", None)
    assert (
        c.post(
            "/api/tenants",
            json={"key": "evil", "name": "x"},
            headers={"Authorization": f"Bearer {forged}"},
        ).status_code
        == 401
    )


@pytest.mark.parametrize(
    ("who", "method", "path", "status"),
    [
        ("tenant_admin:tenant-b", "get", "/api/tenants/tenant-a/agent-tokens", 404),
        ("tenant_admin:tenant-b", "post", "/api/tenants/tenant-a/agent-tokens", 404),
        ("tenant_admin:tenant-b", "post", "/api/tenants/tenant-a/users", 404),
        ("plant_manager:tenant-a", "post", "/api/tenants/tenant-a/agent-tokens", 404),
        ("plant_manager:tenant-a", "post", "/api/tenants", 403),
        ("tenant_admin:tenant-a", "post", "/api/tenants", 403),
        ("agent:tenant-a", "get", "/api/tenants/tenant-a/agent-tokens", 403),
        ("agent:tenant-a", "get", "/api/auth/me", 403),
        (None, "get", "/api/tenants/tenant-a/agent-tokens", 401),
    ],
)
def test_management_is_refused_outside_ones_own_tenant(
    world: World, who: str | None, method: str, path: str, status: int
) -> None:
    body = {
        "site": "s",
        "name": "n",
        "email": "e@x.cn",
        "password": "password-1",
        "role": "plant_manager",
        "key": "k-1",
    }
    auth = world.auth(who) if who else {}
    response = getattr(world.client, method)(
        path, headers=auth, **({"json": body} if method == "post" else {})
    )
    assert response.status_code == status, response.text
    assert "tenant-a" not in response.text or status == 404  # a refusal never echoes data


def test_the_tenant_rate_limit_answers_429_with_retry_after(world: World) -> None:
    capacity = 2_000 * 10  # the starter plan: 2,000 points/s over 10 s windows
    batch = lines("site-a", 1_500)
    headers = world.auth("agent:tenant-a")
    sent, refused = 0, None
    for _ in range(capacity // 1_500 + 2):
        response = world.client.post("/api/ingest", content=batch, headers=headers)
        if response.status_code == 429:
            refused = response
            break
        assert response.status_code == 204
        sent += 1_500
    assert refused is not None and sent <= capacity
    assert 1 <= int(refused.headers["Retry-After"]) <= 10
    assert "2000 points/s" in refused.json()["detail"]
    # tenant-b has its own quota
    assert (
        world.client.post(
            "/api/ingest", content=lines("site-b"), headers=world.auth("agent:tenant-b")
        ).status_code
        == 204
    )


def test_sign_in_failures_are_audited_and_vague(world: World) -> None:
    from sqlalchemy import select

    from tenants.models import AuditEvent

    wrong = world.client.post("/api/auth/login", json={"email": ADMIN[0], "password": "nope"})
    unknown = world.client.post("/api/auth/login", json={"email": "who@x.cn", "password": "nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()  # no hint which part was wrong
    with world.client.app.state.sessions() as session:
        actions = session.scalars(select(AuditEvent.action)).all()
    assert actions.count("sign_in.failed") == 2 and "agent_token.create" in actions


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("admin", 200),
        ("tenant_admin:tenant-a", 200),
        ("plant_manager:tenant-a", 200),
        ("tenant_admin:tenant-b", 404),
        ("plant_manager:tenant-b", 404),
        ("agent:tenant-a", 404),
        (None, 401),
    ],
)
def test_reading_a_tenants_series_is_scoped(world: World, who: str | None, status: int) -> None:
    assert (
        world.client.post(
            "/api/ingest", content=lines("site-a"), headers=world.auth("agent:tenant-a")
        ).status_code
        == 204
    )
    auth = world.auth(who) if who else {}
    params = {
        "site": "site-a",
        "line": "line-1",
        "asset": "IMM-01",
        "tag": "melt_temp",
        "start": "2026-09-01T00:00:00Z",
        "end": "now",
    }
    for path, query in (
        ("/api/tenants/tenant-a/series", {}),
        ("/api/tenants/tenant-a/series/data", params),
    ):
        response = world.client.get(path, params=query, headers=auth)
        assert response.status_code == status, (path, response.text)
        if status == 200:
            assert "melt_temp" in response.text
        else:
            assert "melt_temp" not in response.text and "200.0" not in response.text


def test_pages_sign_in_and_show_only_ones_own_enterprise(world: World) -> None:
    c = world.client
    assert (
        c.post(
            "/api/ingest", content=lines("site-a"), headers=world.auth("agent:tenant-a")
        ).status_code
        == 204
    )
    html = {"Accept": "text/html"}
    away = c.get("/", headers=html, follow_redirects=False)
    assert away.status_code == 303 and away.headers["location"] == "/login"
    wrong = c.post(
        "/login",
        data={"email": "plant_manager@tenant-a.cn", "password": "nope"},
        follow_redirects=False,
    )
    assert wrong.status_code == 401 and "Wrong e-mail or password" in wrong.text
    signed = c.post(
        "/login",
        data={"email": "plant_manager@tenant-a.cn", "password": "password-1"},
        follow_redirects=False,
    )
    assert signed.status_code == 303 and "mz_session" in signed.cookies
    # The client keeps the cookie, as a browser does.
    home = c.get("/", headers=html, follow_redirects=False)
    assert home.status_code == 303 and home.headers["location"] == "/t/tenant-a/"
    page = c.get("/t/tenant-a/", headers=html)
    assert page.status_code == 200 and "IMM-01" in page.text and "melt_temp" in page.text
    live = c.get("/t/tenant-a/dashboard/live").json()
    assert live["series_count"] == 1
    assert c.get("/t/tenant-b/", headers=html).status_code == 404
    assert c.get("/t/tenant-b/dashboard/live").status_code == 404
