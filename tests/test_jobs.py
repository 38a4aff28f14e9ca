"""Jobs end to end: started through the API, run by a real Celery worker (a
``mingzhou jobs worker`` process on the running Redis, or the platform's embedded worker
with no server), progress and results read back through the API, scoped by tenant."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient
from rich.console import Console
from sqlalchemy import inspect, select

from cloud.platform_app import create_platform_app
from cloud.platform_settings import PlatformSettings
from historian import Point, SeriesKey
from historian.line_protocol import encode_points
from jobs.embedded import RESTARTED
from jobs.errors import JobCancelled
from jobs.models import Job, utcnow
from jobs.progress import ProgressReporter
from jobs.progress_bar import progress_bar
from tenants import sessions
from tenants.db import MIGRATIONS, Base, make_engine, session_factory
from tenants.models import Tenant
from tenants.onboarding import create_user
from tenants.roles import Role
from tests.fixtures_metadata import _fresh_schema

REPO = Path(__file__).resolve().parent.parent
REDIS_URL = "redis://127.0.0.1:6379/0"
ADMIN = ("admin@platform.cn", "admin-password")
PASSWORD = "password-1"
POINTS = 40


@dataclass
class JobsWorld:
    client: TestClient
    tokens: dict[str, str]
    tmp_path: Path

    def auth(self, who: str | None) -> dict[str, str]:
        if who is None:
            return {}
        value = self.tokens[who]
        return {"Authorization": ("Token " if value.startswith("mzat_") else "Bearer ") + value}

    def start(self, kind: str, params: dict, who: str = "plant_manager:tenant-a",
              tenant: str = "tenant-a") -> dict:  # fmt: skip
        response = self.client.post(
            f"/api/tenants/{tenant}/jobs",
            json={"kind": kind, "params": params},
            headers=self.auth(who),
        )
        assert response.status_code == 202, response.text
        return response.json()

    def get(self, job_id: str, who: str = "plant_manager:tenant-a", tenant: str = "tenant-a"):
        return self.client.get(f"/api/tenants/{tenant}/jobs/{job_id}", headers=self.auth(who))

    def wait(self, job_id: str, until: Callable[[dict], bool], timeout: float = 60) -> dict:
        """Poll the API until ``until(job)``; the timeout only keeps a broken run from hanging."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.get(job_id).json()
            if until(job):
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"job never reached the expected state; last seen: {job}")
            time.sleep(0.05)

    def finished(self, job_id: str) -> dict:
        return self.wait(job_id, lambda j: j["state"] in ("succeeded", "failed", "cancelled"))

    def add_person(self, role: Role, tenant_key: str | None) -> None:
        """A user of ``role`` with a session token under "role:tenant" (or "role")."""
        app = self.client.app
        with app.state.sessions() as session:
            tenant = session.scalar(select(Tenant).where(Tenant.key == tenant_key))
            email = f"{role.value}@{tenant_key or 'bureau'}.cn"
            user = create_user(session, email, PASSWORD, role, "test", tenant)
            session.commit()
            token = sessions.issue(app.state.settings.secret, user.id, role.value, user.tenant_id)
        self.tokens[f"{role.value}:{tenant_key}" if tenant_key else role.value] = token

    def gates(self) -> Path:
        path = self.tmp_path / f"gates-{uuid.uuid4().hex[:8]}"
        path.mkdir()
        return path


