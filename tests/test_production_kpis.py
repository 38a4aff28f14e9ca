"""Production KPIs (ISO 22400-2) on a hand-made day in real historians (SQLite and influxd),
edge cases, and a run on the plant simulators' own signals."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, time
from pathlib import Path

import pytest

from analytics.production import (
    AssetSignals,
    Break,
    LineSpec,
    Period,
    ProductionKpis,
    ProductionPlan,
    Shift,
    ShiftCalendar,
    SiteReport,
    SiteSpec,
    StateCategory,
    asset_kpis,
    current_state,
    merge_periods,
    production_report,
    read_asset_history,
    roll_up,
    state_key,
    to_ns,
)
from analytics.production.asset_history import counter_series
from historian import Historian, Point, SeriesKey
from historian.influxdb_v1 import InfluxV1Historian
from historian.sqlite_store import SqliteHistorian
from protocols.simulators.plants import APPLIANCE, MOLD
from tests.fixtures_influxd import InfluxdServer
from tests.production_day import (
    CALENDAR,
    DAY_END,
    DAY_START,
    SITE,
    WRAP,
    at,
    imm_signals,
    site_spec,
    station_signals,
    write_day,
)

approx = pytest.approx


@pytest.fixture(params=["sqlite", "influxdb"])
def historian(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Historian]:
    if request.param == "sqlite":
        store: Historian = SqliteHistorian(tmp_path / "h.db")
    else:
        server: InfluxdServer = request.getfixturevalue("influxd")
        store = InfluxV1Historian(server.url, server.new_database())
    yield store
    store.close()


@pytest.fixture
def day(historian: Historian) -> SiteReport:
    write_day(historian)
    return production_report(historian, site_spec(), CALENDAR, DAY_START, DAY_END)


# --- the hand-worked day (see tests/production_day.py for the story) --------------------


def test_moulding_machine_day_by_hand(day: SiteReport) -> None:
    imm = day.whole.assets["moulding/IMM-01"]
    # Times: the shift is 8 h; the lunch break is planned; 14:00-14:20 has no data.
    assert imm.pot_s == 8 * 3600
    assert imm.planned_break_s == 1800 and imm.planned_stop_s == 0
    assert imm.pbt_s == 27000
    assert imm.apt_s == 7200 + 3600 + 5400 + 2400 + 2700  # running, minus the gap
    assert imm.adet_s == 1800 + 900  # two alarms
    assert imm.adot_s == 1800  # idle 10:30-11:00
    assert imm.unknown_s == 1200
    assert imm.apt_s + imm.adet_s + imm.adot_s + imm.unknown_s == imm.pbt_s
    assert imm.data_coverage == approx(25800 / 27000)
    # Parts: 600 + 300 + 750 + 225 were made, but the one at 16:00:00 is seen by the
    # 16:00:00 sample, which belongs to the next period. The wrap at 08:50 and the reset
    # at 13:00:05 (between the 13:00:00 and 13:00:10 samples, no part in between) lose
    # nothing. 101 parts (14:00:00 ... 14:20:00) arrive with the first sample after the gap.
    assert imm.pq == 1874
    assert imm.pq_across_gaps == 101
    assert imm.sq == 20 and imm.gq == 1854
    assert any("wrapped around 1 time" in n for n in imm.notes)
    assert any("reset 1 time" in n for n in imm.notes)
    assert any("101 units were counted across data gaps" in n for n in imm.notes)
    assert any("1200 s of planned busy time had no usable state data" in n for n in imm.notes)
    # Ratios.
    assert imm.availability == approx(21300 / 27000)
    assert imm.effectiveness == approx(10 * 1874 / 21300)
    assert imm.quality == approx(1854 / 1874)
    assert imm.oee == approx(10 * 1854 / 27000)  # = A x E x Q = PRI x GQ / PBT
    assert imm.technical_efficiency == approx(21300 / (21300 + 2700))
    assert imm.scrap_rate == approx(20 / 1874)
    # Energy: 40 kW for the 21,300 s of production, 5 kW for the 6,300 s of alarm,
    # idle and break; nothing for the gap.
    assert imm.energy_kwh == approx((21300 * 40 + 6300 * 5) / 3600)
    assert imm.energy_per_unit_kwh == approx((21300 * 40 + 6300 * 5) / 3600 / 1874)


def test_downtime_pareto_and_stops_by_hand(day: SiteReport) -> None:
    imm = day.whole.assets["moulding/IMM-01"]
    pareto = imm.downtime_pareto()
    assert [(b.category, b.reason, b.duration_s, b.count) for b in pareto] == [
        ("down", "machine alarm", 2700, 2),
        ("idle", "waiting", 1800, 1),
    ]
    assert pareto[0].cumulative_share == approx(2700 / 4500)
    assert pareto[-1].cumulative_share == approx(1.0)
    assert sum(b.duration_s for b in pareto) == imm.downtime_s == 4500
    stops = {(s.category, s.reason): (s.duration_s, s.count) for s in imm.stops}
    assert stops[("break", "lunch")] == (1800, 1)
    assert stops[("unknown", "no data")] == (1200, 1)


def test_cycle_time_distribution_by_hand(day: SiteReport) -> None:
    cycles = day.whole.assets["moulding/IMM-01"].cycle_times
    assert cycles is not None and cycles.ideal_s == 10.0
    # Every part's time is seen once (samples every 10 s, parts every 12 s), except the
    # 100 parts made and overwritten during the gap (part numbers 1350-1449) and the
    # part at 16:00. Part n shows 11.5, 12.0, 12.5 for n % 3 = 0, 1, 2: of parts
    # 1..1874, 624, 625, 625; of 1350..1449, 34, 33, 33.
    assert cycles.n == 1874 - 100
    edges, counts = cycles.histogram([11.25, 11.75, 12.25, 12.75])
    assert edges == [11.25, 11.75, 12.25, 12.75]
    assert counts == [624 - 34, 625 - 33, 625 - 33]
    assert cycles.min_s == 11.5 and cycles.max_s == 12.5


def test_station_by_exception_with_lookback_by_hand(day: SiteReport) -> None:
    st = day.whole.assets["assembly/ST-01"]
    # Running since 07:30 (before the period: the last state before 08:00 is used).
    assert st.apt_s == 3600 + 9600 + 5400 + 6600
    assert st.adet_s == 1200  # fault 09:00-09:20
    assert st.adot_s == 600  # starved 14:00-14:10
    assert st.planned_break_s == 1800  # state 0 inside the break is the break
    assert st.planned_stop_s == 0 and st.unknown_s == 0
    # Counts since the 07:50 sample: what the 08:30 sample saw is this period's.
    assert st.pq == 5645 - 5000
    assert st.sq == 15 - 10
    assert st.availability == approx(25200 / 27000)
    assert st.effectiveness == approx(30 * 645 / 25200)
    assert st.quality == approx(640 / 645)
    assert st.oee == approx(st.availability * st.effectiveness * st.quality)
    assert [(b.reason, b.duration_s, b.count) for b in st.downtime_pareto()] == [
        ("station fault", 1200, 1),
        ("starved", 600, 1),
    ]


def test_lines_and_site_roll_up_from_sums(day: SiteReport) -> None:
    moulding, assembly = day.whole.lines["moulding"], day.whole.lines["assembly"]
    # Plans: 300 units per planned hour x 7.5 h; 700 per day shift.
    assert moulding.planned_quantity == approx(2250)
    assert moulding.output_quantity == 1854
    assert moulding.plan_attainment == approx(1854 / 2250)
    assert assembly.planned_quantity == approx(700)
    assert assembly.output_quantity == 640
    site = day.whole.site
    assert site.planned_quantity == approx(2950)
    assert site.output_quantity == 1854 + 640
    assert site.apt_s == 21300 + 25200 and site.pbt_s == 54000
    assert site.availability == approx(46500 / 54000)
    assert site.effectiveness == approx((10 * 1874 + 30 * 645) / 46500)
    assert site.quality == approx((1854 + 640) / (1874 + 645))
    assert site.oee == approx(site.availability * site.effectiveness * site.quality)
    # The sum-based roll-up differs from the mean of the assets' ratios.
    imm, st = day.whole.assets["moulding/IMM-01"], day.whole.assets["assembly/ST-01"]
    assert site.effectiveness != approx((imm.effectiveness + st.effectiveness) / 2)
    pareto = {b.reason: b.duration_s for b in site.downtime_pareto()}
    assert pareto == {"machine alarm": 2700, "waiting": 1800, "station fault": 1200,
                      "starved": 600}  # fmt: skip
    assert sum(pareto.values()) == site.downtime_s


def test_hours_and_shifts_add_up_to_the_day(day: SiteReport) -> None:
    hours = day.trend("hour", line="moulding", asset="IMM-01")
    assert [h.period.label for h in hours][:2] == ["2026-03-02 08:00", "2026-03-02 09:00"]
    assert len(hours) == 8
    whole = day.whole.assets["moulding/IMM-01"]
    for attr in ("apt_s", "adet_s", "adot_s", "unknown_s", "pbt_s", "pq", "sq"):
        assert sum(getattr(h, attr) for h in hours) == approx(getattr(whole, attr)), attr
    # A stop spanning an hour boundary is counted once, where it starts.
    counts: dict[str, int] = {}
    for h in hours:
        for b in h.downtime_pareto():
            counts[b.reason] = counts.get(b.reason, 0) + b.count
    assert counts == {b.reason: b.count for b in whole.downtime_pareto()}
    # 08:00: parts 1..299 (the 300th completes at 09:00:00); the counter wrapped at 08:50.
    first = hours[0]
    assert first.apt_s == 3600 and first.pq == 299
    assert any("wrapped" in n for n in first.notes)
    # 14:00: 20 min of gap, then running; the 101 parts of the gap land here, so
    # effectiveness reads 10 x 300 / 2400 = 1.25 and a note says why.
    gap_hour = hours[6]
    assert gap_hour.unknown_s == 1200 and gap_hour.apt_s == 2400
    assert gap_hour.pq == 300
    assert gap_hour.effectiveness == approx(1.25)
    assert any("effectiveness above 1" in n for n in gap_hour.notes)
    # Plans per hour: 300 in a working hour, 150 in the hour with the half-hour break.
    plans = [h.planned_quantity for h in day.trend("hour", line="moulding")]
    assert plans == approx([300, 300, 300, 300, 150, 300, 300, 300])
    shifts = day.trend("shift")
    assert [s.period.label for s in shifts] == ["2026-03-02 day"]
    assert shifts[0].oee == approx(day.whole.site.oee)


def test_hours_merge_into_the_day(day: SiteReport) -> None:
    # What a page does with cached closed hours: merge them instead of re-reading.
    for hours, whole in (
        (day.trend("hour"), day.whole.site),
        (day.trend("hour", line="assembly"), day.whole.lines["assembly"]),
    ):
        merged = merge_periods(hours, "the day")
        assert (merged.period.start_ns, merged.period.end_ns) == (DAY_START, DAY_END)
        for attr in ("apt_s", "pbt_s", "downtime_s", "pq", "sq", "output_quantity",
                     "planned_quantity", "oee", "availability", "effectiveness", "quality"):  # fmt: skip
            assert getattr(merged, attr) == approx(getattr(whole, attr)), attr
        assert merged.downtime_pareto() == whole.downtime_pareto()
    with pytest.raises(ValueError, match="not consecutive"):
        merge_periods([day.trend("hour")[0], day.trend("hour")[2]], "x")
    with pytest.raises(ValueError, match="one scope only"):
        merge_periods([day.whole.site, day.whole.lines["assembly"]], "x")


def test_results_serialise_to_json(day: SiteReport) -> None:
    data = json.loads(json.dumps(day.whole.lines["moulding"].as_dict()))
    assert data["kpis"]["oee"] == approx(10 * 1854 / 27000)
    assert data["times_s"]["pbt"] == 27000
    assert data["period"]["start"] == "2026-03-02T08:00:00+08:00"
    assert [b["reason"] for b in data["downtime_pareto"]] == ["machine alarm", "waiting"]
    assert data["cycle_times"]["n"] == 1774


def test_partial_period_spreads_plan_and_marks_partial(historian: Historian) -> None:
    write_day(historian)
    report = production_report(historian, site_spec(), CALENDAR, at(8), at(13))
    shift = report.by_shift[0]
    assert shift.period.partial
    # 4.5 of the shift's 7.5 planned hours: 700 x 4.5 / 7.5.
    assert shift.lines["assembly"].planned_quantity == approx(420)
    assert report.by_hour[-1].period.label == "2026-03-02 12:00"


# --- edge cases ------------------------------------------------------------------------


def test_empty_period(historian: Historian) -> None:
    write_day(historian)
    report = production_report(historian, site_spec(), CALENDAR, at(9, 15), at(9, 15))
    site = report.whole.site
    assert site.pbt_s == 0 and site.pq == 0
    assert site.availability is None and site.effectiveness is None
    assert site.quality is None and site.oee is None
    assert any("empty period" in n for n in site.notes)
    assert report.by_hour == () and report.by_shift == ()


def test_period_without_data(historian: Historian) -> None:
    write_day(historian)
    next_day = at(8) + 86400 * 1_000_000_000
    history = read_asset_history(
        historian, imm_signals(), CALENDAR, next_day, next_day + 3600 * 10**9
    )
    kpis = asset_kpis(history)
    assert kpis.unknown_s == kpis.pbt_s == 3600
    assert kpis.availability is None and kpis.oee is None  # no data is not 0 % OEE
    assert kpis.data_coverage == 0


def test_all_down(historian: Historian) -> None:
    key = SeriesKey(SITE, "moulding", "IMM-09", "state")
    count = SeriesKey(SITE, "moulding", "IMM-09", "shot_count")
    historian.write([Point(key, at(7), "alarm"), Point(count, at(7), 10), Point(count, at(15), 10)])
    signals = AssetSignals(
        SITE, "moulding", "IMM-09", "state", imm_signals().states,
        count_total_tag="shot_count", ideal_cycle_time_s=10.0, max_gap_s=None,
    )  # fmt: skip
    kpis = asset_kpis(read_asset_history(historian, signals, CALENDAR, DAY_START, DAY_END))
    assert kpis.apt_s == 0 and kpis.adet_s == 27000 and kpis.pq == 0
    assert kpis.availability == 0
    assert kpis.effectiveness is None and kpis.quality is None
    assert kpis.oee == 0
    assert [(b.reason, b.duration_s, b.count) for b in kpis.downtime_pareto()] == [
        ("machine alarm", 27000, 1)
    ]
    assert any("no production time" in n for n in kpis.notes)


def test_no_ideal_cycle_time(historian: Historian) -> None:
    write_day(historian)
    signals = imm_signals(ideal_cycle_time_s=None)
    kpis = asset_kpis(read_asset_history(historian, signals, CALENDAR, DAY_START, DAY_END))
    assert kpis.availability == approx(21300 / 27000)
    assert kpis.quality == approx(1854 / 1874)
    assert kpis.effectiveness is None and kpis.oee is None
    assert any("effectiveness not computed: no ideal cycle time" in n for n in kpis.notes)
    # A line with such an asset cannot have an effectiveness either, and says whose.
    station = asset_kpis(
        read_asset_history(historian, station_signals(), CALENDAR, DAY_START, DAY_END)
    )
    line = roll_up("line", "test-site/mixed", "mixed", [kpis, station])
    assert line.effectiveness is None and line.availability is not None
    assert "effectiveness not computed: no ideal cycle time or count for IMM-01" in line.notes
    assert "energy not summed: no power or energy tag for ST-01" in line.notes


def test_unmapped_state_value_is_unknown_time(historian: Historian) -> None:
    key = SeriesKey(SITE, "moulding", "IMM-07", "state")
    historian.write([Point(key, at(8), "running"), Point(key, at(9), "setup-mode")])
    signals = AssetSignals(SITE, "moulding", "IMM-07", "state", imm_signals().states,
                           max_gap_s=None)  # fmt: skip
    kpis = asset_kpis(read_asset_history(historian, signals, CALENDAR, at(8), at(10)))
    assert kpis.apt_s == 3600 and kpis.unknown_s == 3600
    assert any("unmapped state value 'setup-mode'" in n for n in kpis.notes)


def test_counter_wrap_and_reset_rules() -> None:
    def incs(values: list[int], modulus: int | None) -> tuple[list[float], int, int]:
        series = counter_series(list(enumerate(values)), 0, modulus, None)
        return series.increments, len(series.wraps), len(series.resets)

    # Near the top, then near zero: a wrap when the modulus is known.
    assert incs([WRAP - 3, WRAP - 1, 2], WRAP) == ([2, 3], 1, 0)
    # Without a modulus every decrease is a reset: counting goes on from the new value.
    assert incs([WRAP - 3, WRAP - 1, 2], None) == ([2, 2], 0, 1)
    # Far from the top a decrease is a reset even with a modulus.
    assert incs([500, 510, 4, 9], WRAP) == ([10, 4, 5], 0, 1)
    # Text in a counter is skipped, not summed.
    series = counter_series([(0, 1), (1, "x"), (2, 3)], 0, None, None)  # type: ignore[list-item]
    assert series.increments == [2] and series.rejected == 1


def test_state_codes_in_any_spelling() -> None:
    assert state_key(1) == state_key(1.0) == state_key(True) == "1"
    assert state_key("running") == "running"
    signals = station_signals()
    assert signals.meaning(4.0).category is StateCategory.DOWN  # type: ignore[union-attr]
    assert signals.meaning(9) is None


def test_signals_from_the_asset_model_templates() -> None:
    # The asset model's templates (tenants/asset_templates) carry the roles and state maps.
    from tenants.asset_model import state_value_key
    from tenants.asset_templates import shipped_templates

    template = shipped_templates()["assembly_station"]
    roles = {t.role.value: t.key for t in template.tags if t.role is not None}
    states = next(t.states for t in template.tags if t.role is not None and t.states)
    signals = AssetSignals.from_roles(
        "s", "l", "ST-01", roles,
        {raw: s.model_dump(mode="json") for raw, s in states.items()},
        ideal_cycle_time_s=template.attributes["ideal_cycle_time_s"],
    )  # fmt: skip
    assert signals.count_total_tag == "cycle_count" and signals.count_scrap_tag == "bad_parts"
    assert signals.meaning(4).category is StateCategory.DOWN  # type: ignore[union-attr]
    for value in (0, 1, 2.0, True, "idle"):
        assert state_key(value) == state_value_key(value)


def test_bad_inputs_say_what_and_where() -> None:
    with pytest.raises(ValueError, match=r"IMM-01: state category 'broken' is not one of"):
        imm_signals(states={"x": {"category": "broken", "reason": "?"}})
    with pytest.raises(ValueError, match="ideal_cycle_time_s must be a positive number"):
        imm_signals(ideal_cycle_time_s=0)
    with pytest.raises(ValueError, match="not an IANA time zone"):
        ShiftCalendar("Mars/Olympus", (Shift("day", time(8), time(16)),))
    with pytest.raises(ValueError, match="shifts overlap"):
        ShiftCalendar(
            "Asia/Shanghai", (Shift("a", time(6), time(14)), Shift("b", time(13), time(22)))
        )
    with pytest.raises(ValueError, match="break 'tea' 17:00-17:15 does not lie inside"):
        Shift("day", time(8), time(16), (Break(time(17), time(17, 15), "tea"),))
    with pytest.raises(ValueError, match="exactly one of per_shift and per_hour"):
        ProductionPlan()
    with pytest.raises(ValueError, match="no quantity for shift 'day'"):
        ProductionPlan(per_shift={"night": 10}).planned_quantity(CALENDAR, DAY_START, DAY_END)
    with pytest.raises(ValueError, match="output_asset 'ST-09' is not one of its assets"):
        LineSpec("assembly", (station_signals(),), output_asset="ST-09")
    with pytest.raises(ValueError, match="asset 'ST-01' of line 'assembly' belongs to site"):
        SiteSpec("elsewhere", (LineSpec("assembly", (station_signals(),)),))
    with pytest.raises(ValueError, match="no tag has role 'state'"):
        AssetSignals.from_roles("s", "l", "a", {"count_total": "n"}, {})


def test_period_outside_history_is_refused(historian: Historian) -> None:
    history = read_asset_history(historian, imm_signals(), CALENDAR, at(8), at(9))
    with pytest.raises(ValueError, match="lies outside the history read for IMM-01"):
        asset_kpis(history, Period("later", at(9), at(10)))
    with pytest.raises(ValueError, match=r"ends .* before it starts"):
        read_asset_history(historian, imm_signals(), CALENDAR, at(9), at(8))


def test_night_shift_across_midnight() -> None:
    calendar = ShiftCalendar("Asia/Shanghai", (
        Shift("night", time(22), time(6), (Break(time(2), time(2, 30)),)),
    ))  # fmt: skip
    (night,) = [i for i in calendar.instances(at(23), at(23) + 1) if i.shift == "night"]
    assert night.start_ns == at(22) and night.end_ns == at(22) + 8 * 3600 * 10**9
    assert night.breaks[0][0] == at(22) + 4 * 3600 * 10**9  # 02:00 the next morning
    assert ProductionPlan(per_shift={"night": 750}).planned_quantity(
        calendar, at(22), at(22) + 86400 * 10**9
    ) == approx(750)


def test_current_state(historian: Historian) -> None:
    write_day(historian)
    now = at(10, 20)
    state = current_state(historian, imm_signals(), now)
    assert state.raw == "alarm" and state.category is StateCategory.DOWN
    assert state.since_ns == at(10) and not state.stale
    stale = current_state(historian, imm_signals(), at(14, 10))  # inside the gap
    assert stale.stale and stale.category is None


# --- the plant simulators' own signals ---------------------------------------------------

SIM_STEP_S = 5
SIM_CALENDAR = ShiftCalendar(
    "Asia/Shanghai",
    (
        Shift("morning", time(6), time(14), (Break(time(10), time(10, 30)),)),
        Shift("afternoon", time(14), time(22), (Break(time(18), time(18, 30)),)),
        Shift("night", time(22), time(6), (Break(time(2), time(2, 30)),)),
    ),
)
IMM_STATES = {
    "running": {"category": "producing", "reason": "producing parts"},
    "idle": {"category": "idle", "reason": "waiting"},
    "alarm": {"category": "down", "reason": "machine alarm"},
}
STATION_STATES = {
    0: {"category": "planned_stop", "reason": "stopped by the operator"},
    1: {"category": "producing", "reason": "running"},
    2: {"category": "idle", "reason": "blocked"},
    3: {"category": "idle", "reason": "starved"},
    4: {"category": "down", "reason": "station fault"},
}


def _record(plant, historian: Historian, start_ns: int, seconds: int, seed: int) -> None:  # type: ignore[no-untyped-def]
    """Step the plant's model and store every tag each SIM_STEP_S, as a polling agent would."""
    model = plant.model(seed)
    lines = {(p.asset, p.tag): p.line for p in plant.points}
    batch: list[Point] = []
    for step in range(seconds // SIM_STEP_S + 1):
        model.step(step * SIM_STEP_S)
        ts = start_ns + step * SIM_STEP_S * 1_000_000_000
        for (asset, tag), value in model.snapshot().items():
            batch.append(Point(SeriesKey(plant.site, lines[(asset, tag)], asset, tag), ts, value))
    historian.write(batch)


def _sim_sites() -> tuple[SiteSpec, SiteSpec]:
    # Ideal cycle times are each machine's fastest cycle (the IMM's shots last 8-12 s,
    # a station's cycles at least 0.8 x its 30 s takt): the planned run time per item.
    mold = SiteSpec(MOLD.site, (LineSpec("moulding-hall-1", tuple(
        AssetSignals(MOLD.site, "moulding-hall-1", name, "state", IMM_STATES,
                     count_total_tag="shot_count", cycle_time_tag="cycle_time",
                     power_kw_tag="power_kw", ideal_cycle_time_s=8.0, counter_modulus=2**32,
                     max_gap_s=3 * SIM_STEP_S)
        for name in ("IMM-01", "IMM-02")
    )),))  # fmt: skip
    appliance = SiteSpec(APPLIANCE.site, (LineSpec("assembly-1", tuple(
        AssetSignals(APPLIANCE.site, "assembly-1", name, "state", STATION_STATES,
                     count_total_tag="cycle_count", count_scrap_tag="bad_parts",
                     ideal_cycle_time_s=24.0, counter_modulus=2**32, max_gap_s=3 * SIM_STEP_S)
        for name in ("ST-01", "ST-02", "ST-03")
    ), output_asset="ST-03", plan=ProductionPlan(per_shift={"morning": 800, "afternoon": 800,
                                                            "night": 600})),))  # fmt: skip
    return mold, appliance


def _check_identities(k: ProductionKpis, whole_or_shift: bool) -> None:
    where = f"{k.key} {k.period.label}"
    for name in ("availability", "quality", "data_coverage"):
        value = getattr(k, name)
        assert value is None or 0 <= value <= 1, (where, name, value)
    if whole_or_shift:
        # Over an hour or more E stays under 1 with the fastest cycle as ideal; a short
        # bucket can get a part finished just after a restart, so it is not checked there.
        assert k.effectiveness is not None and 0 <= k.effectiveness <= 1, (where, k.effectiveness)
        assert k.availability is not None and k.oee is not None
    a, e, q = k.availability, k.effectiveness, k.quality
    if None not in (a, e, q):
        assert k.oee == approx(a * e * q), where  # type: ignore[operator]
    assert k.apt_s + k.adet_s + k.adot_s + k.unknown_s == approx(k.pbt_s), where
    assert sum(b.duration_s for b in k.downtime_pareto()) == approx(k.downtime_s), where
    assert k.gq + k.sq == k.pq, where


def test_kpis_on_simulated_plants(tmp_path: Path) -> None:
    start = to_ns(datetime(2026, 3, 2, 4, 0, tzinfo=SIM_CALENDAR.zone))
    seconds = 10 * 3600  # 04:00-14:00: the end of a night shift and a whole morning shift
    end = start + seconds * 1_000_000_000
    mold_site, appliance_site = _sim_sites()
    with SqliteHistorian(tmp_path / "sim.db") as historian:
        _record(MOLD, historian, start, seconds, seed=3)
        _record(APPLIANCE, historian, start, seconds, seed=3)
        for spec in (mold_site, appliance_site):
            report = production_report(historian, spec, SIM_CALENDAR, start, end)
            assert [s.period.label for s in report.by_shift] == [
                "2026-03-01 night", "2026-03-02 morning"
            ]  # fmt: skip
            assert report.by_shift[0].period.partial and not report.by_shift[1].period.partial
            for group, whole_or_shift in ((report.by_shift, True), (report.by_hour, False),
                                          ((report.whole,), True)):  # fmt: skip
                for period in group:
                    for k in (period.site, *period.lines.values(), *period.assets.values()):
                        _check_identities(k, whole_or_shift)
            whole = report.whole
            # The simulators really produce, stop and (stations) scrap.
            assert whole.site.pq > 0 and whole.site.apt_s > 0 and whole.site.downtime_s > 0
            assert whole.site.unknown_s == 0  # sampled every 5 s, no gaps
            # Hours add up to the whole range.
            for attr in ("apt_s", "pbt_s", "pq", "sq", "downtime_s"):
                assert sum(getattr(h.site, attr) for h in report.by_hour) == approx(
                    getattr(whole.site, attr)
                ), attr
            if spec is appliance_site:
                line = whole.lines["assembly-1"]
                assert line.sq > 0
                assert line.output_quantity == whole.assets["assembly-1/ST-03"].gq
                assert line.planned_quantity is not None and line.planned_quantity > 0
            else:
                imm = whole.assets["moulding-hall-1/IMM-01"]
                assert imm.cycle_times is not None and imm.cycle_times.n > 100
                assert 8 <= imm.cycle_times.min_s <= imm.cycle_times.max_s <= 12  # type: ignore[operator]
                assert imm.energy_kwh is not None and imm.energy_kwh > 0
