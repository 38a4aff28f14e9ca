"""The plant pages in headless Chromium against a running platform with demo-like data:
the demo's three tenants and asset model, a day of each plant's simulated signals in its
tenant's store, kept live by a feeder as the demo's agents would. Every page draws every
figure with data and no JavaScript error, the language switch turns the labels Chinese,
the wall screen enlarges them, the picker navigates and live values refresh in place.
Screenshots go to the artifacts folder (`make test` prints it)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from historian.open import open_historian
from mingzhou.demo_tenants import DEMO_PASSWORD
from protocols.simulators.plants import APPLIANCE, MOLD, PETROCHEM, Plant
from tests.plant_pages_data import LiveFeeder, backfill, seed_demo
from tests.platform_process import start_replica, stop_replica

pytestmark = pytest.mark.browser
PLANTS = {"mold": MOLD, "appliance": APPLIANCE, "petrochem": PETROCHEM}
HOURS = 26  # a whole day and more: today, yesterday's end, several shifts

# Every figure on the page is drawn by Plotly and has a trace with values.
FIGURES_DRAWN = """(minimum) => {
    const figures = [...document.querySelectorAll('.figure')];
    const drawn = figures.filter(gd => gd.classList.contains('js-plotly-plot') && gd.data &&
        gd.data.some(t => ((t.y && t.y.length) || (t.x && t.x.length)) > 0));
    return figures.length >= minimum && drawn.length === figures.length;
}"""


@dataclass
class RunningPlatform:
    url: str
    log_dir: Path


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    root = tmp_path_factory.mktemp("plant-pages")
    metadata = f"sqlite:///{root / 'meta.db'}"
    seed_demo(metadata, PLANTS)
    simulated = []
    for plant in PLANTS.values():
        store = open_historian(f"sqlite:{root / 'series' / _store(plant)}.db")
        simulated.append(backfill(plant, store, HOURS, step_s=10))
    process, url = start_replica(
        root, metadata, f"sqlite:{root / 'series'}", "memory://", uuid.uuid4().hex * 2
    )
    try:
        with LiveFeeder(simulated) as feeder:
            yield RunningPlatform(url, root)
            assert feeder.errors == []
    finally:
        stop_replica(process)
        for item in simulated:
            item.historian.close()


def _store(plant: Plant) -> str:
    """The tenant's store name (tenants.onboarding: mz_ + key with - as _)."""
    return "mz_" + plant.site.replace("-", "_")


