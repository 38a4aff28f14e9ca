"""Minute and hour rollups in InfluxDB, so a day's chart does not aggregate 4 M raw points.

InfluxDB 1.x aggregates about 3 M points a second: a 24-hour chart of 50 tags at 1 s is
1.5–2 s however the query is written. This module keeps, per series, one row a minute
(``telemetry_1m``) and one an hour (``telemetry_1h``) holding each value kind's sum,
count, min, max and last (count and last for booleans and text). Every aggregate a chart
asks for is exact from them: a window's mean is Σsum / Σcount, never a mean of means.

Which hours may be read from the rollups is kept in ``telemetry_rollup_hours``, a point a
UTC hour with two fields:

- ``written_at``: set by every write through the historian (and the edge agent's InfluxDB
  output) for each hour its points fall in, in the same request as the points, valued
  ``now + IN_FLIGHT_NS`` so that a roll that started while the write was still in flight
  cannot count as having seen it;
- ``rolled_at``: set when a roll of the hour *started*, written after it finished.

An hour is clean when ``rolled_at >= written_at``. Reads use the rollups only for whole
windows made of clean hours and read everything else raw (the open hour, a late write not
yet rolled, points written past this historian), so a rollup is never staler than the
data: at worst the read is as slow as without rollups. Rolling an hour is idempotent (the
same rows are overwritten), so replicas that roll the same hour at once only repeat work.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any

from historian.influxql import _int, quote_ident, time_condition
from historian.influxql_multi_series import GROUP_BY_TAGS
from historian.model import MEASUREMENT, Aggregate, ValueKind

MINUTE_NS = 60 * 1_000_000_000
HOUR_NS = 60 * MINUTE_NS
ROLLUP_1M = f"{MEASUREMENT}_1m"
ROLLUP_1H = f"{MEASUREMENT}_1h"
STATE = f"{MEASUREMENT}_rollup_hours"
# A write's points are visible once InfluxDB answers; the mark claims they may land up to
# this long after it was made (the write timeout is 10 s, replica clocks are NTP-close).
IN_FLIGHT_NS = 30 * 1_000_000_000
# An hour is rolled once it ended this long ago: agents deliver a few seconds late.
SETTLE_NS = 2 * MINUTE_NS
# Beyond this many windows a read is planned raw: the plan itself would cost too much.
MAX_PLANNED_WINDOWS = 200_000

_NUMERIC_PARTS = ("sum", "count", "min", "max", "last")
_OTHER_PARTS = ("count", "last")
# The leading digits (sign included) of every line's timestamp of 13 digits or more; an
# empty head (or a lone "-") for one of 12 digits or fewer. The head is at most 7 digits
# and must be followed by exactly 12 and the line's end, so the engine backtracks little.
_TIMESTAMP_HEADS = re.compile(rb" (-?[0-9]{1,7}|-?)(?=[0-9]{12}(?:\n|$))| -?[0-9]{1,11}(?:\n|$)")

Query = Callable[[str], list[dict[str, Any]]]


def parts(kind: ValueKind) -> tuple[str, ...]:
    return _NUMERIC_PARTS if kind.numeric else _OTHER_PARTS


def field_name(kind: ValueKind, part: str) -> str:
    return f"{kind.value}_{part}"


# --- marking writes -------------------------------------------------------------------


def mark_lines(hours: Iterable[int], in_flight_ns: int = IN_FLIGHT_NS) -> bytes:
    """State lines saying these hours (their start, ns) were written just now; for points
    sent in the same request, ``in_flight_ns`` later (see IN_FLIGHT_NS)."""
    stamp = time.time_ns() + in_flight_ns
    return b"".join(f"\n{STATE} written_at={stamp}i {hour}".encode() for hour in sorted(set(hours)))


def hours_of_timestamps(timestamps: Iterable[int]) -> set[int]:
    return {ts - ts % HOUR_NS for ts in timestamps}


def hours_of_body(body: bytes) -> set[int]:
    """Every hour a line-protocol body's points may fall in, found without parsing it.

    A string field holding a newline after a number can only add an hour, never hide one,
    and an extra mark costs one needless roll.
    """
    return _hours_of_heads(set(_TIMESTAMP_HEADS.findall(body)))


def hours_of_stamps(stamps: Iterable[bytes]) -> set[int]:
    """Every hour points with these timestamps, as line protocol writes them (ASCII
    digits, a sign allowed, leading zeros too), may fall in."""
    heads = set()
    for stamp in stamps:
        negative = stamp.startswith(b"-")
        # Without its last 12 digits; b"" or b"-" when it has no more, as the regex gives.
        heads.add(stamp[:-12] if len(stamp) - negative > 12 else stamp[:negative])
    return _hours_of_heads(heads)


def _hours_of_heads(heads: Iterable[bytes]) -> set[int]:
    """Each distinct head (a timestamp without its last 12 digits) spans 1,000 s, at most
    two hours: both are marked."""
    hours: set[int] = set()
    for head in heads:
        if head in (b"", b"-"):  # within 10^12 ns of the epoch: both hours there
            hours.update((-HOUR_NS, 0))
            continue
        sign = -1 if head.startswith(b"-") else 1
        low = sign * int(head.lstrip(b"-")) * 10**12  # "-0" + 12 digits is negative too
        for ts in (low, low + sign * (10**12 - 1)):
            hours.add(ts - ts % HOUR_NS)
    return hours


# --- rolling --------------------------------------------------------------------------


def roll_statements(hour_ns: int) -> str:
    """One hour of minute rows from the raw points, then its hour row from those."""
    where = f"WHERE {time_condition(hour_ns, hour_ns + HOUR_NS)}"
    statements = []
    for kind in ValueKind:
        raw = quote_ident(kind.value)
        fields = ", ".join(
            f"{part}({raw}) AS {quote_ident(field_name(kind, part))}" for part in parts(kind)
        )
        statements.append(
            f"SELECT {fields} INTO {quote_ident(ROLLUP_1M)} FROM {quote_ident(MEASUREMENT)}"
            f" {where} GROUP BY time(1m), *"
        )
    for kind in ValueKind:
        fields = ", ".join(
            f"{_combine(part)}({quote_ident(field_name(kind, part))})"
            f" AS {quote_ident(field_name(kind, part))}"
            for part in parts(kind)
        )
        statements.append(
            f"SELECT {fields} INTO {quote_ident(ROLLUP_1H)} FROM {quote_ident(ROLLUP_1M)}"
            f" {where} GROUP BY time(1h), *"
        )
    return "; ".join(statements)


def _combine(part: str) -> str:
    """How a part of several rows makes the part of their union."""
    return "sum" if part == "count" else part


def hour_states(query: Query, start_ns: int, end_ns: int) -> dict[int, tuple[int, int]]:
    """(written_at, rolled_at) of each marked hour starting in [start_ns, end_ns); 0 when
    a field is missing."""
    statement = (
        f"SELECT {quote_ident('written_at')}, {quote_ident('rolled_at')}"
        f" FROM {quote_ident(STATE)} WHERE {time_condition(start_ns, end_ns)}"
    )
    (result,) = query(statement)
    states = {}
    for series in result.get("series", []):
        for ts, written, rolled in series["values"]:
            states[ts] = (written or 0, rolled or 0)
    return states


def pending_hours(
    query: Query, now_ns: int, start_ns: int = -(2**62), settle_ns: int = SETTLE_NS
) -> list[int]:
    """Hours written since their last roll (or never rolled) that ended settle_ns ago."""
    closed_before = now_ns - settle_ns - HOUR_NS
    return sorted(
        hour
        for hour, (written, rolled) in hour_states(query, start_ns, closed_before + 1).items()
        if written and rolled < written
    )


def roll_hour(query: Query, write: Callable[[bytes], None], hour_ns: int) -> None:
    began = time.time_ns()
    query(roll_statements(hour_ns))
    write(f"{STATE} rolled_at={began}i {hour_ns}".encode())


# --- reading --------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    """A run of whole windows read from one source: raw points, or a rollup level."""

    start_ns: int
    end_ns: int
    level: str | None  # ROLLUP_1M, ROLLUP_1H or None for the raw points


def plannable(window_ns: int) -> bool:
    """Whether windows of this width can come from a rollup (whole minutes)."""
    return window_ns >= MINUTE_NS and window_ns % MINUTE_NS == 0


def plan(start_ns: int, end_ns: int, window_ns: int, clean_hours: Collection[int]) -> list[Segment]:
    """Cut [start, end) at window boundaries into raw and rollup runs.

    Windows are epoch-aligned, so every window lies wholly in one segment and each
    segment's windowed read gives exactly the windows the unsplit read would. A window
    is read from a rollup when every hour it touches is clean; a partial window at either
    end is read raw, as a rollup cannot tell which of its minute's points are in range.
    """
    raw = [Segment(start_ns, end_ns, None)]
    if not plannable(window_ns) or not clean_hours:
        return raw
    first = -(-start_ns // window_ns) * window_ns
    last = end_ns // window_ns * window_ns
    if first >= last or (last - first) // window_ns > MAX_PLANNED_WINDOWS:
        return raw
    level = ROLLUP_1H if window_ns % HOUR_NS == 0 else ROLLUP_1M
    pieces: list[Segment] = []

    def add(a: int, b: int, source: str | None) -> None:
        if a >= b:
            return
        if pieces and pieces[-1].level == source and pieces[-1].end_ns == a:
            pieces[-1] = Segment(pieces[-1].start_ns, b, source)
        else:
            pieces.append(Segment(a, b, source))

    add(start_ns, first, None)
    for t in range(first, last, window_ns):
        hour = t - t % HOUR_NS
        clean = all(h in clean_hours for h in range(hour, t + window_ns, HOUR_NS))
        add(t, t + window_ns, level if clean else None)
    add(last, end_ns, None)
    return pieces


def clean_hours(query: Query, start_ns: int, end_ns: int) -> dict[int, int]:
    """Each clean hour touching [start_ns, end_ns) and its rolled_at (which names the
    roll its rollup rows come from: a cache of them is valid while it stays the same)."""
    first_hour = start_ns - start_ns % HOUR_NS
    return {
        hour: rolled
        for hour, (written, rolled) in hour_states(query, first_hour, end_ns).items()
        if written and rolled >= written
    }


def rollup_statement(
    kind: ValueKind,
    aggregate: Aggregate,
    condition: str,
    segment: Segment,
    window_ns: int,
) -> str:
    """A windowed read of one kind from a rollup level; a mean comes back as Σsum, Σcount
    (two columns), divided by ``rollup_value``."""
    assert segment.level is not None

    def column(function: str, part: str) -> str:
        return f"{function}({quote_ident(field_name(kind, part))})"

    columns = {
        Aggregate.MEAN: f"{column('sum', 'sum')}, {column('sum', 'count')}",
        Aggregate.SUM: column("sum", "sum"),
        Aggregate.COUNT: column("sum", "count"),
        Aggregate.MIN: column("min", "min"),
        Aggregate.MAX: column("max", "max"),
        Aggregate.LAST: column("last", "last"),
    }[Aggregate(aggregate)]
    return (
        f"SELECT {columns} FROM {quote_ident(segment.level)}"
        f" WHERE {condition} AND {time_condition(segment.start_ns, segment.end_ns)}"
        f" GROUP BY time({_int(window_ns)}ns),{GROUP_BY_TAGS} fill(none)"
    )


def rollup_value(aggregate: Aggregate, row: list[Any]) -> Any:
    """A rollup row's value for the aggregate asked; None for a window with no points."""
    if aggregate == Aggregate.MEAN:
        _, total, count = row
        return None if not count or total is None else total / count
    return row[1]
