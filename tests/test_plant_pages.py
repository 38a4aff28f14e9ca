"""The plant manager's pages (/t/{key}/plant/): who may open them, what they compute
(checked against analytics.production and analytics.energy run directly on the same
store), the time-range picker, the caches and the two languages. The browser test is
tests/test_plant_pages_browser.py."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from datetime import time as clock
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from analytics.energy.historian_source import meter_frame
from analytics.production import (
    Shift,
    ShiftCalendar,
    production_report,
    to_ns,
)
from cloud.closed_period_cache import ClosedPeriodCache
from cloud.day_cached_historian import DayCachedHistorian
from cloud.i18n import MESSAGES, REASONS_ZH
from cloud.plant_model_view import load_site, power_meters, site_calendar, site_spec
from cloud.plant_time_range import RangeError, resolve_range
from cloud.platform_app import create_platform_app
from cloud.platform_settings import PlatformSettings
from cloud.production_kpi_cache import SiteKpis
from historian import Aggregate, Historian, Point, SeriesKey
from historian.influxdb_v1 import InfluxV1Historian
from historian.sqlite_store import SqliteHistorian
from protocols.simulators.plants import MOLD
from tenants.models import Tenant
from tenants.onboarding import create_industry_cloud, create_user
from tenants.roles import Role
from tests.plant_pages_data import SimulatedPlant

ADMIN = ("admin@platform.cn", "admin-password")
PASSWORD = "password-1"
SITE = MOLD.site
HOUR_NS = 3600 * 1_000_000_000
CALENDAR = ShiftCalendar(
    "Asia/Shanghai",
    (
        Shift("A", clock(8), clock(16)),
        Shift("B", clock(16), clock(0)),
        Shift("C", clock(0), clock(8)),
    ),
)


@dataclass
class Plant:
    client: TestClient
    tokens: dict[str, str]
    historian: Historian
    tenant_id: int
    namespace: str

    def auth(self, who: str) -> dict[str, str]:
        value = self.tokens[who]
        scheme = "Token" if value.startswith("mzat_") else "Bearer"
        return {"Authorization": f"{scheme} {value}"}


def _login(client: TestClient, email: str, password: str = PASSWORD) -> str:
    answer = client.post("/api/auth/login", json={"email": email, "password": password})
    assert answer.status_code == 200, answer.text
    return answer.json()["token"]


def _onboard_mold(client: TestClient, tenant: str, headers: dict[str, str]) -> None:
    """The demo mold plant's machines, through the asset model API."""
    for asset, line, template in (
        ("IMM-01", "moulding-hall-1", "injection_moulding_machine"),
        ("IMM-02", "moulding-hall-1", "injection_moulding_machine"),
        ("meter-main", "utilities", "power_meter"),
    ):
        body = {"site": SITE, "line": line, "asset": asset, "template": template}
        answer = client.post(f"/api/tenants/{tenant}/assets", json=body, headers=headers)
        assert answer.status_code == 201, answer.text


@pytest.fixture
def plant(metadata_url: str, tmp_path: Path) -> Iterator[Plant]:
    """The plant world on SQLite and on PostgreSQL metadata (``metadata_url``)."""
    with _plant_world(metadata_url, tmp_path) as world:
        yield world


@pytest.fixture
def sqlite_plant(tmp_path: Path) -> Iterator[Plant]:
    """The plant world on SQLite metadata, for what does not depend on the engine."""
    url = f"sqlite:///{tmp_path / 'meta.db'}"
    with _plant_world(url, tmp_path) as world:
        yield world


