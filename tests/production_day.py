"""A hand-made production day for the KPI tests, written into a real historian.

Site ``test-site``, 2026-03-02 in Asia/Shanghai, one day shift 08:00-16:00 with a break
12:00-12:30. Times below are local.

IMM-01 (line ``moulding``): an edge agent polls every 10 s; string states.

    08:00-10:00 running      10:00-10:30 alarm        10:30-11:00 idle
    11:00-12:00 running      12:00-12:30 idle (break) 12:30-15:00 running
    15:00-15:15 alarm        15:15-16:00 running
    The agent is offline 14:00:00-14:20:00 (no samples of any tag; the machine runs on).

    A part completes every 12 s of running (at S+12, S+24, ... in a stretch from S); the
    uint32 shot counter starts at 2**32-250 (wraps at 08:50:00) and an operator resets it
    to 0 at 13:00:05. Scrap counter: 0, 5 from 09:30, 12 from 11:30, 20 from 15:30.
    cycle_time shows the last part's time, cycling 11.5, 12.0, 12.5 s by part number.
    power_kw is 40 while running, 5 otherwise.

ST-01 (line ``assembly``): integer states reported by exception only (no heartbeat):

    07:30 -> 1 running, 09:00 -> 4 fault, 09:20 -> 1, 12:00 -> 0 stopped (in the break),
    12:30 -> 1, 14:00 -> 3 starved, 14:10 -> 1, 16:00 -> 0
    cycle_count: 07:50 5000, 08:30 5045, 09:00 5090, 10:00 5130, 11:00 5220, 12:00 5310,
                 13:00 5345, 14:00 5480, 15:00 5570, 15:50 5645
    bad_parts:   07:50 10, 11:00 12, 15:50 15
"""

from __future__ import annotations

from datetime import datetime, time

from analytics.production import (
    AssetSignals,
    Break,
    LineSpec,
    ProductionPlan,
    Shift,
    ShiftCalendar,
    SiteSpec,
    to_ns,
)
from historian import Historian, Point, SeriesKey

SITE = "test-site"
CALENDAR = ShiftCalendar(
    "Asia/Shanghai", (Shift("day", time(8), time(16), (Break(time(12), time(12, 30), "lunch"),)),)
)
S = 1_000_000_000
PART_S = 12
WRAP = 2**32
COUNTER_START = WRAP - 250
RESET_AT_S = 5 * 3600 + 5  # 13:00:05, in seconds after 08:00
OFFLINE_S = (6 * 3600, 6 * 3600 + 1200)  # 14:00:00-14:20:00
# IMM-01's running stretches, seconds after 08:00.
RUNNING = ((0, 7200), (10800, 14400), (16200, 25200), (26100, 28800))
ALARMS = ((7200, 9000), (25200, 26100))
PATTERN = (11.5, 12.0, 12.5)


def at(hour: int, minute: int = 0, second: int = 0) -> int:
    """UTC ns of a local time on the test day."""
    return to_ns(datetime(2026, 3, 2, hour, minute, second, tzinfo=CALENDAR.zone))


DAY_START, DAY_END = at(8), at(16)


def parts_made(t: int) -> int:
    """IMM-01's parts completed at or before ``t`` seconds after 08:00."""
    total = 0
    for start, end in RUNNING:
        if t > start:
            total += (min(t, end) - start) // PART_S
    return total


def imm_state(t: int) -> str:
    if any(a <= t < b for a, b in RUNNING):
        return "running"
    if any(a <= t < b for a, b in ALARMS):
        return "alarm"
    return "idle"


def imm_signals(**overrides: object) -> AssetSignals:
    options: dict[str, object] = {
        "state_tag": "state",
        "states": {
            "running": {"category": "producing", "reason": "producing parts"},
            "idle": {"category": "idle", "reason": "waiting"},
            "alarm": {"category": "down", "reason": "machine alarm"},
        },
        "count_total_tag": "shot_count",
        "count_scrap_tag": "bad_shots",
        "cycle_time_tag": "cycle_time",
        "power_kw_tag": "power_kw",
        "ideal_cycle_time_s": 10.0,
        "counter_modulus": WRAP,
        "max_gap_s": 10.0,  # the poll interval: silence longer than one poll is unknown
    }
    options.update(overrides)
    return AssetSignals(SITE, "moulding", "IMM-01", **options)  # type: ignore[arg-type]


def station_signals(**overrides: object) -> AssetSignals:
    options: dict[str, object] = {
        "state_tag": "state",
        "states": {
            0: {"category": "planned_stop", "reason": "stopped by the operator"},
            1: {"category": "producing", "reason": "running"},
            2: {"category": "idle", "reason": "blocked"},
            3: {"category": "idle", "reason": "starved"},
            4: {"category": "down", "reason": "station fault"},
        },
        "count_total_tag": "cycle_count",
        "count_scrap_tag": "bad_parts",
        "ideal_cycle_time_s": 30.0,
        "counter_modulus": WRAP,
        "max_gap_s": None,  # by exception, no heartbeat: a state holds until the next
    }
    options.update(overrides)
    return AssetSignals(SITE, "assembly", "ST-01", **options)  # type: ignore[arg-type]


def site_spec() -> SiteSpec:
    return SiteSpec(
        SITE,
        (
            LineSpec("moulding", (imm_signals(),), plan=ProductionPlan(per_hour=300)),
            LineSpec(
                "assembly",
                (station_signals(),),
                output_asset="ST-01",
                plan=ProductionPlan(per_shift={"day": 700}),
            ),
        ),
    )


def imm_points() -> list[Point]:
    def key(tag: str) -> SeriesKey:
        return SeriesKey(SITE, "moulding", "IMM-01", tag)

    points = []
    reset_base = parts_made(RESET_AT_S)
    for t in range(0, 8 * 3600, 10):
        if OFFLINE_S[0] <= t < OFFLINE_S[1]:
            continue
        ts = DAY_START + t * S
        made = parts_made(t)
        counter = (COUNTER_START + made) % WRAP if t < RESET_AT_S else made - reset_base
        scrap = 0 if t < 5400 else 5 if t < 12600 else 12 if t < 27000 else 20
        state = imm_state(t)
        points += [
            Point(key("state"), ts, state),
            Point(key("shot_count"), ts, counter),
            Point(key("bad_shots"), ts, scrap),
            Point(key("cycle_time"), ts, PATTERN[made % 3]),
            Point(key("power_kw"), ts, 40.0 if state == "running" else 5.0),
        ]
    return points


def station_points() -> list[Point]:
    def key(tag: str) -> SeriesKey:
        return SeriesKey(SITE, "assembly", "ST-01", tag)

    states = [((7, 30), 1), ((9, 0), 4), ((9, 20), 1), ((12, 0), 0), ((12, 30), 1),
              ((14, 0), 3), ((14, 10), 1), ((16, 0), 0)]  # fmt: skip
    counts = [((7, 50), 5000), ((8, 30), 5045), ((9, 0), 5090), ((10, 0), 5130),
              ((11, 0), 5220), ((12, 0), 5310), ((13, 0), 5345), ((14, 0), 5480),
              ((15, 0), 5570), ((15, 50), 5645)]  # fmt: skip
    bad = [((7, 50), 10), ((11, 0), 12), ((15, 50), 15)]
    return (
        [Point(key("state"), at(*hm), v) for hm, v in states]
        + [Point(key("cycle_count"), at(*hm), v) for hm, v in counts]
        + [Point(key("bad_parts"), at(*hm), v) for hm, v in bad]
    )


def write_day(historian: Historian) -> None:
    historian.write(imm_points() + station_points())
