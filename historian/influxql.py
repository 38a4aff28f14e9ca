"""Building InfluxQL from user-supplied names without letting them change the query.

InfluxQL reads backslash escapes inside both double-quoted identifiers and single-quoted
string literals (``\\\\``, ``\\"``, ``\\'``, ``\\n``), and refuses a raw line break, so
every name is quoted and those characters escaped; nothing from a user is ever spliced
in unquoted. Numbers (times, windows, limits) are formatted from Python ints.
"""

from __future__ import annotations

import re

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


# What a string literal cannot carry: the scanner takes NUL for the end of the query and
# reads CR as a line break, which ends a string (LF has the escape ``\n``).
_UNQUOTABLE = re.compile(r"[\x00\r]")


def tag_equals(name: str, value: str) -> str:
    """A condition true exactly where tag ``name`` equals ``value``.

    ``"name"='value'`` as a rule. A value holding a NUL or a CR is matched by an anchored
    regular expression instead, spelling every character but ASCII letters and digits as
    ``\\x{hex}``: no quote, slash, line break or metacharacter reaches the query, so it
    still matches that one value and nothing else (InfluxDB can store a NUL in a tag
    value; a line break never, so such a key matches nothing, as it should).
    """
    if not _UNQUOTABLE.search(value):
        return f"{quote_ident(name)}={quote_literal(value)}"
    spelled = "".join(c if c.isascii() and c.isalnum() else f"\\x{{{ord(c):x}}}" for c in value)
    return f"{quote_ident(name)}=~/^{spelled}$/"


def _int(value: int) -> str:
    # int() first so that a str or float smuggled in as a number is refused or made exact.
    return str(int(value))


def series_condition(key: SeriesKey) -> str:
    return " AND ".join(
        tag_equals(name, getattr(key, name)) for name in ("site", "line", "asset", "tag")
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
