"""The service team's page (/t/{key}/service), an outside service team's fleet page
(/service, /api/service/fleet) and the industry-cloud operator's page (/industry/{cloud}):
who may open them (a service team sees exactly the tenants that grant it, a revoked grant
at once hides the tenant), what they show (predictions ranked by risk then remaining life
with their evidence, alerts and work orders, across tenants for the fleet; each member's
7-day KPIs against the vertical's percentiles, checked against the production KPIs
computed directly), their data twins, and all three drawn and refreshed live in headless
Chromium against a running platform, screenshots in the artifacts folder."""

from __future__ import annotations

import html
import json
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from cloud.closed_period_cache import ClosedPeriodCache
from cloud.industry_page import MIN_MEMBERS, WINDOW_NS
from cloud.plant_model_view import load_sites, site_calendar, site_spec
from cloud.platform_app import create_platform_app
from cloud.platform_settings import PlatformSettings
from cloud.production_kpi_cache import SiteKpis
from maintenance.alerts import on_prediction
from maintenance.prediction_models import Prediction
from maintenance.work_order_models import WorkOrderStatus
from maintenance.work_orders import open_from_alert, transition
from protocols.simulators.plants import MOLD
from tenants.models import AuditEvent, Tenant
from tenants.onboarding import create_industry_cloud, create_user
from tenants.roles import Role
from tests import maintenance_records as records
from tests.plant_pages_data import SimulatedPlant
from tests.platform_process import start_replica, stop_replica

ADMIN = ("admin@platform.cn", "admin-password")
PASSWORD = "password-1"
HOUR_NS = 3600 * 1_000_000_000
MOLD_MEMBERS = ("tenant-a", "tenant-c", "tenant-d")  # tenant-a grants its operator
# Outside service teams and the tenants that grant them; tenant-d grants none.
TEAM_GRANTS = {"pumpcare": ("tenant-a", "tenant-b"), "othercare": ("tenant-c",)}
FIGURES_DRAWN = """(minimum) => {
    const figures = [...document.querySelectorAll('.figure')];
    const drawn = figures.filter(gd => gd.classList.contains('js-plotly-plot') && gd.data &&
        gd.data.some(t => ((t.y && t.y.length) || (t.x && t.x.length)) > 0));
    return figures.length >= minimum && drawn.length === figures.length;
}"""


@dataclass
class World:
    app: FastAPI
    client: TestClient
    tokens: dict[str, str]
    root: Path
    metadata: str

    def auth(self, who: str) -> dict[str, str]:
        value = self.tokens[who]
        scheme = "Token" if value.startswith("mzat_") else "Bearer"
        return {"Authorization": f"{scheme} {value}", "Accept": "text/html"}


def _login(client: TestClient, email: str, password: str = PASSWORD) -> str:
    answer = client.post("/api/auth/login", json={"email": email, "password": password})
    assert answer.status_code == 200, answer.text
    return answer.json()["token"]


def _onboard(client: TestClient, tenant: str, headers: dict[str, str]) -> None:
    for asset, line, template in (
        ("IMM-01", "moulding-hall-1", "injection_moulding_machine"),
        ("IMM-02", "moulding-hall-1", "injection_moulding_machine"),
        ("meter-main", "utilities", "power_meter"),
    ):
        body = {"site": MOLD.site, "line": line, "asset": asset, "template": template}
        answer = client.post(f"/api/tenants/{tenant}/assets", json=body, headers=headers)
        assert answer.status_code == 201, answer.text


def _maintenance(app: FastAPI) -> None:
    """Tenant a: three open predictions (two at the same risk, so remaining life decides),
    an alert from each one over the contract's threshold, a work order scheduled; tenant b:
    one prediction that must never show on a's page."""
    now = datetime.now(UTC)
    with app.state.sessions() as session:
        ids = dict(session.execute(select(Tenant.key, Tenant.id)).all())
        a, b = ids["tenant-a"], ids["tenant-b"]
        version = records.model_version(session, a)
        records.contract(session, a)
        made = []
        for asset, risk, rul in (("P-103", 0.5, None), ("P-101", 0.9, 30.0), ("P-102", 0.9, 10.0)):
            p = records.prediction(session, a, version, asset, risk, rul, made_at=now)
            made.append(p)
            on_prediction(session, p, now)
        session.flush()
        # The evidence of P-102: two signals, the stronger one first on the page.
        made[2].evidence = [
            {"signal": "bearing_temp", "feature": "slope", "deviation": 4.0, "share": 0.2,
             "drifting_since": (now - timedelta(hours=5)).isoformat()},
            {"signal": "vibration_rms", "feature": "level", "deviation": 9.0, "share": 0.8,
             "drifting_since": (now - timedelta(hours=20)).isoformat()},
        ]  # fmt: skip
        alert_ids = [
            change.alert.id
            for change in (on_prediction(session, p, now) for p in made[1:])
            if change is not None
        ]
        order = open_from_alert(session, a, alert_ids[0], "service_engineer@tenant-a.cn", now)
        transition(session, a, order.id, WorkOrderStatus.ACKNOWLEDGED, "se", now)
        transition(
            session, a, order.id, WorkOrderStatus.SCHEDULED, "se", now,
            scheduled_for=(now + timedelta(days=2)).date(),
        )  # fmt: skip
        other = records.model_version(session, b)
        records.prediction(session, b, other, "P-999", 0.99, 5.0, made_at=now)
        session.commit()


