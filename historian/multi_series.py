"""Rules that every backend's ``read_many`` and ``latest`` share, so they answer alike."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from historian.base import check_aggregate, check_read_arguments
from historian.model import Aggregate, HistorianError, SeriesInfo, SeriesKey, ValueKind

MIN_NS = -(2**63)  # the earliest timestamp either store can hold (SQLite's int64)


def distinct_keys(keys: Sequence[SeriesKey]) -> list[SeriesKey]:
    """The keys in the order given, each once."""
    return list(dict.fromkeys(keys))


def check_read_many_arguments(
    start_ns: int,
    end_ns: int,
    window_ns: int | None,
    limit: int | None,
    fallback_aggregate: Aggregate | None,
) -> None:
    check_read_arguments(start_ns, end_ns, window_ns, limit)
    if window_ns is not None and start_ns < end_ns and start_ns - start_ns % window_ns < MIN_NS:
        # Windows align to the epoch; one starting before int64 time has no timestamp.
        raise HistorianError(
            f"the first window of {window_ns} ns would start before the earliest time a"
            " store holds: use a later start or a shorter window"
        )
    if fallback_aggregate is not None and Aggregate(fallback_aggregate).needs_numbers:
        # The fallback is for series holding text or booleans: it must take any kind.
        raise HistorianError(
            f"fallback aggregate must be last or count, got {Aggregate(fallback_aggregate).value}"
        )


class AggregateRefused(HistorianError):
    """The aggregate asked for cannot take a series' kind (the mean of text)."""


def aggregate_for(
    key: SeriesKey, kind: ValueKind, aggregate: Aggregate, fallback: Aggregate | None
) -> Aggregate:
    """The aggregate a series of ``kind`` gets; AggregateRefused if none fits it."""
    if aggregate.needs_numbers and not kind.numeric and fallback is not None:
        return fallback
    try:
        check_aggregate(key, kind, aggregate)
    except HistorianError as exc:
        raise AggregateRefused(str(exc)) from None
    return aggregate


def most_recent_kinds(
    found: Iterable[tuple[SeriesKey, ValueKind, int]],
) -> dict[SeriesKey, ValueKind]:
    """Each key's kind from (key, kind, latest timestamp) triples: the latest one written.

    A tag whose type changed (a PLC program edit) keeps its older values under the old
    kind; reads follow the kind it has now, as ``read`` does.
    """
    newest: dict[SeriesKey, tuple[int, ValueKind]] = {}
    for key, kind, timestamp_ns in found:
        if key not in newest or timestamp_ns > newest[key][0]:
            newest[key] = (timestamp_ns, kind)
    return {key: kind for key, (_, kind) in newest.items()}


def latest_per_key(infos: Iterable[SeriesInfo]) -> list[SeriesInfo]:
    """One entry per key, of its most recently written kind, ordered by key."""
    newest: dict[SeriesKey, SeriesInfo] = {}
    for info in infos:
        held = newest.get(info.key)
        if held is None or info.last_timestamp_ns > held.last_timestamp_ns:
            newest[info.key] = info
    return [newest[key] for key in sorted(newest)]


def check_count(count: int) -> None:
    if count < 0:
        raise HistorianError(f"count must be zero or more, got {count}")
