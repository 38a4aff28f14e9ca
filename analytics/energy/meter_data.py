"""Reading power-meter series into one frame shape that every energy function takes.

The shape: a DatetimeIndex of interval *starts* (naive local time, strictly increasing) and
columns ``kwh`` (active energy in the interval) and, when the meter gives them, ``kvarh``
(reactive energy, lagging plus leading magnitude) and ``output`` (units produced).
Interval starts, not ends, because a tariff period, an hour of the day or a day type is a
property of when the energy was drawn, and the start names that unambiguously.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

STEEL_FORMAT = "steel"
PLAIN_FORMAT = "plain"
FORMATS = (STEEL_FORMAT, PLAIN_FORMAT)


def parse_steel_end_stamps(stamps: pd.Series) -> pd.DatetimeIndex:
    """Interval END times of the UCI steel file, with its midnight quirk fixed.

    The file writes the interval that ends at midnight as ``dd/mm/yyyy 00:00`` of the day
    it closes, not of the day that starts: "01/01/2018 00:00" comes after "01/01/2018 23:45"
    and is really 2018-01-02 00:00. So every 00:00 stamp moves one day on.
    """
    ends = pd.to_datetime(stamps, format="%d/%m/%Y %H:%M")
    midnight = (ends.dt.hour == 0) & (ends.dt.minute == 0)
    ends = ends.where(~midnight, ends + pd.Timedelta(days=1))
    return pd.DatetimeIndex(ends, name="end")


def read_steel_csv(path: str | Path) -> pd.DataFrame:
    """The UCI steel-industry file as a meter frame (interval starts, kwh, kvarh).

    Only energy is kept: the file's power factors and CO2 are derived from the same
    interval's readings, so carrying them along invites leaking them into a baseline.
    """
    raw = pd.read_csv(path)
    ends = parse_steel_end_stamps(raw["date"])
    step = pd.Timedelta(minutes=15)
    # Reactive energy in either direction counts: State Grid's power-factor assessment in
    # several provinces adds leading (capacitive) kVArh to lagging, so a PF KPI built on the
    # sum is the one the bill is based on.
    frame = pd.DataFrame(
        {
            "kwh": raw["Usage_kWh"].to_numpy(dtype=float),
            "kvarh": (
                raw["Lagging_Current_Reactive_Power_kVarh"].to_numpy(dtype=float)
                + raw["Leading_Current_Reactive_Power_kVarh"].to_numpy(dtype=float)
            ),
        },
        index=pd.DatetimeIndex(ends - step, name="start"),
    )
    return _checked(frame, path)


def read_plain_csv(path: str | Path) -> pd.DataFrame:
    """A CSV with a ``start`` column (interval start) and ``kwh``, optional kvarh/output."""
    raw = pd.read_csv(path, parse_dates=["start"])
    frame = raw.set_index("start")
    keep = [c for c in ("kwh", "kvarh", "output") if c in frame]
    return _checked(frame[keep].astype(float), path)


def read_meter_csv(path: str | Path, fmt: str = STEEL_FORMAT) -> pd.DataFrame:
    """Dispatch on the file format name used by the CLI's ``--format``."""
    if fmt == STEEL_FORMAT:
        return read_steel_csv(path)
    if fmt == PLAIN_FORMAT:
        return read_plain_csv(path)
    raise ValueError(f"unknown meter file format {fmt!r}; expected one of {', '.join(FORMATS)}")


def _checked(frame: pd.DataFrame, path: str | Path) -> pd.DataFrame:
    if not frame.index.is_monotonic_increasing or not frame.index.is_unique:
        raise ValueError(f"{path}: interval times are not strictly increasing")
    return frame


def split_steel_csv(path: str | Path, at: pd.Timestamp, out_dir: str | Path) -> tuple[Path, Path]:
    """Write the rows of intervals starting before ``at`` to train.csv, the rest to test.csv.

    Rows are copied verbatim (same columns, same stamp format, quirk included), so both
    halves read back with ``read_steel_csv`` like the original.
    """
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    starts = parse_steel_end_stamps(raw["date"]) - pd.Timedelta(minutes=15)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    before = starts < at
    train, test = out / "train.csv", out / "test.csv"
    raw[before].to_csv(train, index=False)
    raw[~before].to_csv(test, index=False)
    return train, test