def _sign_in(page, url: str, email: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{url}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def _pages(plant: Plant) -> list[tuple[str, str, int]]:
    """(name, path, figures at least) of every plant page of a demo plant."""
    base = f"/t/{plant.site}/plant/{plant.site}/"
    lines = sorted({p.line for p in plant.points if p.line != "utilities"})
    assets = sorted({(p.line, p.asset) for p in plant.points})
    # Overview: OEE by line, and output against plan where machines count units.
    pages = [("overview", base, 1), ("energy", base + "energy/", 3)]
    pages += [(f"line-{line}", f"{base}lines/{line}/", 2) for line in lines]
    pages += [
        (f"asset-{asset}", f"{base}assets/{line}/{asset}/", 1 if line == "utilities" else 2)
        for line, asset in assets
    ]
    return pages


@pytest.mark.parametrize("industry", list(PLANTS))
def test_every_plant_page_draws_its_figures_in_chromium(
    platform: RunningPlatform, artifacts: Path, industry: str
) -> None:
    from tests.browser import open_page

    plant = PLANTS[industry]
    with open_page(f"{platform.url}/t/{plant.site}/plant/") as page:
        assert page.url.endswith("/login")  # no session: sent to sign in
        _sign_in(page, platform.url, f"plant-manager@{plant.site}.demo")
        for name, path, minimum in _pages(plant):
            page.goto(platform.url + path)
            page.wait_for_function(FIGURES_DRAWN, arg=minimum, timeout=30_000)
            assert page.title().startswith("Mingzhou"), path
            page.screenshot(path=str(artifacts / f"plant-{industry}-{name}.png"), full_page=True)
        # Machine tiles of the overview: one per machine with a state tag, each coloured.
        page.goto(f"{platform.url}/t/{plant.site}/plant/{plant.site}/")
        page.wait_for_function(FIGURES_DRAWN, arg=1, timeout=30_000)
        machines = {p.asset for p in plant.points if p.line != "utilities"}
        tiles = page.eval_on_selector_all(".machine .name", "els => els.map(e => e.textContent)")
        assert sorted(tiles) == sorted(machines)
        assert page.errors == [], page.errors


def test_chinese_labels_wall_screen_and_the_range_picker(
    platform: RunningPlatform, artifacts: Path
) -> None:
    from tests.browser import open_page

    site = MOLD.site
    with open_page(f"{platform.url}/login") as page:
        _sign_in(page, platform.url, f"plant-manager@{site}.demo")
        page.goto(f"{platform.url}/t/{site}/plant/{site}/lines/moulding-hall-1/")
        page.wait_for_function(FIGURES_DRAWN, arg=3, timeout=30_000)
        assert page.text_content("nav.pages a.on") == "moulding-hall-1"
        with page.expect_navigation():
            page.click("#lang-switch")
        page.wait_for_function(FIGURES_DRAWN, arg=3, timeout=30_000)
        assert "工厂概览" in page.text_content("nav.pages")
        assert "时间开动率" in page.text_content("[data-panel=panel_line_kpis]")
        titles = page.eval_on_selector_all(
            ".figure", "els => els.map(gd => (gd.layout.title || {}).text || '')"
        )
        assert any("合格品率" in title for title in titles), titles
        assert page.get_attribute("html", "lang") == "zh-CN"
        page.screenshot(path=str(artifacts / "plant-mold-line-zh.png"), full_page=True)
        # The choice is remembered: the next page is Chinese without ?lang.
        page.goto(f"{platform.url}/t/{site}/plant/{site}/energy/")
        page.wait_for_function(FIGURES_DRAWN, arg=3, timeout=30_000)
        assert "单位产品能耗" in page.text_content("main")
        # A wall screen: larger type, same figures.
        page.goto(f"{platform.url}/t/{site}/plant/{site}/?wall=1")
        page.wait_for_function(FIGURES_DRAWN, arg=2, timeout=30_000)
        assert "wall" in page.get_attribute("body", "class")
        size = page.eval_on_selector(
            ".kpi .value", "el => parseFloat(getComputedStyle(el).fontSize)"
        )
        assert size >= 40
        page.screenshot(path=str(artifacts / "plant-mold-overview-wall-zh.png"), full_page=True)
        # The picker: last 7 days, drawn per shift.
        with page.expect_navigation():
            page.select_option("#range-select", "7d")
        assert "range=7d" in page.url
        page.wait_for_function(FIGURES_DRAWN, arg=2, timeout=30_000)
        assert "按班次" in page.text_content(".range-label")
        with page.expect_navigation():
            page.click("#lang-switch")
        page.wait_for_function(FIGURES_DRAWN, arg=2, timeout=30_000)
        assert "Site overview" in page.text_content("nav.pages")
        assert page.errors == [], page.errors


def test_live_values_refresh_without_a_reload(platform: RunningPlatform, artifacts: Path) -> None:
    from tests.browser import open_page

    site = APPLIANCE.site
    with open_page(f"{platform.url}/login") as page:
        _sign_in(page, platform.url, f"plant-manager@{site}.demo")
        page.goto(f"{platform.url}/t/{site}/plant/{site}/assets/assembly-1/ST-01/")
        page.wait_for_function(FIGURES_DRAWN, arg=2, timeout=30_000)
        page.evaluate("window.__loadedOnce = true")
        last_x = "() => { const t = document.getElementById('fig-trends').data[0]; return t.x[t.x.length - 1]; }"
        before = page.evaluate(last_x)
        # The machine page refreshes every 5 s: wait for two refreshes.
        page.wait_for_function("window.MZ_PLANT.refreshes >= 2", timeout=30_000)
        assert page.evaluate("window.__loadedOnce") is True  # the same document: no reload
        assert page.evaluate(last_x) > before  # the trend moved on with the live data
        assert "updated" in page.text_content("#status")
        assert page.evaluate("window.MZ_PLANT.errors") == 0
        page.screenshot(path=str(artifacts / "plant-appliance-asset-live.png"), full_page=True)
        assert page.errors == [], page.errors