def _login(client: TestClient, email: str, password: str) -> str:
    response = client.post("/api/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return response.json()["token"]


@contextmanager
def jobs_world(settings: PlatformSettings, tmp_path: Path) -> Iterator[JobsWorld]:
    """Two tenants, a plant manager in each, an agent token in tenant-a; more people with
    ``add_person`` (each costs a password hash, slow by design)."""
    with TestClient(create_platform_app(settings)) as client:
        tokens = {"admin": _login(client, *ADMIN)}
        admin = {"Authorization": f"Bearer {tokens['admin']}"}
        for key in ("tenant-a", "tenant-b"):
            made = client.post("/api/tenants", json={"key": key, "name": key}, headers=admin)
            assert made.status_code == 201, made.text
        world = JobsWorld(client, tokens, tmp_path)
        world.add_person(Role.PLANT_MANAGER, "tenant-a")
        world.add_person(Role.PLANT_MANAGER, "tenant-b")
        issued = client.post(
            "/api/tenants/tenant-a/agent-tokens",
            json={"site": "site-a", "name": "edge-1"},
            headers=admin,
        )
        assert issued.status_code == 201, issued.text
        tokens["agent:tenant-a"] = issued.json()["token"]
        yield world


def settings_for(metadata_url: str, tmp_path: Path, **jobs: object) -> PlatformSettings:
    return PlatformSettings(
        metadata_url=metadata_url,
        storage=f"sqlite:{tmp_path / 'series'}",
        admin_email=ADMIN[0],
        admin_password=ADMIN[1],
        job_modules=("tests.job_kinds",),
        **jobs,  # type: ignore[arg-type]
    )


def send_measurements(world: JobsWorld) -> dict[str, list]:
    """Three series of three kinds through the ingest API, as an edge agent sends them."""
    now = time.time_ns()
    values: dict[str, list] = {
        "melt_temp": [200.0 + 0.5 * i for i in range(POINTS)],
        "shots": [i * 3 for i in range(POINTS)],
        "running": [i % 3 != 0 for i in range(POINTS)],
    }
    points = [
        Point(SeriesKey("site-a", "line-1", "IMM-01", tag), now - (POINTS - i) * 1_000_000_000, v)
        for tag, series in values.items()
        for i, v in enumerate(series)
    ]
    sent = world.client.post(
        "/api/ingest", content=encode_points(points), headers=world.auth("agent:tenant-a")
    )
    assert sent.status_code == 204, sent.text
    return values


# --- the whole pipeline, on whichever worker a fixture provides -------------------------


def check_series_summary(world: JobsWorld) -> None:
    values = send_measurements(world)
    job = world.start("series_summary", {"start": "now-1h", "site": "site-a"})
    assert job["state"] == "queued" and job["params"]["start"].endswith("Z")  # fixed instant
    done = world.finished(job["id"])
    assert done["state"] == "succeeded", done
    assert done["progress"]["done"] == done["progress"]["total"] == 3
    result = done["result"]
    assert result["series_count"] == 3 and result["points"] == 3 * POINTS
    by_tag = {row["tag"]: row for row in result["series"]}
    for tag in ("melt_temp", "shots"):
        series = values[tag]
        row = by_tag[tag]
        assert row["count"] == len(series)
        assert row["min"] == min(series) and row["max"] == max(series)
        assert row["mean"] == pytest.approx(sum(series) / len(series))
    assert by_tag["running"]["count"] == POINTS and by_tag["running"]["mean"] is None
    listed = world.client.get(
        "/api/tenants/tenant-a/jobs", headers=world.auth("plant_manager:tenant-a")
    )
    assert listed.status_code == 200
    assert listed.json()[0]["id"] == job["id"] and listed.json()[0]["result"] is None


def check_failures_are_one_clear_line(world: JobsWorld) -> None:
    nothing = world.start("series_summary", {"site": "no-such-site"})
    failed = world.finished(nothing["id"])
    assert failed["state"] == "failed"
    assert failed["error"] == "no series in this tenant's historian match site='no-such-site'"
    bug = world.finished(world.start("test_explodes", {})["id"])
    assert bug["state"] == "failed"
    assert bug["error"].startswith("RuntimeError: the disk is on fire")
    assert "\n" not in bug["error"] and "secret.py" not in bug["error"]
    assert "Traceback" not in world.get(bug["id"]).text
    late = world.finished(
        world.start("test_slow", {"steps": 1, "gate_dir": str(world.gates())})["id"]
    )
    assert late["state"] == "failed"
    assert late["error"] == "stopped: ran longer than its time limit of 1 s"


def check_progress_moves_and_cancel_stops(world: JobsWorld) -> str:
    gates = world.gates()
    job = world.start("test_stepped", {"steps": 4, "gate_dir": str(gates)})
    world.wait(job["id"], lambda j: j["state"] == "running")
    seen = []
    for step in (1, 2):
        (gates / f"step-{step}").touch()
        running = world.wait(job["id"], lambda j, s=step: j["progress"]["done"] == s)
        assert running["state"] == "running" and running["progress"]["total"] == 4
        seen.append((running["progress"]["done"], running["progress"]["percent"]))
    assert seen == [(1, 25.0), (2, 50.0)]
    asked = world.client.post(
        f"/api/tenants/tenant-a/jobs/{job['id']}/cancel",
        headers=world.auth("plant_manager:tenant-a"),
    )
    assert asked.status_code == 200 and asked.json()["cancel_requested"] is True
    stopped = world.finished(job["id"])
    assert stopped["state"] == "cancelled" and stopped["progress"]["done"] == 2
    assert stopped["result"] is None and stopped["error"] is None
    return job["id"]


# --- (a) a real worker process on the running Redis --------------------------------------


@pytest.fixture
def redis_world(postgres_database: str, tmp_path: Path) -> Iterator[JobsWorld]:
    metadata = _fresh_schema(postgres_database)
    prefix = f"mztest-{uuid.uuid4().hex[:10]}:"  # the run's keys only, removed afterwards
    settings = settings_for(metadata, tmp_path, broker_url=REDIS_URL, jobs_key_prefix=prefix)
    env = {
        **os.environ,
        "MINGZHOU_METADATA": metadata,
        "MINGZHOU_STORAGE": settings.storage,
        "MINGZHOU_BROKER_URL": REDIS_URL,
        "MINGZHOU_JOBS_KEY_PREFIX": prefix,
        "MINGZHOU_JOB_MODULES": "tests.job_kinds",
        "PYTHONPATH": str(REPO),
    }
    log_path = tmp_path / "worker.log"
    store = redis.Redis.from_url(REDIS_URL)
    with TestClient(create_platform_app(settings)):
        pass  # migrates the schema before the worker looks at it
    with log_path.open("wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "mingzhou", "jobs", "worker", "--concurrency", "2",
             "--schedule-file", str(tmp_path / "beat-schedule"),
             "--hostname", f"test-{prefix[:-1]}@localhost", "--log-level", "INFO"],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp_path, start_new_session=True,
        )  # fmt: skip
    try:
        wait_for_worker(worker, log_path)
        with jobs_world(settings, tmp_path) as world:
            yield world
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            code = worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)  # its own session: the worker and its pool
            worker.wait(timeout=10)
            code = None
        keys = list(store.scan_iter(match=f"{prefix}*"))
        if keys:
            store.delete(*keys)
        store.close()
        output = log_path.read_text(errors="replace")
        assert code == 0, f"the worker did not stop cleanly ({code}):\n{output[-3000:]}"
        assert "jobs worker (pid" in output


