"""Reading one asset's tags from a historian into time-indexed sample series.

Long ranges are read in chunks (a day by default), so a month of one-second samples
never arrives as one response; a chunk that hits the row limit is refused rather than
silently truncated. With ``resolution_s`` numeric tags are read as per-window means
(the historian aggregates), for dense data where raw samples would be too many.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from historian import (
    Aggregate,
    Historian,
    HistorianError,
    HistorianUnavailable,
    SeriesKey,
    ValueKind,
)

DAY_NS = 86_400 * 1_000_000_000
MAX_ROWS_PER_CHUNK = 2_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def instant_ns(moment: datetime) -> int:
    """Nanoseconds since the epoch of an aware datetime, exactly (no float rounding)."""
    if moment.tzinfo is None:
        raise ValueError(f"{moment.isoformat()} has no time zone")
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def ns_instant(timestamp_ns: int) -> datetime:
    """The aware UTC datetime of a timestamp (to the microsecond)."""
    return EPOCH + timedelta(microseconds=timestamp_ns // 1_000)


@dataclass(frozen=True, order=True)
class AssetRef:
    """An asset as the historian names it: site, line and asset."""

    site: str
    line: str
    asset: str

    def key(self, tag: str) -> SeriesKey:
        return SeriesKey(self.site, self.line, self.asset, tag)

    def as_dict(self) -> dict[str, str]:
        return {"site": self.site, "line": self.line, "asset": self.asset}

    @classmethod
    def from_dict(cls, data: dict[str, str]) -> AssetRef:
        return cls(data["site"], data["line"], data["asset"])

    def __str__(self) -> str:
        return f"{self.site}/{self.line}/{self.asset}"


def numeric_tags(historian: Historian, asset: AssetRef) -> dict[str, ValueKind]:
    """The asset's tags that hold numbers or booleans (strings are not features)."""
    tags: dict[str, ValueKind] = {}
    for info in historian.list_series():
        key = info.key
        if (key.site, key.line, key.asset) != (asset.site, asset.line, asset.asset):
            continue
        if info.kind.numeric or info.kind is ValueKind.BOOL:
            tags[key.tag] = info.kind
    return tags


def read_samples(
    historian: Historian,
    asset: AssetRef,
    tags: Sequence[str],
    start_ns: int,
    end_ns: int,
    *,
    resolution_s: float | None = None,
    chunk_ns: int = DAY_NS,
    kinds: dict[str, ValueKind] | None = None,
    on_chunk: Callable[[float], None] | None = None,
) -> dict[str, pd.Series]:
    """Each tag's samples in [start, end) as floats indexed by timestamp (ns).

    Booleans become 0.0 and 1.0. ``on_chunk`` is told the share of the range done.
    """
    if start_ns >= end_ns:
        raise ValueError("the time range is empty: start must be before end")
    window_ns = None if resolution_s is None else round(resolution_s * 1e9)
    parts: dict[str, list[tuple[int, float]]] = {tag: [] for tag in tags}
    chunk_start = start_ns
    while chunk_start < end_ns:
        chunk_end = min(end_ns, chunk_start + chunk_ns)
        for tag in tags:
            # Means of booleans are not defined in every backend: read them raw.
            raw = window_ns is None or (kinds is not None and kinds.get(tag) is ValueKind.BOOL)
            try:
                rows = historian.read(
                    asset.key(tag),
                    chunk_start,
                    chunk_end,
                    None if raw else window_ns,
                    Aggregate.MEAN,
                    MAX_ROWS_PER_CHUNK + 1,
                )
            except HistorianError as exc:
                if raw or isinstance(exc, HistorianUnavailable):
                    raise
                # A tag whose kind was not given turned out not to average (a boolean).
                rows = historian.read(
                    asset.key(tag), chunk_start, chunk_end, None, Aggregate.MEAN,
                    MAX_ROWS_PER_CHUNK + 1,
                )  # fmt: skip
            if len(rows) > MAX_ROWS_PER_CHUNK:
                raise HistorianError(
                    f"{asset}/{tag}: more than {MAX_ROWS_PER_CHUNK} samples in one day; "
                    "read it aggregated (a resolution of a few seconds)"
                )
            parts[tag].extend((ts, _number(value)) for ts, value in rows)
        chunk_start = chunk_end
        if on_chunk is not None:
            on_chunk((chunk_start - start_ns) / (end_ns - start_ns))
    series = {}
    for tag, rows in parts.items():
        if rows:
            times, values = zip(*rows, strict=True)
            series[tag] = pd.Series(np.asarray(values, dtype=float), index=np.asarray(times))
        else:
            series[tag] = pd.Series(np.zeros(0), index=np.zeros(0, dtype=np.int64))
    return series


def _number(value: object) -> float:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")
