"""A power meter's tags in the historian become the meter frame the energy code takes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analytics.energy.historian_source import energy_from_counter, meter_frame
from historian import Point, SeriesKey
from historian.sqlite_store import SqliteHistorian

COUNTER = SeriesKey("site", "utilities", "meter-main", "energy_kwh")
POWER = SeriesKey("site", "utilities", "meter-main", "active_power_kw")
T0 = int(pd.Timestamp("2026-03-02 00:00", tz="UTC").value)  # 08:00 in Shanghai
MINUTE = 60 * 10**9


def _store(tmp_path: Path, reset_at: int | None = None) -> SqliteHistorian:
    """Three hours of a 40 kW load read every minute: 2/3 kWh a minute on the counter."""
    store = SqliteHistorian(tmp_path / "h.db")
    points, counter = [], 1000.0
    for i in range(180):
        if i == reset_at:
            counter = 0.0  # the meter was replaced
        points.append(Point(COUNTER, T0 + i * MINUTE, counter))
        points.append(Point(POWER, T0 + i * MINUTE, 40.0))
        counter += 40 / 60
    store.write(points)
    return store


def test_counter_differences_are_the_kwh_of_each_quarter_hour(tmp_path: Path) -> None:
    store = _store(tmp_path)
    frame = meter_frame(store, T0, T0 + 180 * MINUTE, counter=COUNTER)
    # The first quarter has no reading before it; the other eleven use 10 kWh each.
    assert len(frame) == 11
    assert frame.index[0] == pd.Timestamp("2026-03-02 08:15")  # local clock, naive
    assert frame["kwh"].to_numpy() == pytest.approx([10.0] * 11)
    from_power = meter_frame(store, T0, T0 + 180 * MINUTE, power=POWER)
    assert len(from_power) == 12 and from_power["kwh"].to_numpy() == pytest.approx([10.0] * 12)
    store.close()


def test_a_reset_counter_never_gives_a_negative_or_a_jump(tmp_path: Path) -> None:
    store = _store(tmp_path, reset_at=100)  # minute 100 is in the quarter from minute 90
    kwh = energy_from_counter(store, COUNTER, T0, T0 + 180 * MINUTE)
    reset_quarter = kwh.loc[pd.Timestamp("2026-03-02 09:30")]
    # After the reset the counter reads 0 at minute 100 and 4 x 2/3 at minute 104.
    assert reset_quarter == pytest.approx(4 * 40 / 60)
    others = kwh.drop(pd.Timestamp("2026-03-02 09:30"))
    assert others.to_numpy() == pytest.approx([10.0] * len(others))
    with pytest.raises(ValueError, match="divide a day"):
        energy_from_counter(store, COUNTER, T0, T0 + MINUTE, interval="7min")
    store.close()
