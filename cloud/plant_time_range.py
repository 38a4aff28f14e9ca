"""The time-range picker of the plant pages: presets and custom ranges in the site's
local time, an optional shift filter, and the bucket trends are drawn in.

Presets start on a local hour (a shift, a day), so every hour but the running one is a
closed hour that the KPI cache can keep. Ranges end at "now" at the latest: the future
is not unknown time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from analytics.production import ShiftCalendar, ShiftInstance, to_ns
from analytics.production.shift_calendar import from_ns

PRESETS = ("hour", "shift", "prev_shift", "today", "yesterday", "7d", "30d", "custom")
Bucket = Literal["hour", "shift", "day"]
NS_PER_S = 1_000_000_000
HOUR_NS = 3600 * NS_PER_S
DAY_NS = 24 * HOUR_NS
MAX_DAYS = 366


class RangeError(ValueError):
    """A picker value that cannot be used; ``field`` is the query parameter at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


@dataclass(frozen=True)
class TimeRange:
    preset: str
    start_ns: int
    end_ns: int
    shift: str | None  # only this shift's time (all shifts: None)
    bucket: Bucket
    timezone: str
    from_text: str  # for the picker's inputs, local "YYYY-MM-DDTHH:MM"
    to_text: str


def _local_text(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")


def _parse_local(field: str, text: str, calendar: ShiftCalendar, end: bool) -> int:
    value = text.strip()
    try:
        if len(value) == 10:  # a date: its start, or (as an end) the next day's start
            day = datetime.strptime(value, "%Y-%m-%d")
            moment = day + timedelta(days=1) if end else day
        else:
            moment = datetime.strptime(value.replace(" ", "T")[:16], "%Y-%m-%dT%H:%M")
    except ValueError:
        raise RangeError(
            field, f"expected a local date (2026-03-02) or time (2026-03-02T08:00), got {text!r}"
        ) from None
    return to_ns(moment.replace(tzinfo=calendar.zone))


def _current_shift(calendar: ShiftCalendar, now_ns: int) -> tuple[ShiftInstance, ShiftInstance]:
    """The shift running now (else the last one that ended) and the one before it."""
    instances = [
        i for i in calendar.instances(now_ns - 3 * DAY_NS, now_ns + 1) if i.start_ns <= now_ns
    ]
    if len(instances) < 2:
        raise RangeError("range", "the site's shift calendar has no shift in the last 3 days")
    return instances[-1], instances[-2]


def _bucket(span_ns: int) -> Bucket:
    if span_ns <= 26 * HOUR_NS:
        return "hour"
    if span_ns <= 8 * DAY_NS:
        return "shift"
    return "day"


def resolve_range(
    calendar: ShiftCalendar,
    preset: str,
    now_ns: int,
    from_text: str | None = None,
    to_text: str | None = None,
    shift: str | None = None,
) -> TimeRange:
    """[start, end) of a preset or custom range in the calendar's zone; RangeError names
    the query parameter at fault."""
    if preset not in PRESETS:
        raise RangeError("range", f"expected one of {', '.join(PRESETS)}, got {preset!r}")
    names = [s.name for s in calendar.shifts]
    if shift in ("", "all"):
        shift = None
    if shift is not None and shift not in names:
        raise RangeError("shift", f"no shift {shift!r} in the site's calendar ({', '.join(names)})")
    zone = calendar.zone
    now = from_ns(now_ns, zone)
    midnight = to_ns(now.replace(hour=0, minute=0, second=0, microsecond=0))
    if preset == "hour":
        start, end = now_ns - HOUR_NS, now_ns
    elif preset in ("shift", "prev_shift"):
        current, previous = _current_shift(calendar, now_ns)
        chosen = current if preset == "shift" else previous
        start, end = chosen.start_ns, min(chosen.end_ns, now_ns)
    elif preset == "today":
        start, end = midnight, now_ns
    elif preset == "yesterday":
        day = now.date() - timedelta(days=1)
        start = to_ns(datetime.combine(day, datetime.min.time(), zone))
        end = midnight
    elif preset in ("7d", "30d"):
        days = 7 if preset == "7d" else 30
        start = to_ns(
            datetime.combine(now.date() - timedelta(days=days - 1), datetime.min.time(), zone)
        )
        end = now_ns
    else:
        if not from_text:
            raise RangeError("from", "a custom range needs a start")
        start = _parse_local("from", from_text, calendar, end=False)
        end = _parse_local("to", to_text, calendar, end=True) if to_text else now_ns
        end = min(end, now_ns)
        if end <= start:
            raise RangeError("to", "the range must end after it starts, and start before now")
        if end - start > MAX_DAYS * DAY_NS:
            raise RangeError("from", f"a range spans at most {MAX_DAYS} days")
    return TimeRange(
        preset=preset,
        start_ns=start,
        end_ns=end,
        shift=shift,
        bucket=_bucket(end - start),
        timezone=calendar.timezone,
        from_text=_local_text(from_ns(start, zone)),
        to_text=_local_text(from_ns(end, zone)),
    )
