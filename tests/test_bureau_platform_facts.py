"""The bureau's facts gathered from a real platform (metadata on SQLite and PostgreSQL,
each tenant's historian a SQLite file through TenantStorage), checked field by field
against values worked out by hand for three enterprises set up by hand."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from analytics.bureau.facts import EnterpriseFacts, Module
from analytics.bureau.platform_facts import (
    gather_enterprise_facts,
    gather_platform_facts,
    month_range,
    previous_month,
)
from cloud.tenant_storage import TenantStorage
from historian import Point, SeriesKey
from tenants.agent_contact_days import contact_days, tenant_agent_uptime
from tenants.db import make_engine, session_factory
from tests import bureau_platform_world as w

PERIOD = "2026-11"
START = w.utc(2026, 10, 31, 16)  # 2026-11-01 00:00 in Shanghai
NOW = START + timedelta(hours=2)  # the month is two hours old
MINUTE = timedelta(minutes=1)


def ns(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000_000


@pytest.fixture
def session(metadata_url: str) -> Iterator[Session]:
    engine = make_engine(metadata_url)
    with session_factory(engine)() as s:
        yield s
    engine.dispose()


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[TenantStorage]:
    store = TenantStorage(f"sqlite:{tmp_path / 'series'}")
    yield store
    store.close()


def series(site: str, line: str, asset: str, tag: str, values: dict[datetime, object]) -> list:
    key = SeriesKey(site, line, asset, tag)
    return [Point(key, ns(at), value) for at, value in values.items()]


def minutes(first: int, last: int) -> list[datetime]:
    """START + m minutes for m in first..last (inclusive)."""
    return [START + m * MINUTE for m in range(first, last + 1)]


def build_mold(session: Session, storage: TenantStorage) -> None:
    """Four moulding machines, a mould and a meter; two agents; maintenance; output value.

    From 10 minutes before the month, every minute until its second hour ends:
    IMM-01 runs throughout at 6 shots a minute; IMM-02 runs the first hour and is in
    alarm the second; IMM-03 sends only a tag outside the model; IMM-04 sends nothing.
    The meter's counter climbs 1 kWh a minute.
    """
    t = w.tenant(session, "acme-mold", district="Beilun", cloud="mold-cloud")
    for asset in ("IMM-01", "IMM-02", "IMM-03", "IMM-04"):
        extra = {"digital_control": False} if asset == "IMM-03" else {}
        w.onboard(session, t, "s1", "hall-1", asset, "injection_moulding_machine", **extra)
    w.onboard(session, t, "s1", "hall-1", "M-1", "mould")
    w.onboard(session, t, "s1", "utilities", "meter-main", "power_meter")
    span = minutes(-10, 119)
    running = {at: "running" for at in span}
    imm2_state = {at: ("running" if at < START + timedelta(hours=1) else "alarm") for at in span}
    shots1 = {at: 1000 + 6 * i for i, at in enumerate(span)}
    shots2, count = {}, 500
    for at in span:
        if imm2_state[at] == "running":
            count += 6
        shots2[at] = count
    points = [
        *series("s1", "hall-1", "IMM-01", "state", running),
        *series("s1", "hall-1", "IMM-01", "shot_count", shots1),
        *series("s1", "hall-1", "IMM-01", "cycle_time", dict.fromkeys(span, 10.0)),
        *series("s1", "hall-1", "IMM-01", "power_kw", dict.fromkeys(span, 22.0)),
        # melt_temp only before the month: it did not report in the month.
        *series("s1", "hall-1", "IMM-01", "melt_temp", dict.fromkeys(minutes(-10, -1), 230.0)),
        *series("s1", "hall-1", "IMM-02", "state", imm2_state),
        *series("s1", "hall-1", "IMM-02", "shot_count", shots2),
        *series("s1", "hall-1", "IMM-03", "door_open", dict.fromkeys(span, False)),
        *series("s1", "hall-1", "M-1", "shot_count", shots1),
        *series("s1", "utilities", "meter-main", "energy_kwh",
                {at: 5000.0 + i for i, at in enumerate(span)}),
        *series("s1", "utilities", "meter-main", "active_power_kw", dict.fromkeys(span, 60.0)),
    ]  # fmt: skip
    storage.historian(t.storage_database).write(points)
    # Agent 1 (registered long ago) reports every 60 s in the first hour, starting a minute
    # before the month: the report at midnight covers that minute, which is October's.
    w.agent(session, t, "s1", "edge-1", START - timedelta(days=30),
            w.every(START - MINUTE, START + timedelta(hours=1), 60), 60)  # fmt: skip
    # Agent 2 is registered an hour into the month and reports every 30 s from then on.
    late = START + timedelta(hours=1)
    w.agent(session, t, "s1", "edge-2", late, w.every(late, NOW, 30), 30)
    # Maintenance: a model of IMM-03 retired before the month; the one promoted since
    # covers IMM-01, IMM-02 and an asset not in the register.
    w.model_version(session, t, "injection_moulding_machine", [("s1", "hall-1", "IMM-03")],
                    START - timedelta(days=20), START - timedelta(days=2))  # fmt: skip
    current = w.model_version(
        session, t, "injection_moulding_machine",
        [("s1", "hall-1", "IMM-01"), ("s1", "hall-1", "IMM-02"), ("s1", "old", "IMM-99")],
        START - timedelta(days=2),
    )  # fmt: skip
    w.alert(session, t, current, "IMM-01", START + 10 * MINUTE, START + 60 * MINUTE)  # acted on
    w.alert(session, t, current, "IMM-02", START + 20 * MINUTE, START + timedelta(days=9))  # late
    w.alert(session, t, current, "IMM-03", START + 30 * MINUTE)  # no work order
    w.alert(session, t, current, "IMM-04", START - timedelta(days=1), START)  # October's
    w.report_output(session, t, PERIOD, value_10k_yuan=30.0)
    w.report_output(session, t, "2026-10", value_10k_yuan=999.0)  # another month's


def build_appliance(session: Session, storage: TenantStorage) -> None:
    """Two assembly stations that send nothing, a meter that sends power only (30 kW), and
    output reported as 500 units; no agent."""
    t = w.tenant(session, "bravo-appliance", district="Cixi", cloud="appliance-cloud")
    for asset in ("ST-01", "ST-02"):
        w.onboard(session, t, "s2", "assembly-1", asset, "assembly_station")
    w.onboard(session, t, "s2", "utilities", "meter-main", "power_meter")
    power = series("s2", "utilities", "meter-main", "active_power_kw",
                   dict.fromkeys(minutes(-10, 119), 30.0))  # fmt: skip
    storage.historian(t.storage_database).write(power)
    w.report_output(session, t, PERIOD, quantity=500.0, unit="unit")


def test_month_ranges_are_local_months_and_the_current_one_ends_now() -> None:
    month = month_range(PERIOD, NOW)
    assert (month.start, month.end, month.complete) == (START, NOW, False)
    october = month_range("2026-10", NOW)
    assert october.start == w.utc(2026, 9, 30, 16) and october.end == START and october.complete
    with pytest.raises(ValueError, match="2026-12 has not begun"):
        month_range("2026-12", NOW)
    with pytest.raises(ValueError, match="YYYY-MM"):
        month_range("2026-13", NOW)
    assert previous_month(NOW) == "2026-10"  # 02:00 on 1 November in Shanghai
    assert previous_month(w.utc(2026, 1, 1, 1)) == "2025-12"


def test_facts_of_hand_built_enterprises(session: Session, storage: TenantStorage) -> None:
    build_mold(session, storage)
    build_appliance(session, storage)
    w.tenant(session, "empty-co")  # no district, no cloud, no asset
    session.commit()

    progress: list[tuple[int, int, str]] = []
    gathered = gather_platform_facts(
        session, storage, PERIOD, now=NOW, progress=lambda *p: progress.append(p)
    )
    assert gathered.failed == []
    assert progress[0] == (0, 3, "acme-mold") and progress[-1] == (3, 3, "done")
    facts = {f.enterprise_key: f for f in gathered.facts}

    mold = facts["acme-mold"]
    # OEE of the hall: IMM-01 720 shots in 2 h, IMM-02 360 in its running hour, 8 s ideal
    # cycle, no scrap tag: PRI × GQ ÷ PBT = 8 × 1080 ÷ (2 × 7200 s). IMM-03 and IMM-04 sent
    # no state and are left out of OEE (the networking rate counts them).
    assert mold.oee == pytest.approx(8 * (720 + 360) / (2 * 7200))
    # Agents: edge-1 covers 59 gaps of 60 s in November (its first, across midnight, is
    # October's) of the 2 h expected; edge-2 119 gaps of 30 s of its 1 h.
    assert mold.agent_uptime == pytest.approx((59 * 60 + 119 * 30) / (7200 + 3600))
    assert mold.energy_kwh == pytest.approx(120.0)  # the counter: 5129 at the end, 5009 before
    assert mold == EnterpriseFacts(
        enterprise_key="acme-mold",
        period=PERIOD,
        district="Beilun",
        industry_cloud="mold-cloud",
        machines_registered=4,  # the mould and the meter are not machines
        machines_connected=3,  # IMM-03 by its tag outside the model; IMM-04 sent nothing
        tags_configured=4 * 7 + 5 + 2,
        # IMM-01: state, shot_count, cycle_time, power_kw (melt_temp only before);
        # IMM-02: state, shot_count; the mould's shot_count; the meter's two.
        tags_reporting=4 + 2 + 1 + 2,
        agent_uptime=mold.agent_uptime,
        digital_control_machines=3,  # IMM-03 onboarded without it
        modules_in_use=frozenset(Module),
        oee=mold.oee,
        energy_kwh=mold.energy_kwh,
        output_units=720 + 360,
        output_unit="part",
        output_value_10k_yuan=30.0,
        machines_under_model=2,  # IMM-99 is not in the register; IMM-03's model retired
        predictions_raised=3,  # the fourth alert was raised in October
        predictions_acted_on=1,  # the IMM-02 work order came 9 days later
    )

    appliance = facts["bravo-appliance"]
    assert appliance.energy_kwh == pytest.approx(60.0)  # 30 kW for 2 h, from power (no counter)
    assert appliance == EnterpriseFacts(
        enterprise_key="bravo-appliance",
        period=PERIOD,
        district="Cixi",
        industry_cloud="appliance-cloud",
        machines_registered=2,
        machines_connected=0,
        tags_configured=2 * 5 + 2,
        tags_reporting=1,
        agent_uptime=None,
        digital_control_machines=2,
        modules_in_use=frozenset({Module.MONITORING, Module.ENERGY}),
        oee=None,
        energy_kwh=appliance.energy_kwh,
        output_units=500.0,  # reported: no counter counts it
        output_unit="unit",
        output_value_10k_yuan=None,
        machines_under_model=0,
        predictions_raised=0,
        predictions_acted_on=0,
    )
    assert facts["empty-co"] == EnterpriseFacts(
        enterprise_key="empty-co", period=PERIOD, district=None, industry_cloud=None,
        machines_registered=0, machines_connected=0, tags_configured=0, tags_reporting=0,
        agent_uptime=None, digital_control_machines=0, modules_in_use=frozenset(), oee=None,
        energy_kwh=None, output_units=None, output_unit=None, output_value_10k_yuan=None,
        machines_under_model=0, predictions_raised=0, predictions_acted_on=0,
    )  # fmt: skip


def test_october_is_a_different_month(session: Session, storage: TenantStorage) -> None:
    build_mold(session, storage)
    session.commit()
    from sqlalchemy import select

    from tenants.models import Tenant

    tenant = session.scalar(select(Tenant).where(Tenant.key == "acme-mold"))
    assert tenant is not None
    october = gather_enterprise_facts(
        session, tenant, storage.historian(tenant.storage_database), "2026-10", now=NOW
    )
    # Its last 10 minutes hold every series but the unknown one's siblings; the meter's
    # counter went from its first reading (no earlier one) over 9 minutes.
    assert october.machines_connected == 3 and october.tags_reporting == 10
    assert october.output_value_10k_yuan == 999.0
    assert october.predictions_raised == 1 and october.predictions_acted_on == 1
    assert october.machines_under_model == 2  # IMM-03's model was retired before its end
    # Edge-1's reports of October: the one a minute before midnight vouches for nothing
    # before it, the one at midnight for that minute; it was expected for 30 days.
    assert october.agent_uptime == pytest.approx(60 / (30 * 86_400))


def test_contact_is_split_at_local_midnight(session: Session) -> None:
    t = w.tenant(session, "c-tenant")
    before = START - timedelta(seconds=20)
    agent = w.agent(session, t, "s", "edge", START - timedelta(days=1),
                    [before, START + timedelta(seconds=40)], 30)  # fmt: skip
    days = {(d.day.isoformat(), d.reports, d.covered_s) for d in contact_days(session, [agent.id])}
    assert days == {("2026-10-31", 1, 20.0), ("2026-11-01", 1, 40.0)}
    # A report after more than three intervals of silence vouches for nothing before it.
    w_late = START + timedelta(minutes=10)
    from tenants.agent_contact_days import record_contact

    record_contact(session, agent, w_late, 30)
    assert {d.covered_s for d in contact_days(session, [agent.id])} == {20.0, 40.0}
    uptime = tenant_agent_uptime(session, t.id, START, START + timedelta(hours=1))
    assert (uptime.agents, uptime.expected_s, uptime.covered_s) == (1, 3600.0, 40.0)
