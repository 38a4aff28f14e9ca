"""The built-in job ``series_summary``: count, min, max and mean of each of a tenant's
series over a time range, one series at a time with progress per series.

It answers "which sensors reported, how much, and in what range" for a plant over a
day or a month, which is the first look at data before any analysis, and it reads
through the historian interface like every analysis does.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cloud.timeparams import format_instant, parse_instant
from historian import Aggregate, SeriesInfo
from historian.base import format_key
from jobs.catalog import job_kind
from jobs.context import JobContext
from jobs.errors import JobError

MAX_RANGE_NS = 400 * 86_400 * 1_000_000_000  # a bit over a year, as one read per series


class SeriesSummaryParams(BaseModel):
    # Defaults go through the validators too ("now-24h" becomes an instant).
    model_config = ConfigDict(validate_default=True, extra="forbid")

    start: str = Field("now-24h", description="ISO 8601, 'now' or 'now-24h'.")
    end: str = Field("now", description="ISO 8601, 'now' or 'now-1h'.")
    site: str | None = Field(None, min_length=1, description="Only this site.")
    line: str | None = Field(None, min_length=1, description="Only this line.")
    asset: str | None = Field(None, min_length=1, description="Only this asset.")
    tags: list[str] | None = Field(None, min_length=1, description="Only these tags.")

    # Relative times are fixed when the job is created, so the stored params say which
    # range was summarised, and running it again summarises the same range.
    @field_validator("start", "end")
    @classmethod
    def _instant(cls, value: str) -> str:
        return format_instant(parse_instant(value))

    @model_validator(mode="after")
    def _range(self) -> SeriesSummaryParams:
        start, end = parse_instant(self.start), parse_instant(self.end)
        if start >= end:
            raise ValueError(f"start {self.start} must be before end {self.end}")
        if end - start > MAX_RANGE_NS:
            raise ValueError("the range is longer than 400 days: summarise it in parts")
        return self

    def selects(self, info: SeriesInfo) -> bool:
        key = info.key
        return (
            (self.site is None or key.site == self.site)
            and (self.line is None or key.line == self.line)
            and (self.asset is None or key.asset == self.asset)
            and (self.tags is None or key.tag in self.tags)
        )

    def describe_filter(self) -> str:
        parts = [f"{name}={getattr(self, name)!r}" for name in ("site", "line", "asset", "tags")]
        chosen = [part for part in parts if not part.endswith("=None")]
        return ", ".join(chosen) or "no filter"


@job_kind(
    "series_summary",
    SeriesSummaryParams,
    title="Count, min, max and mean of each series over a time range",
)
def series_summary(job: JobContext, params: SeriesSummaryParams) -> dict[str, Any]:
    historian = job.historian()
    start, end = parse_instant(params.start), parse_instant(params.end)
    chosen = sorted((info for info in historian.list_series() if params.selects(info)),
                    key=lambda info: info.key)  # fmt: skip
    if not chosen:
        if params.describe_filter() == "no filter":
            raise JobError("this tenant's historian holds no series yet")
        raise JobError(f"no series in this tenant's historian match {params.describe_filter()}")
    rows: list[dict[str, Any]] = []
    points = 0
    for index, info in enumerate(chosen):
        job.progress(index, len(chosen), f"summarising {format_key(info.key)}")
        row = _summarise(historian, info, start, end)
        points += row["count"]
        rows.append(row)
    return {
        "start": params.start,
        "end": params.end,
        "series_count": len(rows),
        "points": points,
        "series": rows,
    }


def _summarise(historian: Any, info: SeriesInfo, start: int, end: int) -> dict[str, Any]:
    """One window as long as the range: windows are aligned to the epoch, so the range
    falls into at most two of them, which are combined here (counts add, means weigh)."""
    key, window = info.key, end - start
    row: dict[str, Any] = {
        "site": key.site,
        "line": key.line,
        "asset": key.asset,
        "tag": key.tag,
        "kind": info.kind.value,
    }
    counts = [int(v) for _, v in historian.read(key, start, end, window, Aggregate.COUNT)]
    row["count"] = sum(counts)
    if not info.kind.numeric:
        return row | {"min": None, "max": None, "mean": None}
    if row["count"] == 0:
        return row | {"min": None, "max": None, "mean": None}
    mins = [v for _, v in historian.read(key, start, end, window, Aggregate.MIN)]
    maxes = [v for _, v in historian.read(key, start, end, window, Aggregate.MAX)]
    means = [float(v) for _, v in historian.read(key, start, end, window, Aggregate.MEAN)]
    weighted = sum(m * c for m, c in zip(means, counts, strict=True))
    return row | {"min": min(mins), "max": max(maxes), "mean": weighted / row["count"]}
