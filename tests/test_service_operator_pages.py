"""The service team's page (/t/{key}/service) and the industry-cloud operator's page
(/industry/{cloud}): who may open them, what they show (predictions ranked by risk then
remaining life with their evidence, alerts and work orders; each member's 7-day KPIs
against the vertical's percentiles, checked against the production KPIs computed
directly), and both drawn in headless Chromium against a running platform, screenshots in
the artifacts folder."""

from __future__ import annotations

import html
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
from maintenance.work_order_models import WorkOrderStatus
from maintenance.work_orders import open_from_alert, transition
from protocols.simulators.plants import MOLD
from tenants.models import Tenant
from tenants.onboarding import create_industry_cloud, create_user
from tenants.roles import Role
from tests import maintenance_records as records
from tests.plant_pages_data import SimulatedPlant
from tests.platform_process import start_replica, stop_replica

ADMIN = ("admin@platform.cn", "admin-password")
PASSWORD = "password-1"
HOUR_NS = 3600 * 1_000_000_000
MOLD_MEMBERS = ("tenant-a", "tenant-c", "tenant-d")  # tenant-a grants its operator
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
]
SERVICE_REFUSED = [
    "service_engineer:tenant-b",
    "plant_manager:tenant-b",
    "tenant_admin:tenant-b",
    "operator@appl.cn",
    "bureau@gov.cn",
    "agent:tenant-a",
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
        page.goto(running + path)
        page.wait_for_function(FIGURES_DRAWN, arg=figures, timeout=30_000)
        assert page.title().startswith("Mingzhou")
        bars = page.evaluate(
            "() => [...document.querySelectorAll('.figure')].map(gd => gd.data[0].x.length)"
        )
        assert all(n >= 3 for n in bars), bars  # three predictions / three members
        page.screenshot(path=str(artifacts / shot), full_page=True)
        assert page.errors == [], page.errors
