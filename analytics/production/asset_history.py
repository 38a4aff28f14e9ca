"""An asset's production history over a range, read once and classified by ISO 22400 time.

Reading turns raw historian points into:

- a state timeline: each sample's state holds until the next sample (samples every
  second and samples sent only on change read the same way), but no longer than the
  signals' ``max_gap_s``: past that, and before the first sample, time is *unknown*;
- pieces of that timeline cut by the shift calendar and labelled with an ISO 22400 time
  class (APT, ADET, ADOT, planned stop, planned break, unknown);
- counter increments (parts, scrap, kWh) stamped at the sample that saw them, with
  resets and wrap-around of the PLC counter undone;
- cycle times, one per new value of the cycle-time tag;
- power held per sample, for energy when there is no energy counter.

Everything after reading is pure arithmetic on these lists, so any hour, shift or the
whole range is summed from the same history (``bisect`` and prefix sums: no re-read).
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import accumulate

from analytics.production.shift_calendar import NS_PER_S, ShiftCalendar
from analytics.production.signals import AssetSignals, StateCategory, state_key
from historian.model import Aggregate, Historian, SeriesKey
from protocols.sample import Value

# Without max_gap_s a state holds until the next sample; how far back to look for the
# sample that was in force at the start of the range.
BY_EXCEPTION_LOOKBACK_S = 7 * 86400.0
NO_DATA = "no data"


class TimeClass(StrEnum):
    """The ISO 22400-2 time element a piece of time is counted in."""

    APT = "apt"  # actual production time (producing)
    ADET = "adet"  # actual unit delay time (state category down: malfunction, alarm)
    ADOT = "adot"  # actual unit down time (state category idle: waiting, blocked, starved)
    PLANNED_STOP = "planned_stop"  # part of PDOT: a planned stop reported by the machine
    PLANNED_BREAK = "planned_break"  # part of PDOT: a break in the shift calendar
    UNKNOWN = "unknown"  # inside planned busy time, but no (usable) data


# Which stop category a time class is listed under in the loss breakdown.
STOP_CATEGORY = {
    TimeClass.ADET: "down",
    TimeClass.ADOT: "idle",
    TimeClass.PLANNED_STOP: "planned_stop",
    TimeClass.PLANNED_BREAK: "break",
    TimeClass.UNKNOWN: "unknown",
}


@dataclass(frozen=True, slots=True)
class StateSegment:
    """A stretch of one state: [start_ns, end_ns); category None means unknown."""

    start_ns: int
    end_ns: int
    category: StateCategory | None
    reason: str
    raw: str | None  # the raw state value (as state_key spells it); None for no data


@dataclass(frozen=True, slots=True)
class TimePiece:
    """A stretch of time in one class, inside one state episode and one calendar part.

    ``scheduled`` is False for production outside every shift (counted as APT anyway, see
    the README). ``first`` marks the piece where its stop episode starts being counted,
    so a stop spanning several hours is counted once, in its first hour."""

    start_ns: int
    end_ns: int
    time_class: TimeClass
    reason: str
    scheduled: bool
    first: bool


@dataclass
class CounterSeries:
    """Increments of a counter, stamped at the sample that first saw them."""

    timestamps: list[int] = field(default_factory=list)
    increments: list[float] = field(default_factory=list)
    prefix: list[float] = field(default_factory=list)
    gap_timestamps: list[int] = field(default_factory=list)
    gap_prefix: list[float] = field(default_factory=list)
    resets: list[int] = field(default_factory=list)
    wraps: list[int] = field(default_factory=list)
    rejected: int = 0  # samples that were not numbers

    def total(self, lo: int, hi: int) -> float:
        return _range_sum(self.timestamps, self.prefix, lo, hi)

    def across_gaps(self, lo: int, hi: int) -> float:
        return _range_sum(self.gap_timestamps, self.gap_prefix, lo, hi)

    def resets_in(self, lo: int, hi: int) -> int:
        return bisect_left(self.resets, hi) - bisect_left(self.resets, lo)

    def wraps_in(self, lo: int, hi: int) -> int:
        return bisect_left(self.wraps, hi) - bisect_left(self.wraps, lo)


def _range_sum(timestamps: list[int], prefix: list[float], lo: int, hi: int) -> float:
    a, b = bisect_left(timestamps, lo), bisect_left(timestamps, hi)
    if b <= a:
        return 0
    return prefix[b - 1] - (prefix[a - 1] if a else 0)


@dataclass
class AssetHistory:
    """One asset's classified history over [start_ns, end_ns) (see the module doc)."""

    signals: AssetSignals
    calendar: ShiftCalendar
    start_ns: int
    end_ns: int
    segments: list[StateSegment]
    pieces: list[TimePiece]
    counts: CounterSeries | None
    scrap: CounterSeries | None
    cycle_timestamps: list[int]
    cycle_values: list[float]
    energy: CounterSeries | None
    power: list[tuple[int, int, float]]  # (start_ns, end_ns, kW) held samples
    notes: list[str]
    _piece_ends: list[int] = field(default_factory=list, repr=False)
    _power_starts: list[int] = field(default_factory=list, repr=False)
    _power_cumulative: list[float] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self._piece_ends = [p.end_ns for p in self.pieces]
        self._power_starts = [s for s, _, _ in self.power]
        # kW x ns up to each segment's end: energy in a range is a difference of two.
        self._power_cumulative = list(accumulate(kw * (e - s) for s, e, kw in self.power))

    def pieces_in(self, lo: int, hi: int) -> list[TimePiece]:
        """Pieces overlapping [lo, hi), clipped to it (``first`` kept only where the
        piece's own start lies inside)."""
        out = []
        for piece in self.pieces[bisect_right(self._piece_ends, lo) :]:
            if piece.start_ns >= hi:
                break
            s, e = max(piece.start_ns, lo), min(piece.end_ns, hi)
            if e > s:
                first = piece.first and piece.start_ns >= lo
                out.append(TimePiece(s, e, piece.time_class, piece.reason, piece.scheduled, first))
        return out

    def cycle_times_in(self, lo: int, hi: int) -> list[float]:
        a = bisect_left(self.cycle_timestamps, lo)
        b = bisect_left(self.cycle_timestamps, hi)
        return self.cycle_values[a:b]

    def energy_kwh_in(self, lo: int, hi: int) -> float | None:
        """kWh from the energy counter, else from held power samples; None without either."""
        if self.energy is not None:
            return self.energy.total(lo, hi)
        if not self.signals.power_kw_tag:
            return None
        return (self._energy_until(hi) - self._energy_until(lo)) / (3600 * NS_PER_S)

    def _energy_until(self, t: int) -> float:
        i = bisect_right(self._power_starts, t) - 1
        if i < 0:
            return 0.0
        start, end, kw = self.power[i]
        before = self._power_cumulative[i - 1] if i else 0.0
        return before + kw * (min(t, end) - start)


