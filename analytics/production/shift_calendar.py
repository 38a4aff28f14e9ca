"""Shift calendars: when a site plans to produce, in its own time zone.

A shift has local start and end times (an end at or before the start crosses midnight,
an equal end makes a 24-hour shift), the weekdays it starts on, and planned breaks as
local times inside it. A calendar turns them into instances in UTC nanoseconds, the
historian's time axis, with zoneinfo doing the local-time arithmetic.

ISO 22400-2 reads: the shift is planned operation time (POT); its breaks are planned
down time (PDOT). Time outside every shift is not planned at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NS_PER_S = 1_000_000_000
ALL_WEEKDAYS = frozenset(range(7))


def to_ns(moment: datetime) -> int:
    """UTC nanoseconds of an aware datetime (exact: no float on the way)."""
    if moment.tzinfo is None:
        raise ValueError(f"datetime {moment.isoformat()} has no time zone")
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000


def from_ns(ns: int, zone: ZoneInfo | None = None) -> datetime:
    moment = _EPOCH + timedelta(microseconds=ns // 1000)
    return moment.astimezone(zone) if zone is not None else moment


def _minutes(t: time) -> float:
    return t.hour * 60 + t.minute + t.second / 60


@dataclass(frozen=True, slots=True)
class Break:
    """A planned break inside a shift, in local time (``time(12, 0)``–``time(12, 30)``)."""

    start: time
    end: time
    name: str = "break"


@dataclass(frozen=True)
class Shift:
    """A shift pattern: name, local start and end, breaks, the weekdays it starts on
    (0 = Monday)."""

    name: str
    start: time
    end: time
    breaks: tuple[Break, ...] = ()
    weekdays: frozenset[int] = ALL_WEEKDAYS

    def __post_init__(self) -> None:
        object.__setattr__(self, "breaks", tuple(self.breaks))
        object.__setattr__(self, "weekdays", frozenset(self.weekdays))
        if not self.name:
            raise ValueError("a shift needs a name")
        if not self.weekdays <= ALL_WEEKDAYS:
            raise ValueError(f"shift {self.name!r}: weekdays must be 0 (Monday) to 6 (Sunday)")
        length = self.length_minutes
        spans: list[tuple[float, float]] = []
        for brk in self.breaks:
            offset = (_minutes(brk.start) - _minutes(self.start)) % 1440
            duration = (_minutes(brk.end) - _minutes(brk.start)) % 1440
            if duration == 0 or offset + duration > length:
                raise ValueError(
                    f"shift {self.name!r}: break {brk.name!r} {brk.start:%H:%M}-{brk.end:%H:%M}"
                    f" does not lie inside the shift {self.start:%H:%M}-{self.end:%H:%M}"
                )
            spans.append((offset, offset + duration))
        spans.sort()
        for (_, end_a), (start_b, _) in pairwise(spans):
            if start_b < end_a:
                raise ValueError(f"shift {self.name!r}: two breaks overlap")

    @property
    def length_minutes(self) -> float:
        minutes = (_minutes(self.end) - _minutes(self.start)) % 1440
        return minutes or 1440.0


@dataclass(frozen=True, slots=True)
class ShiftInstance:
    """One shift on one day, in UTC ns: [start_ns, end_ns), breaks likewise."""

    shift: str
    day: date
    start_ns: int
    end_ns: int
    breaks: tuple[tuple[int, int, str], ...]

    @property
    def label(self) -> str:
        return f"{self.day.isoformat()} {self.shift}"

    def planned_production_ns(self, start_ns: int, end_ns: int) -> int:
        """Shift time minus breaks inside [start_ns, end_ns): what a plan is spread over."""
        lo, hi = max(start_ns, self.start_ns), min(end_ns, self.end_ns)
        if hi <= lo:
            return 0
        total = hi - lo
        for b_start, b_end, _ in self.breaks:
            total -= max(0, min(hi, b_end) - max(lo, b_start))
        return total


@dataclass(frozen=True)
class ShiftCalendar:
    """A site's shifts in its time zone (an IANA name such as ``Asia/Shanghai``), with
    days on which nobody works (holidays: no shift starts on them)."""

    timezone: str
    shifts: tuple[Shift, ...]
    holidays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        object.__setattr__(self, "shifts", tuple(self.shifts))
        object.__setattr__(self, "holidays", frozenset(self.holidays))
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ValueError(
                f"timezone {self.timezone!r} is not an IANA time zone such as Asia/Shanghai"
            ) from None
        names = [s.name for s in self.shifts]
        if len(set(names)) != len(names):
            raise ValueError(f"shift names must be unique, got {names}")
        # Overlapping shifts would count the same hour twice: check one whole week.
        monday = date(2024, 1, 1)
        start = to_ns(datetime.combine(monday, time(), self.zone))
        self.instances(start, start + 8 * 86400 * NS_PER_S)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @classmethod
    def around_the_clock(
        cls, timezone: str, breaks: Iterable[Break] = (), name: str = "day"
    ) -> ShiftCalendar:
        """One 24-hour shift from local midnight, every day."""
        return cls(timezone, (Shift(name, time(0), time(0), tuple(breaks)),))

    def instances(self, start_ns: int, end_ns: int) -> list[ShiftInstance]:
        """Shift instances that overlap [start_ns, end_ns), in time order (unclipped)."""
        zone = self.zone
        first = from_ns(start_ns, zone).date() - timedelta(days=1)
        last = from_ns(end_ns, zone).date()
        found: list[ShiftInstance] = []
        day = first
        while day <= last:
            if day not in self.holidays:
                for shift in self.shifts:
                    if day.weekday() in shift.weekdays:
                        inst = self._instance(shift, day, zone)
                        if inst.end_ns > start_ns and inst.start_ns < end_ns:
                            found.append(inst)
            day += timedelta(days=1)
        found.sort(key=lambda i: i.start_ns)
        for a, b in pairwise(found):
            if b.start_ns < a.end_ns:
                raise ValueError(f"shifts overlap: {a.label} and {b.label}")
        return found

    @staticmethod
    def _instance(shift: Shift, day: date, zone: ZoneInfo) -> ShiftInstance:
        start = datetime.combine(day, shift.start, zone)
        end_day = day + timedelta(days=1) if shift.end <= shift.start else day
        end = datetime.combine(end_day, shift.end, zone)
        start_ns, end_ns = to_ns(start), to_ns(end)
        breaks = []
        for brk in shift.breaks:
            b_start = datetime.combine(day, brk.start, zone)
            if to_ns(b_start) < start_ns:
                b_start = datetime.combine(day + timedelta(days=1), brk.start, zone)
            b_end = datetime.combine(b_start.date(), brk.end, zone)
            if to_ns(b_end) <= to_ns(b_start):
                b_end = datetime.combine(b_start.date() + timedelta(days=1), brk.end, zone)
            breaks.append((max(start_ns, to_ns(b_start)), min(end_ns, to_ns(b_end)), brk.name))
        return ShiftInstance(shift.name, day, start_ns, end_ns, tuple(breaks))


@dataclass(frozen=True, slots=True)
class Period:
    """A stretch of time KPIs are computed for: the whole range, one hour, one shift.

    ``partial`` is set when the range cut the hour or shift short."""

    label: str
    start_ns: int
    end_ns: int
    shift: ShiftInstance | None = None
    partial: bool = False


def hour_periods(calendar: ShiftCalendar, start_ns: int, end_ns: int) -> list[Period]:
    """Local clock hours covering [start_ns, end_ns), clipped to it.

    Stepping one absolute hour from a local hour boundary keeps to local hours in every
    zone whose offset changes by whole hours (all but a few; Asia/Shanghai has no DST)."""
    zone = calendar.zone
    first = from_ns(start_ns, zone).replace(minute=0, second=0, microsecond=0)
    cursor = to_ns(first)
    hour = 3600 * NS_PER_S
    periods = []
    while cursor < end_ns:
        lo, hi = max(cursor, start_ns), min(cursor + hour, end_ns)
        if hi <= lo:
            break
        label = from_ns(cursor, zone).strftime("%Y-%m-%d %H:00")
        periods.append(Period(label, lo, hi, None, partial=(lo, hi) != (cursor, cursor + hour)))
        cursor += hour
    return periods


def shift_periods(calendar: ShiftCalendar, start_ns: int, end_ns: int) -> list[Period]:
    """The shift instances within [start_ns, end_ns), each clipped to the range."""
    periods = []
    for inst in calendar.instances(start_ns, end_ns):
        lo, hi = max(inst.start_ns, start_ns), min(inst.end_ns, end_ns)
        if hi <= lo:
            continue
        partial = (lo, hi) != (inst.start_ns, inst.end_ns)
        periods.append(Period(inst.label, lo, hi, inst, partial))
    return periods
