"""The energy job's work for one site and a month: how long ``energy_analysis`` takes.

One site with 6 injection moulding machines (7 tags each, a state changing every few
minutes) and a main meter (power and energy counter), 1-minute samples: the meter for
the 30 days analysed and the 28 days of baseline before them, the machines for the 30
days (1.9 M points in a tenant's SQLite store). One machine is a configured shiftable
load. Timed: ``run_energy_analysis`` as the job calls it (read, KPIs, baseline, idle
waste of every machine, output, next-day advice, the row stored), best of ``RUNS``, and
each part once. Run alone: ``.venv/bin/python -m bench.energy_job_bench``.
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path

from analytics.energy.analysis_params import EnergyAnalysisParams
from analytics.energy.jobs import run_energy_analysis
from cloud.timeparams import format_instant
from historian import Point, SeriesKey
from historian.open import open_historian
from tenants.asset_onboarding import AssetOnboarding, onboard_asset
from tenants.db import make_engine, session_factory, upgrade
from tenants.onboarding import create_tenant, ensure_default_plans

SITE, LINE, UTILITIES = "bench-site", "moulding", "utilities"
MACHINES = 6
DAYS, BASELINE_DAYS = 30, 28
STEP_S = 60
RUNS = 3
STATES = ("running", "idle", "alarm", "setup")
SHIFTABLE = {"power_kw": 40, "duration_min": 120, "earliest": "08:00", "latest_end": "20:00"}
NS = 1_000_000_000


def _write(path: Path, end_ns: int) -> int:
    rng = random.Random(7)
    steps = (DAYS + BASELINE_DAYS) * 86400 // STEP_S
    machine_from = BASELINE_DAYS * 86400 // STEP_S
    start_ns = end_ns - steps * STEP_S * NS
    historian = open_historian(f"sqlite:{path}")
    states, shots, energy, written = ["running"] * MACHINES, [0] * MACHINES, 90_000.0, 0
    try:
        for chunk in range(0, steps, 1440):
            batch: list[Point] = []
            for step in range(chunk, min(chunk + 1440, steps)):
                ts = start_ns + step * STEP_S * NS
                plant_kw = 20.0 + (15.0 if 8 <= (step // 60) % 24 < 20 else 0.0)
                for m in range(MACHINES):
                    if rng.random() < 0.08:
                        states[m] = rng.choices(STATES, weights=[6, 2, 1, 0.3])[0]
                    running = states[m] == "running"
                    shots[m] += rng.randint(5, 6) if running else 0
                    kw = 40.0 + rng.gauss(0, 1.5) if running else 8.5
                    plant_kw += kw
                    if step < machine_from:
                        continue
                    key = f"IMM-{m + 1:02d}"
                    values = {
                        "state": states[m],
                        "shot_count": shots[m],
                        "cycle_time": round(rng.gauss(10.5, 0.4), 2),
                        "power_kw": round(kw, 2),
                        "melt_temp": round(rng.gauss(231, 2.5), 2),
                        "mould_temp": round(rng.gauss(47 if running else 30, 1.5), 2),
                        "injection_pressure": round(rng.uniform(0, 1300) if running else 0, 1),
                    }
                    batch += [
                        Point(SeriesKey(SITE, LINE, key, t), ts, v) for t, v in values.items()
                    ]
                energy += plant_kw * STEP_S / 3600
                meter = {"active_power_kw": round(plant_kw, 2), "energy_kwh": round(energy, 3)}
                batch += [Point(SeriesKey(SITE, UTILITIES, "meter-main", t), ts, v)
                          for t, v in meter.items()]  # fmt: skip
            written += historian.write(batch)
    finally:
        historian.close()
    return written


def main() -> None:
    print(
        f"energy job: one site, {MACHINES} machines x 7 tags + a meter, {DAYS} days of"
        f" 1-minute data analysed (+ {BASELINE_DAYS} days of meter history), SQLite:"
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        metadata = f"sqlite:///{folder / 'meta.db'}"
        upgrade(metadata)
        engine = make_engine(metadata)
        sessions = session_factory(engine)
        with sessions() as session:
            ensure_default_plans(session)
            tenant = create_tenant(session, "bench-energy", "Bench", "enterprise", "bench")
            for m in range(MACHINES):
                attributes = {"shiftable_load": SHIFTABLE} if m == 0 else {}
                request = AssetOnboarding(site=SITE, line=LINE, asset=f"IMM-{m + 1:02d}",
                                          template="injection_moulding_machine",
                                          attributes=attributes)  # fmt: skip
                onboard_asset(session, tenant, request, "bench")
            meter = AssetOnboarding(site=SITE, line=UTILITIES, asset="meter-main",
                                    template="power_meter")  # fmt: skip
            onboard_asset(session, tenant, meter, "bench")
            session.commit()
            tenant_id = tenant.id
        # Whole minutes, as the edge agent's clock-aligned polls are.
        end_ns = time.time_ns() // (60 * NS) * 60 * NS
        started = time.perf_counter()
        points = _write(folder / "series.db", end_ns)
        print(f"  wrote {points:,} points in {time.perf_counter() - started:.1f} s")
        params = EnergyAnalysisParams(
            start=format_instant(end_ns - DAYS * 86400 * NS), end=format_instant(end_ns)
        )
        historian = open_historian(f"sqlite:{folder / 'series.db'}")
        try:
            best, parts, result = float("inf"), {}, None
            for _ in range(RUNS):
                stamps: list[tuple[str, float]] = []

                def progress(done: int, total: int, message: str, marks=stamps) -> None:
                    marks.append((message, time.perf_counter()))

                with sessions() as session:
                    started = time.perf_counter()
                    results, _summaries = run_energy_analysis(
                        session, historian, tenant_id, params, created_by="bench",
                        progress=progress,
                    )  # fmt: skip
                    session.commit()
                    seconds = time.perf_counter() - started
                if seconds < best:
                    best, result = seconds, results[0]
                    parts = {
                        stamps[i][0].split(": ", 1)[-1]: stamps[i + 1][1] - stamps[i][1]
                        for i in range(len(stamps) - 1)
                    }
        finally:
            historian.close()
            engine.dispose()
    assert result is not None
    print(f"  run_energy_analysis, best of {RUNS}: {best:.2f} s")
    print("  parts: " + ", ".join(f"{name} {s:.2f} s" for name, s in parts.items()))
    anomalies, advice = result["anomalies"], result["advice"]
    print(
        f"  found: {result['kpis']['kwh']:,.0f} kWh, {anomalies['count']} anomalies costing"
        f" {anomalies['cost']:,.2f} CNY, baseline CV(RMSE) {result['baseline']['range']['cv_rmse']}"
        f" %, advice saving {advice.get('saving')} CNY ({advice.get('method')})"
    )


if __name__ == "__main__":
    main()
