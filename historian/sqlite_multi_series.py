"""``read_many`` and ``latest`` of the SQLite historian: one statement each.

The keys travel as a ``VALUES`` table and each is resolved to its series (the kind
written most recently) once. A raw read's per-series limit becomes an upper time bound
found with one index seek (``LIMIT 1 OFFSET limit``), so it touches at most ``limit``
points of a series however many lie in the range. A windowed read computes each window
with its own primary-key range scan, so nothing is sorted; only when there are too many
windows for that (most of them empty) does it group the points instead.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from itertools import islice

from historian.base import aggregate_result, as_kind
from historian.model import (
    Aggregate,
    HistorianError,
    SeriesInfo,
    SeriesKey,
    SeriesRows,
    ValueKind,
)
from historian.multi_series import (
    aggregate_for,
    check_count,
    check_read_many_arguments,
    distinct_keys,
    latest_per_key,
)

# Five bound parameters a key; SQLite allows 32,766 a statement (3.32+).
KEYS_PER_STATEMENT = 1000
# Windows times series up to which each window is its own index range scan: on this
# machine that is about 4 times faster than GROUP BY, which sorts every point, but an
# empty window still costs a seek, so past this many a sparse read would pay for nothing.
MAX_SCANNED_WINDOWS = 200_000

_TEXT_KINDS = f"('{ValueKind.BOOL.value}', '{ValueKind.STRING.value}')"
# One window of series c.id, [lo, hi): an aggregate, NULL when the window is empty.
_WINDOW_SQL = {
    Aggregate.MEAN: "(SELECT avg(value) FROM points WHERE series_id = c.id{range})",
    Aggregate.MIN: "(SELECT min(value) FROM points WHERE series_id = c.id{range})",
    Aggregate.MAX: "(SELECT max(value) FROM points WHERE series_id = c.id{range})",
    Aggregate.SUM: "(SELECT sum(value) FROM points WHERE series_id = c.id{range})",
    Aggregate.COUNT: "(SELECT nullif(count(*), 0) FROM points WHERE series_id = c.id{range})",
    Aggregate.LAST: (
        "(SELECT value FROM points WHERE series_id = c.id{range} ORDER BY ts DESC LIMIT 1)"
    ),
}
_WINDOW_RANGE = " AND ts >= max(win.start, :start) AND ts < min(win.start + :w, :end)"
# The same aggregates over grouped points (the GROUP BY plan); LAST is looked up after.
_GROUP_SQL = {
    Aggregate.MEAN: "avg(pt.value)",
    Aggregate.MIN: "min(pt.value)",
    Aggregate.MAX: "max(pt.value)",
    Aggregate.SUM: "sum(pt.value)",
    Aggregate.COUNT: "count(pt.value)",
}
_LAST_IN_GROUP = "(SELECT value FROM points WHERE series_id = g.id AND ts = g.last_ts)"

Rows = list[tuple[int, object]]


def _chosen_series(keys: Sequence[SeriesKey], params: dict[str, object], stop_sql: str) -> str:
    """CTEs ``wanted`` (the keys, numbered) and ``chosen`` (idx, id, kind, stop)."""
    rows = []
    for n, key in enumerate(keys):
        rows.append(f"(:i{n}, :s{n}, :l{n}, :a{n}, :t{n})")
        params.update({f"i{n}": n, f"s{n}": key.site, f"l{n}": key.line})
        params.update({f"a{n}": key.asset, f"t{n}": key.tag})
    # MATERIALIZED: computed once per key, not again for each point a join visits.
    return f"""
        WITH wanted(idx, site, line, asset, tag) AS (VALUES {", ".join(rows)}),
        picked(idx, id) AS MATERIALIZED (
            SELECT w.idx, (
                SELECT s.id FROM series s
                WHERE s.site = w.site AND s.line = w.line AND s.asset = w.asset AND s.tag = w.tag
                ORDER BY (SELECT max(ts) FROM points WHERE series_id = s.id) DESC LIMIT 1
            ) FROM wanted w
        ),
        chosen(idx, id, kind, stop) AS MATERIALIZED (
            SELECT p.idx, p.id, s.kind, {stop_sql} FROM picked p JOIN series s ON s.id = p.id
        )"""


def read_many(
    conn: sqlite3.Connection,
    keys: Sequence[SeriesKey],
    start_ns: int,
    end_ns: int,
    window_ns: int | None,
    aggregate: Aggregate,
    limit: int | None,
    fallback_aggregate: Aggregate | None,
) -> list[SeriesRows]:
    aggregate = Aggregate(aggregate)
    fallback = None if fallback_aggregate is None else Aggregate(fallback_aggregate)
    check_read_many_arguments(start_ns, end_ns, window_ns, limit, fallback)
    unique = distinct_keys(keys)
    found: dict[int, tuple[ValueKind, Rows]] = {}
    chunks = iter(unique)
    offset = 0
    # One statement for any request the API sends (at most 200 series); more keys than a
    # statement can bind take one statement per thousand.
    while chunk := list(islice(chunks, KEYS_PER_STATEMENT)):
        for idx, entry in _read_chunk(
            conn, chunk, start_ns, end_ns, window_ns, aggregate, limit, fallback
        ).items():
            found[offset + idx] = entry
        offset += len(chunk)
    result = []
    for n, key in enumerate(unique):
        if n not in found:
            result.append(SeriesRows(key, None, aggregate if window_ns else None, []))
            continue
        kind, rows = found[n]
        rows.sort(key=lambda row: row[0])  # already in order in practice: linear
        if window_ns is None:
            values = [(ts, as_kind(kind, value)) for ts, value in rows]
            result.append(SeriesRows(key, kind, None, values))
            continue
        used = aggregate_for(key, kind, aggregate, fallback)
        values = [(ts, aggregate_result(kind, used, value)) for ts, value in rows[:limit]]
        result.append(SeriesRows(key, kind, used, values))
    return result


def _read_chunk(
    conn: sqlite3.Connection,
    keys: list[SeriesKey],
    start_ns: int,
    end_ns: int,
    window_ns: int | None,
    aggregate: Aggregate,
    limit: int | None,
    fallback: Aggregate | None,
) -> dict[int, tuple[ValueKind, Rows]]:
    """Each found key's kind and rows (unsorted), by its index in ``keys``."""
    params: dict[str, object] = {"start": start_ns, "end": end_ns}
    stop = "NULL"
    if start_ns >= end_ns or limit == 0:
        data = ""  # nothing to read; the kinds still say which series exist
    elif window_ns is None:
        stop = ":end"
        if limit is not None:
            params["offset"] = limit
            stop = (
                "coalesce((SELECT ts FROM points WHERE series_id = p.id AND ts >= :start"
                " AND ts < :end ORDER BY ts LIMIT 1 OFFSET :offset), :end)"
            )
        data = """
            SELECT c.idx, c.kind, pt.ts, pt.value FROM chosen c
            JOIN points pt ON pt.series_id = c.id AND pt.ts >= :start AND pt.ts < c.stop"""
    else:
        params["w"] = window_ns
        if not aggregate.needs_numbers:
            fallback = None  # the aggregate takes every kind: nothing falls back
        windows = (end_ns - 1) // window_ns - start_ns // window_ns + 1
        if windows * len(keys) <= MAX_SCANNED_WINDOWS:
            data = _scanned_windows(params, start_ns, window_ns, aggregate, fallback)
        else:
            data = _grouped_windows(aggregate, fallback)
    # Every found series also yields one row without a time, so a series with no values
    # in the range still has its kind (and a refused aggregate is refused).
    sql = _chosen_series(keys, params, stop) + (f"{data} UNION ALL" if data else "")
    sql += " SELECT idx, kind, NULL, NULL FROM chosen"
    found: dict[int, tuple[ValueKind, Rows]] = {}
    for idx, kind_text, ts, value in conn.execute(sql, params):
        _, rows = found.setdefault(idx, (ValueKind(kind_text), []))
        if ts is not None and value is not None:  # NULL: an empty window
            rows.append((ts, value))
    return found


