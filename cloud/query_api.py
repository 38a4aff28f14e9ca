"""The chart query API: many series in one request, downsampled to a point budget, and
the latest value of every tag of an asset, line or site.

Mounted at ``/api`` over one store, and at ``/api/tenants/{key}`` in the multi-tenant
app, where ``get_historian`` is the tenant's store after TenantScope agreed.

``POST /query`` never answers more than ``max_points`` points per series. The store is
asked first whether any series holds more values than that (``Historian.exceeding``, one
index seek a series); when one does, or a requested window would give more windows, the
API picks the smallest epoch-aligned window from a list of round durations (1 s, 2 s,
5 s, 10 s, 15 s, 30 s, 1 m, 2 m, 5 m, …; see cloud.downsampling) that keeps every series
within the budget, reads every series aggregated in it, and says so: ``window`` and
``downsampled``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from cloud.deps import get_historian
from cloud.downsampling import MS, format_window, pick_window, window_count
from cloud.timeparams import format_instant, parse_instant
from cloud.unavailable import unavailable
from historian import Aggregate, Historian, HistorianError, HistorianUnavailable, SeriesKey
from historian.durations import parse_duration
from historian.influxql import MAX_TIME_NS, MIN_TIME_NS
from historian.model import SeriesRows, ValueKind
from historian.multi_series import AggregateRefused
from protocols.sample import Value

router = APIRouter(tags=["query"])

MAX_SERIES = 200  # per request: a chart of more is unreadable, and it bounds the query
DEFAULT_MAX_POINTS = 1_000  # about one point per pixel of a wide chart
MAX_POINTS_CAP = 10_000
MAX_NAME_LENGTH = 1_024

_UNAVAILABLE = {"description": "The time-series store is unreachable; retry after Retry-After."}

T = TypeVar("T")


class SeriesRef(BaseModel):
    """One series, named as the historian names it."""

    model_config = ConfigDict(extra="forbid")

    site: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)
    line: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)
    asset: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)
    tag: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)

    def key(self) -> SeriesKey:
        return SeriesKey(self.site, self.line, self.asset, self.tag)


class QueryRequest(BaseModel):
    """What a chart asks for: its series, its time range and its width in points."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "series": [
                        {"site": "ningbo", "line": "hall-1", "asset": "IMM-01", "tag": "melt_temp"},
                        {"site": "ningbo", "line": "hall-1", "asset": "IMM-01", "tag": "state"},
                    ],
                    "start": "now-24h",
                    "end": "now",
                    "max_points": 1000,
                }
            ]
        },
    )

    series: list[SeriesRef] = Field(
        min_length=1,
        max_length=MAX_SERIES,
        description=f"The series to read, 1 to {MAX_SERIES}, each once; answered in this order.",
    )
    start: str = Field("now-1h", description="ISO 8601, 'now' or 'now-24h'; inclusive.")
    end: str = Field("now", description="ISO 8601, 'now' or 'now-5m'; exclusive.")
    window: str | None = Field(
        None,
        description=(
            "Aggregate per epoch-aligned window (10s, 1m, 1h; at least 1ms). Widened to a "
            "round window when it would give more than max_points windows. Without it, raw "
            "values, unless a series has more than max_points of them in the range."
        ),
    )
    aggregate: Aggregate | None = Field(
        None,
        description=(
            "Applied per window to every series. Default: mean for numbers and last for "
            "booleans and text; an explicit mean, min, max or sum of a text series is refused."
        ),
    )
    max_points: int = Field(
        DEFAULT_MAX_POINTS,
        ge=1,
        le=MAX_POINTS_CAP,
        description=f"Points per series at most; the cap is {MAX_POINTS_CAP}.",
    )

    @field_validator("series", mode="before")
    @classmethod
    def _not_too_many(cls, value: Any) -> Any:
        # Before the length constraint, so the message says what to do about it.
        if isinstance(value, list) and len(value) > MAX_SERIES:
            raise ValueError(
                f"at most {MAX_SERIES} series in one request, got {len(value)}: "
                "split them into several requests"
            )
        return value

    @field_validator("series")
    @classmethod
    def _each_once(cls, value: list[SeriesRef]) -> list[SeriesRef]:
        first: dict[SeriesKey, int] = {}
        for n, ref in enumerate(value):
            seen = first.setdefault(ref.key(), n)
            if seen != n:
                raise ValueError(f"series[{n}] repeats series[{seen}]: name each series once")
        return value


