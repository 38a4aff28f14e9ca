"""The bureau's API and page on a real platform (metadata on SQLite and PostgreSQL, jobs
run by the platform's embedded Celery worker): who may see the region's figures, what
they hold, a report run from the enterprises' jobs to the downloads, and the privacy
sweep: every endpoint of the platform, called as the bureau, refuses raw data, and no
bureau answer holds an enterprise's key or name or a group smaller than k."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import inspect, select
from typer.testing import CliRunner

from analytics.bureau.aggregation import OTHER_GROUP
from analytics.bureau.facts import previous_periods
from analytics.bureau.region import build_region
from analytics.bureau.report import figure_data
from analytics.bureau.stored_facts import store_facts
from cloud.platform_app import create_platform_app
from cloud.platform_settings import PlatformSettings
from historian import Point, SeriesKey
from mingzhou.cli import app as cli_app
from tenants import sessions
from tenants.agent_contact_days import contact_days
from tenants.agent_registry import RegisteredAgent
from tenants.db import MIGRATIONS, Base, make_engine, upgrade
from tenants.models import Tenant
from tenants.onboarding import create_user
from tenants.roles import Role
from tests import bureau_platform_world as w
from tests.fixtures_metadata import _fresh_schema

ADMIN = ("admin@platform.cn", "admin-password")
K = 5
# Districts and clouds with a group too small to show (Yinzhou, petrochem-cloud).
LAYOUT = [("Beilun", "mold-cloud")] * 4 + [("Beilun", "appliance-cloud")] * 2
LAYOUT += [("Cixi", "appliance-cloud")] * 2 + [("Cixi", "mold-cloud")] * 3
LAYOUT += [("Yinzhou", "petrochem-cloud")]
KEYS = [f"kxq-ent-{n:02d}" for n in range(1, len(LAYOUT) + 1)]
NAMES = [f"Zorvex Works No. {n:02d}" for n in range(1, len(LAYOUT) + 1)]


def current_period() -> str:
    return datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")


@dataclass
class World:
    client: TestClient
    tokens: dict[str, str]
    period: str
    run: dict  # the finished report run
    job_ids: dict[str, str]  # tenant key -> its bureau_report job

    def auth(self, who: str | None) -> dict[str, str]:
        if who is None:
            return {}
        value = self.tokens[who]
        return {"Authorization": ("Token " if value.startswith("mzat_") else "Bearer ") + value}

    def get(self, path: str, who: str = "bureau", **params: object):  # type: ignore[no-untyped-def]
        return self.client.get(path, params=params, headers=self.auth(who))


def _person(app, role: Role, email: str, tenant=None, cloud=None) -> str:  # type: ignore[no-untyped-def]
    with app.state.sessions() as session:
        user = create_user(session, email, "password-1", role, "test", tenant, cloud)
        session.commit()
        return sessions.issue(app.state.settings.secret, user.id, role.value, user.tenant_id)


def _wait_for_run(world_client: TestClient, headers: dict, run_id: int) -> dict:
    deadline = time.monotonic() + 120  # keeps a broken run from hanging, not a timing
    while True:
        runs = {r["id"]: r for r in world_client.get("/api/bureau/reports", headers=headers).json()}
        if runs[run_id]["state"] in ("done", "failed"):
            return runs[run_id]
        assert time.monotonic() < deadline, runs[run_id]
        time.sleep(0.2)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[World]:  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("bureau-api")
    if request.param == "sqlite":
        url = f"sqlite:///{root / 'meta.db'}"
    else:
        url = _fresh_schema(request.getfixturevalue("postgres_database"))
    upgrade(url)
    settings = PlatformSettings(
        metadata_url=url,
        storage=f"sqlite:{root / 'series'}",
        admin_email=ADMIN[0],
        admin_password=ADMIN[1],
    )
    app = create_platform_app(settings)
    period = current_period()
    now = datetime.now(UTC)
    with TestClient(app) as client:
        tokens = {}
        with app.state.sessions() as session:
            earlier = [
                f for f in build_region(period, months=12) if f.period != period
            ]  # synthetic facts of the 11 months before
            profiles = sorted({f.enterprise_key for f in earlier})[: len(LAYOUT)]
            tenants = []
            for key, name, (district, cloud), profile in zip(
                KEYS, NAMES, LAYOUT, profiles, strict=True
            ):
                tenant = w.tenant(session, key, name=name, district=district, cloud=cloud)
                tenants.append(tenant)
                for f in earlier:
                    if f.enterprise_key == profile:
                        store_facts(session, tenant.id, dataclasses.replace(
                            f, enterprise_key=key, district=district, industry_cloud=cloud))  # fmt: skip
                w.onboard(session, tenant, "site-1", "hall-1", "IMM-01",
                          "injection_moulding_machine")  # fmt: skip
                w.onboard(session, tenant, "site-1", "utilities", "meter-main", "power_meter")
            session.commit()
            first = tenants[0]
            for role in (Role.TENANT_ADMIN, Role.PLANT_MANAGER, Role.SERVICE_ENGINEER):
                tokens[role.value] = _person(app, role, f"{role.value}@kxq1.cn", tenant=first)
            tokens["second_admin"] = _person(
                app, Role.TENANT_ADMIN, "admin@kxq2.cn", tenant=tenants[1]
            )
            cloud = first.industry_cloud
            tokens["industry_operator"] = _person(
                app, Role.INDUSTRY_OPERATOR, "op@mold.cn", cloud=cloud
            )
            tokens["bureau"] = _person(app, Role.BUREAU_ANALYST, "analyst@bureau.cn")
            tokens["admin"] = _person(app, Role.PLATFORM_ADMIN, "admin2@platform.cn")
        # Half an hour of data in this month for each enterprise (less for some).
        for n, key in enumerate(KEYS):
            minutes = range(30 - n, 0, -1)
            points = []
            for i, m in enumerate(minutes):
                at = int((now - timedelta(minutes=m)).timestamp()) * 1_000_000_000
                points += [
                    Point(SeriesKey("site-1", "hall-1", "IMM-01", "state"), at, "running"),
                    Point(SeriesKey("site-1", "hall-1", "IMM-01", "shot_count"), at, 6 * i),
                    Point(SeriesKey("site-1", "utilities", "meter-main", "energy_kwh"), at,
                          100.0 + i),
                ]  # fmt: skip
            app.state.storage.historian("mz_" + key.replace("-", "_")).write(points)
        issued = client.post(
            f"/api/tenants/{KEYS[0]}/agent-tokens",
            json={"site": "site-1", "name": "edge-1"},
            headers={"Authorization": f"Bearer {tokens['tenant_admin']}"},
        )
        assert issued.status_code == 201, issued.text
        tokens["agent"] = issued.json()["token"]
        bureau = {"Authorization": f"Bearer {tokens['bureau']}"}
        started = client.post("/api/bureau/reports", json={"period": period}, headers=bureau)
        assert started.status_code == 202, started.text
        assert started.json()["expected"] == len(KEYS)
        run = _wait_for_run(client, bureau, started.json()["id"])
        with app.state.sessions() as session:
            from jobs.models import Job

            rows = session.execute(
                select(Tenant.key, Job.id).join(Job, Job.tenant_id == Tenant.id)
            ).all()
        yield World(client, tokens, period, run, dict(rows))


# --- who may see the region's figures -------------------------------------------------

BUREAU_PATHS = [
    "/api/bureau/indicators",
    "/api/bureau/groups?dimension=district",
    "/api/bureau/trends?dimension=industry_cloud",
    "/api/bureau/export.csv",
    "/api/bureau/reports",
    "/bureau",
]


@pytest.mark.parametrize(
    ("who", "status"),
    [
        (None, 401),
        ("agent", 403),
        ("tenant_admin", 403),
        ("plant_manager", 403),
        ("service_engineer", 403),
        ("industry_operator", 403),
        ("bureau", 200),
        ("admin", 200),
    ],
)
def test_only_the_bureau_and_the_platform_admin_see_the_region(
    world: World, who: str | None, status: int
) -> None:
    for path in BUREAU_PATHS:
        answer = world.client.get(path, headers=world.auth(who))
        assert answer.status_code == status, (path, answer.text[:200])
    for period_file in (".csv", "-trends.csv", ".html", ".pdf"):
        path = f"/api/bureau/reports/{world.period}{period_file}"
        assert world.client.get(path, headers=world.auth(who)).status_code == status, path
    started = world.client.post(
        "/api/bureau/reports",
        json={"period": "2026-01", "k": 7, "pdf": False},
        headers=world.auth(who),
    )
    assert started.status_code == (202 if status == 200 else status), started.text
    if started.status_code == 202:
        _wait_for_run(world.client, world.auth("bureau"), started.json()["id"])


def test_a_browser_without_a_session_is_sent_to_sign_in(world: World) -> None:
    page = world.client.get("/bureau", headers={"Accept": "text/html"}, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login"
    home = world.client.get("/", headers=world.auth("bureau"), follow_redirects=False)
    assert home.status_code == 303 and home.headers["location"] == "/bureau"


# --- what the bureau sees ----------------------------------------------------------------


def test_the_region_by_district_and_industry(world: World) -> None:
    previous = previous_periods(world.period, 2)[0]
    region = world.get("/api/bureau/indicators", period=previous).json()
    assert region["enterprises"] == len(KEYS) and region["k"] == K
    assert region["index"]["status"] == "published" and 0 < region["index"]["mean"] < 100
    assert sum(region["level_counts"].values()) == region["index"]["contributors"]
    assert {i["key"] for i in region["indicators"]} >= {"oee_level", "energy_per_10k_yuan"}
    assert all(i["definition"] and i["name_zh"] for i in region["indicators"])

    districts = world.get("/api/bureau/groups", dimension="district", period=previous).json()
    groups = {g["group"]: g for g in districts["groups"]}
    # Yinzhou's one enterprise is merged with the smallest district until (other) has k.
    assert "Yinzhou" not in groups and "Yinzhou" in groups[OTHER_GROUP]["merged_groups"]
    assert sum(g["enterprises"] for g in groups.values()) == len(KEYS)
    clouds = world.get("/api/bureau/groups", dimension="industry_cloud", period=previous).json()
    assert "petrochem-cloud" not in {g["group"] for g in clouds["groups"]}

    trend = world.get(
        "/api/bureau/trends", dimension="region", measure="index", period=previous, months=6
    ).json()
    assert trend["periods"] == previous_periods(previous, 6)
    assert [p["status"] for p in trend["series"][0]["points"]] == ["published"] * 6

    csv_text = world.get("/api/bureau/export.csv", period=previous).text
    assert csv_text.startswith("\ufeffperiod,dimension,group")
    rows = list(csv.DictReader(io.StringIO(csv_text.lstrip("\ufeff"))))
    assert {r["dimension"] for r in rows} == {"region", "district", "industry_cloud"}

    # A larger k hides more; a smaller one is refused, naming the field.
    big = world.get("/api/bureau/groups", dimension="district", period=previous, k=12).json()
    assert [g["group"] for g in big["groups"]] == [OTHER_GROUP]
    small = world.get("/api/bureau/groups", dimension="district", k=3)
    assert small.status_code == 422 and small.json()["detail"][0]["loc"] == ["query", "k"]


@pytest.mark.parametrize(
    ("path", "params", "loc"),
    [
        ("/api/bureau/indicators", {"period": "2026-13"}, ["query", "period"]),
        ("/api/bureau/groups", {"dimension": "street"}, ["query", "dimension"]),
        ("/api/bureau/groups", {}, ["query", "dimension"]),
        ("/api/bureau/trends", {"measure": "raw_series"}, ["query", "measure"]),
        ("/api/bureau/trends", {"dimension": "district", "group": "Nowhere"}, ["query", "group"]),
        ("/api/bureau/trends", {"months": 0}, ["query", "months"]),
        ("/api/bureau/reports/2026-1x.csv", {}, ["path", "period"]),
    ],
)
def test_bad_questions_name_the_field(world: World, path: str, params: dict, loc: list) -> None:
    answer = world.get(path, **params)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"] == loc


def test_report_requests_are_checked(world: World) -> None:
    post = world.client.post
    auth = world.auth("bureau")
    future = post("/api/bureau/reports", json={"period": "2999-01"}, headers=auth)
    assert future.status_code == 422 and "has not begun" in future.text
    assert future.json()["detail"][0]["loc"] == ["body", "period"]
    low_k = post("/api/bureau/reports", json={"period": world.period, "k": 2}, headers=auth)
    assert low_k.status_code == 422 and low_k.json()["detail"][0]["loc"] == ["body", "k"]
    assert world.get("/api/bureau/reports/2019-01.html").status_code == 404
    assert world.get("/api/bureau/indicators", period="2019-01").status_code == 404


def test_a_report_run_gathers_every_enterprise_and_writes_the_report(world: World) -> None:
    run = world.run
    assert run["state"] == "done", run
    assert (run["expected"], run["done"], run["failed"]) == (len(KEYS), len(KEYS), 0)
    assert run["enterprises"] == len(KEYS)
    groups = world.get(f"/api/bureau/reports/{world.period}.csv")
    assert groups.headers["content-type"].startswith("text/csv")
    assert groups.text.startswith("\ufeffperiod,dimension,group,")
    trends = world.get(f"/api/bureau/reports/{world.period}-trends.csv").text
    months = {row["period"] for row in csv.DictReader(io.StringIO(trends.lstrip("\ufeff")))}
    assert months == set(previous_periods(world.period, 12))  # 11 stored, this one gathered
    html = world.get(f"/api/bureau/reports/{world.period}.html").text
    assert "Facts gathered from the platform for 12 enterprise(s)" in html
    assert set(figure_data(html)) >= {"index-by-district", "index-trend"}
    pdf = world.get(f"/api/bureau/reports/{world.period}.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

    # This month's facts were gathered from each enterprise's own historian.
    region = world.get("/api/bureau/indicators", period=world.period).json()
    cloud = next(i for i in region["indicators"] if i["key"] == "cloud_adoption")
    # Monitoring, OEE (a state and a shot counter) and energy (a meter): 3 of 4 modules.
    assert cloud["status"] == "published" and cloud["mean"] == pytest.approx(75.0)

    # Each enterprise sees its own job and the facts it gave, and only its own.
    first, second = KEYS[0], KEYS[1]
    own = world.client.get(
        f"/api/tenants/{first}/jobs/{world.job_ids[first]}", headers=world.auth("plant_manager")
    ).json()
    assert own["kind"] == "bureau_report" and own["state"] == "succeeded"
    assert own["result"]["facts"]["enterprise_key"] == first
    assert own["result"]["facts"]["machines_registered"] == 1
    other = world.client.get(
        f"/api/tenants/{second}/jobs/{world.job_ids[second]}", headers=world.auth("plant_manager")
    )
    assert other.status_code == 404
    # Nobody in an enterprise starts the bureau's job.
    refused = world.client.post(
        f"/api/tenants/{first}/jobs",
        json={"kind": "bureau_report", "params": {"period": world.period, "run": "x"}},
        headers=world.auth("tenant_admin"),
    )
    assert refused.status_code == 403


# --- the privacy sweep ---------------------------------------------------------------------


def _routes(app) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """Every (method, path template) the app serves, included routers unfolded."""

    def walk(routes, prefix=""):  # type: ignore[no-untyped-def]
        for route in routes:
            if hasattr(route, "original_router"):
                yield from walk(route.original_router.routes, prefix + route.include_context.prefix)
            elif getattr(route, "methods", None):
                for method in sorted(route.methods - {"HEAD"}):
                    yield method, prefix + route.path

    return sorted(set(walk(app.routes)))


# Where the bureau may get a 2xx: its own figures and pages, signing in and out, the API's
# description and static files. Everything else must refuse it.
BUREAU_MAY = re.compile(
    r"^(/api/bureau/.*|/bureau|/api/auth/(me|login)|/health|/login|/logout|/|/openapi\.json"
    r"|/docs.*|/redoc|/static/.*)$"
)
REFUSED = {401, 403, 404, 405}
# Valid bodies for the writes that validate their body before they look at the caller:
# with them, the refusal (not the validation) answers.
BODIES = {
    ("POST", "/api/tenants"): {"key": "made-by-bureau", "name": "x"},
    ("POST", "/api/tenants/{key}/users"): {
        "email": "x@bureau.cn", "password": "password-1", "role": "plant_manager"
    },
    ("POST", "/api/tenants/{key}/agent-tokens"): {"site": "site-1", "name": "edge-9"},
    ("POST", "/api/tenants/{key}/assets"): {
        "site": "site-1", "line": "hall-1", "asset": "IMM-77",
        "template": "injection_moulding_machine",
    },
    ("POST", "/api/tenants/{key}/jobs"): {"kind": "series_summary", "params": {}},
    ("PUT", "/api/tenants/{key}/agents/{name}/config"): {"config": "devices: []"},
    ("POST", "/api/ingest/json"): [
        {"site": "site-1", "line": "hall-1", "asset": "IMM-01", "tag": "state",
         "time": "2026-11-01T00:00:00Z", "value": "running"}
    ],
    ("PUT", "/api/tenants/{key}/bureau/output/{period}"): {"output_value_10k_yuan": 1.0},
}  # fmt: skip


def test_the_bureau_gets_no_enterprise_data_from_any_endpoint(world: World) -> None:
    app = world.client.app
    fill = {
        "key": KEYS[0],
        "site": "site-1",
        "line": "hall-1",
        "asset": "IMM-01",
        "name": "edge-1",
        "template": "injection_moulding_machine",
        "job_id": world.job_ids[KEYS[0]],
        "token_id": "1",
        "version_id": "1",
        "alert_id": "1",
        "order_id": "1",
        "contract_id": "1",
        "period": world.period,
    }
    query = {  # whatever a raw-data endpoint might want, so none fails on a missing field
        "site": "site-1", "line": "hall-1", "asset": "IMM-01", "tag": "state",
        "start": "now-1d", "end": "now", "dimension": "district",
    }  # fmt: skip
    secrets = [*KEYS, *NAMES, "mz_kxq"]
    checked = 0
    for method, template in _routes(app):
        path = re.sub(r"\{(\w+)(:\w+)?\}", lambda m: fill.get(m.group(1), "x"), template)
        body = BODIES.get((method, template), {}) if method in ("POST", "PUT", "PATCH") else None
        answer = world.client.request(
            method, path, params=query, json=body, headers=world.auth("bureau"),
            follow_redirects=False,
        )  # fmt: skip
        checked += 1
        text = answer.text
        if BUREAU_MAY.match(template):
            assert answer.status_code < 500, (method, path, answer.text[:300])
            # The bureau's answers never name an enterprise (its key may appear in the
            # path we asked for, never in an answer).
            leaked = [s for s in secrets if s in text]
            assert leaked == [], (method, path, leaked)
        else:
            assert answer.status_code in REFUSED or (
                # A write without a known valid body fails validation before it is read.
                answer.status_code == 422 and (method, template) not in BODIES
                and method != "GET"
            ), (method, path, answer.status_code, text[:300])  # fmt: skip
            others = [s for s in secrets if s in text and s != KEYS[0]]
            assert others == [], (method, path, others)
            assert "running" not in text and "energy_kwh" not in text, (method, path)
    assert checked > 60


def test_no_bureau_answer_publishes_a_group_under_k(world: World) -> None:
    for period in previous_periods(world.period, 12):
        for dimension in ("district", "industry_cloud"):
            for k in (K, 7):
                answer = world.get("/api/bureau/groups", dimension=dimension, period=period, k=k)
                for group in answer.json()["groups"]:
                    assert group["enterprises"] >= k, group
                    measures = [group["index"], *group["indicators"].values()]
                    for m in measures:
                        if m["status"] == "published":
                            assert m["contributors"] >= k and m["mean"] is not None
                        else:
                            assert m["mean"] is None
                    if group["index"]["status"] != "published":
                        assert group["level_counts"] is None
    for dimension in ("region", "district", "industry_cloud"):
        trend = world.get("/api/bureau/trends", dimension=dimension, measure="oee_level").json()
        for series in trend["series"]:
            for point in series["points"]:
                if point["status"] == "published":
                    assert point["contributors"] >= K


# --- the enterprise's side --------------------------------------------------------------------


def test_a_tenant_admin_files_the_months_output(world: World) -> None:
    path = f"/api/tenants/{KEYS[0]}/bureau/output/2026-09"
    put = world.client.put
    body = {"output_value_10k_yuan": 812.5, "output_quantity": None, "output_unit": None}
    filed = put(path, json=body, headers=world.auth("tenant_admin"))
    assert filed.status_code == 200, filed.text
    assert (
        world.client.get(path, headers=world.auth("plant_manager")).json()["output_value_10k_yuan"]
        == 812.5
    )
    assert put(path, json=body, headers=world.auth("plant_manager")).status_code == 403
    assert put(path, json=body, headers=world.auth("second_admin")).status_code == 404
    assert put(path, json=body, headers=world.auth("bureau")).status_code == 404
    half = put(path, json={"output_quantity": 12.0}, headers=world.auth("tenant_admin"))
    assert half.status_code == 422 and half.json()["detail"][0]["loc"] == ["body", "output_unit"]
    negative = put(path, json={"output_value_10k_yuan": -1}, headers=world.auth("tenant_admin"))
    assert negative.status_code == 422
    assert negative.json()["detail"][0]["loc"] == ["body", "output_value_10k_yuan"]
    bad = put(f"/api/tenants/{KEYS[0]}/bureau/output/26-9", json=body,
              headers=world.auth("tenant_admin"))  # fmt: skip
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["path", "period"]


def test_agent_status_reports_are_counted_per_day(world: World) -> None:
    status = {
        "agent_version": "1.0",
        "state": "ok",
        "interval_seconds": 60,
        "uptime_seconds": 5,
        "buffer": {"points": 0, "oldest_age_seconds": 0, "bytes": 0},
        "devices": {},
        "outputs": {},
        "errors": [],
    }
    for _ in range(2):
        sent = world.client.post("/api/agent/status", json=status, headers=world.auth("agent"))
        assert sent.status_code == 204, sent.text
    app = world.client.app
    with app.state.sessions() as session:
        agent = session.scalar(select(RegisteredAgent).where(RegisteredAgent.name == "edge-1"))
        assert agent is not None
        days = contact_days(session, [agent.id])
    assert sum(d.reports for d in days) == 2
    # The second report came a moment after the first: that moment is covered.
    assert 0 < sum(d.covered_s for d in days) < 60


# --- the page ------------------------------------------------------------------------------------


def test_the_bureau_page_shows_the_region_in_both_languages(world: World) -> None:
    previous = previous_periods(world.period, 2)[0]
    page = world.get("/bureau", period=previous)
    assert page.status_code == 200
    html = page.text
    assert 'src="/static/plotly.min.js"' in html and "cdn" not in html.lower()
    figures = json.loads(re.search(r'id="mz-figures"[^>]*>(.*?)</script>', html, re.S).group(1))
    assert set(figures) == {"by-district", "by-industry", "trend", "levels", "energy"}
    district_bars = figures["by-district"]["data"][0]["x"]
    assert OTHER_GROUP in district_bars and "Yinzhou" not in district_bars
    assert f"/api/bureau/export.csv?period={previous}" in html
    assert 'id="too-few"' not in html and 'id="synthetic-banner"' not in html
    zh = world.get("/bureau", period=previous, lang="zh")
    assert "区域两化融合与能效" in zh.text and zh.cookies.get("mz_lang") == "zh"
    this_month = world.get("/bureau", period=world.period).text
    assert f"/api/bureau/reports/{world.period}.pdf" in this_month
    synthetic = world.get("/bureau", source="synthetic", lang="en").text
    assert 'id="synthetic-banner"' in synthetic and "SYNTHETIC DATA" in synthetic
    assert "synthetic-mold" not in synthetic  # the synthetic region's own keys stay inside


def test_the_monthly_schedule_reports_the_month_before_for_every_enterprise(
    world: World,
) -> None:
    from jobs.celery_app import enqueue
    from jobs.runner import start_periodic_job

    jobs = world.client.app.state.jobs
    periodic = jobs.catalog.periodic["bureau_monthly_report"]
    assert periodic.kind == "bureau_report"
    # 01:30 UTC on the 1st is 09:30 in Shanghai: the month before is complete.
    assert (periodic.every.day_of_month, periodic.every.hour) == ({1}, {1})
    params = periodic.params_at(datetime(2026, 12, 1, 1, 30, tzinfo=UTC))
    assert params["period"] == "2026-11" and params["k"] == K
    assert params["run"].startswith("monthly-2026-11-")
    # What the schedule does when it fires: one job per tenant, one run, one report.
    started = start_periodic_job(
        "bureau_monthly_report", jobs.job_runtime(), jobs.catalog,
        lambda task, job_id: enqueue(jobs, task, job_id),
    )  # fmt: skip
    assert len(started) == len(KEYS)
    # The run is made by the first of its jobs to run (the schedule has no session).
    deadline = time.monotonic() + 60
    while True:
        runs = world.get("/api/bureau/reports").json()
        found = [r for r in runs if r["requested_by"] == "schedule:bureau_monthly_report"]
        if found:
            scheduled = found[0]
            break
        assert time.monotonic() < deadline, runs
        time.sleep(0.1)
    done = _wait_for_run(world.client, world.auth("bureau"), scheduled["id"])
    assert done["state"] == "done" and done["period"] == previous_periods(world.period, 2)[0]
    assert (done["expected"], done["done"]) == (len(KEYS), len(KEYS))


def test_three_enterprises_are_too_few_and_the_page_says_so(tmp_path: Path) -> None:
    settings = PlatformSettings(
        metadata_url=f"sqlite:///{tmp_path / 'm.db'}", storage=f"sqlite:{tmp_path / 's'}"
    )
    app = create_platform_app(settings)
    with TestClient(app) as client:
        with app.state.sessions() as session:
            region = build_region("2026-10", months=1)[:3]
            for f in region:
                t = w.tenant(session, f.enterprise_key, district=f.district, cloud=f.industry_cloud)
                store_facts(session, t.id, f)
            session.commit()
        token = _person(app, Role.BUREAU_ANALYST, "b@gov.cn")
        auth = {"Authorization": f"Bearer {token}"}
        page = client.get("/bureau", params={"period": "2026-10"}, headers=auth).text
        assert 'id="too-few"' in page and "Only 3 enterprise(s) have facts for 2026-10" in page
        assert 'href="?period=2026-10&source=synthetic"' in page
        region_answer = client.get("/api/bureau/indicators", headers=auth).json()
        assert region_answer["enterprises"] == 3
        assert region_answer["index"] == {
            "mean": None, "contributors": 3, "status": "suppressed", "unit": "points"
        }  # fmt: skip
        assert all(i["mean"] is None for i in region_answer["indicators"])
        assert region_answer["level_counts"] is None
        empty = client.get("/bureau", params={"period": "2026-09"}, headers=auth).text
        assert 'id="no-facts"' in empty


# --- the command line and the migration ----------------------------------------------------


def test_the_cli_reports_from_the_platform(tmp_path: Path, metadata_url: str) -> None:
    from sqlalchemy.orm import Session

    engine = make_engine(metadata_url)
    storage = f"sqlite:{tmp_path / 'series'}"
    with Session(engine) as session:
        for i in range(6):
            t = w.tenant(session, f"cli-ent-{i}", district="Beilun", cloud="mold-cloud")
            w.onboard(session, t, "s", "l", "IMM-01", "injection_moulding_machine")
        session.commit()
    engine.dispose()
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli_app,
        ["bureau", "report", "--period", "2026-10", "--out", str(out), "--source", "platform",
         "--metadata-url", metadata_url, "--storage", storage, "--no-pdf"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    written = json.loads(result.stdout.strip().splitlines()[-1])
    assert written["source"] == "platform" and written["pdf"] is None
    html = Path(written["html"]).read_text(encoding="utf-8")
    assert "Facts gathered from the platform for 6 enterprise(s)" in html
    rows = list(csv.DictReader(open(written["groups_csv"], encoding="utf-8-sig")))  # noqa: SIM115
    region = next(r for r in rows if r["dimension"] == "region")
    assert region["enterprises"] == "6" and float(region["equipment_networking_rate_mean"]) == 0.0
    assert all("cli-ent" not in r["group"] for r in rows)
    missing = CliRunner().invoke(
        cli_app, ["bureau", "report", "--period", "2026-10", "--out", str(out),
                  "--source", "platform", "--storage", storage],
        env={"MINGZHOU_METADATA": None},
    )  # fmt: skip
    assert missing.exit_code == 2 and "--metadata-url" in missing.output


def test_the_migration_builds_exactly_the_bureau_tables(metadata_url: str) -> None:
    mine = {
        "agent_contact_days",
        "bureau_facts",
        "bureau_reported_output",
        "bureau_report_runs",
        "bureau_report_parts",
    }
    engine = make_engine(metadata_url)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert mine <= set(inspect(connection).get_table_names())
    assert [d for d in diff if any(f"'{table}'" in repr(d) for table in mine)] == []
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", metadata_url.replace("%", "%%"))
    command.downgrade(config, "0006_bureau@-1")
    with engine.connect() as connection:
        tables = set(inspect(connection).get_table_names())
    assert not (mine & tables) and {"registered_agents", "tenants"} <= tables
    command.upgrade(config, "heads")
    with engine.connect() as connection:
        assert mine <= set(inspect(connection).get_table_names())
    engine.dispose()
