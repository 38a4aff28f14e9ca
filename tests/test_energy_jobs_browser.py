"""The energy page's recompute button in Chromium: the plant manager clicks it, the
platform's worker runs the energy job, the page follows its state and then shows the
stored analysis. The platform runs as its own process (a real server on loopback)."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from historian.open import open_historian
from tests.energy_site_data import SITE, onboard, write_plant
from tests.platform_process import ADMIN, start_replica, stop_replica

MANAGER = {"email": "manager@tenant-a.cn", "password": "manager-password"}


@pytest.mark.timeout(240)
def test_the_recompute_button_runs_the_job_and_the_page_shows_its_result(
    tmp_path: Path, artifacts: Path
) -> None:
    from tests.browser import open_page

    process, url = start_replica(
        tmp_path, f"sqlite:///{tmp_path / 'meta.db'}", f"sqlite:{tmp_path / 'series'}",
        "memory://", uuid.uuid4().hex * 2,
    )  # fmt: skip
    try:
        with httpx.Client(base_url=url, timeout=60) as client:
            token = client.post("/api/auth/login", json=ADMIN).json()["token"]
            admin = {"Authorization": f"Bearer {token}"}
            made = client.post("/api/tenants", json={"key": "tenant-a", "name": "A"}, headers=admin)
            assert made.status_code == 201, made.text
            user = {**MANAGER, "role": "plant_manager"}
            added = client.post("/api/tenants/tenant-a/users", json=user, headers=admin)
            assert added.status_code == 201, added.text
            onboard(client, "tenant-a", admin)
        store = open_historian(f"sqlite:{tmp_path / 'series' / 'mz_tenant_a.db'}")
        try:
            write_plant(store)
        finally:
            store.close()
        with open_page(f"{url}/login") as page:
            page.fill("input[name=email]", MANAGER["email"])
            page.fill("input[name=password]", MANAGER["password"])
            page.click("button[type=submit]")
            page.wait_for_load_state()
            page.goto(f"{url}/t/tenant-a/plant/{SITE}/energy/?range=custom&from=2026-03-10"
                      "&to=2026-03-10&lang=en")  # fmt: skip
            panel = "[data-panel=panel_energy_job]"
            assert "No stored analysis yet" in page.text_content(panel)
            with page.expect_navigation(timeout=120_000):  # the page reloads when it is done
                page.click("[data-energy-recompute]")
            page.wait_for_selector(f"{panel} >> text=Computed at")
            text = page.text_content(panel)
            assert "Advice for 2026-03-11" in text and "Saving 66.00 CNY" in text
            assert "368.03" in page.text_content("[data-panel=panel_anomalies]")
            page.screenshot(path=str(artifacts / "plant-energy-job.png"), full_page=True)
            assert page.errors == [], page.errors
    finally:
        stop_replica(process)