class SeriesPoints(BaseModel):
    site: str
    line: str
    asset: str
    tag: str
    kind: ValueKind | None = Field(
        description="float, int, bool or string; null when the store holds no such series."
    )
    aggregate: Aggregate | None = Field(
        description="What each value is per window (mean, last, …); null for raw values."
    )
    timestamps_ns: list[int] = Field(
        description="Nanoseconds since the Unix epoch, UTC, ascending; a window's start "
        "when aggregated. In JavaScript, ns / 1e6 gives the milliseconds Date expects."
    )
    values: list[Value] = Field(description="One value per timestamp.")


class QueryResult(BaseModel):
    start: str
    end: str
    start_ns: int
    end_ns: int
    window: str | None = Field(description="The window the values are aggregated in, or null.")
    window_ns: int | None
    downsampled: bool = Field(
        description="True when the API chose or widened the window to keep max_points."
    )
    max_points: int
    series: list[SeriesPoints]


class LatestValue(BaseModel):
    site: str
    line: str
    asset: str
    tag: str
    kind: ValueKind
    value: Value
    time: str
    timestamp_ns: int


def _invalid(field: str, message: str, where: str = "body") -> HTTPException:
    """A 422 shaped like FastAPI's own validation errors, naming the field."""
    return HTTPException(422, [{"loc": [where, field], "msg": message, "type": "value_error"}])


def _instant(text: str, field: str, now_ns: int) -> int:
    try:
        instant: int | None = parse_instant(text, now_ns)
    except ValueError as exc:
        raise _invalid(field, str(exc)) from None
    except OverflowError:  # now-99999…d: a duration too long for a float
        instant = None
    if instant is None or not MIN_TIME_NS <= instant <= MAX_TIME_NS:
        raise _invalid(
            field,
            f"{text!r} is outside the time range a store can hold "
            f"({format_instant(MIN_TIME_NS)} to {format_instant(MAX_TIME_NS)})",
        )
    return instant


def _window(text: str) -> int:
    try:
        window_ns = round(parse_duration(text) * 1e9)
    except ValueError as exc:
        raise _invalid("window", str(exc)) from None
    except OverflowError:
        raise _invalid("window", f"{text!r} is longer than any time range") from None
    if window_ns < MS:
        raise _invalid("window", f"a window must be at least 1ms, got {text!r}")
    if window_ns > MAX_TIME_NS:
        raise _invalid("window", f"{text!r} is longer than any time range")
    return window_ns


def _call(function: Callable[..., T], *args: Any) -> T:
    """Store errors: 503 with Retry-After when it is away, 422 on the aggregate when it
    cannot take a series' kind, 400 for anything else the store refuses."""
    try:
        return function(*args)
    except (HistorianUnavailable, OSError) as exc:
        raise unavailable(f"the time-series store is unavailable: {exc}") from None
    except AggregateRefused as exc:
        raise _invalid("aggregate", str(exc)) from None
    except HistorianError as exc:
        raise HTTPException(400, str(exc)) from None


