"""A real influxd (Debian's influxdb 1.6.7) on loopback: how to run one, and the fixture."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port

INFLUXD = Path("/usr/bin/influxd")
START_TIMEOUT_S = 15.0

_CONFIG = """\
reporting-enabled = false
bind-address = "127.0.0.1:{rpc_port}"

[meta]
  dir = "{root}/meta"
  logging-enabled = false

[data]
  dir = "{root}/data"
  wal-dir = "{root}/wal"
  query-log-enabled = false

[monitor]
  store-enabled = false

# Expired shard groups go at once, not every 30 minutes: the retention tests watch them go.
[retention]
  check-interval = "1s"

[http]
  enabled = true
  bind-address = "127.0.0.1:{http_port}"
  log-enabled = false

[ifql]
  enabled = false

[continuous_queries]
  enabled = false

[logging]
  level = "warn"
"""


@dataclass
class InfluxdServer:
    url: str
    log_path: Path
    _counter: itertools.count = field(default_factory=itertools.count)

    def new_database(self) -> str:
        """A database name no other test uses; the historian creates it."""
        return f"test_{next(self._counter)}_{uuid.uuid4().hex[:8]}"

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def _wait_until_up(server: InfluxdServer, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"influxd exited with code {process.returncode} before answering /ping; "
                f"log tail:\n{server.log_tail()}"
            )
        try:
            if httpx.get(f"{server.url}/ping", timeout=1.0).status_code == 204:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(
        f"influxd did not answer {server.url}/ping within {START_TIMEOUT_S:.0f} s; "
        f"log tail:\n{server.log_tail()}"
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@contextmanager
def run_influxd(root: Path, http_port: int | None = None) -> Iterator[InfluxdServer]:
    """influxd on loopback (a free HTTP port unless given) with its data under ``root``."""
    http_port = http_port or free_port()
    rpc_port = free_port()
    while rpc_port == http_port:
        rpc_port = free_port()
    config = root / "influxdb.conf"
    config.write_text(_CONFIG.format(root=root, rpc_port=rpc_port, http_port=http_port))
    log_path = root / "influxd.log"
    server = InfluxdServer(url=f"http://127.0.0.1:{http_port}", log_path=log_path)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(INFLUXD), "-config", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "INFLUXDB_CONFIG_PATH": str(config)},
        )
    try:
        _wait_until_up(server, process)
        yield server
    finally:
        _stop(process)


@pytest.fixture(scope="session")
def influxd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxdServer]:
    if not INFLUXD.exists():
        # A missing server is a broken test machine, not a reason to skip the backend.
        pytest.fail(
            f"{INFLUXD} is missing: run `make test`, which installs Debian's influxdb package"
        )
    with run_influxd(tmp_path_factory.mktemp("influxd")) as server:
        yield server