# --- reading ---------------------------------------------------------------------------


def _read_with_prior(
    historian: Historian, key: SeriesKey, start_ns: int, end_ns: int, max_gap_s: float | None
) -> list[tuple[int, Value]]:
    """Raw points in [start_ns, end_ns), preceded by the sample in force at start_ns."""
    if max_gap_s is not None:
        # An older sample would be stale anyway, so the look-back is one max_gap.
        lookback = math.ceil(max_gap_s * NS_PER_S)
        return historian.read(key, start_ns - lookback, end_ns)
    lookback = int(BY_EXCEPTION_LOOKBACK_S * NS_PER_S)
    # LAST over the look-back window finds the prior sample without reading every point
    # of a week; its time is the window's start, so it is stamped just before start_ns.
    prior = historian.read(key, start_ns - lookback, start_ns, window_ns=lookback,
                           aggregate=Aggregate.LAST)  # fmt: skip
    points = historian.read(key, start_ns, end_ns)
    if prior:
        points.insert(0, (start_ns - 1, prior[-1][1]))
    return points


def _is_number(value: Value) -> bool:
    # type() rather than isinstance: a bool is an int, but not a count.
    kind = type(value)
    return kind is int or (kind is float and math.isfinite(value))  # type: ignore[arg-type]


def _runs(
    samples: Sequence[tuple[int, Value]], end_ns: int, max_gap: int | None
) -> list[tuple[int, int, Value]]:
    """(first ts, last ts, value) of runs of equal samples before ``end_ns`` with no
    silence over ``max_gap`` inside: a month of 1-second samples is a few thousand runs."""
    runs: list[tuple[int, int, Value]] = []
    first = last = None
    current: Value = None  # type: ignore[assignment]
    for ts, value in samples:
        if ts >= end_ns:
            break
        if first is not None and value == current and (max_gap is None or ts - last <= max_gap):
            last = ts
            continue
        if first is not None:
            runs.append((first, last, current))  # type: ignore[arg-type]
        first = last = ts
        current = value
    if first is not None:
        runs.append((first, last, current))  # type: ignore[arg-type]
    return runs