def _per_kind(main: str, fallback: str | None, kind_column: str) -> str:
    """The main aggregate's SQL, or the fallback's for series of text or booleans."""
    if fallback is None:
        return main
    return f"CASE WHEN {kind_column} IN {_TEXT_KINDS} THEN {fallback} ELSE {main} END"


def _scanned_windows(
    params: dict[str, object],
    start_ns: int,
    window_ns: int,
    aggregate: Aggregate,
    fallback: Aggregate | None,
) -> str:
    # Windows are aligned to the epoch: the first starts at or before the range's start.
    params["first"] = start_ns - start_ns % window_ns
    value = _per_kind(
        _WINDOW_SQL[aggregate].format(range=_WINDOW_RANGE),
        _WINDOW_SQL[fallback].format(range=_WINDOW_RANGE) if fallback else None,
        "c.kind",
    )
    return f"""
        , win(start) AS (
            SELECT :first UNION ALL SELECT start + :w FROM win WHERE start + :w < :end
        )
        SELECT c.idx, c.kind, win.start, {value} FROM chosen c, win"""


def _grouped_windows(aggregate: Aggregate, fallback: Aggregate | None) -> str:
    def column(used: Aggregate, name: str) -> str:
        return _LAST_IN_GROUP if used is Aggregate.LAST else f"g.{name}"

    main = _GROUP_SQL.get(aggregate, "NULL")
    other = _GROUP_SQL.get(fallback, "NULL") if fallback else "NULL"
    value = _per_kind(
        column(aggregate, "main"), column(fallback, "other") if fallback else None, "g.kind"
    )
    # ts - floor-mod(ts, w): the epoch-aligned window start, right for negative ts too.
    return f"""
        , g AS (
            SELECT c.idx, c.id, c.kind, pt.ts - (((pt.ts % :w) + :w) % :w) AS start,
                   max(pt.ts) AS last_ts, {main} AS main, {other} AS other
            FROM chosen c
            JOIN points pt ON pt.series_id = c.id AND pt.ts >= :start AND pt.ts < :end
            GROUP BY c.idx, start
        )
        SELECT g.idx, g.kind, g.start, {value} FROM g"""


