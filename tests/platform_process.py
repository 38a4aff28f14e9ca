"""The platform API as a real process for tests and benchmarks: start, wait, stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import free_port

ADMIN = {"email": "admin@platform.cn", "password": "admin-password"}


def start_replica(
    tmp_path: Path, metadata: str, storage: str, rate_limits: str, secret: str
) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **os.environ,
        "MINGZHOU_SECRET": secret,
        "MINGZHOU_ADMIN_EMAIL": ADMIN["email"],
        "MINGZHOU_ADMIN_PASSWORD": ADMIN["password"],
    }
    log = (tmp_path / f"replica-{port}.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "mingzhou", "cloud", "platform", "--metadata", metadata, "--storage", storage,
         "--rate-limits", rate_limits, "--port", str(port), "--log-level", "WARNING"],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, (tmp_path / f"replica-{port}.log").read_text()
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError("the platform API did not start")


def stop_replica(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0