def wait_for_worker(worker: subprocess.Popen, log_path: Path, timeout: float = 60) -> None:
    """Until Celery logs that the worker consumes; a worker that exits fails the test."""
    deadline = time.monotonic() + timeout
    while " ready." not in log_path.read_text(errors="replace"):
        assert worker.poll() is None, f"the worker exited:\n{log_path.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"no ready worker:\n{log_path.read_text()[-3000:]}"
        time.sleep(0.1)


@pytest.mark.timeout(240)
def test_a_worker_process_on_redis_runs_jobs_with_progress_and_results(
    redis_world: JobsWorld,
) -> None:
    world = redis_world
    check_series_summary(world)
    check_failures_are_one_clear_line(world)
    cancelled = check_progress_moves_and_cancel_stops(world)
    # Celery's own record in Redis agrees with the row.
    jobs = world.client.app.state.jobs
    assert jobs.AsyncResult(cancelled).state == "REVOKED"
    gates = world.gates()
    job = world.start("test_stepped", {"steps": 2, "gate_dir": str(gates)})
    (gates / "step-1").touch()
    world.wait(job["id"], lambda j: j["progress"]["done"] == 1)
    in_celery = jobs.AsyncResult(job["id"])
    assert in_celery.state == "PROGRESS" and in_celery.info["done"] == 1
    (gates / "step-2").touch()
    assert world.finished(job["id"])["result"] == {"steps": 2, "tenant": "tenant-a"}
    # disable_sync_subtasks: an embedded worker earlier in this test process marks the
    # process as a worker, and Celery then refuses a blocking get() anywhere in it.
    result = jobs.AsyncResult(job["id"]).get(timeout=10, disable_sync_subtasks=False)
    assert result == {"steps": 2, "tenant": "tenant-a"}


