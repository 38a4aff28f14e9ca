"""Plant pages: load time of every page with a month of 1-minute data for one site.

One site with 6 injection moulding machines (the asset model's template: 7 tags each) and
a power meter, 30 days of 1-minute samples (1.9 M points) in the tenant's SQLite store,
served by the platform in its own process. Each page (overview, line, machine, energy)
is loaded for the current shift, the last 7 days and the last 30 days: the first load
(cold: closed hours and days not cached yet) is printed apart, then ``RUNS`` loads of
the HTML and of its ``data`` call (what the browser fetches on every refresh). Printed:
median and p95 of the time the server took (its ``Server-Timing``) and of the whole HTTP
request on loopback. Issue 6 asks p95 < 1 s.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from historian import Point, SeriesKey
from historian.open import open_historian
from tests.platform_process import ADMIN, start_replica, stop_replica

SITE, LINE, UTILITIES = "bench-site", "moulding", "utilities"
MACHINES = 6
DAYS = 30
STEP_S = 60
RUNS = 20
TENANT = "bench-plant"
MANAGER = {"email": "manager@bench-plant.cn", "password": "manager-password"}
STATES = ("running", "idle", "alarm", "setup")


def _onboard(client: httpx.Client, admin: dict[str, str]) -> None:
    tenant = {"key": TENANT, "name": "Bench plant", "plan": "enterprise"}
    client.post("/api/tenants", json=tenant, headers=admin).raise_for_status()
    user = {**MANAGER, "role": "plant_manager"}
    client.post(f"/api/tenants/{TENANT}/users", json=user, headers=admin).raise_for_status()
    for m in range(MACHINES):
        body = {
            "site": SITE,
            "line": LINE,
            "asset": f"IMM-{m + 1:02d}",
            "template": "injection_moulding_machine",
        }
        client.post(f"/api/tenants/{TENANT}/assets", json=body, headers=admin).raise_for_status()
    body = {"site": SITE, "line": UTILITIES, "asset": "meter-main", "template": "power_meter"}
    client.post(f"/api/tenants/{TENANT}/assets", json=body, headers=admin).raise_for_status()


def _write_month(path: Path, end_ns: int) -> int:
    """Each machine: a state changing every few minutes, its shot counter, cycle time,
    power, temperatures and pressure every minute; the meter: their power plus a base
    load, and its energy counter."""
    rng = random.Random(7)
    steps = DAYS * 86400 // STEP_S
    start_ns = end_ns - steps * STEP_S * 1_000_000_000
    historian = open_historian(f"sqlite:{path}")
    written = 0
    states = ["running"] * MACHINES
    shots = [0] * MACHINES
    energy = 120_000.0
    try:
        for chunk in range(0, steps, 1440):
            batch: list[Point] = []
            for step in range(chunk, min(chunk + 1440, steps)):
                ts = start_ns + step * STEP_S * 1_000_000_000
                plant_kw = 20.0
                for m in range(MACHINES):
                    asset = f"IMM-{m + 1:02d}"
                    if rng.random() < 0.08:
                        states[m] = rng.choices(STATES, weights=[6, 2, 1, 0.3])[0]
                    running = states[m] == "running"
                    if running:
                        shots[m] += rng.randint(5, 6)
                    kw = 40.0 + rng.gauss(0, 1.5) if running else 8.5
                    plant_kw += kw
                    values = {
                        "state": states[m],
                        "shot_count": shots[m],
                        "cycle_time": round(rng.gauss(10.5, 0.4), 2),
                        "power_kw": round(kw, 2),
                        "melt_temp": round(rng.gauss(231, 2.5), 2),
                        "mould_temp": round(rng.gauss(47 if running else 30, 1.5), 2),
                        "injection_pressure": round(rng.uniform(0, 1300) if running else 0, 1),
                    }
                    for tag, value in values.items():
                        batch.append(Point(SeriesKey(SITE, LINE, asset, tag), ts, value))
                energy += plant_kw * STEP_S / 3600
                meter = {"active_power_kw": round(plant_kw, 2), "energy_kwh": round(energy, 3)}
                for tag, value in meter.items():
                    batch.append(Point(SeriesKey(SITE, UTILITIES, "meter-main", tag), ts, value))
            written += historian.write(batch)
    finally:
        historian.close()
    return written


def _stats(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"median {statistics.median(ordered) * 1000:6.0f} ms  p95 {p95 * 1000:6.0f} ms"


def _get(client: httpx.Client, path: str, headers: dict[str, str]) -> tuple[float, float]:
    """(server seconds from Server-Timing, whole request seconds)."""
    started = time.perf_counter()
    response = client.get(path, headers=headers)
    wall = time.perf_counter() - started
    response.raise_for_status()
    timing = response.headers.get("server-timing", "app;dur=0")
    return float(timing.split("dur=")[1]) / 1000, wall


def main() -> None:
    pages = {
        "overview": f"/t/{TENANT}/plant/{SITE}/",
        "line": f"/t/{TENANT}/plant/{SITE}/lines/{LINE}/",
        "machine": f"/t/{TENANT}/plant/{SITE}/assets/{LINE}/IMM-03/",
        "energy": f"/t/{TENANT}/plant/{SITE}/energy/",
    }
    print(
        f"plant pages: {MACHINES} machines x 7 tags + a meter, {DAYS} days of 1-minute data"
        f" (SQLite), the platform in its own process, {RUNS} loads each after a cold one:"
    )
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        process, url = start_replica(
            workdir,
            f"sqlite:///{workdir / 'meta.db'}",
            f"sqlite:{workdir / 'series'}",
            "memory://",
            uuid.uuid4().hex * 2,
        )
        try:
            with httpx.Client(base_url=url, timeout=120) as client:
                token = client.post("/api/auth/login", json=ADMIN).json()["token"]
                _onboard(client, {"Authorization": f"Bearer {token}"})
                started = time.perf_counter()
                store = workdir / "series" / f"mz_{TENANT.replace('-', '_')}.db"
                points = _write_month(store, time.time_ns())
                print(f"  wrote {points:,} points in {time.perf_counter() - started:.0f} s")
                manager = client.post("/api/auth/login", json=MANAGER).json()["token"]
                headers = {"Authorization": f"Bearer {manager}"}
                worst = 0.0
                for range_ in ("shift", "7d", "30d"):
                    for name, path in pages.items():
                        query = f"?range={range_}"
                        _, cold_wall = _get(client, path + query, headers)
                        html, data, html_wall, data_wall = [], [], [], []
                        for _ in range(RUNS):
                            server, wall = _get(client, path + query, headers)
                            html.append(server)
                            html_wall.append(wall)
                            server, wall = _get(client, path + "data" + query, headers)
                            data.append(server)
                            data_wall.append(wall)
                        worst = max(
                            worst,
                            sorted(html_wall)[round(0.95 * (RUNS - 1))],
                            sorted(data_wall)[round(0.95 * (RUNS - 1))],
                        )
                        print(
                            f"  {range_:>5} {name:<8} cold {cold_wall * 1000:6.0f} ms |"
                            f" HTML server {_stats(html)}, request {_stats(html_wall)} |"
                            f" data server {_stats(data)}, request {_stats(data_wall)}"
                        )
                print(f"  worst p95 of any page or data call (request): {worst * 1000:.0f} ms")
        finally:
            stop_replica(process)


if __name__ == "__main__":
    main()
