"""Public holidays by country and year: calendar facts known long before any interval.

Only the years the shipped data and examples need; a site with another calendar passes
its own dates (plant shutdown plans belong there too, when the plant publishes them).
"""

from __future__ import annotations

import pandas as pd

# Korea 2018 (the UCI steel plant is in Gwangyang): New Year, Seollal 15-17 Feb,
# Independence Movement Day, Children's Day and its substitute, Buddha's Birthday,
# Memorial Day, local election day, Liberation Day, Chuseok 23-25 Sep and its substitute.
KOREA_2018 = frozenset(
    pd.Timestamp(d)
    for d in (
        "2018-01-01",
        "2018-02-15",
        "2018-02-16",
        "2018-02-17",
        "2018-03-01",
        "2018-05-05",
        "2018-05-07",
        "2018-05-22",
        "2018-06-06",
        "2018-06-13",
        "2018-08-15",
        "2018-09-23",
        "2018-09-24",
        "2018-09-25",
        "2018-09-26",
        "2018-10-03",
        "2018-10-09",
        "2018-12-25",
    )
)

CALENDARS: dict[str, frozenset[pd.Timestamp]] = {"KR": KOREA_2018, "none": frozenset()}


def is_holiday(index: pd.DatetimeIndex, holidays: frozenset[pd.Timestamp]) -> pd.Series:
    """1.0 where the timestamp falls on a holiday, else 0.0."""
    return pd.Series(index.normalize().isin(list(holidays)).astype(float), index=index)