def test_an_unreachable_broker_answers_503_and_fails_the_job(tmp_path: Path) -> None:
    settings = settings_for(
        f"sqlite:///{tmp_path / 'meta.db'}", tmp_path, broker_url="redis://127.0.0.1:1/0"
    )
    with jobs_world(settings, tmp_path) as world:
        response = world.client.post(
            "/api/tenants/tenant-a/jobs",
            json={"kind": "series_summary", "params": {}},
            headers=world.auth("plant_manager:tenant-a"),
        )
        assert response.status_code == 503, response.text
        assert "could not be queued" in response.json()["detail"]
        (job,) = world.client.get(
            "/api/tenants/tenant-a/jobs", headers=world.auth("plant_manager:tenant-a")
        ).json()
        assert job["state"] == "failed" and "could not be queued" in job["error"]


# --- (b) the embedded worker: no broker server -------------------------------------------


@pytest.fixture
def embedded_world(metadata_url: str, tmp_path: Path) -> Iterator[JobsWorld]:
    with jobs_world(settings_for(metadata_url, tmp_path), tmp_path) as world:
        assert world.client.app.state.jobs_worker is not None
        yield world


@pytest.mark.timeout(180)
def test_the_embedded_worker_runs_jobs_with_progress_and_results(
    embedded_world: JobsWorld,
) -> None:
    check_series_summary(embedded_world)
    check_failures_are_one_clear_line(embedded_world)
    check_progress_moves_and_cancel_stops(embedded_world)


@pytest.mark.timeout(120)
def test_a_queued_job_is_cancelled_at_once(embedded_world: JobsWorld) -> None:
    world = embedded_world
    gates = world.gates()
    # Two jobs fill the embedded worker's two threads; the third waits in the queue.
    busy = [world.start("test_stepped", {"steps": 1, "gate_dir": str(gates)}) for _ in range(2)]
    for job in busy:
        world.wait(job["id"], lambda j: j["state"] == "running")
    waiting = world.start("test_stepped", {"steps": 1, "gate_dir": str(gates)})
    cancel = world.client.post(
        f"/api/tenants/tenant-a/jobs/{waiting['id']}/cancel",
        headers=world.auth("plant_manager:tenant-a"),
    )
    assert cancel.status_code == 200 and cancel.json()["state"] == "cancelled"
    (gates / "step-1").touch()
    for job in busy:
        assert world.finished(job["id"])["state"] == "succeeded"
    # The worker took the cancelled job off the queue and did not run it.
    after = world.get(waiting["id"]).json()
    assert after["state"] == "cancelled" and after["started_at"] is None


@pytest.mark.timeout(120)
def test_periodic_jobs_run_in_the_embedded_mode(metadata_url: str, tmp_path: Path) -> None:
    settings = settings_for(metadata_url, tmp_path)
    settings = dataclasses.replace(settings, job_modules=("tests.job_schedule",))
    with jobs_world(settings, tmp_path) as world:
        send_measurements(world)
        deadline = time.monotonic() + 60
        while True:
            rows = {}
            for tenant in ("tenant-a", "tenant-b"):
                jobs = world.client.get(
                    f"/api/tenants/{tenant}/jobs", headers=world.auth(f"plant_manager:{tenant}")
                ).json()
                rows[tenant] = [j for j in jobs if j["created_by"] == "schedule:test_every_second"]
            a_done = any(j["state"] == "succeeded" for j in rows["tenant-a"])
            b_done = any(j["state"] == "failed" for j in rows["tenant-b"])
            if a_done and b_done:
                break
            assert time.monotonic() < deadline, f"no scheduled jobs ran: {rows}"
            time.sleep(0.1)
    assert {j["kind"] for r in rows.values() for j in r} == {"series_summary"}
    # tenant-b has no data: each scheduled run did its own tenant's work.
    assert all(j["state"] != "succeeded" for j in rows["tenant-b"])


@pytest.mark.timeout(120)
def test_stopping_the_platform_interrupts_running_jobs_and_a_restart_fails_stale_ones(
    metadata_url: str, tmp_path: Path
) -> None:
    settings = settings_for(metadata_url, tmp_path)
    with jobs_world(settings, tmp_path) as world:
        job = world.start("test_stepped", {"steps": 1, "gate_dir": str(world.gates())})
        world.wait(job["id"], lambda j: j["state"] == "running")
    engine = make_engine(metadata_url)
    sessions = session_factory(engine)
    with sessions() as session:
        row = session.get(Job, job["id"])
        assert row.state == "failed" and row.error.startswith("interrupted: the worker stopped")
        tenant_id = row.tenant_id
        stale = Job(id=str(uuid.uuid4()), tenant_id=tenant_id, kind="series_summary", params={},
                    state="running", progress_done=0, created_by="x")  # fmt: skip
        session.add(stale)
        session.commit()
    with TestClient(create_platform_app(settings)):
        pass
    with sessions() as session:
        row = session.get(Job, stale.id)
        assert row.state == "failed" and row.error == RESTARTED
    engine.dispose()


