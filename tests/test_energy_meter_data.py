"""Reading the UCI steel file: the midnight quirk, the split, and the plain format."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analytics.energy.meter_data import (
    parse_steel_end_stamps,
    read_meter_csv,
    read_steel_csv,
    split_steel_csv,
)
from tests.energy_data import steel_csv


def test_midnight_stamp_belongs_to_the_next_day() -> None:
    ends = parse_steel_end_stamps(
        pd.Series(["01/01/2018 23:45", "01/01/2018 00:00", "02/01/2018 00:15"])
    )
    assert list(ends) == [
        pd.Timestamp("2018-01-01 23:45"),
        pd.Timestamp("2018-01-02 00:00"),
        pd.Timestamp("2018-01-02 00:15"),
    ]


def test_steel_file_reads_strictly_increasing_interval_starts() -> None:
    frame = read_steel_csv(steel_csv())
    assert len(frame) == 26_208
    assert frame.index.is_unique and frame.index.is_monotonic_increasing
    assert (frame.index[1:] - frame.index[:-1] == pd.Timedelta(minutes=15)).all()
    # The row "01/01/2018 00:00" (3.42 kWh) ends at 2018-01-02 00:00, so starts at 23:45.
    assert frame.loc[pd.Timestamp("2018-01-01 23:45"), "kwh"] == 3.42
    assert frame.index[0] == pd.Timestamp("2018-01-01 00:00")
    assert frame.index[-1] == pd.Timestamp("2018-09-30 23:45")


def test_split_writes_halves_that_read_back_in_the_same_format(tmp_path: Path) -> None:
    train, test = split_steel_csv(steel_csv(), pd.Timestamp("2018-07-01"), tmp_path)
    first, second = read_steel_csv(train), read_steel_csv(test)
    assert first.index[-1] == pd.Timestamp("2018-06-30 23:45")
    assert second.index[0] == pd.Timestamp("2018-07-01 00:00")
    assert len(first) + len(second) == 26_208


def test_plain_format(tmp_path: Path) -> None:
    path = tmp_path / "meter.csv"
    path.write_text("start,kwh,output\n2024-01-01 00:00,1.5,2\n2024-01-01 00:15,2.5,3\n")
    frame = read_meter_csv(path, "plain")
    assert frame["kwh"].sum() == 4.0 and frame["output"].sum() == 5.0
