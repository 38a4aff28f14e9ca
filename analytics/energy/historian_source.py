"""A power meter's tags in the historian -> the meter frame every energy function takes.

Two ways to get each interval's kWh, best first:

- from the meter's **energy counter** (what a revenue meter bills): the counter's last
  value in each interval minus the one before it. A counter that goes backwards was
  reset (meter replaced, rolled over): that interval counts what the counter shows since
  the reset, a slight undercount of one interval, never a negative or a huge jump.
- from **active power** samples when there is no counter: the interval's mean kW times
  its length (a polled mean, as good as the polling is regular).

The frame's index is interval starts in the site's local clock (naive), because tariff
periods, hours of the day and day types are local.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from historian import Aggregate, Historian, SeriesKey

DEFAULT_TIMEZONE = "Asia/Shanghai"


def _window_ns(interval: str) -> int:
    window = pd.Timedelta(interval)
    if window <= pd.Timedelta(0) or pd.Timedelta(days=1) % window != pd.Timedelta(0):
        raise ValueError(f"interval {interval!r} must divide a day (15min, 1h, ...)")
    return int(window.value)


def _local_index(starts_ns: list[int], timezone: str) -> pd.DatetimeIndex:
    utc = pd.to_datetime(np.asarray(starts_ns, dtype="int64"), unit="ns", utc=True)
    return pd.DatetimeIndex(utc.tz_convert(timezone).tz_localize(None), name="start")


def energy_from_counter(
    historian: Historian,
    counter: SeriesKey,
    start_ns: int,
    end_ns: int,
    interval: str = "15min",
    timezone: str = DEFAULT_TIMEZONE,
) -> pd.Series:
    """kWh per interval from a cumulative kWh counter (intervals with no reading left out)."""
    window = _window_ns(interval)
    first = start_ns - start_ns % window
    # One interval before the range: its last reading is where the first one starts from.
    rows = historian.read(counter, first - window, end_ns, window, Aggregate.LAST)
    starts = np.asarray([t for t, _ in rows], dtype="int64")
    values = np.asarray([float(v) for _, v in rows], dtype=float)  # type: ignore[arg-type]
    if len(rows) < 2:
        return pd.Series(dtype=float, name="kwh")
    step = np.diff(values)
    # Adjacent windows only: after a gap the difference spans several intervals.
    adjacent = np.diff(starts) == window
    kwh = np.where(step >= 0, step, values[1:])  # a reset: count what came after it
    keep = adjacent & (starts[1:] >= first)
    return pd.Series(kwh[keep], index=_local_index(list(starts[1:][keep]), timezone), name="kwh")


def energy_from_power(
    historian: Historian,
    power: SeriesKey,
    start_ns: int,
    end_ns: int,
    interval: str = "15min",
    timezone: str = DEFAULT_TIMEZONE,
) -> pd.Series:
    """kWh per interval as mean kW x interval hours."""
    window = _window_ns(interval)
    rows = historian.read(power, start_ns - start_ns % window, end_ns, window, Aggregate.MEAN)
    hours = window / 3.6e12
    return pd.Series(
        [float(v) * hours for _, v in rows],  # type: ignore[arg-type]
        index=_local_index([t for t, _ in rows], timezone),
        name="kwh",
    )


def meter_frame(
    historian: Historian,
    start_ns: int,
    end_ns: int,
    counter: SeriesKey | None = None,
    power: SeriesKey | None = None,
    interval: str = "15min",
    timezone: str = DEFAULT_TIMEZONE,
) -> pd.DataFrame:
    """The meter frame of a range: from the counter if given, else from power."""
    if counter is not None:
        kwh = energy_from_counter(historian, counter, start_ns, end_ns, interval, timezone)
    elif power is not None:
        kwh = energy_from_power(historian, power, start_ns, end_ns, interval, timezone)
    else:
        raise ValueError("give the meter's energy counter or its active power series")
    return kwh.to_frame()
