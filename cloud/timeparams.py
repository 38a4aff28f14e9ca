"""Time arguments of the query API: ISO 8601 instants, ``now``, ``now-15m`` or ``-15m``."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

from historian.durations import parse_duration

_FRACTION = re.compile(
    r"^(?P<base>\d{4}-\d\d-\d\d(?:[T ]\d\d:\d\d(?::\d\d)?)?)"
    r"(?:\.(?P<fraction>\d{1,9}))?(?P<zone>Z|[+-]\d\d:?\d\d)?$"
)


def parse_instant(text: str, now_ns: int | None = None) -> int:
    """Nanoseconds since the epoch; naive ISO times are taken as UTC.

    Raises ValueError with the accepted forms, so the API can answer 400 with it.
    """
    now_ns = time.time_ns() if now_ns is None else now_ns
    value = text.strip()
    if value == "now":
        return now_ns
    relative = value.removeprefix("now")
    if relative.startswith("-"):
        return now_ns - round(parse_duration(relative[1:]) * 1e9)
    # datetime keeps microseconds; the API hands out nanoseconds, so the fraction is
    # split off and added back exactly.
    match = _FRACTION.match(value)
    try:
        if match is None:
            raise ValueError
        instant = datetime.fromisoformat(
            match["base"] + (match["zone"] or "").replace("Z", "+00:00")
        )
    except ValueError:
        raise ValueError(
            f"expected an ISO 8601 time (2026-11-29T08:00:00Z), 'now' or 'now-15m', got {text!r}"
        ) from None
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    delta = instant - datetime(1970, 1, 1, tzinfo=UTC)
    nanos = int((match["fraction"] or "0").ljust(9, "0")[:9])
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + nanos


def parse_datetime(text: str, now: datetime | None = None) -> datetime:
    """``parse_instant`` as an aware UTC datetime (microseconds), for code that works in
    datetimes (model training ranges, job parameters)."""
    now_ns = None if now is None else round(now.timestamp() * 1e9)
    return datetime.fromtimestamp(parse_instant(text, now_ns) / 1e9, UTC)


def format_instant(timestamp_ns: int) -> str:
    """ISO 8601 in UTC with nanoseconds, e.g. 2026-11-29T08:00:00.123456789Z."""
    seconds, nanos = divmod(timestamp_ns, 1_000_000_000)
    stamp = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{nanos:09d}Z"
