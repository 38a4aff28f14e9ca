"""`mingzhou demo`: starts, shows the three factories' live values in the API and in a
real browser, and stops cleanly on Ctrl-C (SIGINT)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from protocols.simulators import PLANTS
from tests.conftest import free_port

STARTUP_BUDGET_S = 60  # generous: CI machines are shared; the figure is printed, not asserted


@dataclass
class RunningDemo:
    process: subprocess.Popen[str]
    url: str
    log: Path
    started: float


def _free_block(count: int) -> int:
    """The first of ``count`` consecutive free ports."""
    while True:
        first = free_port()
        if first + count < 65535 and all(_is_free(first + i) for i in range(count)):
            return first


def _is_free(port: int) -> bool:
    import socket

    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDemo]:
    data_dir = tmp_path_factory.mktemp("demo")
    port, plc_port = free_port(), _free_block(3)
    log = data_dir / "demo.log"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mingzhou",
            "demo",
            "--port",
            str(port),
            "--plc-base-port",
            str(plc_port),
            "--data-dir",
            str(data_dir),
        ],
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    running = RunningDemo(process, f"http://127.0.0.1:{port}", log, time.monotonic())
    yield running
    if process.poll() is None:
        process.kill()
        process.wait()


ADMIN = {"email": "admin@mingzhou.demo", "password": "mingzhou-demo"}


def _sites_with_fresh_values(url: str) -> dict[str, int]:
    """Latest timestamp per site, from each demo tenant's series, as the platform admin."""
    token = httpx.post(f"{url}/api/auth/login", json=ADMIN, timeout=10).json()["token"]
    latest: dict[str, int] = {}
    for plant in PLANTS.values():  # each factory is a tenant named after its site
        answer = httpx.get(
            f"{url}/api/tenants/{plant.site}/series",
            headers={"Authorization": f"Bearer {token}"},
            timeout=5,
        )
        for series in answer.json() if answer.status_code == 200 else []:
            site = series["site"]
            latest[site] = max(latest.get(site, 0), series["last_timestamp_ns"])
    return latest


def test_demo_serves_all_three_factories_with_changing_values(demo: RunningDemo) -> None:
    sites = {plant.site for plant in PLANTS.values()}
    deadline = demo.started + STARTUP_BUDGET_S
    first: dict[str, int] = {}
    while time.monotonic() < deadline:
        assert demo.process.poll() is None, demo.log.read_text()
        try:
            first = _sites_with_fresh_values(demo.url)
        except httpx.HTTPError:
            first = {}
        if set(first) >= sites:
            break
        time.sleep(0.5)
    assert set(first) >= sites, f"sites seen: {sorted(first)}\n{demo.log.read_text()}"
    print(f"\nall three factories in the API {time.monotonic() - demo.started:.1f} s after start")
    time.sleep(3)
    later = _sites_with_fresh_values(demo.url)
    assert all(later[site] > first[site] for site in sites), (first, later)
    assert httpx.get(f"{demo.url}/health", timeout=5).json() == {"status": "ok"}
    banner = demo.log.read_text()
    assert f"{demo.url}/" in banner and "Press Ctrl-C to stop." in banner
    assert "admin@mingzhou.demo" in banner and "plant-manager@ningbo-mold.demo" in banner
    # The demo's service team signs in and sees the fleet of the two factories granting it.
    team = {"email": "engineer@mingzhou-service.demo", "password": ADMIN["password"]}
    assert team["email"] in banner
    token = httpx.post(f"{demo.url}/api/auth/login", json=team, timeout=10).json()["token"]
    fleet = httpx.get(
        f"{demo.url}/api/service/fleet", headers={"Authorization": f"Bearer {token}"}, timeout=10
    ).json()
    assert sorted(t["key"] for t in fleet["tenants"]) == ["ningbo-mold", "zhenhai-petrochem"]


@pytest.mark.browser
def test_dashboards_draw_every_factory_in_chromium_after_sign_in(
    demo: RunningDemo, artifacts: Path
) -> None:
    from tests.browser import open_page

    with open_page(f"{demo.url}/") as page:
        assert page.url.endswith("/login")  # no session: sent to sign in
        page.fill("input[name=email]", ADMIN["email"])
        page.fill("input[name=password]", ADMIN["password"])
        page.click("button[type=submit]")
        page.wait_for_selector(".tenants a")
        links = page.eval_on_selector_all(
            ".tenants a", "els => els.map(e => e.getAttribute('href'))"
        )
        assert sorted(links) == sorted(f"/t/{p.site}/" for p in PLANTS.values())
        page.screenshot(path=str(artifacts / "demo-enterprises.png"))
        for plant in PLANTS.values():
            page.goto(f"{demo.url}/t/{plant.site}/")
            page.wait_for_function(
                """() => {
                    const plots = [...document.querySelectorAll('.js-plotly-plot')];
                    return plots.length >= 3 && plots.every(gd => gd.data.every(t => t.x.length > 1));
                }""",
                timeout=45_000,
            )
            assert page.text_content(".site h2").split()[0] == plant.site
            before = page.eval_on_selector_all(".tile .value", "els => els.map(e => e.textContent)")
            page.wait_for_timeout(3000)
            after = page.eval_on_selector_all(".tile .value", "els => els.map(e => e.textContent)")
            assert sum(a != b for a, b in zip(before, after, strict=True)) >= 2, (before, after)
            assert "live" in page.text_content("#status")
            page.screenshot(path=str(artifacts / f"demo-{plant.key}.png"), full_page=True)
        assert page.errors == [], page.errors


def test_the_bureau_sees_the_three_factories_only_as_suppressed_groups(
    demo: RunningDemo,
) -> None:
    bureau = {"email": "bureau@mingzhou.demo", "password": ADMIN["password"]}
    token = httpx.post(f"{demo.url}/api/auth/login", json=bureau, timeout=10).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    # The demo starts this month's report a little after it starts; wait for it.
    deadline = demo.started + STARTUP_BUDGET_S + 120
    runs: list = []
    while time.monotonic() < deadline:
        runs = httpx.get(f"{demo.url}/api/bureau/reports", headers=auth, timeout=10).json()
        if runs and runs[0]["state"] in ("done", "failed"):
            break
        time.sleep(1)
    assert runs and runs[0]["state"] == "done", (runs, demo.log.read_text()[-3000:])
    assert (runs[0]["expected"], runs[0]["done"]) == (3, 3)
    region = httpx.get(f"{demo.url}/api/bureau/indicators", headers=auth, timeout=10).json()
    assert region["enterprises"] == 3 and region["index"]["status"] == "suppressed"
    assert all(i["mean"] is None for i in region["indicators"])
    page = httpx.get(f"{demo.url}/bureau?lang=en", headers=auth, timeout=30).text
    assert 'id="too-few"' in page and "Only 3 enterprise(s)" in page
    assert "source=synthetic" in page
    synthetic = httpx.get(
        f"{demo.url}/bureau?source=synthetic&lang=en", headers=auth, timeout=30
    ).text
    assert "SYNTHETIC DATA" in synthetic
    assert all(p.site not in page + synthetic for p in PLANTS.values())


def test_demo_stops_cleanly_on_ctrl_c(demo: RunningDemo) -> None:
    demo.process.send_signal(signal.SIGINT)
    assert demo.process.wait(timeout=30) == 0
    output = demo.log.read_text()
    assert "demo stopped" in output
    assert "Traceback" not in output, output