@router.post(
    "/query",
    response_model=QueryResult,
    responses={503: _UNAVAILABLE},
    summary="Several series over one range, downsampled for a chart",
)
def query_series(
    body: QueryRequest, historian: Annotated[Historian, Depends(get_historian)]
) -> Response:
    """Every requested series over [start, end) in one answer, at most ``max_points``
    points each.

    Raw values when every series has at most ``max_points`` in the range. Otherwise (or
    when ``window`` is given) one value per epoch-aligned window: the requested window,
    or, if that gives more than ``max_points`` windows or none was requested, the
    smallest of 1ms … 500ms, 1s, 2s, 5s, 10s, 15s, 30s, 1m, 2m, 5m, 10m, 15m, 30m, 1h, 2h,
    3h, 6h, 12h, 1d, 2d, 7d, 14d, 30d, 90d, 180d, 365d (then multiples of 365d) that
    fits. ``window`` and ``downsampled`` in the answer say which was used. Empty windows
    are left out. A series the store does not hold comes back empty with ``kind`` null.
    """
    now_ns = time.time_ns()
    start_ns, end_ns = _instant(body.start, "start", now_ns), _instant(body.end, "end", now_ns)
    if start_ns >= end_ns:
        raise _invalid("end", f"end ({body.end}) must be after start ({body.start})")
    window_ns = _window(body.window) if body.window else None
    keys = [ref.key() for ref in body.series]
    answer: list[SeriesRows] | None = None
    aggregate = body.aggregate or Aggregate.MEAN
    # Without an explicit aggregate a chart still gets its state and alarm series.
    fallback = None if body.aggregate else Aggregate.LAST
    downsampled = False
    if window_ns is None:
        # Whether any series is over budget, asked without reading values (a dense
        # day would be 1,001 values a series read only to be thrown away); then the raw
        # values, one over the budget in case points arrived in between.
        if not _call(historian.exceeding, keys, start_ns, end_ns, body.max_points):
            answer = _call(
                historian.read_many, keys, start_ns, end_ns, None, aggregate, body.max_points + 1
            )
        if answer is None or any(len(entry.rows) > body.max_points for entry in answer):
            window_ns = pick_window(start_ns, end_ns, body.max_points)
            downsampled = True
    elif window_count(start_ns, end_ns, window_ns) > body.max_points:
        window_ns = pick_window(start_ns, end_ns, body.max_points, at_least_ns=window_ns)
        downsampled = True
    if window_ns is not None:
        if start_ns - start_ns % window_ns < MIN_TIME_NS:  # windows align to the epoch
            raise _invalid(
                "start",
                f"the first {format_window(window_ns)} window would start before"
                f" {format_instant(MIN_TIME_NS)}: use a later start, a shorter window"
                " or more max_points",
            )
        answer = _call(
            historian.read_many, keys, start_ns, end_ns, window_ns, aggregate, None, fallback
        )
    result = QueryResult(
        start=format_instant(start_ns),
        end=format_instant(end_ns),
        start_ns=start_ns,
        end_ns=end_ns,
        window=None if window_ns is None else format_window(window_ns),
        window_ns=window_ns,
        downsampled=downsampled,
        max_points=body.max_points,
        series=[_points(entry) for entry in answer or []],
    )
    # Serialised by pydantic's own JSON encoder in one pass: a 50-series chart holds
    # tens of thousands of values.
    return Response(result.model_dump_json(), media_type="application/json")


def _points(entry: SeriesRows) -> SeriesPoints:
    key = entry.key
    return SeriesPoints(
        site=key.site,
        line=key.line,
        asset=key.asset,
        tag=key.tag,
        kind=entry.kind,
        aggregate=entry.aggregate,
        timestamps_ns=[ts for ts, _ in entry.rows],
        values=[value for _, value in entry.rows],
    )


@router.get(
    "/latest",
    response_model=list[LatestValue],
    responses={503: _UNAVAILABLE},
    summary="The latest value of every tag of an asset, line or site",
)
def latest_values(
    historian: Annotated[Historian, Depends(get_historian)],
    site: Annotated[str, Query(min_length=1, max_length=MAX_NAME_LENGTH)],
    line: Annotated[
        str | None,
        Query(min_length=1, max_length=MAX_NAME_LENGTH, description="Only this line."),
    ] = None,
    asset: Annotated[
        str | None,
        Query(min_length=1, max_length=MAX_NAME_LENGTH, description="Only this asset."),
    ] = None,
) -> list[LatestValue]:
    """Each tag's latest value, its time and its kind, ordered by line, asset and tag.

    Give ``site``, ``line`` and ``asset`` for one machine's faceplate; leave ``asset``
    (or ``line`` too) out for every asset of a line (or site). A tag whose type changed
    shows the value of the type written last.
    """
    return [
        LatestValue(
            site=info.key.site,
            line=info.key.line,
            asset=info.key.asset,
            tag=info.key.tag,
            kind=info.kind,
            value=info.last_value,
            time=format_instant(info.last_timestamp_ns),
            timestamp_ns=info.last_timestamp_ns,
        )
        for info in _call(historian.latest, site, line, asset)
    ]