def state_segments(
    samples: Sequence[tuple[int, Value]],
    signals: AssetSignals,
    start_ns: int,
    end_ns: int,
) -> list[StateSegment]:
    """Contiguous segments covering [start_ns, end_ns); equal neighbours are merged, so
    each segment is one state episode."""
    max_gap = None if signals.max_gap_s is None else math.ceil(signals.max_gap_s * NS_PER_S)
    out: list[StateSegment] = []

    def emit(s: int, e: int, category: StateCategory | None, reason: str, raw: str | None):
        s, e = max(s, start_ns), min(e, end_ns)
        if e <= s:
            return
        last = out[-1] if out else None
        if (
            last
            and last.end_ns == s
            and (last.category, last.reason, last.raw) == (category, reason, raw)
        ):
            out[-1] = StateSegment(last.start_ns, e, category, reason, raw)
        else:
            out.append(StateSegment(s, e, category, reason, raw))

    runs = _runs(samples, end_ns, max_gap)
    cursor = start_ns
    for i, (ts, last_ts, value) in enumerate(runs):
        if ts > cursor:
            emit(cursor, ts, None, NO_DATA, None)
        next_ts = runs[i + 1][0] if i + 1 < len(runs) else end_ns
        hold_end = next_ts if max_gap is None else min(next_ts, last_ts + max_gap)
        raw = state_key(value)
        meaning = signals.states.get(raw)
        if meaning is None:
            emit(ts, hold_end, None, f"unmapped state value {raw!r}", raw)
        else:
            emit(ts, hold_end, meaning.category, meaning.reason, raw)
        cursor = max(cursor, hold_end)
    if cursor < end_ns:
        emit(cursor, end_ns, None, NO_DATA, None)
    return out


def counter_series(
    samples: Sequence[tuple[int, Value]],
    start_ns: int,
    modulus: int | None,
    max_gap_s: float | None,
) -> CounterSeries:
    """Increments of a cumulative counter from ``start_ns`` on.

    A decrease is a wrap-around when ``modulus`` is known and the wrapped increment is
    under a quarter of the range (the counter was near its top and is near zero now);
    otherwise it is a reset to zero, and the new value is what was counted since."""
    series = CounterSeries()
    max_gap = None if max_gap_s is None else math.ceil(max_gap_s * NS_PER_S)
    prev: tuple[int, float] | None = None
    total = gap_total = 0
    for ts, value in samples:
        if not _is_number(value):
            series.rejected += 1
            continue
        if prev is not None:
            prev_ts, prev_value = prev
            delta = value - prev_value
            if delta < 0:
                wrapped = value + modulus - prev_value if modulus else None
                if wrapped is not None and wrapped < modulus / 4:  # type: ignore[operator]
                    delta = wrapped
                    if ts >= start_ns:
                        series.wraps.append(ts)
                else:
                    delta = value
                    if ts >= start_ns:
                        series.resets.append(ts)
            if ts >= start_ns and delta:
                series.timestamps.append(ts)
                series.increments.append(delta)
                total += delta
                series.prefix.append(total)
                if max_gap is not None and ts - prev_ts > max_gap:
                    series.gap_timestamps.append(ts)
                    gap_total += delta
                    series.gap_prefix.append(gap_total)
        prev = (ts, value)
    return series