# --- (c) who may see and start jobs ------------------------------------------------------


def test_jobs_are_scoped_to_their_tenant(embedded_world: JobsWorld) -> None:
    world = embedded_world
    for role, tenant in [
        (Role.TENANT_ADMIN, "tenant-a"),
        (Role.SERVICE_ENGINEER, "tenant-a"),
        (Role.TENANT_ADMIN, "tenant-b"),
        (Role.BUREAU_ANALYST, None),
    ]:
        world.add_person(role, tenant)
    gates = world.gates()
    (gates / "step-1").touch()
    job = world.start("test_stepped", {"steps": 1, "gate_dir": str(gates)})
    assert world.finished(job["id"])["state"] == "succeeded"
    b_job = world.start("test_stepped", {"steps": 1, "gate_dir": str(gates)},
                        who="plant_manager:tenant-b", tenant="tenant-b")  # fmt: skip
    a_jobs, a_job = "/api/tenants/tenant-a/jobs", f"/api/tenants/tenant-a/jobs/{job['id']}"
    body = {"kind": "test_stepped", "params": {"steps": 1, "gate_dir": str(gates)}}
    cases = [
        # (who, method, path, status)
        ("admin", "get", a_job, 200),
        ("tenant_admin:tenant-a", "get", a_jobs, 200),
        ("plant_manager:tenant-a", "get", a_job, 200),
        ("service_engineer:tenant-a", "get", a_job, 200),
        ("tenant_admin:tenant-a", "post", a_jobs, 202),
        ("service_engineer:tenant-a", "post", a_jobs, 202),
        ("admin", "post", a_jobs, 202),
        ("tenant_admin:tenant-b", "get", a_jobs, 404),
        ("plant_manager:tenant-b", "get", a_job, 404),
        ("tenant_admin:tenant-b", "post", a_jobs, 404),
        ("plant_manager:tenant-b", "post", f"{a_job}/cancel", 404),
        ("bureau_analyst", "get", a_jobs, 404),
        ("bureau_analyst", "post", a_jobs, 404),
        ("agent:tenant-a", "get", a_jobs, 403),
        ("agent:tenant-a", "post", a_jobs, 403),
        (None, "get", a_jobs, 401),
        (None, "post", a_jobs, 401),
        # tenant-b's job through tenant-a's path: not found, even for tenant-a's admin
        ("tenant_admin:tenant-a", "get", f"{a_jobs}/{b_job['id']}", 404),
        ("tenant_admin:tenant-a", "post", f"{a_jobs}/{b_job['id']}/cancel", 404),
    ]
    for who, method, path, status in cases:
        kwargs = {"json": body} if method == "post" and path == a_jobs else {}
        response = getattr(world.client, method)(path, headers=world.auth(who), **kwargs)
        assert response.status_code == status, (who, method, path, response.text)
        if status >= 400:  # a refusal shows no job: not its kind, params or owner
            assert "test_stepped" not in response.text and "@tenant-" not in response.text
    listed = world.client.get(a_jobs, headers=world.auth("tenant_admin:tenant-a")).json()
    assert b_job["id"] not in {j["id"] for j in listed}
    assert {j["created_by"] for j in listed} == {
        "plant_manager@tenant-a.cn",
        "tenant_admin@tenant-a.cn",
        "service_engineer@tenant-a.cn",
        ADMIN[0],
    }
    # newest first
    stamps = [j["created_at"] for j in listed]
    assert stamps == sorted(stamps, reverse=True)


