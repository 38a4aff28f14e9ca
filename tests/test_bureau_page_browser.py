"""The bureau's page in headless Chromium against a running platform process: a bureau
analyst signs in and lands on it, every chart draws, the Chinese labels switch on, a
report is started from the page and its files appear, and the synthetic region is marked
as such. Screenshots go to the artifacts folder."""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from analytics.bureau.region import build_region
from analytics.bureau.stored_facts import store_facts
from tenants.db import make_engine, session_factory, upgrade
from tenants.onboarding import create_user
from tenants.roles import Role
from tests import bureau_platform_world as w
from tests.platform_process import start_replica, stop_replica

pytestmark = pytest.mark.browser
PERIOD = "2026-10"
EMAIL, PASSWORD = "analyst@bureau.cn", "password-1"
FIGURES_DRAWN = """() => {
    const figures = [...document.querySelectorAll('.figure')];
    return figures.length === 5 && figures.every(gd => gd.classList.contains('js-plotly-plot'));
}"""


@dataclass
class RunningPlatform:
    url: str


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    root = tmp_path_factory.mktemp("bureau-page")
    metadata = f"sqlite:///{root / 'meta.db'}"
    upgrade(metadata)
    engine = make_engine(metadata)
    with session_factory(engine)() as session:
        # The synthetic region's facts, as if the monthly job had stored them for a year.
        tenants = {}
        for f in build_region(PERIOD, months=12):
            if f.enterprise_key not in tenants:
                key = f.enterprise_key.replace("synthetic-", "ent-")
                tenants[f.enterprise_key] = w.tenant(
                    session, key, district=f.district, cloud=f.industry_cloud
                )
            tenant = tenants[f.enterprise_key]
            store_facts(session, tenant.id, dataclasses.replace(f, enterprise_key=tenant.key))
        create_user(session, EMAIL, PASSWORD, Role.BUREAU_ANALYST, "test")
        session.commit()
    engine.dispose()
    process, url = start_replica(
        root, metadata, f"sqlite:{root / 'series'}", "memory://", uuid.uuid4().hex * 2
    )
    try:
        yield RunningPlatform(url)
    finally:
        stop_replica(process)


def test_the_bureau_page_in_chromium(platform: RunningPlatform, artifacts: Path) -> None:
    from tests.browser import open_page

    with open_page(f"{platform.url}/login") as page:
        page.fill("input[name=email]", EMAIL)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        assert page.url.endswith("/bureau")  # the analyst's home is the region
        page.goto(f"{platform.url}/bureau?period={PERIOD}")
        page.wait_for_function(FIGURES_DRAWN, timeout=30_000)
        assert page.text_content("#region-enterprises") == "35"
        bars = page.eval_on_selector("#fig-by-district", "gd => gd.data[0].x")
        assert "(other)" in bars and "Yinzhou" not in bars
        page.screenshot(path=str(artifacts / "bureau-page.png"), full_page=True)

        with page.expect_navigation():
            page.click("#lang-switch")
        page.wait_for_function(FIGURES_DRAWN, timeout=30_000)
        assert "区域两化融合与能效" in page.text_content("header")
        titles = page.eval_on_selector_all(
            ".figure", "els => els.map(gd => (gd.layout.title || {}).text || '')"
        )
        assert any("各区县指数" in t for t in titles), titles
        page.screenshot(path=str(artifacts / "bureau-page-zh.png"), full_page=True)

        with page.expect_navigation():
            page.click("#lang-switch")  # back to English
        page.wait_for_function(FIGURES_DRAWN, timeout=30_000)

        # A report from the page: one job per enterprise, then the files.
        page.click("#start-report")
        page.wait_for_function(
            "() => document.getElementById('start-status').textContent.length > 0"
        )
        assert "Started" in page.text_content("#start-status")
        deadline = time.monotonic() + 120  # keeps a broken run from hanging, not a timing
        while "HTML" not in page.text_content("#downloads"):
            assert time.monotonic() < deadline, page.text_content("#downloads")
            time.sleep(1)
            page.reload()
        page.goto(f"{platform.url}/bureau?period={PERIOD}&source=synthetic&lang=en")
        page.wait_for_function(FIGURES_DRAWN, timeout=30_000)
        assert "SYNTHETIC DATA" in page.text_content("#synthetic-banner")
        assert page.errors == []
