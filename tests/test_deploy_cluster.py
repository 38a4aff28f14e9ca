"""deploy/local-cluster.sh: two API replicas and a jobs worker on one PostgreSQL and one
Redis, as deploy/ documents them. A tenant's rate limit holds across the replicas, and a
job started on one replica runs on the worker and is seen from the other."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from pathlib import Path

import httpx

from historian import Point, SeriesKey
from historian.line_protocol import encode_points
from tests.conftest import free_port
from tests.fixtures_metadata import _fresh_schema
from tests.test_cloud_replicas import onboard

SCRIPT = Path(__file__).parent.parent / "deploy" / "local-cluster.sh"
ADMIN = {"email": "ops@cluster.test", "password": "cluster-password"}


def _cluster(command: str, run: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(SCRIPT), command, str(run)],
        env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip


def test_replicas_and_a_worker_share_limits_and_jobs(
    tmp_path: Path, postgres_database: str
) -> None:
    ports = [free_port(), free_port()]
    env = {
        **os.environ,
        "MINGZHOU_SECRET": uuid.uuid4().hex * 2,
        "MINGZHOU_METADATA": _fresh_schema(postgres_database),
        "MINGZHOU_STORAGE": f"sqlite:{tmp_path / 'series'}",
        "MINGZHOU_RATE_LIMITS": "redis://127.0.0.1:6379/0",
        "MINGZHOU_BROKER_URL": "redis://127.0.0.1:6379/0",
        "MINGZHOU_JOBS_KEY_PREFIX": f"cluster-{uuid.uuid4().hex[:8]}:",
        "MINGZHOU_ADMIN_EMAIL": ADMIN["email"],
        "MINGZHOU_ADMIN_PASSWORD": ADMIN["password"],
        "MINGZHOU_PORTS": " ".join(map(str, ports)),
    }
    run = tmp_path / "cluster"
    missing = {k: v for k, v in env.items() if k != "MINGZHOU_BROKER_URL"}
    refused = _cluster("start", run, missing)
    assert refused.returncode == 2 and "set MINGZHOU_BROKER_URL" in refused.stderr
    started = _cluster("start", run, env)
    try:
        assert started.returncode == 0, started.stderr + "".join(
            p.read_text() for p in run.glob("*.log")
        )
        a, b = (f"http://127.0.0.1:{p}" for p in ports)
        tenant = f"t{uuid.uuid4().hex[:8]}"
        token = onboard(a, tenant, "plant", admin=ADMIN)
        headers = {"Authorization": f"Token {token}"}
        # The starter plan admits 2,000 points/s over 10 s windows: 20,000 a window.
        accepted, refused_at = 0, None
        for n in range(30):
            key = SeriesKey("plant", "line", "asset", f"tag{n}")
            now = time.time_ns() - 10**9  # in the job's default range (the last 24 h)
            body = encode_points([Point(key, now - i, float(i)) for i in range(2000)])
            answer = httpx.post(f"{(a, b)[n % 2]}/api/ingest", content=body, headers=headers)
            if answer.status_code == 429:
                refused_at = n
                break
            assert answer.status_code == 204, answer.text
            accepted += 2000
        assert refused_at is not None and accepted <= 20_000  # one limit, not one per replica
        # A job started on replica A runs on the worker; replica B reports it done.
        login = httpx.post(f"{a}/api/auth/login", json=ADMIN).json()["token"]
        people = {"Authorization": f"Bearer {login}"}
        job = httpx.post(
            f"{a}/api/tenants/{tenant}/jobs",
            json={"kind": "series_summary", "params": {}},
            headers=people,
        )
        assert job.status_code == 202, job.text
        deadline, state = time.monotonic() + 60, None
        while time.monotonic() < deadline:
            seen = httpx.get(f"{b}/api/tenants/{tenant}/jobs/{job.json()['id']}", headers=people)
            state = seen.json()["state"]
            if state in ("succeeded", "failed"):
                break
            time.sleep(0.3)
        assert state == "succeeded", seen.text
        assert len(seen.json()["result"]["series"]) >= 10
    finally:
        stopped = _cluster("stop", run, env)
    assert stopped.returncode == 0 and "stopped 3 processes" in stopped.stdout, stopped.stderr
    assert not list(run.glob("*.pid"))