def _cycle_times(
    samples: Sequence[tuple[int, Value]], start_ns: int
) -> tuple[list[int], list[float]]:
    """One value per completed cycle: a cycle-time tag holds the last cycle's duration,
    so a new cycle shows as a new value (two equal cycles in a row read as one). The
    first sample read only tells the cycle before it, which may be long past."""
    stamps: list[int] = []
    values: list[float] = []
    prev: Value | None = None
    for ts, value in samples:
        if not _is_number(value) or value <= 0:
            continue
        if prev is not None and value != prev and ts >= start_ns:
            stamps.append(ts)
            values.append(float(value))
        prev = value
    return stamps, values


def _power_segments(
    samples: Sequence[tuple[int, Value]], start_ns: int, end_ns: int, max_gap_s: float | None
) -> list[tuple[int, int, float]]:
    max_gap = None if max_gap_s is None else math.ceil(max_gap_s * NS_PER_S)
    runs = _runs([(ts, v) for ts, v in samples if _is_number(v)], end_ns, max_gap)
    out = []
    for i, (ts, last_ts, kw) in enumerate(runs):
        next_ts = runs[i + 1][0] if i + 1 < len(runs) else end_ns
        hold_end = next_ts if max_gap is None else min(next_ts, last_ts + max_gap)
        s, e = max(ts, start_ns), min(hold_end, end_ns)
        if e > s:
            out.append((s, e, float(kw)))  # type: ignore[arg-type]
    return out


# --- classification by the calendar ----------------------------------------------------


def _calendar_parts(
    calendar: ShiftCalendar, start_ns: int, end_ns: int
) -> list[tuple[int, int, str | None, bool]]:
    """[start_ns, end_ns) as (start, end, break name or None, scheduled) parts."""
    parts: list[tuple[int, int, str | None, bool]] = []
    cursor = start_ns
    for inst in calendar.instances(start_ns, end_ns):
        s, e = max(inst.start_ns, start_ns), min(inst.end_ns, end_ns)
        if s > cursor:
            parts.append((cursor, s, None, False))
        inner = s
        for b_start, b_end, name in inst.breaks:
            bs, be = max(b_start, s), min(b_end, e)
            if be <= bs:
                continue
            if bs > inner:
                parts.append((inner, bs, None, True))
            parts.append((bs, be, name, True))
            inner = be
        if e > inner:
            parts.append((inner, e, None, True))
        cursor = max(cursor, e)
    if cursor < end_ns:
        parts.append((cursor, end_ns, None, False))
    return parts


_CLASS_OF = {
    StateCategory.PRODUCING: TimeClass.APT,
    StateCategory.DOWN: TimeClass.ADET,
    StateCategory.IDLE: TimeClass.ADOT,
    StateCategory.PLANNED_STOP: TimeClass.PLANNED_STOP,
}


