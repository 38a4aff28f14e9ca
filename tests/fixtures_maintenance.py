"""Session fixtures: the plant histories of :mod:`tests.maintenance_sim_data`, recorded
once per run. Test modules load them with ``pytest_plugins``.

Recording is CPU work of tens of seconds (hours of plant stepped in quarter seconds)
while most of the suite waits on servers and browsers; so when the session will need a
history, ``recording_in_background`` (started by an autouse fixture in ``conftest``)
records it in a low-priority process from the first test on, and the fixture takes
the result, the same file a recording in the test's own process would have made."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.pool import AsyncResult
from pathlib import Path

import pytest

from tests.maintenance_sim_data import (
    RecordedFailures,
    RecordedPlant,
    record_moulding,
    record_pump_failures,
    record_pumps,
)

# fixture name: (folder under the session's temporary directory, recorder)
RECORDINGS: dict[str, tuple[str, Callable[[Path], RecordedPlant | RecordedFailures]]] = {
    "pump_history": ("pumps", record_pumps),
    "moulding_history": ("moulding", record_moulding),
    "pump_failures": ("pump-failures", record_pump_failures),
}
_in_background: dict[str, AsyncResult] = {}


@contextmanager
def recording_in_background(
    names: list[str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """Record the histories ``names`` (in the order the session needs them) in another
    process at low priority, so they are ready, or nearly, when a test asks for them."""
    spawn = multiprocessing.get_context("spawn")  # a fork of pytest would copy its threads
    pool = spawn.Pool(1, initializer=os.nice, initargs=(10,))
    try:
        for name in names:
            folder, recorder = RECORDINGS[name]
            path = tmp_path_factory.mktemp(folder) / "series.db"
            _in_background[name] = pool.apply_async(recorder, (path,))
        yield
    finally:
        _in_background.clear()
        pool.terminate()  # a session that stops early does not wait for what it no longer needs
        pool.join()


def _recorded(name: str, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    pending = _in_background.get(name)
    if pending is not None:
        return pending.get()
    folder, recorder = RECORDINGS[name]
    return recorder(tmp_path_factory.mktemp(folder) / "series.db")


@pytest.fixture(scope="session")
def pump_history(tmp_path_factory: pytest.TempPathFactory) -> RecordedPlant:
    """Three pumps for 36 h, then bearing wear on P-101 until its vibration trip (~57 h)."""
    return _recorded("pump_history", tmp_path_factory)


@pytest.fixture(scope="session")
def moulding_history(tmp_path_factory: pytest.TempPathFactory) -> RecordedPlant:
    """Two moulding machines for 36 h, then IMM-01's barrel heaters fail for 2 h."""
    return _recorded("moulding_history", tmp_path_factory)


@pytest.fixture(scope="session")
def pump_failures(tmp_path_factory: pytest.TempPathFactory) -> RecordedFailures:
    """Five bearing failures run to the trip: material for a remaining-life model."""
    return _recorded("pump_failures", tmp_path_factory)
