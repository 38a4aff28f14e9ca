"""``read_many`` and ``latest`` of the InfluxDB historian: one HTTP request each.

``read_many`` sends, in one multi-statement query, each key's latest value per kind
(which kind the series holds now, as ``read`` decides it) and then the data of every
kind the request can use, all over the same OR of the keys. The answer is sorted into
series in Python, so a 50-tag chart costs one round trip instead of fifty (or a hundred,
with ``read``'s kind lookup).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import suppress
from operator import itemgetter
from typing import Any

from historian.base import aggregate_result, as_kind
from historian.influxdb_minute_cache import MinuteRows, window_rows
from historian.influxdb_rollups import ROLLUP_1M, Segment, rollup_statement, rollup_value
from historian.influxql_multi_series import (
    TAG_KEYS,
    beyond_statement,
    keys_condition,
    latest_statement,
    place_condition,
    raw_statement,
    windowed_statement,
)
from historian.model import (
    Aggregate,
    HistorianError,
    SeriesInfo,
    SeriesKey,
    SeriesRows,
    ValueKind,
)
from historian.multi_series import (
    AggregateRefused,
    aggregate_for,
    check_count,
    check_read_many_arguments,
    distinct_keys,
    latest_per_key,
    most_recent_kinds,
)

# Keys per OR condition: InfluxDB 1.x evaluates a long OR in time that grows faster than
# its length (1,205 keys in one condition: 3.9 s; in groups of 100: 0.3 s), so a request
# holds one group of statements per hundred keys, still in one round trip.
KEYS_PER_CONDITION = 100

# Runs a multi-statement query and returns each statement's result; raises
# MissingDatabase when the database does not exist yet.
Query = Callable[[str], list[dict[str, Any]]]
# Cuts a windowed read's range into raw and rollup segments (influxdb_rollups.plan).
Planner = Callable[[int, int, int], list[Segment]]
# The minute rollup rows of some series of one kind over minute-level segments, from a
# cache kept in the process (influxdb_minute_cache); windows are then made in numpy.
MinuteReader = Callable[[ValueKind, list[SeriesKey], list[Segment]], dict[SeriesKey, MinuteRows]]


class MissingDatabase(HistorianError):
    """Nothing was ever written: every series reads as absent."""


def _series_of(result: dict[str, Any]) -> list[tuple[SeriesKey, list[list[Any]]]]:
    """(key, rows) of each series in one statement's result; rows of points written
    outside this schema (a tag missing) are not a series we can name, and are skipped."""
    found = []
    for series in result.get("series", []):
        tags = series.get("tags", {})
        if all(tags.get(name) for name in TAG_KEYS):
            key = SeriesKey(*(tags[name] for name in TAG_KEYS))
            found.append((key, series["values"]))
    return found


def read_many(
    query: Query,
    keys: Sequence[SeriesKey],
    start_ns: int,
    end_ns: int,
    window_ns: int | None,
    aggregate: Aggregate,
    limit: int | None,
    fallback_aggregate: Aggregate | None,
    planner: Planner | None = None,
    minutes: MinuteReader | None = None,
) -> list[SeriesRows]:
    aggregate = Aggregate(aggregate)
    fallback = None if fallback_aggregate is None else Aggregate(fallback_aggregate)
    check_read_many_arguments(start_ns, end_ns, window_ns, limit, fallback)
    unique = distinct_keys(keys)
    # Which kinds get a data statement, and with which aggregate: a numeric aggregate of
    # a text field is an InfluxDB error that would sink the whole request.
    wanted: list[tuple[ValueKind, Aggregate | None]] = []
    if start_ns < end_ns and limit != 0:
        for kind in ValueKind:
            if window_ns is None:
                wanted.append((kind, None))
            elif not aggregate.needs_numbers or kind.numeric:
                wanted.append((kind, aggregate))
            elif fallback is not None:
                wanted.append((kind, fallback))
    segments = [Segment(start_ns, end_ns, None)]
    if window_ns and limit is None and planner is not None and wanted:
        with suppress(MissingDatabase):
            segments = planner(start_ns, end_ns, window_ns)
    # Minute-level segments are made from cached minute rows once the kinds are known.
    from_minutes = [s for s in segments if minutes is not None and s.level == ROLLUP_1M]
    in_query = [s for s in segments if s not in from_minutes]
    # (kind, aggregate, segment) of each data statement of a group, in order.
    layout = [
        (kind, used, segment)
        for kind, used in wanted
        for segment in (in_query if used is not None else [None])
    ]
    statements = []
    for n in range(0, len(unique), KEYS_PER_CONDITION):
        condition = keys_condition(unique[n : n + KEYS_PER_CONDITION])
        statements.extend(latest_statement(kind, condition) for kind in ValueKind)
        for kind, used, segment in layout:
            if used is None or segment is None:
                statements.append(raw_statement(kind, condition, start_ns, end_ns, limit))
            elif segment.level is None:
                statements.append(
                    windowed_statement(
                        kind,
                        used,
                        condition,
                        segment.start_ns,
                        segment.end_ns,
                        window_ns or 0,
                        limit,
                    )
                )
            else:
                statements.append(rollup_statement(kind, used, condition, segment, window_ns or 0))
    results: list[dict[str, Any]] = []
    # A database never written to holds no series: every key reads as absent.
    with suppress(MissingDatabase):
        results = query("; ".join(statements)) if statements else []
    latest_found: list[tuple[SeriesKey, ValueKind, int]] = []
    data: dict[tuple[ValueKind, SeriesKey], list[tuple[int, Any]]] = {}
    per_group = len(ValueKind) + len(layout)
    for n in range(0, len(results), per_group):
        latest_results = results[n : n + len(ValueKind)]
        data_results = results[n + len(ValueKind) : n + per_group]
        for kind, result in zip(ValueKind, latest_results, strict=True):
            latest_found.extend((key, kind, rows[0][0]) for key, rows in _series_of(result))
        for (kind, used, segment), result in zip(layout, data_results, strict=True):
            for key, rows in _series_of(result):
                # Rows are typed here, where the statement's kind and aggregate are known;
                # windows made from cached minute rows come typed already.
                if used is None:
                    typed = [(row[0], as_kind(kind, row[1])) for row in rows]
                elif segment is not None and segment.level is not None:
                    pairs = ((row[0], rollup_value(used, row)) for row in rows)
                    typed = [
                        (t, aggregate_result(kind, used, v)) for t, v in pairs if v is not None
                    ]
                else:
                    typed = [(t, aggregate_result(kind, used, v)) for t, v in rows if v is not None]
                # Segments come in time order, so a series' rows stay ascending.
                data.setdefault((kind, key), []).extend(typed)
    kinds = most_recent_kinds(latest_found)
    if from_minutes and minutes is not None:
        _add_minute_windows(data, minutes, kinds, from_minutes, window_ns or 0, aggregate, fallback)
    answer = []
    for key in unique:
        kind = kinds.get(key)
        if kind is None:
            answer.append(SeriesRows(key, None, aggregate if window_ns else None, []))
            continue
        rows = data.get((kind, key), [])
        used = None if window_ns is None else aggregate_for(key, kind, aggregate, fallback)
        answer.append(SeriesRows(key, kind, used, rows))
    return answer


def _add_minute_windows(
    data: dict[tuple[ValueKind, SeriesKey], list[tuple[int, Any]]],
    minutes: MinuteReader,
    kinds: dict[SeriesKey, ValueKind],
    segments: list[Segment],
    window_ns: int,
    aggregate: Aggregate,
    fallback: Aggregate | None,
) -> None:
    """Each series' windows of the minute-level segments, merged into ``data`` in time
    order (the other segments' rows are already there)."""
    by_kind: dict[ValueKind, list[tuple[SeriesKey, Aggregate]]] = {}
    for key, kind in kinds.items():
        try:
            used = aggregate_for(key, kind, aggregate, fallback)
        except AggregateRefused:
            continue  # the answer raises it, as for the other segments
        by_kind.setdefault(kind, []).append((key, used))
    for kind, entries in by_kind.items():
        rows_of = minutes(kind, [key for key, _ in entries], segments)
        for key, used in entries:
            rows = data.setdefault((kind, key), [])
            merge = bool(rows)
            for segment in segments:
                rows.extend(window_rows(rows_of[key], used, segment, window_ns))
            if merge:  # raw or hour-level rows came first: put all in time order
                rows.sort(key=itemgetter(0))


def exceeding(
    query: Query, keys: Sequence[SeriesKey], start_ns: int, end_ns: int, count: int
) -> list[SeriesKey]:
    check_count(count)
    unique = distinct_keys(keys)
    if start_ns >= end_ns or not unique:
        return []
    statements = []
    for n in range(0, len(unique), KEYS_PER_CONDITION):
        condition = keys_condition(unique[n : n + KEYS_PER_CONDITION])
        statements.extend(
            beyond_statement(kind, condition, start_ns, end_ns, count) for kind in ValueKind
        )
    try:
        results = query("; ".join(statements))
    except MissingDatabase:
        return []
    over = {key for result in results for key, _ in _series_of(result)}
    return [key for key in unique if key in over]


def latest(query: Query, site: str, line: str | None, asset: str | None) -> list[SeriesInfo]:
    if not site:
        raise HistorianError("latest needs a site")
    condition = place_condition(site, line, asset)
    try:
        results = query("; ".join(latest_statement(kind, condition) for kind in ValueKind))
    except MissingDatabase:
        return []
    infos = []
    for kind, result in zip(ValueKind, results, strict=True):
        for key, rows in _series_of(result):
            ts, value = rows[0][:2]
            infos.append(SeriesInfo(key, kind, ts, as_kind(kind, value)))
    return latest_per_key(infos)
