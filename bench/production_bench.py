"""Production KPIs: time to compute a site's report (whole range, per shift, per hour)
from a month of 1-minute data in the embedded historian, split into read and compute.

Issue 6 asks pages to load in under a second with a month of 1-minute data for one site;
this is the part of a page's time that the KPIs cost."""

from __future__ import annotations

import random
import tempfile
import time
from datetime import datetime
from datetime import time as clock
from pathlib import Path

from analytics.production import (
    AssetSignals,
    Break,
    LineSpec,
    ProductionPlan,
    Shift,
    ShiftCalendar,
    SiteSpec,
    asset_kpis,
    merge_periods,
    production_report,
    read_asset_history,
    to_ns,
)
from bench.timing import best_of
from historian import Point, SeriesKey
from historian.sqlite_store import SqliteHistorian

SITE, LINE = "bench-site", "moulding"
MACHINES = 6
DAYS = 30
STEP_S = 60
CALENDAR = ShiftCalendar(
    "Asia/Shanghai",
    (
        Shift("day", clock(8), clock(20), (Break(clock(12), clock(13), "lunch"),)),
        Shift("night", clock(20), clock(8), (Break(clock(0), clock(0, 30), "meal"),)),
    ),
)
STATES = {
    "running": {"category": "producing", "reason": "producing parts"},
    "idle": {"category": "idle", "reason": "waiting"},
    "alarm": {"category": "down", "reason": "machine alarm"},
    "setup": {"category": "planned_stop", "reason": "mould change"},
}


def _write_month(historian: SqliteHistorian, start_ns: int) -> int:
    """Each machine: a state that changes every few minutes, a part counter, a scrap
    counter, a cycle time and power, sampled every minute."""
    rng = random.Random(7)
    written = 0
    for m in range(MACHINES):
        asset = f"IMM-{m + 1:02d}"

        def key(tag: str, asset: str = asset) -> SeriesKey:
            return SeriesKey(SITE, LINE, asset, tag)

        state, shots, scrap, batch = "running", 0, 0, []
        for step in range(DAYS * 86400 // STEP_S):
            if rng.random() < 0.08:
                state = rng.choices(list(STATES), weights=[6, 2, 1, 0.3])[0]
            if state == "running":
                shots += rng.randint(5, 6)
                scrap += 1 if rng.random() < 0.05 else 0
            ts = start_ns + step * STEP_S * 1_000_000_000
            batch += [
                Point(key("state"), ts, state),
                Point(key("shot_count"), ts, shots),
                Point(key("bad_shots"), ts, scrap),
                Point(key("cycle_time"), ts, round(rng.gauss(10.5, 0.4), 2)),
                Point(key("power_kw"), ts, 40.0 if state == "running" else 6.0),
            ]
        written += historian.write(batch)
    return written


def _site() -> SiteSpec:
    machines = tuple(
        AssetSignals(SITE, LINE, f"IMM-{m + 1:02d}", "state", STATES,
                     count_total_tag="shot_count", count_scrap_tag="bad_shots",
                     cycle_time_tag="cycle_time", power_kw_tag="power_kw",
                     ideal_cycle_time_s=8.0, max_gap_s=3 * STEP_S)
        for m in range(MACHINES)
    )  # fmt: skip
    plan = ProductionPlan(per_shift={"day": 24000, "night": 24000})
    return SiteSpec(SITE, (LineSpec(LINE, machines, plan=plan),))


def main() -> None:
    start = to_ns(datetime(2026, 3, 1, tzinfo=CALENDAR.zone))
    end = start + DAYS * 86400 * 1_000_000_000
    site = _site()
    with tempfile.TemporaryDirectory() as tmp:
        historian = SqliteHistorian(Path(tmp) / "month.db")
        points = _write_month(historian, start)
        print(
            f"production KPIs, {MACHINES} machines x 5 tags, {DAYS} days of 1-minute data"
            f" ({points:,} points, SQLite):"
        )
        for label, range_end in (("one day", start + 86400 * 1_000_000_000), ("month", end)):
            full = best_of(3, lambda e=range_end: production_report(historian, site, CALENDAR,
                                                                    start, e))  # fmt: skip
            started = time.perf_counter()
            histories = [
                read_asset_history(historian, s, CALENDAR, start, range_end)
                for s in site.lines[0].assets
            ]
            read_s = time.perf_counter() - started
            whole_s = best_of(3, lambda h=histories: [asset_kpis(x) for x in h])
            report = production_report(historian, site, CALENDAR, start, range_end)
            print(
                f"  {label:<8} report (whole + {len(report.by_shift)} shifts +"
                f" {len(report.by_hour)} hours): {full * 1000:7.0f} ms;"
                f" of which reading {read_s * 1000:6.0f} ms;"
                f" whole-range KPIs from read data {whole_s * 1000:5.1f} ms"
            )
            if label == "month":
                hours = report.trend("hour", line=LINE)
                merge_s = best_of(3, lambda h=hours: merge_periods(h, "month"))
                print(
                    f"  month from {len(hours)} cached hourly line KPIs (merge_periods):"
                    f" {merge_s * 1000:6.1f} ms"
                )
        historian.close()


if __name__ == "__main__":
    main()