def exceeding(
    conn: sqlite3.Connection, keys: Sequence[SeriesKey], start_ns: int, end_ns: int, count: int
) -> list[SeriesKey]:
    check_count(count)
    unique = distinct_keys(keys)
    over: set[int] = set()
    for offset in range(0, len(unique), KEYS_PER_STATEMENT):
        chunk = unique[offset : offset + KEYS_PER_STATEMENT]
        params: dict[str, object] = {"start": start_ns, "end": end_ns, "count": count}
        rows = []
        for n, key in enumerate(chunk):
            rows.append(f"(:i{n}, :s{n}, :l{n}, :a{n}, :t{n})")
            params.update({f"i{n}": n, f"s{n}": key.site, f"l{n}": key.line})
            params.update({f"a{n}": key.asset, f"t{n}": key.tag})
        # The (count + 1)-th value of a series, if it has one, is one index seek away.
        sql = f"""
            WITH wanted(idx, site, line, asset, tag) AS (VALUES {", ".join(rows)})
            SELECT DISTINCT w.idx FROM wanted w
            JOIN series s
              ON s.site = w.site AND s.line = w.line AND s.asset = w.asset AND s.tag = w.tag
            WHERE EXISTS (
                SELECT 1 FROM points WHERE series_id = s.id AND ts >= :start AND ts < :end
                LIMIT 1 OFFSET :count
            )"""
        over.update(offset + idx for (idx,) in conn.execute(sql, params))
    return [key for n, key in enumerate(unique) if n in over]


def latest(
    conn: sqlite3.Connection, site: str, line: str | None, asset: str | None
) -> list[SeriesInfo]:
    if not site:
        raise HistorianError("latest needs a site")
    where = ["s.site = :site"]
    params: dict[str, str] = {"site": site}
    for name, value in (("line", line), ("asset", asset)):
        if value is not None:
            where.append(f"s.{name} = :{name}")
            params[name] = value
    # The correlated max(ts) is one seek on the (series_id, ts) primary key per series,
    # and the site (line, asset) prefix is the series table's unique index.
    rows = conn.execute(
        f"""
        SELECT s.site, s.line, s.asset, s.tag, s.kind, p.ts, p.value
        FROM series s
        JOIN points p ON p.series_id = s.id
         AND p.ts = (SELECT max(ts) FROM points WHERE series_id = s.id)
        WHERE {" AND ".join(where)}
        """,
        params,
    )
    infos = []
    for site_, line_, asset_, tag, kind_text, ts, value in rows:
        kind = ValueKind(kind_text)
        key = SeriesKey(site_, line_, asset_, tag)
        infos.append(SeriesInfo(key, kind, ts, as_kind(kind, value)))
    return latest_per_key(infos)
