"""The energy job (``analytics.energy.jobs``): run through the jobs API by the platform's
worker on a plant whose figures are worked out by hand (``tests.energy_site_data``), its
stored result on the plant manager's energy page, its schedule, its refusals, and the
``mingzhou energy analyse`` command on the same data."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from celery.schedules import crontab
from sqlalchemy import inspect, select
from typer.testing import CliRunner

from analytics.energy.jobs import KIND, EnergyAnalysisParams, previous_local_day
from analytics.energy.load_advice import configured_loads
from analytics.energy.site_analysis import AnalysisSettings, analyse_site
from analytics.energy.stored_results import EnergyResult
from analytics.energy.tariff import default_tariff
from cloud.plant_model_view import PlantAsset, PlantLine, PlantSite, load_site
from cloud.timeparams import parse_instant
from historian.influxdb_v1 import InfluxV1Historian
from jobs.catalog import load_catalog
from jobs.celery_app import JobsConfig, create_celery_app
from jobs.models import Job, utcnow
from mingzhou.cli import app as cli_app
from tenants.db import MIGRATIONS, Base, make_engine
from tenants.models import Tenant
from tenants.roles import Role
from tests.energy_site_data import (
    EXPECTED,
    SITE,
    VALLEY_STARTS,
    day_range,
    onboard,
    write_plant,
)
from tests.test_jobs import REPO, JobsWorld, jobs_world, settings_for

ENERGY_PAGE = f"/t/tenant-a/plant/{SITE}/energy/"
DAY_QUERY = "range=custom&from=2026-03-10&to=2026-03-10"


@contextmanager
def _plant_world(metadata_url: str, tmp_path: Path) -> Iterator[JobsWorld]:
    """The platform with its embedded worker; tenant-a's plant onboarded and recorded."""
    with jobs_world(settings_for(metadata_url, tmp_path), tmp_path) as world:
        onboard(world.client, "tenant-a", world.auth("admin"))
        write_plant(_historian(world, "tenant-a"))
        yield world


@pytest.fixture
def world_on_both(metadata_url: str, tmp_path: Path) -> Iterator[JobsWorld]:
    """On SQLite and on PostgreSQL metadata: where the results are stored."""
    with _plant_world(metadata_url, tmp_path) as world:
        yield world


@pytest.fixture
def world(tmp_path: Path) -> Iterator[JobsWorld]:
    """On SQLite metadata, for what does not depend on the engine."""
    with _plant_world(f"sqlite:///{tmp_path / 'meta.db'}", tmp_path) as world:
        yield world


def _historian(world: JobsWorld, key: str):  # type: ignore[no-untyped-def]
    app = world.client.app
    with app.state.sessions() as session:
        tenant = session.scalar(select(Tenant).where(Tenant.key == key))
        return app.state.storage.historian(tenant.storage_database)


def _run(world: JobsWorld, params: dict, who: str = "plant_manager:tenant-a",
         tenant: str = "tenant-a") -> dict:  # fmt: skip
    """Start the job and poll the API until it ends (the timeout only stops a hang)."""
    job = world.start(KIND, params, who=who, tenant=tenant)
    deadline = time.monotonic() + 120
    while True:
        seen = world.get(job["id"], who=who, tenant=tenant).json()
        if seen["state"] in ("succeeded", "failed", "cancelled"):
            return seen
        assert time.monotonic() < deadline, f"the job never finished: {seen}"
        time.sleep(0.05)


