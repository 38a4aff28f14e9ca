"""The time-series store behind the platform: one interface, several backends."""

from historian.influxdb_v1 import InfluxV1Historian
from historian.line_protocol import (
    LineProtocolError,
    encode_point,
    encode_points,
    parse_line_protocol,
)
from historian.model import (
    MEASUREMENT,
    Aggregate,
    Historian,
    HistorianError,
    HistorianUnavailable,
    Point,
    SeriesInfo,
    SeriesKey,
    SeriesRows,
    ValueKind,
    kind_of,
)
from historian.open import open_historian
from historian.sqlite_store import SqliteHistorian

__all__ = [
    "MEASUREMENT",
    "Aggregate",
    "Historian",
    "HistorianError",
    "HistorianUnavailable",
    "InfluxV1Historian",
    "LineProtocolError",
    "Point",
    "SeriesInfo",
    "SeriesKey",
    "SeriesRows",
    "SqliteHistorian",
    "ValueKind",
    "encode_point",
    "encode_points",
    "kind_of",
    "open_historian",
    "parse_line_protocol",
]
