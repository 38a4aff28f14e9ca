"""The time-series store behind the platform: one interface, several backends."""

from historian.model import (
    MEASUREMENT,
    Aggregate,
    Historian,
    HistorianError,
    Point,
    SeriesInfo,
    SeriesKey,
    ValueKind,
    kind_of,
)

__all__ = [
    "MEASUREMENT",
    "Aggregate",
    "Historian",
    "HistorianError",
    "Point",
    "SeriesInfo",
    "SeriesKey",
    "ValueKind",
    "kind_of",
]