def _check_result(result: dict) -> None:
    """Every figure of the stored result against the hand-worked one."""
    kpis, cost = result["kpis"], result["cost"]
    assert result["source"] == "power" and result["meter"] == "meter-main"
    assert kpis["kwh"] == pytest.approx(EXPECTED["kwh"])
    assert kpis["intervals"] == 96
    assert kpis["peak_kw"] == pytest.approx(EXPECTED["peak_kw"])
    assert kpis["peak_kw_1h"] == pytest.approx(EXPECTED["peak_kw"])
    assert kpis["peak_at"] == EXPECTED["peak_at"]
    assert kpis["load_factor"] == pytest.approx(EXPECTED["load_factor"], abs=1e-4)
    assert kpis["carbon_kg"] == pytest.approx(EXPECTED["carbon_kg"], abs=1e-3)
    assert kpis["power_factor"] == pytest.approx(EXPECTED["power_factor"], abs=1e-4)
    assert kpis["output"] == EXPECTED["output"]
    assert kpis["sec_kwh_per_unit"] == pytest.approx(EXPECTED["kwh"] / EXPECTED["output"], 1e-3)
    assert cost["energy_cost"] == pytest.approx(EXPECTED["energy_cost"], abs=0.01)
    assert cost["by_period"]["valley"]["kwh"] == pytest.approx(1200.0)
    assert cost["by_period"]["peak"]["kwh"] == pytest.approx(1320.0)
    assert cost["by_period"]["sharp"]["kwh"] == 0  # March has no sharp peak
    assert cost["demand_cost"] == pytest.approx(6400.0)
    assert cost["total"] == pytest.approx(EXPECTED["bill"], abs=0.01)

    baseline = result["baseline"]
    assert baseline["used"] and baseline["training_hours"] == 672
    assert baseline["training"] == pytest.approx(EXPECTED["training"], abs=0.006)
    assert baseline["range"] == pytest.approx(EXPECTED["range"], abs=0.006)
    assert baseline["meets_ashrae14_hourly"] is True
    assert baseline["threshold_kwh"] == pytest.approx(3 * 10 * (672 / 671) ** 0.5, abs=1e-3)

    anomalies = result["anomalies"]
    kinds = [e["kind"] for e in anomalies["episodes"]]
    assert kinds == ["power_factor", "above_baseline", "idle_waste"]  # costliest first
    pf_month, above, idle = anomalies["episodes"]
    assert pf_month["cost"] == pytest.approx(EXPECTED["pf_adjustment"], abs=0.01)
    assert "PF 0.81 in 2026-03" in pf_month["detail"]
    for found, kind in ((above, "above_baseline"), (idle, "idle_waste")):
        assert found["excess_kwh"] == pytest.approx(EXPECTED[kind]["kwh"], abs=1e-3)
        assert found["cost"] == pytest.approx(EXPECTED[kind]["cost"], abs=0.01)
        assert found["start"] == EXPECTED[kind]["start"]
    assert above["end"] == "2026-03-10T16:00:00" and idle["end"] == "2026-03-10T03:00:00"
    assert "IMM-02 idle for" in idle["detail"]
    total = EXPECTED["pf_adjustment"] + 122.4 + 1.44
    assert anomalies["cost"] == pytest.approx(total, abs=0.01)
    pf = result["power_factor"]
    assert pf["months"][0]["power_factor"] == pytest.approx(EXPECTED["power_factor"], abs=1e-3)
    assert pf["low_hour_runs"] == 2  # 00-14 and 16-24: only the busy hours reach 0.90

    advice = result["advice"]
    assert advice["day"] == EXPECTED["advice"]["day"] and advice["configured"] is True
    (load,) = advice["loads"]
    assert load["name"] == "IMM-01" and load["start_if_earliest"] == "2026-03-11T08:00:00"
    assert load["advised_start"][11:16] in VALLEY_STARTS, load
    assert advice["saving"] == pytest.approx(EXPECTED["advice"]["saving"], abs=0.01)
    assert advice["day_cost_before"] == pytest.approx(
        EXPECTED["advice"]["day_cost_before"], abs=0.01
    )
    assert advice["peak_kw_before"] == advice["peak_kw_after"] == EXPECTED["advice"]["peak_kw"]
    assert advice["existing_peak_kw"] == pytest.approx(160.0)
    assert advice["base_load"]["subtracted"] == ["IMM-01"]


@pytest.mark.timeout(300)
def test_the_job_stores_what_the_hand_worked_figures_say(world_on_both: JobsWorld, influxd) -> None:
    world = world_on_both
    start, end = day_range()
    done = _run(world, {"site": SITE, "start": start, "end": end})
    assert done["state"] == "succeeded", done
    assert done["progress"]["done"] == done["progress"]["total"] == 6
    (summary,) = done["result"]["sites"]
    assert summary["anomalies"] == 3 and summary["advice"] == "schedule"
    with world.client.app.state.sessions() as session:
        rows = list(session.scalars(select(EnergyResult)))
        assert [(r.site, r.job_id) for r in rows] == [(SITE, done["id"])]
        row = rows[0]
        assert row.id == summary["result_id"] and row.created_by == "plant_manager@tenant-a.cn"
        assert row.period_start.isoformat() == "2026-03-09T16:00:00+00:00"
        _check_result(row.result)
        site = load_site(session, row.tenant_id, SITE)
    # The same plant in InfluxDB (through the v1 API) gives the same analysis.
    influx = InfluxV1Historian(influxd.url, influxd.new_database())
    try:
        write_plant(influx)
        again = analyse_site(influx, site, parse_instant(start), parse_instant(end),
                             default_tariff(), AnalysisSettings())  # fmt: skip
    finally:
        influx.close()
    assert again == row.result


