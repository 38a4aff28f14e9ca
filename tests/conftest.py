"""Fixtures shared by the whole suite; server fixtures live in their own modules."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

# One OpenMP thread per model fit: the suite's models are small, and with servers and
# browsers busy on the same two cores, OpenMP's spinning threads made a 3-s gradient-boosting
# fit take 25 s (and a steel baseline test hit its 300-s timeout). Set before scikit-learn
# loads; subprocesses inherit it.
os.environ.setdefault("OMP_NUM_THREADS", "1")

pytest_plugins = ["tests.fixtures_influxd", "tests.fixtures_metadata", "tests.fixtures_simulators"]


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots go: $MINGZHOU_ARTIFACTS (set by `make test`) or ./test-artifacts."""
    path = Path(os.environ.get("MINGZHOU_ARTIFACTS", "test-artifacts")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def sqlite_session(tmp_path: Path) -> Iterator[Session]:
    """A session on a fresh, migrated SQLite metadata store (where the engine does not
    matter to what a test checks)."""
    from tenants.db import make_engine, session_factory, upgrade

    url = f"sqlite:///{tmp_path / 'meta.db'}"
    upgrade(url)
    engine = make_engine(url)
    with session_factory(engine)() as session:
        yield session
    engine.dispose()
