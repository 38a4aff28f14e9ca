"""An asset's alarms: tags outside the limits of the asset model, and the machine's down
states, now and over a range.

Excursions over a range are found in window minima and maxima (the same windows the
trend is drawn in), so a spike shorter than a window is still caught; its start and end
are known to a window. Consecutive flagged windows make one episode.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from analytics.production.asset_history import StateSegment
from analytics.production.signals import StateCategory
from cloud.plant_model_view import PlantAsset, PlantTag
from historian import Aggregate, Historian, SeriesInfo

NS_PER_S = 1_000_000_000


@dataclass(frozen=True)
class AlarmEpisode:
    kind: Literal["limit", "state"]
    start_ns: int
    end_ns: int
    ongoing: bool
    tag: str | None = None
    unit: str = ""
    side: Literal["high", "low"] | None = None
    limit: float | None = None
    extreme: float | None = None
    reason: str = ""

    @property
    def duration_s(self) -> float:
        return (self.end_ns - self.start_ns) / NS_PER_S


def limited_tags(asset: PlantAsset) -> list[PlantTag]:
    return [t for t in asset.tags if t.numeric and (t.low is not None or t.high is not None)]


def _excursions(
    tag: PlantTag,
    rows: list[tuple[int, float]],
    side: Literal["high", "low"],
    window_ns: int,
    end_ns: int,
) -> list[AlarmEpisode]:
    limit = tag.high if side == "high" else tag.low
    if limit is None:
        return []
    episodes: list[AlarmEpisode] = []
    current: list[tuple[int, float]] = []

    def close() -> None:
        if current:
            extreme = max(v for _, v in current) if side == "high" else min(v for _, v in current)
            stop = min(current[-1][0] + window_ns, end_ns)
            episodes.append(
                AlarmEpisode(
                    "limit",
                    current[0][0],
                    stop,
                    False,
                    tag.key,
                    tag.unit,
                    side,
                    limit,
                    float(extreme),
                )
            )
            current.clear()

    for ts, value in rows:
        outside = value > limit if side == "high" else value < limit
        if outside and (not current or ts - current[-1][0] <= window_ns):
            current.append((ts, float(value)))
        elif outside:
            close()
            current.append((ts, float(value)))
        else:
            close()
    close()
    return episodes


def limit_episodes(
    historian: Historian, asset: PlantAsset, start_ns: int, end_ns: int, window_ns: int
) -> list[AlarmEpisode]:
    """Every excursion of a limited tag beyond its limits in [start_ns, end_ns)."""
    found: list[AlarmEpisode] = []
    for tag in limited_tags(asset):
        key = asset.series(tag.key)
        if tag.high is not None:
            rows = historian.read(key, start_ns, end_ns, window_ns, Aggregate.MAX)
            found += _excursions(tag, rows, "high", window_ns, end_ns)  # type: ignore[arg-type]
        if tag.low is not None:
            rows = historian.read(key, start_ns, end_ns, window_ns, Aggregate.MIN)
            found += _excursions(tag, rows, "low", window_ns, end_ns)  # type: ignore[arg-type]
    return found


def down_episodes(segments: list[StateSegment]) -> list[AlarmEpisode]:
    """Stretches in a ``down`` state (machine alarms, faults)."""
    return [
        AlarmEpisode("state", s.start_ns, s.end_ns, False, reason=s.reason)
        for s in segments
        if s.category is StateCategory.DOWN
    ]


@dataclass(frozen=True)
class ActiveLimit:
    tag: PlantTag
    value: float
    side: Literal["high", "low"]
    limit: float
    since_ns: int  # the latest sample's time


def active_limits(
    asset: PlantAsset, latest: list[SeriesInfo], now_ns: int, max_age_s: float
) -> list[ActiveLimit]:
    """Tags whose latest value, recent enough to trust, is outside its limits."""
    by_tag = {info.key.tag: info for info in latest}
    active = []
    for tag in limited_tags(asset):
        info = by_tag.get(tag.key)
        if info is None or now_ns - info.last_timestamp_ns > max_age_s * NS_PER_S:
            continue
        value = info.last_value
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if tag.high is not None and value > tag.high:
            active.append(ActiveLimit(tag, float(value), "high", tag.high, info.last_timestamp_ns))
        elif tag.low is not None and value < tag.low:
            active.append(ActiveLimit(tag, float(value), "low", tag.low, info.last_timestamp_ns))
    return active