def test_the_energy_page_shows_the_stored_result_and_its_recompute_button(
    world: JobsWorld,
) -> None:
    who = world.auth("plant_manager:tenant-a")
    before = world.client.get(ENERGY_PAGE + "data?" + DAY_QUERY, headers=who).json()["panels"]
    # No result yet: the page says so and computes the anomalies on request.
    assert "No stored analysis yet" in before["panel_energy_job"]
    assert "IMM-02 idle for" in before["panel_anomalies"]
    assert "data-energy-recompute" in before["panel_energy_job"]
    body = re.search(r'data-body="([^"]+)"', before["panel_energy_job"]).group(1)
    params = json.loads(body.replace("&#34;", '"').replace("&quot;", '"'))["params"]
    assert params["site"] == SITE and params["start"].startswith("2026-03-09T16:00:00")
    # The button's request, as the page's script sends it.
    done = _run(world, params)
    assert done["state"] == "succeeded", done
    after = world.client.get(ENERGY_PAGE + "data?" + DAY_QUERY, headers=who).json()["panels"]
    job_panel, anomalies = after["panel_energy_job"], after["panel_anomalies"]
    assert re.search(
        r"Computed at \d{4}-\d\d-\d\d \d\d:\d\d for 2026-03-10 00:00 – 2026-03-11", job_panel
    )
    assert "From the analysis of 2026-03-10 00:00 – 2026-03-11 00:00" in anomalies
    # The stored anomalies with their cost, the power factor's the costliest.
    assert anomalies.index("power factor") < anomalies.index("above baseline")
    assert "368.03" in anomalies and "122.40" in anomalies and "1.44" in anomalies
    assert "Cost: 491.87 CNY" in anomalies
    # Baseline goodness, the power factor and tomorrow's advice.
    assert "11.6 %" in job_panel and "16.5 %" in job_panel and "4.8 %" in job_panel
    assert "-0.091" in job_panel  # R² of the day
    assert "meets the guideline" in job_panel
    assert "Power factor 0.81; bill adjustment 368.03 CNY" in job_panel
    assert "Advice for 2026-03-11" in job_panel and "08:00" in job_panel
    assert "Saving 66.00 CNY" in job_panel
    # The tiles stay the range's, computed on request; the baseline note is the job's now.
    assert "2,520.0 kWh" in after["panel_energy_kpis"]
    assert "Above-baseline hours need" not in after["panel_energy_kpis"]
    # In Chinese too.
    zh = world.client.get(ENERGY_PAGE + "?lang=zh&" + DAY_QUERY, headers=who)
    assert zh.status_code == 200
    assert "能耗分析" in zh.text and "计算于" in zh.text and "2026-03-11 用电建议" in zh.text
    assert "节省 66.00 CNY" in zh.text and "基线拟合优度" in zh.text