BAD_REQUESTS = [
    ({"kind": "no_such_kind"}, ["body", "kind"], "series_summary"),
    ({"kind": "series_summary", "params": {"start": "yesterday"}},
     ["body", "params", "start"], "ISO 8601"),
    ({"kind": "series_summary", "params": {"start": "now", "end": "now-1h"}},
     ["body", "params"], "must be before"),
    ({"kind": "series_summary", "params": {"sites": "a"}}, ["body", "params", "sites"], "Extra"),
    ({"kind": "test_stepped", "params": {"steps": 0, "gate_dir": "/x"}},
     ["body", "params", "steps"], "greater than or equal to 1"),
    ({"kind": "test_stepped", "params": {}}, ["body", "params", "steps"], "Field required"),
    ({"params": {}}, ["body", "kind"], "Field required"),
    ({"kind": "series_summary", "params": []}, ["body", "params"], "valid dictionary"),
]  # fmt: skip


def test_bad_job_requests_get_422_naming_the_field(embedded_world: JobsWorld) -> None:
    world = embedded_world
    for body, field, says in BAD_REQUESTS:
        response = world.client.post(
            "/api/tenants/tenant-a/jobs", json=body, headers=world.auth("plant_manager:tenant-a")
        )
        assert response.status_code == 422, (body, response.text)
        errors = response.json()["detail"]
        assert any(e["loc"] == field and says in e["msg"] for e in errors), (body, errors)
    listed = world.client.get(
        "/api/tenants/tenant-a/jobs", headers=world.auth("plant_manager:tenant-a")
    )
    assert listed.json() == []  # nothing was queued


def test_an_unknown_job_id_is_404_and_the_kinds_are_listed(embedded_world: JobsWorld) -> None:
    world = embedded_world
    for job_id in ("0" * 36, "x" * 500, "'; DROP TABLE jobs; --"):
        response = world.get(job_id)
        assert response.status_code == 404 and "no job" in response.json()["detail"]
    kinds = world.client.get(
        "/api/tenants/tenant-a/jobs/kinds", headers=world.auth("plant_manager:tenant-a")
    ).json()
    summary = next(k for k in kinds if k["kind"] == "series_summary")
    assert summary["may_start"] is True and "start" in summary["params_schema"]["properties"]


# --- the parts: throttled progress, the CLI bar, the migration ---------------------------


def test_progress_writes_are_throttled_and_the_last_report_is_kept(metadata_url: str) -> None:
    engine = make_engine(metadata_url)
    sessions = session_factory(engine)
    with sessions() as session:
        tenant = Tenant(key="t", name="t", plan_id=_a_plan(session), storage_database="mz_t")
        session.add(tenant)
        session.flush()
        session.add(Job(id="job-1", tenant_id=tenant.id, kind="k", params={}, state="running",
                        progress_done=0, created_by="x"))  # fmt: skip
        session.commit()
    now = [100.0]
    published = []
    reporter = ProgressReporter(
        "job-1", sessions, interval_s=1.0, publish=published.append, clock=lambda: now[0]
    )
    for done in range(1, 1001):  # a tight loop at one instant: one write
        reporter.report(done, 1000, f"row {done}")
    assert reporter.writes == 1 and published[-1].done == 1

    def stored() -> tuple[int, str | None]:
        with sessions() as session:
            row = session.get(Job, "job-1")
            return row.progress_done, row.progress_message

    assert stored() == (1, "row 1")
    now[0] += 1.0
    reporter.checkpoint()  # the interval passed: the pending report is written
    assert stored() == (1000, "row 1000") and reporter.writes == 2
    now[0] += 0.5
    reporter.report(5, 1000)
    assert stored()[0] == 1000  # throttled
    reporter.flush()
    assert stored()[0] == 5
    with sessions() as session:
        session.get(Job, "job-1").cancel_requested_at = utcnow()
        session.commit()
    now[0] += 0.4
    reporter.report(6, 1000)  # inside the interval: not read yet
    now[0] += 1.0
    with pytest.raises(JobCancelled):
        reporter.checkpoint()
    engine.dispose()


def _a_plan(session) -> int:
    from tenants.models import Plan
    from tenants.onboarding import ensure_default_plans

    ensure_default_plans(session)
    return session.scalar(select(Plan.id).where(Plan.key == "starter"))


def test_the_progress_bar_shows_where_the_work_is() -> None:
    out = io.StringIO()
    console = Console(file=out, width=120, force_terminal=False)
    with progress_bar("summarising", total=None, console=console) as bar:
        bar.update(1, 4, "first")
        bar.advance(2, message="third")
    assert bar.done == 3
    text = out.getvalue()
    assert "summarising" in text and "3/4" in text and "third" in text


