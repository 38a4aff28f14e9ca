"""InfluxQL for reading many series in one request, built only from quoted names.

Keys are matched with ``=`` on quoted string literals (``influxql.tag_equals``; only a
name holding NUL or CR, which no literal can carry, becomes a regex spelled entirely in
hex escapes), so quotes and regex metacharacters in a name are plain characters and a name
can only ever equal itself. Keys sharing a site, line and asset are folded into one
``(site AND line AND asset AND (tag OR tag …))`` term: a chart of one asset's tags names
the asset once. Every statement groups by the four tag keys, so rows come back per series
and ``LIMIT`` counts per series.
"""

from __future__ import annotations

from collections.abc import Sequence

from historian.influxql import _int, quote_ident, tag_equals, time_condition
from historian.model import MEASUREMENT, Aggregate, SeriesKey, ValueKind

TAG_KEYS = ("site", "line", "asset", "tag")
GROUP_BY_TAGS = ",".join(quote_ident(name) for name in TAG_KEYS)
_FROM = quote_ident(MEASUREMENT)


def keys_condition(keys: Sequence[SeriesKey]) -> str:
    """A condition true exactly for points of the given keys."""
    if not keys:
        raise ValueError("keys_condition needs at least one key")
    by_asset: dict[tuple[str, str, str], list[str]] = {}
    for key in keys:
        by_asset.setdefault((key.site, key.line, key.asset), []).append(key.tag)
    terms = []
    for (site, line, asset), tags in by_asset.items():
        tag_terms = " OR ".join(tag_equals("tag", tag) for tag in dict.fromkeys(tags))
        terms.append(
            f"({tag_equals('site', site)} AND {tag_equals('line', line)}"
            f" AND {tag_equals('asset', asset)} AND ({tag_terms}))"
        )
    return "(" + " OR ".join(terms) + ")"


def place_condition(site: str, line: str | None = None, asset: str | None = None) -> str:
    """Every series of a site, narrowed to a line and/or an asset when given."""
    parts = [tag_equals("site", site)]
    if line is not None:
        parts.append(tag_equals("line", line))
    if asset is not None:
        parts.append(tag_equals("asset", asset))
    return "(" + " AND ".join(parts) + ")"


def latest_statement(kind: ValueKind, condition: str) -> str:
    """Each matching series' latest value of one kind, with its tags."""
    return (
        f"SELECT last({quote_ident(kind.value)}) FROM {_FROM}"
        f" WHERE {condition} GROUP BY {GROUP_BY_TAGS}"
    )


def raw_statement(
    kind: ValueKind, condition: str, start_ns: int, end_ns: int, limit: int | None
) -> str:
    # LIMIT 0 means "no limit" in InfluxQL, so callers answer limit=0 themselves.
    limit_clause = f" LIMIT {_int(limit)}" if limit else ""
    return (
        f"SELECT {quote_ident(kind.value)} FROM {_FROM}"
        f" WHERE {condition} AND {time_condition(start_ns, end_ns)}"
        f" GROUP BY {GROUP_BY_TAGS} ORDER BY time ASC{limit_clause}"
    )


def windowed_statement(
    kind: ValueKind,
    aggregate: Aggregate,
    condition: str,
    start_ns: int,
    end_ns: int,
    window_ns: int,
    limit: int | None,
) -> str:
    """Aggregates per epoch-aligned window; ``time(<n>ns)`` is a valid duration literal."""
    limit_clause = f" LIMIT {_int(limit)}" if limit else ""
    return (
        f"SELECT {Aggregate(aggregate).value}({quote_ident(kind.value)}) FROM {_FROM}"
        f" WHERE {condition} AND {time_condition(start_ns, end_ns)}"
        f" GROUP BY time({_int(window_ns)}ns),{GROUP_BY_TAGS} fill(none){limit_clause}"
    )


def beyond_statement(
    kind: ValueKind, condition: str, start_ns: int, end_ns: int, count: int
) -> str:
    """Each series' (count + 1)-th value of one kind in the range, if it has one."""
    return (
        f"SELECT {quote_ident(kind.value)} FROM {_FROM}"
        f" WHERE {condition} AND {time_condition(start_ns, end_ns)}"
        f" GROUP BY {GROUP_BY_TAGS} ORDER BY time ASC LIMIT 1 OFFSET {_int(count)}"
    )