def test_a_recompute_under_way_or_failed_shows_on_the_page(world: JobsWorld) -> None:
    world.add_person(Role.SERVICE_ENGINEER, "tenant-a")
    failed = _run(world, {"site": "elsewhere"})
    assert failed["state"] == "failed"
    assert failed["error"] == (
        f"site: no site 'elsewhere' in this tenant's asset model (its sites: {SITE})"
    )
    app = world.client.app

    def panel() -> str:
        who = world.auth("service_engineer:tenant-a")
        answer = world.client.get(ENERGY_PAGE + "data?" + DAY_QUERY, headers=who)
        return answer.json()["panels"]["panel_energy_job"]

    assert "failed" not in panel()  # that job was for another site
    with app.state.sessions() as session:
        tenant_id = session.scalar(select(Tenant.id).where(Tenant.key == "tenant-a"))
        for state, error, done in (("failed", "the series store failed: timeout", 0),
                                   ("running", None, 3)):  # fmt: skip
            session.add(Job(id=str(uuid.uuid4()), tenant_id=tenant_id, kind=KIND,
                            params={"site": None}, state=state, error=error,
                            progress_done=done, progress_total=6,
                            progress_message=f"{SITE}: idle waste", created_by="x",
                            created_at=utcnow(), finished_at=utcnow() if error else None))  # fmt: skip
            session.commit()
            shown = panel()
            if state == "failed":  # a job for every site counts for this one
                assert "The last recompute failed: the series store failed: timeout" in shown
            else:
                assert f"Recomputing: 50% {SITE}: idle waste" in shown
            button = re.search(r"<button[^>]*data-energy-recompute[^>]*>", shown).group(0)
            assert ("disabled" in button) is (state == "running")  # one recompute at a time


BAD_PARAMS = [
    ({"start": "now", "end": "now-1h"}, ["body", "params"], "must be before"),
    ({"start": "yesterday"}, ["body", "params", "start"], "ISO 8601"),
    ({"baseline_days": 3}, ["body", "params", "baseline_days"], "greater than or equal to 7"),
    ({"start": "2024-01-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"}, ["body", "params"],
     "longer than 366 days"),
    ({"sites": "a"}, ["body", "params", "sites"], "Extra inputs"),
    ({"site": ""}, ["body", "params", "site"], "at least 1 character"),
]  # fmt: skip


def test_bad_params_are_422_naming_the_field_and_nothing_is_queued(world: JobsWorld) -> None:
    who = world.auth("plant_manager:tenant-a")
    for params, field, says in BAD_PARAMS:
        answer = world.client.post(
            "/api/tenants/tenant-a/jobs", json={"kind": KIND, "params": params}, headers=who
        )
        assert answer.status_code == 422, (params, answer.text)
        errors = answer.json()["detail"]
        assert any(e["loc"] == field and says in e["msg"] for e in errors), (params, errors)
    assert world.client.get("/api/tenants/tenant-a/jobs", headers=who).json() == []
    # A range the plant has no data for: analysed, with nothing to show, not failed.
    empty = _run(world, {"start": "2025-01-01T00:00:00Z", "end": "2025-01-02T00:00:00Z"})
    assert empty["state"] == "succeeded", empty
    (site,) = empty["result"]["sites"]
    assert site["kwh"] == 0 and site["total_cost"] is None and site["anomalies"] == 0
    with world.client.app.state.sessions() as session:
        (row,) = session.scalars(select(EnergyResult))
        assert row.result["baseline"]["used"] is False
        assert row.result["baseline"]["note"].endswith("a baseline needs 504 (3 weeks)")
        assert row.result["advice"]["base_load"]["note"].startswith("no metered history")
    # A tenant without a site: the job says so and stores nothing.
    done = _run(world, {}, who="plant_manager:tenant-b", tenant="tenant-b")
    assert done["state"] == "succeeded" and done["result"]["sites"] == []
    assert done["result"]["note"] == "this tenant has no site in its asset model yet"


def test_the_daily_schedule_is_declared_for_after_midnight_site_time() -> None:
    from datetime import UTC, datetime

    catalog = load_catalog()
    daily = catalog.periodic["energy-daily"]
    assert daily.kind == KIND and isinstance(daily.every, crontab)
    assert daily.every.hour == {16} and daily.every.minute == {15}  # 00:15 in Shanghai
    # Run at 00:15 on 3 March in Shanghai: the params are the whole of 2 March there.
    params = daily.params_at(datetime(2026, 3, 2, 16, 15, tzinfo=UTC))
    assert params == {"start": "2026-03-01T16:00:00Z", "end": "2026-03-02T16:00:00Z"}
    EnergyAnalysisParams.model_validate(params)  # what the schedule sends is valid
    assert previous_local_day(datetime(2026, 3, 2, 15, 59, tzinfo=UTC))["end"] == (
        "2026-03-01T16:00:00Z"  # 23:59 on the 2nd: the day before is the 1st
    )
    app = create_celery_app(JobsConfig(), lambda: None)  # type: ignore[arg-type,return-value]
    entry = app.conf.beat_schedule["periodic:energy-daily"]
    assert entry["schedule"] == daily.every and entry["args"] == ["energy-daily"]