@contextmanager
def _plant_world(metadata_url: str, tmp_path: Path) -> Iterator[Plant]:
    """Tenants a (mold cloud, granting its operator) and b (appliance cloud), people of
    every role, tenant a's mold plant in its asset model with 5 hours of its simulated
    signals up to now."""
    settings = PlatformSettings(
        metadata_url=metadata_url,
        storage=f"sqlite:{tmp_path / 'series'}",
        admin_email=ADMIN[0],
        admin_password=ADMIN[1],
    )
    app = create_platform_app(settings)
    with TestClient(app) as client:
        with app.state.sessions() as session:
            clouds = {k: create_industry_cloud(session, k, k, "test") for k in ("mold", "appl")}
            create_user(
                session,
                "operator@mold.cn",
                PASSWORD,
                Role.INDUSTRY_OPERATOR,
                "test",
                None,
                clouds["mold"],
            )
            create_user(
                session,
                "operator@appl.cn",
                PASSWORD,
                Role.INDUSTRY_OPERATOR,
                "test",
                None,
                clouds["appl"],
            )
            create_user(session, "bureau@gov.cn", PASSWORD, Role.BUREAU_ANALYST, "test")
            session.commit()
        tokens = {"admin": _login(client, *ADMIN)}
        admin = {"Authorization": f"Bearer {tokens['admin']}"}
        for tenant, cloud in (("tenant-a", "mold"), ("tenant-b", "appl")):
            body = {
                "key": tenant,
                "name": tenant.upper(),
                "plan": "standard",
                "industry_cloud": cloud,
            }
            assert client.post("/api/tenants", json=body, headers=admin).status_code == 201
            for role in ("tenant_admin", "plant_manager", "service_engineer"):
                user = {"email": f"{role}@{tenant}.cn", "password": PASSWORD, "role": role}
                created = client.post(f"/api/tenants/{tenant}/users", json=user, headers=admin)
                assert created.status_code == 201, created.text
                tokens[f"{role}:{tenant}"] = _login(client, user["email"])
        for who in ("operator@mold.cn", "operator@appl.cn", "bureau@gov.cn"):
            tokens[who] = _login(client, who)
        issued = client.post(
            "/api/tenants/tenant-a/agent-tokens", json={"site": SITE, "name": "edge"}, headers=admin
        )
        tokens["agent:tenant-a"] = issued.json()["token"]
        granted = client.patch(
            "/api/tenants/tenant-a/settings",
            json={"grants_operator_dashboards": True},
            headers={"Authorization": f"Bearer {tokens['tenant_admin:tenant-a']}"},
        )
        assert granted.status_code == 200, granted.text
        _onboard_mold(client, "tenant-a", admin)
        with app.state.sessions() as session:
            tenant = session.scalar(select(Tenant).where(Tenant.key == "tenant-a"))
            tenant_id, namespace = tenant.id, tenant.storage_database
        historian = app.state.storage.historian(namespace)
        now = time.time_ns()
        simulated = SimulatedPlant(MOLD, historian, now - 5 * HOUR_NS, MOLD.model(3))
        simulated.write_until(now - 2 * HOUR_NS, 10)
        # No order for IMM-02 for half an hour: idle with its barrel heaters on.
        simulated.model.assets["IMM-02"].force_state("idle", 1800)  # type: ignore[attr-defined]
        simulated.write_until(now, 10)
        yield Plant(client, tokens, historian, tenant_id, namespace)


def _last_hours(hours: int) -> str:
    """A custom range over the plant's recorded hours, whatever the time of day."""
    start = datetime.fromtimestamp(time.time() - hours * 3600 + 60, CALENDAR.zone)
    return f"range=custom&from={start:%Y-%m-%dT%H:%M}"


BASE = f"/t/tenant-a/plant/{SITE}/"
PAGES = [
    BASE,
    BASE + "lines/moulding-hall-1/",
    BASE + "assets/moulding-hall-1/IMM-01/",
    BASE + "assets/utilities/meter-main/",
    BASE + "energy/",
]
READERS = [
    "admin",
    "tenant_admin:tenant-a",
    "plant_manager:tenant-a",
    "service_engineer:tenant-a",
    "operator@mold.cn",  # tenant a granted its industry cloud's operator
]
REFUSED = [
    "plant_manager:tenant-b",
    "tenant_admin:tenant-b",
    "operator@appl.cn",  # another cloud's operator
    "bureau@gov.cn",  # the bureau sees aggregates only, never a plant's pages
    "agent:tenant-a",  # agents only send data
]


