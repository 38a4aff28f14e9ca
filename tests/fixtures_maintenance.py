"""Session fixtures: the plant histories of :mod:`tests.maintenance_sim_data`, recorded
once per run. Test modules load them with ``pytest_plugins``."""

from __future__ import annotations

import pytest

from tests.maintenance_sim_data import (
    RecordedFailures,
    RecordedPlant,
    record_moulding,
    record_pump_failures,
    record_pumps,
)


@pytest.fixture(scope="session")
def pump_history(tmp_path_factory: pytest.TempPathFactory) -> RecordedPlant:
    """Three pumps for 36 h, then bearing wear on P-101 until its vibration trip (~57 h)."""
    return record_pumps(tmp_path_factory.mktemp("pumps") / "series.db")


@pytest.fixture(scope="session")
def moulding_history(tmp_path_factory: pytest.TempPathFactory) -> RecordedPlant:
    """Two moulding machines for 36 h, then IMM-01's barrel heaters fail for 2 h."""
    return record_moulding(tmp_path_factory.mktemp("moulding") / "series.db")


@pytest.fixture(scope="session")
def pump_failures(tmp_path_factory: pytest.TempPathFactory) -> RecordedFailures:
    """Five bearing failures run to the trip: material for a remaining-life model."""
    return record_pump_failures(tmp_path_factory.mktemp("pump-failures") / "series.db")
