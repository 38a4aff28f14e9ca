"""``/api/ingest``: edge agents send line protocol (gzip welcome) or JSON with their token.

Every rejection says why, and a rejected body writes nothing: too large (413), not line
protocol (400, naming the line), a site the token is not for (403, naming the line), new
series past the plan's series quota (403), over the tenant's rate (429 with Retry-After),
the store away (503 with Retry-After). The whole body is validated before anything is
written, because InfluxDB would store the valid lines of a partly bad body.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from sqlalchemy import bindparam, select

from cloud.principals import principal, require_agent
from cloud.rate_limits import RateLimitsUnavailable, TenantRateLimiter
from cloud.series_quota import (
    SeriesQuotaExceeded,
    SeriesQuotaUnavailable,
    SeriesRegistry,
    TenantSeries,
)
from cloud.timeparams import parse_instant
from cloud.unavailable import unavailable
from historian import HistorianError, HistorianUnavailable, Point, SeriesKey
from historian.base import format_key
from historian.line_protocol import (
    LineProtocolError,
    ValidatedBody,
    encode_for_influxdb,
    validate_line_protocol,
)
from protocols.sample import Value
from tenants.asset_model import unknown_series
from tenants.models import Plan, Tenant
from tenants.scope import TenantScope

router = APIRouter(prefix="/api/ingest", tags=["ingest"])


# What the checks need of the tenant and its plan, as plain columns in one query (loading
# ORM objects costs several times more, on every batch); built once, as building it cost
# as much as running it.
_TENANT_AND_PLAN = (
    select(
        Tenant.key,
        Tenant.created_at,
        Tenant.storage_database,
        Plan.max_series,
        Plan.ingest_points_per_s,
        Tenant.unknown_tags,
    )
    .join(Plan, Tenant.plan_id == Plan.id)
    .where(Tenant.id == bindparam("tenant_id"))
)


@dataclass(frozen=True, slots=True)
class _Writer:
    """The edge agent behind the token (as its scope), and what ingest needs of its
    tenant and plan."""

    scope: TenantScope  # its write check asks nothing of the (closed) session
    tenant: TenantSeries
    database: str
    max_series: int
    rate: int
    unknown_tags: str


def _authenticated_agent(request: Request) -> _Writer:
    """The edge agent behind the token, with the answers ``principal`` and
    ``require_agent`` give (401 / 403), and its tenant's plan, in one metadata session.
    Blocking: called inside the request's one trip to a worker thread, because chained
    sync dependencies cost a trip each and, at thousands of batches per second, those trips
    are a good part of the work."""
    with request.app.state.sessions() as session:
        agent = require_agent(principal(request, session))
        key, created_at, database, max_series, rate, unknown_tags = session.execute(
            _TENANT_AND_PLAN, {"tenant_id": agent.tenant_id}
        ).one()  # the token's foreign key guarantees the tenant
        session.commit()  # authenticate_agent may have stamped the token's last use
        scope = TenantScope(session, agent)
    tenant = TenantSeries(key, agent.tenant_id or -1, created_at)
    return _Writer(scope, tenant, database, max_series, rate, unknown_tags)


class JsonPoint(BaseModel):
    site: str = Field(min_length=1)
    line: str = Field(min_length=1)
    asset: str = Field(min_length=1)
    tag: str = Field(min_length=1)
    time: int | str = Field(description="Nanoseconds since the epoch, or ISO 8601.")
    value: Value


async def _body(request: Request, limit: int) -> bytes:
    """The body as sent (gzip still compressed), refused past ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"body of {declared} bytes is over the limit of {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _inflated(request: Request, body: bytes, limit: int) -> bytes:
    """The body, inflated if it came gzipped. Called once the token is known, in the
    worker thread: a stranger's bytes are never inflated, and inflating blocks no loop."""
    if request.headers.get("content-encoding", "").lower() == "gzip":
        # Bounded inflation: a small gzip bomb must not become gigabytes in memory.
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            body = inflater.decompress(body, limit + 1)
        except zlib.error as exc:
            raise HTTPException(400, f"body is not valid gzip: {exc}") from None
        if len(body) > limit or inflater.unconsumed_tail:
            raise HTTPException(413, f"decompressed body is over the limit of {limit} bytes")
    return body


@dataclass(frozen=True, slots=True)
class _Batch:
    """A request's points, validated and encoded as line protocol, ready for any store."""

    validated: ValidatedBody
    unit: str  # what its line numbers count in the request: "line" or "point"

    @property
    def point_count(self) -> int:
        return self.validated.point_count

    def first(self, key: SeriesKey) -> int:
        """The number of a series' first point, for messages."""
        return self.validated.first_line(key)

    def where(self, key: SeriesKey) -> str:
        return f"{self.unit} {self.first(key)}"


