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


@pytest.fixture(scope="session", autouse=True)
def _each_password_hashed_once() -> Iterator[None]:
    """Argon2id with the product's parameters costs 0.12 s a hash or a check, on purpose,
    and the suite's fixtures create and sign in the same few users over and over: about
    1,700 of them in the tests that run the platform in-process, 190 s of a run. Each
    distinct computation is now done once a run (platform processes started by tests
    still hash and check every time)."""
    from tenants import passwords

    product_hasher = passwords._hasher
    passwords._hasher = _RememberingHasher()
    try:
        yield
    finally:
        passwords._hasher = product_hasher


class _RememberingHasher:
    """The product's PasswordHasher, remembering: a password hashes to the same real
    Argon2id hash (salt and all) each time, and a check of a hash and password repeats
    the answer, or the error, of the check made the first time."""

    def __init__(self) -> None:
        from argon2 import PasswordHasher

        self._hasher = PasswordHasher()
        self._hashes: dict[str | bytes, str] = {}
        self._checks: dict[tuple[str | bytes, str | bytes], Exception | None] = {}

    def hash(self, password: str | bytes) -> str:
        if password not in self._hashes:
            self._hashes[password] = self._hasher.hash(password)
        return self._hashes[password]

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        key = (hash, password)
        if key not in self._checks:
            try:
                self._hasher.verify(hash, password)
                self._checks[key] = None
            except Exception as exc:  # VerificationError, InvalidHashError
                self._checks[key] = exc
        error = self._checks[key]
        if error is not None:
            raise type(error)(*error.args)
        return True

    def check_needs_rehash(self, hash: str | bytes) -> bool:
        return self._hasher.check_needs_rehash(hash)


@pytest.fixture(scope="session", autouse=True)
def _plant_histories_in_background(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """Starts recording the maintenance tests' plant histories (tests.fixtures_maintenance)
    at the first test, in the order the session will need them, when it needs any."""
    recordings = ("pump_history", "moulding_history", "pump_failures")
    needed: list[str] = []
    for item in request.session.items:
        needed += [
            n for n in getattr(item, "fixturenames", ()) if n in recordings and n not in needed
        ]
    if not needed:
        yield
        return
    from tests.fixtures_maintenance import recording_in_background

    with recording_in_background(needed, tmp_path_factory):
        yield


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