def test_the_worker_command_refuses_the_memory_broker() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mingzhou", "jobs", "worker", "--broker", "memory://"],
        capture_output=True, text=True, timeout=60, cwd=REPO,
    )  # fmt: skip
    assert result.returncode == 2
    assert "memory:// needs no worker" in result.stderr and "Traceback" not in result.stderr


def test_the_migration_builds_the_jobs_table_and_downgrades_alone(metadata_url: str) -> None:
    engine = make_engine(metadata_url)
    with engine.connect() as connection:
        assert "jobs" in set(inspect(connection).get_table_names())
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        indexes = {i["name"] for i in inspect(connection).get_indexes("jobs")}
    assert [d for d in differences if "jobs" in str(d)] == []
    assert indexes == {"ix_jobs_state", "ix_jobs_tenant_id_created_at"}
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", metadata_url.replace("%", "%%"))
    command.downgrade(config, "0004_jobs@-1")
    with engine.connect() as connection:
        tables = set(inspect(connection).get_table_names())
    assert "jobs" not in tables and "tenants" in tables
    command.upgrade(config, "heads")
    with engine.connect() as connection:
        assert "jobs" in set(inspect(connection).get_table_names())
    engine.dispose()


def test_job_results_are_json_in_the_api(embedded_world: JobsWorld) -> None:
    gates = embedded_world.gates()
    (gates / "step-1").touch()
    job = embedded_world.start("test_stepped", {"steps": 1, "gate_dir": str(gates)})
    raw = embedded_world.finished(job["id"])
    assert json.loads(json.dumps(raw["result"])) == {"steps": 1, "tenant": "tenant-a"}
    assert raw["started_at"] <= raw["finished_at"] and raw["created_at"].endswith("Z")


@pytest.mark.timeout(180)
def test_the_cli_starts_a_job_and_follows_it_to_its_result(tmp_path: Path) -> None:
    import httpx

    from tests.platform_process import ADMIN as REPLICA_ADMIN
    from tests.platform_process import start_replica, stop_replica

    process, url = start_replica(
        tmp_path,
        f"sqlite:///{tmp_path / 'meta.db'}",
        f"sqlite:{tmp_path / 'series'}",
        "memory://",
        uuid.uuid4().hex * 2,
    )
    try:
        token = httpx.post(f"{url}/api/auth/login", json=REPLICA_ADMIN).json()["token"]
        bearer = {"Authorization": f"Bearer {token}"}
        made = httpx.post(f"{url}/api/tenants", json={"key": "cli-co", "name": "C"}, headers=bearer)
        assert made.status_code == 201, made.text
        agent = httpx.post(
            f"{url}/api/tenants/cli-co/agent-tokens",
            json={"site": "s", "name": "e"},
            headers=bearer,
        ).json()["token"]
        now = time.time_ns()
        points = [
            Point(SeriesKey("s", "l", "P-1", "flow"), now - i * 10**9, float(i)) for i in range(10)
        ]
        sent = httpx.post(
            f"{url}/api/ingest",
            content=encode_points(points),
            headers={"Authorization": f"Token {agent}"},
        )
        assert sent.status_code == 204, sent.text

        def mingzhou(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run(
                [sys.executable, "-m", "mingzhou", "jobs", *args, "--tenant", "cli-co",
                 "--url", url, "--token", token],
                capture_output=True, text=True, timeout=120, cwd=REPO,
            )  # fmt: skip

        done = mingzhou("start", "series_summary", "--params", '{"start": "now-1h"}')
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        assert result["series_count"] == 1 and result["series"][0]["count"] == 10
        assert result["series"][0]["max"] == 9.0
        assert "series_summary" in done.stderr and "1/1" in done.stderr  # the progress bar
        failed = mingzhou("start", "series_summary", "--params", '{"site": "elsewhere"}')
        assert failed.returncode == 1
        assert (
            "failed: no series in this tenant's historian match site='elsewhere'" in failed.stderr
        )
        job_id = failed.stderr.split("job ", 1)[1].split(" ", 1)[0]
        watched = mingzhou("watch", job_id)
        assert watched.returncode == 1 and "site='elsewhere'" in watched.stderr
        refused = mingzhou("start", "no_such_kind")
        assert refused.returncode == 1 and "unknown job kind 'no_such_kind'" in refused.stderr
        assert "Traceback" not in done.stderr + failed.stderr + refused.stderr
    finally:
        stop_replica(process)