def _store(request: Request, writer: _Writer, batch: _Batch) -> Response:
    """Check the batch against the token and the plan, then write it. Blocking (metadata,
    Redis, the series store): one trip to a worker thread does all of it."""
    # The distinct series of the request; the checks run per series, not per point.
    series_keys = set(batch.validated.series_keys)
    tenant_series, rate = writer.tenant, writer.rate
    tenant_id = tenant_series.id
    foreign = [key for key in series_keys if not writer.scope.can_write(tenant_id, key.site)]
    if foreign:
        first = min(foreign, key=batch.first)
        raise HTTPException(
            403,
            f"{batch.where(first)}: site {first.site!r} is not the site of this agent token",
        )
    limiter: TenantRateLimiter = request.app.state.rate_limiter
    capacity = limiter.window_capacity(rate)
    if batch.point_count > capacity:
        raise HTTPException(
            413,
            f"{batch.point_count} points in one request; your plan takes at most {capacity}:"
            " send smaller batches",
        )
    historian = request.app.state.storage.historian(writer.database)
    registry: SeriesRegistry = request.app.state.series_registry
    headers: dict[str, str] = {}
    if not registry.all_known(tenant_series, series_keys):
        # New series (to this tenant's registry) meet the asset model once: series the
        # registry knows passed this check, or were stored before it; known series cost
        # nothing here. GET /api/tenants/{key}/unknown-series lists what was let in.
        with request.app.state.sessions() as session:
            unknown = unknown_series(session, tenant_id, series_keys)
        if unknown:
            first = min(unknown, key=batch.first)
            if writer.unknown_tags == "reject":
                raise HTTPException(
                    422,
                    f"{batch.where(first)}: {format_key(first)} is not in the asset model, and"
                    f" this tenant refuses unknown tags ({len(unknown)} series in this request)"
                    "; onboard the asset, or set unknown_tags to accept",
                )
            headers["X-Unknown-Series"] = f"{len(unknown)}; first {format_key(first)}"
        try:
            registry.admit(
                tenant_series,
                series_keys,
                writer.max_series,
                lambda: [info.key for info in historian.list_series()],
            )
        except SeriesQuotaExceeded as exc:
            first = min(exc.refused, key=batch.first)
            raise HTTPException(
                403,
                f"{exc}: the plan allows {exc.quota} series and {exc.in_use} are in use;"
                f" the first new one is {format_key(first)} ({batch.where(first)})",
            ) from None
        except HistorianUnavailable as exc:
            raise _unavailable(exc) from None
        except SeriesQuotaUnavailable as exc:
            raise unavailable(f"{exc}; retry shortly") from None
    try:
        wait = limiter.admit(tenant_series.key, batch.point_count, rate)
    except RateLimitsUnavailable as exc:
        # Known series never asked Redis; the rate is the first to find it away.
        raise unavailable(f"{exc}; retry shortly") from None
    if wait is not None:
        raise HTTPException(
            429,
            f"over the plan's {rate} points/s; retry in {wait:.0f} s",
            {"Retry-After": f"{wait:.0f}"},
        )
    try:
        written = historian.write_line_protocol(batch.validated)
    except HistorianUnavailable as exc:
        raise _unavailable(exc) from None
    except HistorianError as exc:
        # Validation should have caught it; if the store still refuses, say what it said.
        raise HTTPException(400, f"the time-series store refused the batch: {exc}") from None
    if written < batch.point_count:
        # Older than the tenant's retention keeps: stored nowhere, and never will be.
        headers["X-Points-Expired"] = str(batch.point_count - written)
    return Response(status_code=204, headers={"X-Points-Written": str(written), **headers})


def _unavailable(exc: HistorianError) -> HTTPException:
    return unavailable(f"the time-series store is unavailable: {exc}")


@router.post("", status_code=204, response_class=Response)
async def ingest_line_protocol(request: Request) -> Response:
    """InfluxDB line protocol in the platform's schema; ``Content-Encoding: gzip`` accepted.

    Send ``Authorization: Token <agent token>``. The body is validated without building
    points and, when it is already in the form the platform writes, handed to the store
    as it came (see validate_line_protocol).
    """
    body = await _body(request, request.app.state.settings.max_body_bytes)
    return await run_in_threadpool(_ingest_line_protocol, request, body)


def _ingest_line_protocol(request: Request, body: bytes) -> Response:
    writer = _authenticated_agent(request)  # before any work on the body
    body = _inflated(request, body, request.app.state.settings.max_body_bytes)
    try:
        validated = validate_line_protocol(body)
    except LineProtocolError as exc:
        raise HTTPException(400, str(exc)) from None
    return _store(request, writer, _Batch(validated, "line"))


@router.post("/json", status_code=204, response_class=Response)
async def ingest_json(points: list[JsonPoint], request: Request) -> Response:
    """The same as line protocol, as a JSON array of points."""
    return await run_in_threadpool(_ingest_json, request, points)


def _ingest_json(request: Request, points: list[JsonPoint]) -> Response:
    writer = _authenticated_agent(request)
    lines: list[str] = []
    first_points: dict[SeriesKey, int] = {}
    stamps: set[int] = set()
    for number, p in enumerate(points, start=1):
        try:
            when = p.time if isinstance(p.time, int) else parse_instant(p.time)
            point = Point(SeriesKey(p.site, p.line, p.asset, p.tag), when, p.value)
            lines.append(encode_for_influxdb(point))
        except ValueError as exc:
            raise HTTPException(400, f"point {number}: {exc}") from None
        first_points.setdefault(point.key, number)
        stamps.add(when)
    validated = ValidatedBody(
        "\n".join(lines).encode("utf-8"),
        len(lines),
        frozenset(first_points),
        frozenset(str(stamp).encode("ascii") for stamp in stamps),
        _first_lines=first_points,
    )
    return _store(request, writer, _Batch(validated, "point"))
