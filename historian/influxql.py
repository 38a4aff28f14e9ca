"""Building InfluxQL from user-supplied names without letting them change the query.

InfluxQL reads backslash escapes inside both double-quoted identifiers and single-quoted
string literals (``\\\\``, ``\\"``, ``\\'``, ``\\n``), and refuses a raw line break, so
every name is quoted and those characters escaped; nothing from a user is ever spliced
in unquoted. Numbers (times, windows, limits) are formatted from Python ints.
"""

from __future__ import annotations

from historian.model import MEASUREMENT, Aggregate, SeriesKey, ValueKind

# InfluxDB's valid time range (models.MinNanoTime / MaxNanoTime): outside it queries fail.
MIN_TIME_NS = -9223372036854775806
MAX_TIME_NS = 9223372036854775806

_IDENT_ESCAPE = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n"})
_LITERAL_ESCAPE = str.maketrans({"\\": "\\\\", "'": "\\'", "\n": "\\n"})


def quote_ident(name: str) -> str:
    """A double-quoted identifier: ``my "db"`` becomes ``"my \\"db\\""``."""
    return '"' + name.translate(_IDENT_ESCAPE) + '"'


def quote_literal(value: str) -> str:
    """A single-quoted string literal: ``it's`` becomes ``'it\\'s'``."""
    return "'" + value.translate(_LITERAL_ESCAPE) + "'"


def _int(value: int) -> str:
    # int() first so that a str or float smuggled in as a number is refused or made exact.
    return str(int(value))


def series_condition(key: SeriesKey) -> str:
    return " AND ".join(
        f"{quote_ident(name)}={quote_literal(getattr(key, name))}"
        for name in ("site", "line", "asset", "tag")
    )


def time_condition(start_ns: int, end_ns: int) -> str:
    """``time >= start AND time < end``; bare integers are ns in InfluxQL."""
    start = max(int(start_ns), MIN_TIME_NS)
    end = min(int(end_ns), MAX_TIME_NS)
    return f"time >= {_int(start)} AND time < {_int(end)}"


def latest_per_series(key: SeriesKey | None = None) -> str:
    """One statement per kind: each series' latest value, with its tags (GROUP BY *)."""
    where = f" WHERE {series_condition(key)}" if key is not None else ""
    return "; ".join(
        f"SELECT last({quote_ident(kind.value)}) FROM {quote_ident(MEASUREMENT)}{where} GROUP BY *"
        for kind in ValueKind
    )


def select_raw(
    key: SeriesKey, kind: ValueKind, start_ns: int, end_ns: int, limit: int | None
) -> str:
    # LIMIT 0 means "no limit" in InfluxQL, so callers answer limit=0 themselves.
    limit_clause = f" LIMIT {_int(limit)}" if limit else ""
    return (
        f"SELECT {quote_ident(kind.value)} FROM {quote_ident(MEASUREMENT)}"
        f" WHERE {series_condition(key)} AND {time_condition(start_ns, end_ns)}"
        f" ORDER BY time ASC{limit_clause}"
    )


def select_windowed(
    key: SeriesKey,
    kind: ValueKind,
    start_ns: int,
    end_ns: int,
    window_ns: int,
    aggregate: Aggregate,
    limit: int | None,
) -> str:
    """Aggregates per epoch-aligned window; ``time(<n>ns)`` is a valid duration literal."""
    limit_clause = f" LIMIT {_int(limit)}" if limit else ""
    return (
        f"SELECT {aggregate.value}({quote_ident(kind.value)}) FROM {quote_ident(MEASUREMENT)}"
        f" WHERE {series_condition(key)} AND {time_condition(start_ns, end_ns)}"
        f" GROUP BY time({_int(window_ns)}ns) fill(none){limit_clause}"
    )
