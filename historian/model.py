"""The historian contract: what a point is, how series are named, what a backend offers.

Every point is one measurement (``telemetry``) with the tags site, line, asset and tag,
and one field named after the value's kind (``float``, ``int``, ``bool``, ``string``).
Naming the field after the kind keeps InfluxDB from refusing a write when two tags of
different types land in the same shard (a field has one type per shard).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from protocols.sample import Value

if TYPE_CHECKING:
    from historian.line_protocol import ValidatedBody

MEASUREMENT = "telemetry"


class ValueKind(StrEnum):
    FLOAT = "float"
    INT = "int"
    BOOL = "bool"
    STRING = "string"

    @property
    def numeric(self) -> bool:
        return self in (ValueKind.FLOAT, ValueKind.INT)


def kind_of(value: Value) -> ValueKind:
    """The field a value is stored in; bool is tested first because bool is an int."""
    if isinstance(value, bool):
        return ValueKind.BOOL
    if isinstance(value, int):
        return ValueKind.INT
    if isinstance(value, float):
        return ValueKind.FLOAT
    if isinstance(value, str):
        return ValueKind.STRING
    raise TypeError(f"unsupported value type {type(value).__name__}: {value!r}")


class Aggregate(StrEnum):
    MEAN = "mean"
    MIN = "min"
    MAX = "max"
    SUM = "sum"
    LAST = "last"
    COUNT = "count"

    @property
    def needs_numbers(self) -> bool:
        return self in (Aggregate.MEAN, Aggregate.MIN, Aggregate.MAX, Aggregate.SUM)


@dataclass(frozen=True, slots=True, order=True)
class SeriesKey:
    """Where a value comes from: InfluxDB tags site, line, asset and tag."""

    site: str
    line: str
    asset: str
    tag: str

    def __post_init__(self) -> None:
        for name in ("site", "line", "asset", "tag"):
            if not getattr(self, name):
                raise ValueError(f"series key needs a non-empty {name}")


@dataclass(frozen=True, slots=True)
class Point:
    key: SeriesKey
    timestamp_ns: int
    value: Value


@dataclass(frozen=True, slots=True)
class SeriesInfo:
    key: SeriesKey
    kind: ValueKind
    last_timestamp_ns: int
    last_value: Value


@dataclass(frozen=True, slots=True)
class SeriesRows:
    """One series' answer to ``Historian.read_many``."""

    key: SeriesKey
    kind: ValueKind | None  # None: the store holds no series of that key
    aggregate: Aggregate | None  # the aggregate its rows hold; None for raw values
    rows: list[tuple[int, Value]]


class HistorianError(Exception):
    """A request the historian cannot serve; the message says what and why."""


class HistorianUnavailable(HistorianError):
    """The store cannot be reached or failed; the same request may work later."""


@runtime_checkable
class Historian(Protocol):
    """A time-series store. Every backend passes the same contract tests.

    Time ranges are [start_ns, end_ns). With ``window_ns`` the values are aggregated per
    window aligned to the Unix epoch, each row stamped with its window's start; empty
    windows are left out. Writing a point whose series and timestamp exist overwrites it
    (InfluxDB's rule), so re-sending a batch never duplicates.
    """

    name: str

    def write(self, points: Iterable[Point]) -> int:
        """Store points; returns how many."""
        ...

    def write_line_protocol(self, body: str | bytes | ValidatedBody) -> int:
        """Store line protocol in this platform's schema; returns points written.

        Raises LineProtocolError naming the line on malformed input; nothing from a
        rejected body is written. A body that ``validate_line_protocol`` returned is not
        checked again: a store that speaks line protocol (InfluxDB) forwards it as it is;
        the others parse it.
        """
        ...

    def list_series(self) -> list[SeriesInfo]:
        """Every series with its kind and latest value."""
        ...

    def enforce_retention(self, keep: timedelta) -> int:
        """Keep only the last ``keep`` of data (a plan's retention): delete older points,
        or have the server do it; returns the points deleted here."""
        ...

    def read(
        self,
        key: SeriesKey,
        start_ns: int,
        end_ns: int,
        window_ns: int | None = None,
        aggregate: Aggregate = Aggregate.MEAN,
        limit: int | None = None,
    ) -> list[tuple[int, Value]]:
        """Timestamps and values in ascending time; at most ``limit`` rows (the first ones)."""
        ...

    def read_many(
        self,
        keys: Sequence[SeriesKey],
        start_ns: int,
        end_ns: int,
        window_ns: int | None = None,
        aggregate: Aggregate = Aggregate.MEAN,
        limit: int | None = None,
        fallback_aggregate: Aggregate | None = None,
    ) -> list[SeriesRows]:
        """Several series over one range in as few round trips as the store allows.

        One entry per distinct key, in the order given, each holding what ``read`` answers
        for it (``limit`` counts per series) and the series' kind (None: no such series).
        With a window, a bool or string series that ``aggregate`` cannot take (mean, min,
        max, sum) is aggregated with ``fallback_aggregate`` (last or count) when given;
        otherwise HistorianError names it, even when it has no values in the range.
        """
        ...

    def exceeding(
        self, keys: Sequence[SeriesKey], start_ns: int, end_ns: int, count: int
    ) -> list[SeriesKey]:
        """The keys holding more than ``count`` values of one kind in [start_ns, end_ns),
        in the order given: whether a chart needs downsampling, learnt without reading
        its values (one index seek a series, all in one round trip)."""
        ...

    def latest(
        self, site: str, line: str | None = None, asset: str | None = None
    ) -> list[SeriesInfo]:
        """The latest value of every series of a site, narrowed to a line, an asset or both.

        One entry per series key (if its kind ever changed, the kind written most
        recently), ordered by key.
        """
        ...

    def close(self) -> None: ...
