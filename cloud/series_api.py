"""Which series exist, and one series' values over a time range.

Mounted at ``/api/series`` over one store, and at ``/api/tenants/{key}/series`` in the
multi-tenant app, where ``get_historian`` is the tenant's store after TenantScope agreed.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel

from cloud.deps import get_historian
from cloud.timeparams import format_instant, parse_instant
from historian import Aggregate, Historian, HistorianError, HistorianUnavailable, SeriesKey
from historian.durations import parse_duration
from protocols.sample import Value

router = APIRouter(tags=["series"])

MAX_POINTS = 100_000
MAX_WINDOWS = 100_000


class SeriesOut(BaseModel):
    site: str
    line: str
    asset: str
    tag: str
    kind: str
    last_time: str
    last_timestamp_ns: int
    last_value: Value


class PointOut(BaseModel):
    time: str
    timestamp_ns: int
    value: Value


class SeriesData(BaseModel):
    site: str
    line: str
    asset: str
    tag: str
    start: str
    end: str
    window: str | None
    aggregate: str | None
    points: list[PointOut]


@router.get("", response_model=list[SeriesOut])
def list_series(historian: Annotated[Historian, Depends(get_historian)]) -> list[SeriesOut]:
    """Every series in the historian with its kind and latest value."""
    return [
        SeriesOut(
            site=info.key.site,
            line=info.key.line,
            asset=info.key.asset,
            tag=info.key.tag,
            kind=info.kind.value,
            last_time=format_instant(info.last_timestamp_ns),
            last_timestamp_ns=info.last_timestamp_ns,
            last_value=info.last_value,
        )
        for info in _call(historian.list_series)
    ]


@router.get("/data", response_model=SeriesData)
def series_data(
    historian: Annotated[Historian, Depends(get_historian)],
    site: Annotated[str, Query(min_length=1)],
    line: Annotated[str, Query(min_length=1)],
    asset: Annotated[str, Query(min_length=1)],
    tag: Annotated[str, Query(min_length=1)],
    start: Annotated[str, Query(description="ISO 8601, 'now' or 'now-1h'.")] = "now-1h",
    end: Annotated[str, Query(description="ISO 8601, 'now' or 'now-5m'.")] = "now",
    window: Annotated[
        str | None, Query(description="Aggregate per window, e.g. 10s, 1m, 1h.")
    ] = None,
    agg: Annotated[Aggregate, Query(description="Aggregate applied per window.")] = Aggregate.MEAN,
    limit: Annotated[int, Query(ge=1, le=MAX_POINTS)] = 10_000,
) -> SeriesData:
    """One series over [start, end): raw points, or one aggregate per window."""
    try:
        start_ns, end_ns = parse_instant(start), parse_instant(end)
        window_ns = round(parse_duration(window) * 1e9) if window else None
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    if start_ns >= end_ns:
        raise HTTPException(400, f"start ({start}) must be before end ({end})")
    if window_ns is not None and (end_ns - start_ns) // window_ns > MAX_WINDOWS:
        raise HTTPException(400, f"window {window} gives more than {MAX_WINDOWS} windows: widen it")
    key = SeriesKey(site=site, line=line, asset=asset, tag=tag)
    rows = _call(historian.read, key, start_ns, end_ns, window_ns, agg, limit + 1)
    if len(rows) > limit:
        raise HTTPException(
            400,
            f"more than {limit} points between {start} and {end}: "
            "narrow the range, raise limit, or aggregate with window=",
        )
    return SeriesData(
        site=site,
        line=line,
        asset=asset,
        tag=tag,
        start=format_instant(start_ns),
        end=format_instant(end_ns),
        window=window,
        aggregate=agg.value if window else None,
        points=[PointOut(time=format_instant(t), timestamp_ns=t, value=v) for t, v in rows],
    )


def _call(function, *args):  # type: ignore[no-untyped-def]
    """Historian errors are the caller's mistake (400) unless the store is away (503)."""
    try:
        return function(*args)
    except (HistorianUnavailable, OSError) as exc:
        raise HTTPException(503, f"historian unavailable: {exc}") from None
    except HistorianError as exc:
        raise HTTPException(400, str(exc)) from None
