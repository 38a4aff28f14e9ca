"""What every historian backend shares: line-protocol ingest and the rules of a read."""

from __future__ import annotations

from collections.abc import Iterable

from historian.line_protocol import LineProtocolError, ValidatedBody, parse_line_protocol
from historian.model import Aggregate, HistorianError, Point, SeriesKey, ValueKind
from protocols.sample import Value


class HistorianBase:
    """Base class of the backends; they implement ``write``, ``read`` and the rest."""

    name: str = "historian"

    def write(self, points: Iterable[Point]) -> int:
        raise NotImplementedError

    def write_line_protocol(self, body: str | bytes | ValidatedBody) -> int:
        """Parse the whole body first so a malformed line leaves nothing written."""
        if isinstance(body, ValidatedBody):
            body = body.body
        text = body if isinstance(body, str) else _utf8(body)
        return self.write(parse_line_protocol(text))

    def __enter__(self) -> HistorianBase:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        raise NotImplementedError


def _utf8(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_number = body.count(b"\n", 0, exc.start) + 1
        raise LineProtocolError(line_number, f"body is not UTF-8 at byte {exc.start}") from None


def check_read_arguments(
    start_ns: int, end_ns: int, window_ns: int | None, limit: int | None
) -> None:
    """Refuse reads that no backend can answer sensibly, with the same words everywhere."""
    if window_ns is not None and window_ns <= 0:
        raise HistorianError(f"window must be a positive number of ns, got {window_ns}")
    if limit is not None and limit < 0:
        raise HistorianError(f"limit must be zero or more, got {limit}")


def check_aggregate(key: SeriesKey, kind: ValueKind, aggregate: Aggregate) -> None:
    if aggregate.needs_numbers and not kind.numeric:
        raise HistorianError(
            f"cannot compute {aggregate.value} of series {format_key(key)}: it holds "
            f"{kind.value} values; only last and count work on them"
        )


def format_key(key: SeriesKey) -> str:
    return f"{key.site}/{key.line}/{key.asset}/{key.tag}"


def as_kind(kind: ValueKind, value: object) -> Value:
    """A stored value in its kind's Python type (backends hand back 1 for 1.0, 0 for False)."""
    if kind is ValueKind.FLOAT:
        return float(value)  # type: ignore[arg-type]
    if kind is ValueKind.INT:
        return int(value)  # type: ignore[call-overload]
    if kind is ValueKind.BOOL:
        return bool(value)
    return str(value)


def aggregate_result(kind: ValueKind, aggregate: Aggregate, value: object) -> Value:
    """The type an aggregate of a kind yields: mean is a float, count an int, others the kind."""
    if aggregate is Aggregate.COUNT:
        return int(value)  # type: ignore[call-overload]
    if aggregate is Aggregate.MEAN:
        return float(value)  # type: ignore[arg-type]
    return as_kind(kind, value)