def test_every_page_is_open_to_exactly_the_roles_that_may_read_the_plant(plant: Plant) -> None:
    c = plant.client
    for who in READERS:
        for path in PAGES:
            for url in (path, path + "data"):
                answer = c.get(url, headers=plant.auth(who))
                assert answer.status_code == 200, (who, url, answer.text[:500])
        home = c.get("/t/tenant-a/plant/", headers=plant.auth(who), follow_redirects=False)
        assert home.status_code == 303 and home.headers["location"] == f"{SITE}/", who
    for who in REFUSED:
        for path in [*PAGES, "/t/tenant-a/plant/"]:
            for url in (path, path + "data"):
                answer = c.get(url, headers=plant.auth(who))
                assert answer.status_code == 404, (who, url, answer.status_code)
                assert "IMM-01" not in answer.text and "OEE" not in answer.text
    # A key no store could hold is a plain 404 on both engines, never a failed query.
    assert c.get("/t/tenant%00a/plant/", headers=plant.auth("admin")).status_code == 404
    # No session: a person is sent to sign in, a script gets 401.
    for path in PAGES:
        page = c.get(path, headers={"Accept": "text/html"}, follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"] == "/login", path
        assert c.get(path + "data").status_code == 401
    # The operator loses the pages as soon as the tenant withdraws its grant.
    withdrawn = c.patch(
        "/api/tenants/tenant-a/settings",
        json={"grants_operator_dashboards": False},
        headers=plant.auth("tenant_admin:tenant-a"),
    )
    assert withdrawn.status_code == 200
    assert c.get(BASE, headers=plant.auth("operator@mold.cn")).status_code == 404


def _figures(answer) -> dict:  # type: ignore[no-untyped-def]
    assert answer.status_code == 200, answer.text[:500]
    return answer.json()["figures"]


def _trace_lengths(figure: dict) -> list[int]:
    """Values per trace; a numpy array travels as plotly's typed array {dtype, bdata}."""
    lengths = []
    for trace in figure["data"]:
        values = trace.get("y", trace.get("x"))
        lengths.append(len(values["bdata"]) if isinstance(values, dict) else len(values or []))
    return lengths


def test_the_pages_show_the_kpis_analytics_computes_on_the_same_data(plant: Plant) -> None:
    c, who = plant.client, plant.auth("plant_manager:tenant-a")
    query = _last_hours(4)
    overview = c.get(BASE + "data?" + query, headers=who).json()
    assert set(overview["figures"]) == {"fig-oee-lines", "fig-output-0"}
    for figure in overview["figures"].values():
        assert max(_trace_lengths(figure)) > 0
    # The same range computed directly: the OEE bar of the line and the site tile agree.
    with plant.client.app.state.sessions() as session:
        site = load_site(session, plant.tenant_id, SITE)
    assert site is not None
    calendar = site_calendar(site)
    oee_bar = overview["figures"]["fig-oee-lines"]["data"][0]
    assert oee_bar["x"] == ["moulding-hall-1"]
    now = time.time_ns()
    chosen = resolve_range(calendar, "custom", now, query.split("from=")[1])
    report = production_report(plant.historian, site_spec(site), calendar, chosen.start_ns, now)
    direct = report.whole.lines["moulding-hall-1"].oee
    assert direct is not None and 0 < direct < 1
    # The page's range ended a moment earlier: the running hour differs by seconds.
    assert oee_bar["y"][0] == pytest.approx(100 * direct, abs=1.5)
    states = overview["panels"]["panel_machines"]
    assert "IMM-01" in states and "IMM-02" in states and "meter-main" not in states

    line = c.get(BASE + "lines/moulding-hall-1/data?" + query, headers=who).json()
    assert {"fig-oee-trend", "fig-output", "fig-cycle"} <= set(line["figures"])
    cycle = line["figures"]["fig-cycle"]["data"][0]
    assert sum(cycle["y"]) == report.whole.lines["moulding-hall-1"].cycle_times.n
    # The mold template counts no scrap: the page says so rather than draw zeros.
    assert "fig-scrap" not in line["figures"]
    assert "IMM-01" in line["panels"]["panel_assets"]


def test_an_hour_cache_merges_to_what_one_long_read_computes(sqlite_plant: Plant) -> None:
    with sqlite_plant.client.app.state.sessions() as session:
        site = load_site(session, sqlite_plant.tenant_id, SITE)
    spec, now = site_spec(site), time.time_ns()
    start = to_ns(
        datetime.fromtimestamp((now - 4 * HOUR_NS) // 10**9, CALENDAR.zone).replace(
            minute=0, second=0, microsecond=0
        )
    )
    cache = ClosedPeriodCache(settle_s=0)
    args = (cache, sqlite_plant.historian, sqlite_plant.namespace, spec, CALENDAR, start, now, now)
    cold = SiteKpis.build(*args)
    assert cache.hits == 0 and len(cache) >= 3  # the closed hours were kept
    warm = SiteKpis.build(*args)
    assert cache.hits >= 3
    direct = production_report(sqlite_plant.historian, spec, CALENDAR, start, now)
    for kpis in (cold, warm):
        merged = kpis.whole()
        assert merged is not None
        for attr in ("apt_s", "pbt_s", "pq", "downtime_s", "energy_kwh", "output_quantity"):
            assert getattr(merged, attr) == pytest.approx(getattr(direct.whole.site, attr)), attr
        assert merged.oee == pytest.approx(direct.whole.site.oee)
        shifts = kpis.trend("shift")
        assert [round(k.pq) for k in shifts] == [round(s.site.pq) for s in direct.by_shift]
    # One shift only: the sum of that shift's hours.
    name = direct.by_shift[-1].period.shift.shift  # type: ignore[union-attr]
    only = SiteKpis.build(*args, shift=name).whole()
    expected = sum(s.site.pq for s in direct.by_shift if s.period.shift.shift == name)  # type: ignore[union-attr]
    assert only is not None and only.pq == pytest.approx(expected)


@pytest.fixture(params=["sqlite", "influxdb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Historian]:
    if request.param == "sqlite":
        historian: Historian = SqliteHistorian(tmp_path / "h.db")
    else:
        server = request.getfixturevalue("influxd")
        historian = InfluxV1Historian(server.url, server.new_database())
    yield historian
    historian.close()


def test_day_cached_reads_equal_the_store_s_own(store: Historian) -> None:
    key = SeriesKey("s", "l", "a", "power_kw")
    day = 86_400 * 10**9
    start = (time.time_ns() // day - 3) * day + 5 * HOUR_NS + 7 * 10**9  # 3 days ago, odd
    store.write(Point(key, start + i * 60 * 10**9, float(i % 97)) for i in range(4 * 1440))
    now = start + 4 * day
    cache = ClosedPeriodCache(settle_s=0)
    cached = DayCachedHistorian(store, cache, "ns", now)
    for window, aggregate in (
        (15 * 60 * 10**9, Aggregate.MEAN),
        (3600 * 10**9, Aggregate.MAX),
        (300 * 10**9, Aggregate.LAST),
    ):
        expected = store.read(key, start - HOUR_NS, now, window, aggregate)
        assert cached.read(key, start - HOUR_NS, now, window, aggregate) == expected
        assert cached.read(key, start - HOUR_NS, now, window, aggregate) == expected  # warm
    assert cache.hits > 0
    raw = store.read(key, start, start + HOUR_NS)
    assert cached.read(key, start, start + HOUR_NS) == raw  # raw reads pass through
    # The rest of the contract is the store's own, including what was added after the
    # wrapper was written.
    assert isinstance(cached, Historian)
    assert cached.exceeding([key], start, now, 100) == store.exceeding([key], start, now, 100)
    assert cached.latest("s") == store.latest("s")


def test_the_energy_page_prices_the_meter_and_finds_idle_waste(sqlite_plant: Plant) -> None:
    c, who = sqlite_plant.client, sqlite_plant.auth("plant_manager:tenant-a")
    query = _last_hours(4)
    answer = c.get(BASE + "energy/data?" + query, headers=who)
    data = answer.json()
    assert {"fig-demand", "fig-tariff", "fig-profile", "fig-specific"} <= set(data["figures"])
    for figure in data["figures"].values():
        assert max(_trace_lengths(figure)) > 0
    # kWh from the meter's counter, as analytics.energy reads it directly.
    with sqlite_plant.client.app.state.sessions() as session:
        site = load_site(session, sqlite_plant.tenant_id, SITE)
    (meter,) = power_meters(site)
    chosen = resolve_range(site_calendar(site), "custom", time.time_ns(), query.split("from=")[1])
    frame = meter_frame(
        sqlite_plant.historian,
        chosen.start_ns,
        chosen.end_ns,
        counter=meter.counter,
        interval="15min",
        timezone=chosen.timezone,
    )
    kwh = float(frame["kwh"].sum())
    shown = re.search(r"([\d,]+\.\d) kWh", data["panels"]["panel_energy_kpis"])
    assert shown and float(shown.group(1).replace(",", "")) == pytest.approx(kwh, rel=0.02)
    # Idle moulding machines keep their barrel heaters on (8.5 kW against a 4.5 kW
    # standby allowance): that is waste with a price.
    anomalies = data["panels"]["panel_anomalies"]
    assert "idle waste" in anomalies and "IMM-02 idle for" in anomalies
    cost = re.search(r"Cost: ([\d,]+\.\d\d) CNY", anomalies)
    assert cost and float(cost.group(1).replace(",", "")) > 0


def test_the_machine_page_draws_limits_and_lists_excursions_and_alarms(sqlite_plant: Plant) -> None:
    c, who = sqlite_plant.client, sqlite_plant.auth("plant_manager:tenant-a")
    now = time.time_ns()
    key = SeriesKey(SITE, "moulding-hall-1", "IMM-01", "melt_temp")
    # The melt overheats past the template's 260 °C limit for ten minutes, still now.
    sqlite_plant.historian.write(
        Point(key, now - 600 * 10**9 + i * 10**9, 275.0 + i % 3) for i in range(0, 601, 5)
    )
    data = c.get(BASE + "assets/moulding-hall-1/IMM-01/data?range=hour", headers=who).json()
    trends = data["figures"]["fig-trends"]
    names = [t["name"] for t in trends["data"]]
    assert "melt_temp" in names and "melt_temp high limit" in names
    limit = next(t for t in trends["data"] if t["name"] == "melt_temp high limit")
    assert limit["y"] == [260.0, 260.0]
    alarms = data["panels"]["panel_alarms"]
    assert "melt_temp above its high limit 260" in alarms
    assert "ongoing" in alarms and "277" in alarms  # the extreme
    assert "fig-state" in data["figures"]
    tiles = data["panels"]["panel_tiles"]
    assert re.search(r'class="tag-row high" data-tag="melt_temp"', tiles)
    # The meter has no state: trends only, no state chart, no KPIs.
    meter = c.get(BASE + "assets/utilities/meter-main/data", headers=who).json()
    assert "fig-trends" in meter["figures"] and "fig-state" not in meter["figures"]


BAD_PICKS = [
    ("range=fortnight", "range", "expected one of"),
    ("range=custom", "from", "needs a start"),
    ("range=custom&from=2026-03-05&to=2026-03-01", "to", "must end after it starts"),
    ("range=custom&from=yesterday", "from", "expected a local date"),
    ("range=custom&from=2020-01-01&to=2022-01-01", "from", "at most 366 days"),
    ("shift=night", "shift", "no shift 'night'"),
]


def test_bad_picker_values_are_refused_naming_the_field(sqlite_plant: Plant) -> None:
    who = sqlite_plant.auth("plant_manager:tenant-a")
    for query, field, says in BAD_PICKS:
        data = sqlite_plant.client.get(BASE + "data?" + query, headers=who)
        assert data.status_code == 422, query
        (error,) = data.json()["detail"]
        assert error["loc"] == ["query", field] and says in error["msg"], query
        page = sqlite_plant.client.get(BASE + "?" + query, headers={**who, "Accept": "text/html"})
        assert page.status_code == 422 and says in html.unescape(page.text), query
        assert "Traceback" not in page.text


def test_unknown_sites_lines_and_machines_are_404(sqlite_plant: Plant) -> None:
    who = sqlite_plant.auth("plant_manager:tenant-a")
    for path in (
        "/t/tenant-a/plant/nowhere/",
        BASE + "lines/nowhere/",
        BASE + "lines/utilities/",  # a line without machines has no OEE page
        BASE + "assets/moulding-hall-1/IMM-99/",
    ):
        assert sqlite_plant.client.get(path, headers=who).status_code == 404, path
        assert sqlite_plant.client.get(path + "data", headers=who).status_code == 404, path


def test_time_ranges_in_the_site_s_local_time() -> None:
    local = CALENDAR.zone
    now = to_ns(datetime(2026, 3, 2, 10, 30, tzinfo=local))

    def bounds(preset: str, **kw: str) -> tuple[datetime, datetime]:
        chosen = resolve_range(CALENDAR, preset, now, **kw)  # type: ignore[arg-type]
        return (
            datetime.fromtimestamp(chosen.start_ns / 1e9, local),
            datetime.fromtimestamp(chosen.end_ns / 1e9, local),
        )

    at = lambda d, h, m=0: datetime(2026, 3, d, h, m, tzinfo=local)  # noqa: E731
    assert bounds("shift") == (at(2, 8), at(2, 10, 30))
    assert bounds("prev_shift") == (at(2, 0), at(2, 8))
    assert bounds("today") == (at(2, 0), at(2, 10, 30))
    assert bounds("yesterday") == (at(1, 0), at(2, 0))
    assert bounds("7d")[0] == datetime(2026, 2, 24, tzinfo=local)
    assert bounds("30d")[0] == datetime(2026, 2, 1, tzinfo=local)  # 30 days with today
    assert bounds("hour") == (at(2, 9, 30), at(2, 10, 30))
    assert bounds("custom", from_text="2026-03-01", to_text="2026-03-01") == (at(1, 0), at(2, 0))
    assert bounds("custom", from_text="2026-03-02T06:15") == (at(2, 6, 15), at(2, 10, 30))
    assert resolve_range(CALENDAR, "today", now).bucket == "hour"
    assert resolve_range(CALENDAR, "7d", now).bucket == "shift"
    assert resolve_range(CALENDAR, "30d", now).bucket == "day"
    with pytest.raises(RangeError) as refused:
        resolve_range(CALENDAR, "custom", now, "2026-03-03", None)  # starts after now
    assert refused.value.field == "to"


def test_both_languages_have_every_label_and_the_choice_is_remembered(sqlite_plant: Plant) -> None:
    assert set(MESSAGES["en"]) == set(MESSAGES["zh"])
    for key, text in MESSAGES["zh"].items():
        fields = set(re.findall(r"{(\w+)}", MESSAGES["en"][key]))
        assert set(re.findall(r"{(\w+)}", text)) == fields, key
    assert all(re.search(r"[\u4e00-\u9fff]", zh) for zh in REASONS_ZH.values())
    c, who = sqlite_plant.client, sqlite_plant.auth("plant_manager:tenant-a")
    zh = c.get(BASE + "lines/moulding-hall-1/?lang=zh", headers=who)
    assert zh.status_code == 200 and zh.cookies.get("mz_lang") == "zh"
    assert "时间开动率" in zh.text and "工厂概览" in zh.text and "Site overview" not in zh.text
    # The cookie keeps Chinese for the next page and its refreshes, figures included.
    data = c.get(BASE + "lines/moulding-hall-1/data", headers=who).json()
    assert data["figures"]["fig-oee-trend"]["layout"]["title"]["text"].startswith("OEE 及")
    assert "合格品率" in data["panels"]["panel_line_kpis"]
    en = c.get(BASE + "?lang=en", headers=who)
    assert "Site overview" in en.text and en.cookies.get("mz_lang") == "en"
    # The browser's language counts when nothing was chosen.
    c.cookies.clear()
    guessed = c.get(BASE, headers={**who, "Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"})
    assert "工厂概览" in guessed.text