def classify(
    segments: Sequence[StateSegment], calendar: ShiftCalendar, start_ns: int, end_ns: int
) -> list[TimePiece]:
    """Cut state segments by the calendar and give each piece its ISO 22400 time class.

    Producing is APT wherever it happens (in a break or outside the shifts too: the
    parts it makes are counted, so the time must be). Otherwise a calendar break is a
    planned break, time outside the shifts is left out, and inside a shift the state's
    category decides; no data is unknown."""
    parts = _calendar_parts(calendar, start_ns, end_ns)
    pieces: list[TimePiece] = []
    counted: set[tuple[int, TimeClass, str]] = set()  # (episode, class, reason) seen
    j = 0
    for index, seg in enumerate(segments):
        while j < len(parts) and parts[j][1] <= seg.start_ns:
            j += 1
        k = j
        while k < len(parts) and parts[k][0] < seg.end_ns:
            p_start, p_end, break_name, scheduled = parts[k]
            s, e = max(seg.start_ns, p_start), min(seg.end_ns, p_end)
            k += 1
            if e <= s:
                continue
            if seg.category is StateCategory.PRODUCING:
                time_class, reason, episode = TimeClass.APT, seg.reason, index
            elif not scheduled:
                continue
            elif break_name is not None:
                # A break is its own episode: it is counted once however the state moves.
                time_class, reason, episode = TimeClass.PLANNED_BREAK, break_name, -p_start
            elif seg.category is None:
                time_class, reason, episode = TimeClass.UNKNOWN, seg.reason, index
            else:
                time_class, reason, episode = _CLASS_OF[seg.category], seg.reason, index
            ident = (episode, time_class, reason)
            first = ident not in counted
            counted.add(ident)
            last = pieces[-1] if pieces else None
            if (
                last is not None
                and last.end_ns == s
                and (last.time_class, last.reason, last.scheduled)
                == (time_class, reason, scheduled)
                and not first
            ):
                pieces[-1] = TimePiece(last.start_ns, e, time_class, reason, scheduled, last.first)
            else:
                pieces.append(TimePiece(s, e, time_class, reason, scheduled, first))
    return pieces


def read_asset_history(
    historian: Historian,
    signals: AssetSignals,
    calendar: ShiftCalendar,
    start_ns: int,
    end_ns: int,
) -> AssetHistory:
    """Read ``signals``' series over [start_ns, end_ns) and classify them (one read per
    tag; HistorianUnavailable and HistorianError pass through to the caller)."""
    if not (isinstance(start_ns, int) and isinstance(end_ns, int)):
        raise ValueError("start_ns and end_ns must be integers (UTC nanoseconds)")
    if end_ns < start_ns:
        raise ValueError(f"period ends ({end_ns}) before it starts ({start_ns})")
    gap = signals.max_gap_s
    notes: list[str] = []

    def read(tag: str) -> list[tuple[int, Value]]:
        return _read_with_prior(historian, signals.key(tag), start_ns, end_ns, gap)

    segments = state_segments(read(signals.state_tag), signals, start_ns, end_ns)
    pieces = classify(segments, calendar, start_ns, end_ns)

    counts = scrap = energy = None
    if signals.count_total_tag:
        counts = counter_series(read(signals.count_total_tag), start_ns,
                                signals.counter_modulus, gap)  # fmt: skip
    if signals.count_scrap_tag:
        scrap = counter_series(read(signals.count_scrap_tag), start_ns,
                               signals.counter_modulus, gap)  # fmt: skip
    for label, series in (("count_total", counts), ("count_scrap", scrap)):
        if series is not None and series.rejected:
            notes.append(f"{series.rejected} {label} samples were not numbers and were skipped")
    cycle_stamps: list[int] = []
    cycle_values: list[float] = []
    if signals.cycle_time_tag:
        cycle_stamps, cycle_values = _cycle_times(read(signals.cycle_time_tag), start_ns)
    power: list[tuple[int, int, float]] = []
    if signals.energy_kwh_tag:
        # An energy meter is not a PLC part counter: no modulus, a decrease is a reset.
        energy = counter_series(read(signals.energy_kwh_tag), start_ns, None, gap)
    elif signals.power_kw_tag:
        power = _power_segments(read(signals.power_kw_tag), start_ns, end_ns, gap)
    return AssetHistory(
        signals, calendar, start_ns, end_ns, segments, pieces, counts, scrap,
        cycle_stamps, cycle_values, energy, power, notes,
    )  # fmt: skip