def _service_teams(client: TestClient, tokens: dict[str, str]) -> None:
    """Teams made by the platform admin, each with one engineer; grants given by the
    tenant's admin (tenant-c has none in this world: the platform admin grants)."""
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    for team, tenants in TEAM_GRANTS.items():
        body = {"key": team, "name": f"{team.capitalize()} Service"}
        assert client.post("/api/service-teams", json=body, headers=admin).status_code == 201
        user = {"email": f"engineer@{team}.cn", "password": PASSWORD}
        made = client.post(f"/api/service-teams/{team}/users", json=user, headers=admin)
        assert made.status_code == 201, made.text
        assert made.json()["role"] == "service_engineer" and made.json()["service_team"] == team
        tokens[f"team:{team}"] = _login(client, user["email"])
        for tenant in tenants:
            who = tokens.get(f"tenant_admin:{tenant}", tokens["admin"])
            granted = client.put(
                f"/api/tenants/{tenant}/service-teams/{team}",
                headers={"Authorization": f"Bearer {who}"},
            )
            assert granted.status_code == 201, granted.text


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Clouds mold (tenants a, c, d with 3 hours of the simulated mold plant each) and
    appl (tenant b); people of every role; maintenance records for a and b."""
    root = tmp_path_factory.mktemp("service-operator")
    metadata = f"sqlite:///{root / 'meta.db'}"
    settings = PlatformSettings(
        metadata_url=metadata,
        storage=f"sqlite:{root / 'series'}",
        admin_email=ADMIN[0],
        admin_password=ADMIN[1],
    )
    app = create_platform_app(settings)
    with TestClient(app) as client:
        with app.state.sessions() as session:
            clouds = {
                k: create_industry_cloud(session, k, k.upper(), "t") for k in ("mold", "appl")
            }
            for cloud in clouds:
                create_user(session, f"operator@{cloud}.cn", PASSWORD, Role.INDUSTRY_OPERATOR,
                            "t", None, clouds[cloud])  # fmt: skip
            create_user(session, "bureau@gov.cn", PASSWORD, Role.BUREAU_ANALYST, "t")
            session.commit()
        tokens = {"admin": _login(client, *ADMIN)}
        admin = {"Authorization": f"Bearer {tokens['admin']}"}
        for tenant in (*MOLD_MEMBERS, "tenant-b"):
            cloud = "appl" if tenant == "tenant-b" else "mold"
            body = {"key": tenant, "name": f"{tenant.upper()} Works", "plan": "standard",
                    "industry_cloud": cloud}  # fmt: skip
            assert client.post("/api/tenants", json=body, headers=admin).status_code == 201
        for tenant in ("tenant-a", "tenant-b"):
            for role in ("tenant_admin", "plant_manager", "service_engineer"):
                user = {"email": f"{role}@{tenant}.cn", "password": PASSWORD, "role": role}
                created = client.post(f"/api/tenants/{tenant}/users", json=user, headers=admin)
                assert created.status_code == 201, created.text
                tokens[f"{role}:{tenant}"] = _login(client, user["email"])
        for who in ("operator@mold.cn", "operator@appl.cn", "bureau@gov.cn"):
            tokens[who] = _login(client, who)
        issued = client.post(
            "/api/tenants/tenant-a/agent-tokens",
            json={"site": MOLD.site, "name": "edge"},
            headers=admin,
        )
        tokens["agent:tenant-a"] = issued.json()["token"]
        _service_teams(client, tokens)
        granted = client.patch(
            "/api/tenants/tenant-a/settings",
            json={"grants_operator_dashboards": True},
            headers={"Authorization": f"Bearer {tokens['tenant_admin:tenant-a']}"},
        )
        assert granted.status_code == 200, granted.text
        now = time.time_ns()
        for seed, tenant in enumerate(MOLD_MEMBERS, start=1):
            _onboard(client, tenant, admin)
            with app.state.sessions() as session:
                namespace = session.scalar(
                    select(Tenant.storage_database).where(Tenant.key == tenant)
                )
            historian = app.state.storage.historian(namespace)
            # Different seeds and lengths: the members' KPIs differ.
            SimulatedPlant(
                MOLD, historian, now - (2 + seed) * HOUR_NS, MOLD.model(seed)
            ).write_until(now, 30)
        _maintenance(app)
        yield World(app, client, tokens, root, metadata)


SERVICE = "/t/tenant-a/service"
SERVICE_READERS = [
    "admin",
    "tenant_admin:tenant-a",
    "plant_manager:tenant-a",
    "service_engineer:tenant-a",
    "operator@mold.cn",  # tenant a granted its industry cloud's operator
    "team:pumpcare",  # and granted this service team
]
SERVICE_REFUSED = [
    "service_engineer:tenant-b",
    "plant_manager:tenant-b",
    "tenant_admin:tenant-b",
    "operator@appl.cn",
    "bureau@gov.cn",
    "agent:tenant-a",
    "team:othercare",  # a service team tenant a did not grant
]
INDUSTRY = "/industry/mold"
INDUSTRY_READERS = ["admin", "operator@mold.cn"]
INDUSTRY_REFUSED = [
    "operator@appl.cn",
    "bureau@gov.cn",
    "tenant_admin:tenant-a",
    "plant_manager:tenant-a",
    "service_engineer:tenant-a",
    "agent:tenant-a",
    "team:pumpcare",
]


def test_service_page_is_open_to_exactly_the_tenants_readers(world: World) -> None:
    c = world.client
    for who in SERVICE_READERS:
        answer = c.get(SERVICE, headers=world.auth(who))
        assert answer.status_code == 200, (who, answer.text[:300])
        assert "TENANT-A Works" in answer.text
    for who in SERVICE_REFUSED:
        assert c.get(SERVICE, headers=world.auth(who)).status_code == 404, who
    # Another cloud's tenant that did not grant its operator, and no such tenant.
    assert c.get("/t/tenant-c/service", headers=world.auth("operator@mold.cn")).status_code == 404
    assert c.get("/t/nope/service", headers=world.auth("admin")).status_code == 404
    assert c.get("/t/a%00b/service", headers=world.auth("admin")).status_code == 404
    answer = c.get(SERVICE, headers={"Accept": "text/html"}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/login"


def test_service_page_ranks_predictions_and_shows_evidence_alerts_and_orders(
    world: World,
) -> None:
    page = world.client.get(
        SERVICE + "?lang=en", headers=world.auth("service_engineer:tenant-a")
    ).text
    table = page[page.index('id="predictions"') : page.index("</table>")]
    machines = re.findall(r'<td class="asset-cell">[^/]+/ (P-\d+)<', table)
    # Risk first, then the shorter remaining life; tenant b's P-999 never shows.
    assert machines == ["P-102", "P-101", "P-103"]
    assert "P-999" not in page
    first = table[: table.index("P-101")]
    # P-102's evidence, the larger share first, with since when it drifted (20 h, 5 h).
    assert first.index("vibration_rms") < first.index("bearing_temp")
    assert re.search(r"vibration_rms.*?9\.0σ · 80% · since [\d-]+ [\d:]+ \(20 h\)", first, re.S)
    assert "10 h (7–13)" in first  # remaining life with its interval
    alerts = page[page.index('id="alerts"') :]
    alerts = alerts[: alerts.index("</table>")]
    assert sorted(re.findall(r"(P-10\d)</td>", alerts)) == ["P-101", "P-102"]  # over 0.7
    orders = page[page.index('id="work-orders"') :]
    assert re.search(r'class="order scheduled">.*?P-10[12].*?scheduled', orders, re.S)
    figures = page[page.index('id="mz-figures"') :]
    assert '"fig-risk"' in figures and "P-102" in figures
    zh = world.client.get(SERVICE + "?lang=zh", headers=world.auth("admin")).text
    assert "未关闭的故障预测" in zh and "已排期" in zh


def test_industry_page_is_open_to_its_operator_and_platform_admins_only(world: World) -> None:
    c = world.client
    for who in INDUSTRY_READERS:
        answer = c.get(INDUSTRY, headers=world.auth(who))
        print(f"industry page as {who}:", answer.headers.get("server-timing"))
        assert answer.status_code == 200, (who, answer.text[:300])
    for who in INDUSTRY_REFUSED:
        assert c.get(INDUSTRY, headers=world.auth(who)).status_code == 404, who
    assert c.get("/industry/appl", headers=world.auth("operator@mold.cn")).status_code == 404
    assert c.get("/industry/appl", headers=world.auth("operator@appl.cn")).status_code == 200
    assert c.get("/industry/nope", headers=world.auth("admin")).status_code == 404
    answer = c.get(INDUSTRY, headers={"Accept": "text/html"}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/login"


def _oee_cells(page: str) -> dict[str, float]:
    rows = re.findall(r'data-member="([^"]+)">.*?<td class="num">([\d.]+)%</td>', page, re.S)
    return {key: float(value) for key, value in rows}


def test_industry_page_benchmarks_members_against_the_verticals_percentiles(
    world: World,
) -> None:
    answer = world.client.get(INDUSTRY + "?lang=en", headers=world.auth("operator@mold.cn"))
    print("industry page (benchmark cached):", answer.headers["server-timing"])
    page = answer.text
    members = re.findall(r'data-member="([^"]+)"', page)
    assert sorted(members) == sorted(MOLD_MEMBERS)  # its members only, by name
    assert "TENANT-B" not in page
    shown = _oee_cells(page)
    assert set(shown) == set(MOLD_MEMBERS)
    # Each member's OEE is its site's production KPIs over the benchmark's 7 days.
    benchmark = world.app.state.industry_benchmarks[
        next(iter(world.app.state.industry_benchmarks))
    ][1]
    end = benchmark.computed_ns
    with world.app.state.sessions() as session:
        for key in MOLD_MEMBERS:
            tenant = session.scalar(select(Tenant).where(Tenant.key == key))
            (site,) = load_sites(session, tenant.id)
            kpis = SiteKpis.build(
                ClosedPeriodCache(),
                world.app.state.storage.historian(tenant.storage_database),
                tenant.storage_database,
                site_spec(site),
                site_calendar(site),
                end - WINDOW_NS,
                end,
                end,
            ).whole()
            assert kpis is not None and kpis.oee is not None
            assert shown[key] == pytest.approx(100 * kpis.oee, abs=0.051), key
    # The percentiles are those of the members' values, without names.
    assert len(shown) >= MIN_MEMBERS
    p25, p50, p75 = np.percentile([benchmark.members[i].values["oee"] for i in range(3)],
                                  [25, 50, 75])  # fmt: skip
    band = f"{100 * p25:.1f}% / {100 * p50:.1f}% / {100 * p75:.1f}%"
    assert band in html.unescape(page)
    # The best OEE is in the best quarter, the worst in the worst (higher is better).
    best, worst = max(shown, key=shown.get), min(shown, key=shown.get)
    for key, position in ((best, "best quarter"), (worst, "worst quarter")):
        row = page[page.index(f'data-member="{key}"') :]
        assert re.match(r'.*?%</td><td class="position \w+">' + position, row, re.S), key
    for key in ("oee", "energy_per_unit_kwh", "data_coverage"):
        assert f'"fig-{key}"' in page
    zh = world.client.get(INDUSTRY + "?lang=zh", headers=world.auth("admin")).text
    assert "成员对标" in zh


# --- the service team's fleet ---------------------------------------------------------

FLEET = "/service"
FLEET_PATHS = (FLEET, FLEET + "/data", "/api/service/fleet")
FLEET_REFUSED = [
    "admin",
    "tenant_admin:tenant-a",
    "plant_manager:tenant-a",
    "service_engineer:tenant-a",  # a tenant's own service engineer has no fleet
    "operator@mold.cn",
    "bureau@gov.cn",
    "agent:tenant-a",
]


def _fleet(world: World, who: str) -> dict:
    answer = world.client.get("/api/service/fleet", headers=world.auth(who))
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_service_team_sees_exactly_the_tenants_that_grant_it(world: World) -> None:
    c = world.client
    assert [t["key"] for t in _fleet(world, "team:pumpcare")["tenants"]] == ["tenant-a", "tenant-b"]
    other = _fleet(world, "team:othercare")
    assert other["team"] == {"key": "othercare", "name": "Othercare Service"}
    assert [t["key"] for t in other["tenants"]] == ["tenant-c"] and other["predictions"] == []
    page = c.get(FLEET, headers=world.auth("team:pumpcare"))
    assert page.status_code == 200 and "Pumpcare Service" in page.text
    assert "TENANT-A Works" in page.text and "TENANT-B Works" in page.text
    assert "TENANT-C" not in page.text and "TENANT-D" not in page.text
    for who in FLEET_REFUSED:
        for path in FLEET_PATHS:
            assert c.get(path, headers=world.auth(who)).status_code == 403, (who, path)
    answer = c.get(FLEET, headers={"Accept": "text/html"}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/login"
    assert c.get("/api/service/fleet").status_code == 401
    # A team reads and works a granting tenant as its own service engineers do; every
    # other tenant answers as one that does not exist.
    team = world.auth("team:pumpcare")
    for tenant in ("tenant-a", "tenant-b"):
        assert c.get(f"/t/{tenant}/service", headers=team).status_code == 200, tenant
        assert c.get(f"/t/{tenant}/service/data", headers=team).status_code == 200, tenant
    for tenant in ("tenant-c", "tenant-d", "nope"):
        assert c.get(f"/t/{tenant}/service", headers=team).status_code == 404, tenant
        assert (
            c.get(f"/api/tenants/{tenant}/maintenance/predictions", headers=team).status_code == 404
        )
    alerts = c.get("/api/tenants/tenant-a/maintenance/alerts", headers=team).json()
    p102 = next(a for a in alerts if a["asset"] == "P-102")
    path = f"/api/tenants/tenant-a/maintenance/alerts/{p102['id']}/acknowledge"
    assert c.post(path, headers=world.auth("team:othercare")).status_code == 404
    acknowledged = c.post(path, headers=team)
    assert acknowledged.status_code == 200, acknowledged.text
    assert acknowledged.json()["acknowledged_by"] == "engineer@pumpcare.cn"
    # It may start the jobs a tenant's own service engineers may (scoring, training),
    # only for the tenants that grant it, and no others.
    kinds = c.get("/api/tenants/tenant-a/jobs/kinds", headers=team).json()
    may = {k["kind"]: k["may_start"] for k in kinds}
    assert may["maintenance_score"] and may["maintenance_train"], may
    manager = world.auth("plant_manager:tenant-a")  # not a model keeper
    kinds = c.get("/api/tenants/tenant-a/jobs/kinds", headers=manager).json()
    assert not next(k["may_start"] for k in kinds if k["kind"] == "maintenance_train")
    refused = c.post("/api/tenants/tenant-c/jobs", json={"kind": "maintenance_score"},
                     headers=team)  # fmt: skip
    assert refused.status_code == 404
    # It manages nothing: settings and grants stay the tenant admin's.
    assert c.get("/api/tenants/tenant-a/settings", headers=team).status_code == 403
    assert c.put("/api/tenants/tenant-a/service-teams/othercare", headers=team).status_code == 403
    home = c.get("/", headers=team, follow_redirects=False)
    assert home.status_code == 303 and home.headers["location"] == "/service"
    me = c.get("/api/auth/me", headers=team).json()
    assert me["tenant_id"] is None and me["service_team_id"] is not None


def test_a_revoked_grant_hides_the_tenant_at_once_and_both_are_audited(world: World) -> None:
    c = world.client
    admin_b = {"Authorization": f"Bearer {world.tokens['tenant_admin:tenant-b']}"}
    team = world.auth("team:pumpcare")
    grants = c.get("/api/tenants/tenant-b/service-teams", headers=admin_b).json()
    assert [(g["team"], g["granted_by"]) for g in grants] == [
        ("pumpcare", "tenant_admin@tenant-b.cn")
    ]
    again = c.put("/api/tenants/tenant-b/service-teams/pumpcare", headers=admin_b)
    assert again.status_code == 200  # granted already: nothing changes, nothing audited
    grant_path = "/api/tenants/tenant-b/service-teams/pumpcare"
    try:
        assert c.delete(grant_path, headers=admin_b).status_code == 204
        assert [t["key"] for t in _fleet(world, "team:pumpcare")["tenants"]] == ["tenant-a"]
        assert "P-999" not in c.get(FLEET, headers=team).text
        assert c.get("/t/tenant-b/service", headers=team).status_code == 404
        assert c.get("/t/tenant-b/plant/", headers=team).status_code == 404
        assert c.get("/api/tenants/tenant-b/maintenance/alerts", headers=team).status_code == 404
        again = c.delete(grant_path, headers=admin_b)
        assert again.status_code == 404 and "pumpcare" in again.json()["detail"]
    finally:
        assert c.put(grant_path, headers=admin_b).status_code == 201
    assert [t["key"] for t in _fleet(world, "team:pumpcare")["tenants"]] == ["tenant-a", "tenant-b"]
    with world.app.state.sessions() as session:
        b = session.scalar(select(Tenant.id).where(Tenant.key == "tenant-b"))
        events = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.tenant_id == b, AuditEvent.action.like("service_team.%"))
            .order_by(AuditEvent.id)
        ).all()
    assert [(e.action, e.actor, e.detail) for e in events] == [
        ("service_team.grant", "tenant_admin@tenant-b.cn", {"team": "pumpcare"}),
        ("service_team.revoke", "tenant_admin@tenant-b.cn", {"team": "pumpcare"}),
        ("service_team.grant", "tenant_admin@tenant-b.cn", {"team": "pumpcare"}),
    ]
    # Who may grant: the tenant's admin and platform admins; a name that is no team.
    for who, status in (("plant_manager:tenant-b", 403), ("service_engineer:tenant-b", 403),
                        ("tenant_admin:tenant-a", 404), ("operator@appl.cn", 404),
                        ("team:othercare", 404)):  # fmt: skip
        answer = c.put("/api/tenants/tenant-b/service-teams/othercare", headers=world.auth(who))
        assert answer.status_code == status, (who, answer.text)
    answer = c.put("/api/tenants/tenant-b/service-teams/nobody", headers=admin_b)
    assert answer.status_code == 404 and "'nobody'" in answer.json()["detail"]
    # Teams and their engineers are the platform admin's to make.
    body = {"key": "rogue", "name": "Rogue"}
    assert c.post("/api/service-teams", json=body, headers=admin_b).status_code == 403
    admin = world.auth("admin")
    answer = c.post("/api/service-teams", json={"key": "pumpcare", "name": "x"}, headers=admin)
    assert answer.status_code == 400 and "exists already" in answer.json()["detail"]
    answer = c.post("/api/service-teams", json={"key": "Bad Key", "name": "x"}, headers=admin)
    assert answer.status_code == 400 and "'Bad Key'" in answer.json()["detail"]
    user = {"email": "x@nowhere.cn", "password": PASSWORD}
    assert c.post("/api/service-teams/nobody/users", json=user, headers=admin).status_code == 404


def test_the_demo_has_a_service_team_granted_by_two_of_its_three_factories(tmp_path) -> None:
    """``make demo``'s team (in its sign-in table) sees Ningbo and Zhenhai, not Hefei;
    seeding again (a restart) changes nothing."""
    from mingzhou.demo_tenants import SERVICE_TEAM_EMAIL, seed, sign_in_table
    from protocols.simulators import PLANTS
    from tenants.db import make_engine, session_factory, upgrade
    from tenants.models import User
    from tenants.onboarding import ensure_default_plans
    from tenants.scope import Principal, TenantScope

    url = f"sqlite:///{tmp_path / 'demo.db'}"
    upgrade(url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    plants = {i: (PLANTS[i].site, PLANTS[i].display_name) for i in PLANTS}
    for _ in range(2):
        with sessions() as session:
            ensure_default_plans(session)
            tenants = seed(session, plants)
            session.commit()
    with sessions() as session:
        user = session.scalar(select(User).where(User.email == SERVICE_TEAM_EMAIL))
        caller = Principal(user.email, Role(user.role), service_team_id=user.service_team_id)
        scope = TenantScope(session, caller)
        keys = session.scalars(
            select(Tenant.key).where(Tenant.id.in_(scope.service_team_tenant_ids()))
        ).all()
        assert sorted(keys) == ["ningbo-mold", "zhenhai-petrochem"]
        assert scope.raw_tenant_ids() == scope.service_team_tenant_ids()
        grants = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "service_team.grant")
        ).all()
        assert len(grants) == 2  # the restart granted nothing again
    engine.dispose()
    assert any(SERVICE_TEAM_EMAIL in row for row in sign_in_table(tenants))


def _figures(page: str) -> dict:
    start = page.index('<script id="mz-figures" type="application/json">')
    text = page[page.index(">", start) + 1 : page.index("</script>", start)]
    return json.loads(text)


def test_fleet_ranks_predictions_across_tenants_with_evidence_and_health(world: World) -> None:
    fleet = _fleet(world, "team:pumpcare")
    ranked = [(p["rank"], p["tenant"], p["asset"]) for p in fleet["predictions"]]
    # Risk first (tenant b's 99 % on top), then the shorter remaining life (P-102's 10 h
    # before P-101's 30 h at 90 %), the unknown life last among equals.
    assert ranked == [(1, "tenant-b", "P-999"), (2, "tenant-a", "P-102"),
                      (3, "tenant-a", "P-101"), (4, "tenant-a", "P-103")]  # fmt: skip
    p102 = fleet["predictions"][1]
    assert [e["signal"] for e in p102["evidence"]] == ["vibration_rms", "bearing_temp"]
    assert p102["rul_low_hours"] == pytest.approx(7) and p102["rul_high_hours"] == pytest.approx(13)
    assert p102["service_page"] == "/t/tenant-a/service"
    a, b = fleet["tenants"]
    assert (a["worst_risk"], a["worst_asset"], a["shortest_rul_hours"]) == (0.9, "P-102", 10.0)
    assert (a["at_risk"], a["watch"], a["healthy"], a["assets_scored"]) == (2, 1, 0, 3)
    assert (a["open_alerts"], a["open_work_orders"]) == (2, 1)  # P-101, P-102; P-101's order
    assert (b["worst_risk"], b["at_risk"], b["open_alerts"], b["open_work_orders"]) == (
        0.99,
        1,
        0,
        0,
    )
    assets = {(x["tenant"], x["asset"]): x for x in fleet["assets"]}
    assert [k[1] for k in assets] == ["P-999", "P-102", "P-101", "P-103"]
    assert (
        assets["tenant-a", "P-101"]["open_alerts"],
        assets["tenant-a", "P-101"]["open_work_orders"],
    ) == (1, 1)
    assert [(w["tenant"], w["asset"], w["status"]) for w in fleet["work_orders"]] == [
        ("tenant-a", "P-101", "scheduled")
    ]

    page = world.client.get(FLEET + "?lang=en", headers=world.auth("team:pumpcare")).text
    table = page[page.index('id="fleet-predictions"') :]
    table = table[: table.index("</table>")]
    rows = re.findall(
        r'href="(/t/[^"]+/service)">([^<]+)</a></td>\s*<td class="asset-cell">[^/]+/ (P-\d+)<',
        table,
    )
    assert rows == [("/t/tenant-b/service", "TENANT-B Works", "P-999"),
                    ("/t/tenant-a/service", "TENANT-A Works", "P-102"),
                    ("/t/tenant-a/service", "TENANT-A Works", "P-101"),
                    ("/t/tenant-a/service", "TENANT-A Works", "P-103")]  # fmt: skip
    second = table[table.index("P-102") : table.index("P-101")]
    assert re.search(r"vibration_rms.*?9\.0σ · 80% · since [\d-]+ [\d:]+ \(20 h\)", second, re.S)
    assert "10 h (7–13)" in second
    figures = _figures(page)
    assert set(figures) == {"fig-fleet-health", "fig-fleet-risk-life"}
    health = {t["name"]: t for t in figures["fig-fleet-health"]["data"]}
    assert health["At risk (≥ 70 %)"]["y"] == ["TENANT-B Works", "TENANT-A Works"]
    assert health["At risk (≥ 70 %)"]["x"] == [1, 2] and health["Watch (40–70 %)"]["x"] == [0, 1]
    points = {t["name"]: t for t in figures["fig-fleet-risk-life"]["data"]}
    a_points = points["TENANT-A Works"]  # P-103 has no remaining life: not a point
    assert sorted(
        zip(a_points["text"], a_points["x"], a_points["error_x"]["array"], strict=True)
    ) == [("P-101", 30.0, pytest.approx(9.0)), ("P-102", 10.0, pytest.approx(3.0))]
    assert points["TENANT-B Works"]["text"] == ["P-999"] and points["TENANT-B Works"]["y"] == [99.0]
    assert "1 machine(s) without a remaining-life estimate" in page
    zh = world.client.get(FLEET + "?lang=zh", headers=world.auth("team:pumpcare")).text
    assert "设备群健康" in zh and "已授权本团队的企业" in zh and "已排期" in zh


def test_the_pages_data_twins_answer_figures_and_panels(world: World) -> None:
    c = world.client
    data = c.get(FLEET + "/data?lang=en", headers=world.auth("team:pumpcare")).json()
    assert set(data["figures"]) == {"fig-fleet-health", "fig-fleet-risk-life"}
    assert set(data["panels"]) == {"panel_summary", "panel_tenants", "panel_predictions",
                                   "panel_assets", "panel_orders"}  # fmt: skip
    assert "P-999" in data["panels"]["panel_predictions"]
    assert (
        'id="sum-scored"><span class="label">Machines scored</span><span class="value">4<'
        in (data["panels"]["panel_summary"])
    )
    service = c.get(SERVICE + "/data", headers=world.auth("service_engineer:tenant-a")).json()
    assert set(service["figures"]) == {"fig-risk"}
    assert set(service["panels"]) == {"panel_predictions_title", "panel_predictions",
                                      "panel_alerts", "panel_orders"}  # fmt: skip
    assert "P-102" in service["panels"]["panel_predictions"] and "P-999" not in str(service)
    assert (
        c.get(SERVICE + "/data", headers=world.auth("service_engineer:tenant-b")).status_code == 404
    )
    industry = c.get(INDUSTRY + "/data", headers=world.auth("operator@mold.cn")).json()
    assert set(industry["panels"]) == {"panel_period", "panel_bands", "panel_members"}
    assert len(industry["figures"]) == 3
    assert all(f'data-member="{m}"' in industry["panels"]["panel_members"] for m in MOLD_MEMBERS)
    assert c.get(INDUSTRY + "/data", headers=world.auth("operator@appl.cn")).status_code == 404
    # How often a page refreshes: ?refresh=N seconds, a bad N named in a 422.
    page = c.get(FLEET + "?refresh=5", headers=world.auth("team:pumpcare")).text
    assert '"refreshMs": 5000' in page and '"live": true' in page
    for bad in ("1", "abc", "99999"):
        answer = c.get(f"{FLEET}/data?refresh={bad}", headers=world.auth("team:pumpcare"))
        assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == [
            "query",
            "refresh",
        ]


# --- headless Chromium ---------------------------------------------------------------


@pytest.fixture(scope="module")
def running(world: World) -> Iterator[str]:
    """A real platform process on the same metadata and series stores."""
    process, url = start_replica(
        world.root, world.metadata, f"sqlite:{world.root / 'series'}", "memory://",
        uuid.uuid4().hex * 2,
    )  # fmt: skip
    try:
        yield url
    finally:
        stop_replica(process)


def _sign_in(page, url: str, email: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{url}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()


@pytest.mark.browser
@pytest.mark.parametrize(
    ("who", "path", "figures", "shot"),
    [
        ("service_engineer@tenant-a.cn", SERVICE, 1, "service-tenant-a.png"),
        ("operator@mold.cn", INDUSTRY, 3, "industry-mold.png"),
    ],
)
def test_page_draws_its_figures_in_chromium(
    running: str, artifacts: Path, who: str, path: str, figures: int, shot: str
) -> None:
    from tests.browser import open_page

    with open_page(running + path) as page:
        assert page.url.endswith("/login")  # no session: sent to sign in
        _sign_in(page, running, who)
        page.goto(running + path + "?refresh=2")
        page.wait_for_function(FIGURES_DRAWN, arg=figures, timeout=30_000)
        assert page.title().startswith("Mingzhou")
        bars = page.evaluate(
            "() => [...document.querySelectorAll('.figure')].map(gd => gd.data[0].x.length)"
        )
        assert all(n >= 3 for n in bars), bars  # three predictions / three members
        # Live: the data twin is fetched and drawn in place, no reload.
        page.evaluate("window.__loadedOnce = true")
        page.wait_for_function("window.MZ_PLANT.refreshes >= 1", timeout=30_000)
        assert page.evaluate("window.__loadedOnce") is True
        assert page.evaluate("window.MZ_PLANT.errors") == 0
        page.screenshot(path=str(artifacts / shot), full_page=True)
        assert page.errors == [], page.errors


SCORED_TILE = "() => document.querySelector('#sum-scored .value').textContent.trim()"
P777_DRAWN = """() => document.getElementById('fig-fleet-risk-life').data
    .some(trace => (trace.text || []).includes('P-777'))"""


@pytest.mark.browser
def test_fleet_page_draws_and_refreshes_live_in_chromium(
    world: World, running: str, artifacts: Path
) -> None:
    """Signed in, the team lands on its fleet; a new prediction in one of its tenants
    shows up in the tiles, the tables and the scatter without a reload."""
    from tests.browser import open_page

    with open_page(running + FLEET) as page:
        assert page.url.endswith("/login")
        _sign_in(page, running, "engineer@pumpcare.cn")
        assert page.url.endswith(FLEET)  # the home page sends a team to its fleet
        page.goto(running + FLEET + "?refresh=2&lang=en")
        page.wait_for_function(FIGURES_DRAWN, arg=2, timeout=30_000)
        assert page.evaluate(SCORED_TILE) == "4"
        page.evaluate("window.__loadedOnce = true")
        with world.app.state.sessions() as session:
            b = session.scalar(select(Tenant.id).where(Tenant.key == "tenant-b"))
            version = records.model_version(session, b)
            added = records.prediction(session, b, version, "P-777", 0.8, 20.0,
                                       made_at=datetime.now(UTC))  # fmt: skip
            session.commit()
            added_id = added.id
        try:
            page.wait_for_function(f"() => ({SCORED_TILE})() === '5'", timeout=30_000)
            page.wait_for_function(P777_DRAWN, timeout=30_000)
            assert page.evaluate("window.__loadedOnce") is True  # the same document
            assert "P-777" in page.inner_text("#fleet-predictions")
            assert page.evaluate("window.MZ_PLANT.errors") == 0
            page.screenshot(path=str(artifacts / "service-fleet.png"), full_page=True)
            assert page.errors == [], page.errors
        finally:
            with world.app.state.sessions() as session:
                session.delete(session.get(Prediction, added_id))
                session.commit()