def _site_with(attributes: dict) -> PlantSite:
    asset = PlantAsset(SITE, "l", "P-1", "P-1", "pump", attributes, ())
    return PlantSite(SITE, SITE, None, (PlantLine(SITE, "l", "l", (asset,)),))


def test_shiftable_loads_are_read_from_the_asset_model_never_invented() -> None:
    assert configured_loads(_site_with({})) == ([], [])
    loads, errors = configured_loads(_site_with({"shiftable_load": [
        {"power_kw": 20, "duration_min": 50},
        {"power_kw": 0, "duration_min": 60, "earliest": "7:10"},
        {"power_kw": 5, "duration_min": 15, "colour": "red"},
    ]}))  # fmt: skip
    assert [(x.name, x.spec.slots) for x in loads] == [("P-1", 4)]  # 50 min: 4 slots
    assert errors == [
        "l/P-1: shiftable_load[1].power_kw: Input should be greater than 0",
        "l/P-1: shiftable_load[1].earliest: Value error, '7:10' is not on a quarter hour"
        " (HH:00, HH:15, HH:30 or HH:45)",
        "l/P-1: shiftable_load[2].colour: Extra inputs are not permitted",
    ]


def test_the_migration_builds_the_results_table_and_downgrades_alone(
    metadata_url: str,
) -> None:
    engine = make_engine(metadata_url)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        indexes = {i["name"] for i in inspect(connection).get_indexes("energy_results")}
    assert [d for d in differences if "energy_results" in str(d)] == []
    assert indexes == {"ix_energy_results_tenant_id_site_computed_at"}
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", metadata_url.replace("%", "%%"))
    command.downgrade(config, "0007e_energy_results@-1")
    with engine.connect() as connection:
        tables = set(inspect(connection).get_table_names())
    assert "energy_results" not in tables and "jobs" in tables
    command.upgrade(config, "heads")
    engine.dispose()


@pytest.mark.timeout(180)
def test_the_command_runs_the_analysis_on_a_tenants_historian(tmp_path: Path) -> None:
    metadata = f"sqlite:///{tmp_path / 'meta.db'}"
    with jobs_world(settings_for(metadata, tmp_path), tmp_path) as world:
        onboard(world.client, "tenant-a", world.auth("admin"))
        historian = _historian(world, "tenant-a")
        write_plant(historian)
        path = historian.path  # type: ignore[attr-defined]
    start, end = day_range()

    def mingzhou(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "mingzhou", "energy", "analyse", "--historian",
             f"sqlite:{path}", "--metadata", metadata, *args],
            capture_output=True, text=True, timeout=120, cwd=REPO,
        )  # fmt: skip

    done = mingzhou("--tenant", "tenant-a", "--start", start, "--end", end)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    (site,) = out["sites"]
    _check_result(site)
    assert out["stored"][0]["site"] == SITE
    assert "energy analysis" in done.stderr and "6/6" in done.stderr  # the progress bar
    engine = make_engine(metadata)
    with engine.connect() as connection:
        stored = connection.execute(select(EnergyResult.job_id, EnergyResult.created_by)).all()
    engine.dispose()
    assert stored == [(None, "mingzhou energy analyse")]
    # Refusals: one line naming the option, exit 2 (in this process: no start-up cost).
    refusals = [
        (("--tenant", "tenant-a", "--start", "yesterday"), "--start: Value error, expected"),
        (("--tenant", "tenant-a", "--baseline-days", "2"), "--baseline-days: Input should be"),
        (("--tenant", "nobody"), "no tenant 'nobody' in the metadata store"),
        (("--tenant", "tenant-a", "--site", "elsewhere"), "no site 'elsewhere'"),
    ]
    for args, says in refusals:
        base = ["energy", "analyse", "--historian", f"sqlite:{path}", "--metadata", metadata]
        refused = CliRunner().invoke(cli_app, [*base, *args])
        assert refused.exit_code == 2, (args, refused.output)
        assert says in " ".join(refused.output.replace("│", " ").split()), (args, refused.output)
        assert refused.exception is None or isinstance(refused.exception, SystemExit)
