"""``/api/ingest``: edge agents send line protocol (gzip welcome) or JSON with their token.

Every rejection says why, and a rejected body writes nothing: too large (413), not line
protocol (400, naming the line), a site the token is not for (403), over the tenant's
rate (429 with Retry-After), the store away (503 with Retry-After).
"""

from __future__ import annotations

import zlib
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from cloud.principals import db_session, require_agent
from cloud.rate_limits import TenantRateLimiter
from cloud.timeparams import parse_instant
from historian import HistorianUnavailable, Point, SeriesKey
from historian.line_protocol import LineProtocolError, parse_line_protocol
from protocols.sample import Value
from tenants.models import Tenant
from tenants.scope import Principal, TenantScope

router = APIRouter(prefix="/api/ingest", tags=["ingest"])
Agent = Annotated[Principal, Depends(require_agent)]


class JsonPoint(BaseModel):
    site: str = Field(min_length=1)
    line: str = Field(min_length=1)
    asset: str = Field(min_length=1)
    tag: str = Field(min_length=1)
    time: int | str = Field(description="Nanoseconds since the epoch, or ISO 8601.")
    value: Value


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"body of {declared} bytes is over the limit of {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"body is over the limit of {limit} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
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


async def _store(
    request: Request, session: Session, agent: Principal, points: list[Point]
) -> Response:
    scope = TenantScope(session, agent)
    for number, point in enumerate(points, start=1):
        if not scope.can_write(agent.tenant_id or -1, point.key.site):
            raise HTTPException(
                403, f"point {number}: site {point.key.site!r} is not the site of this agent token"
            )
    tenant = session.get(Tenant, agent.tenant_id)
    assert tenant is not None  # the token's foreign key guarantees it
    limiter: TenantRateLimiter = request.app.state.rate_limiter
    capacity = limiter.window_capacity(tenant.plan.ingest_points_per_s)
    if len(points) > capacity:
        raise HTTPException(
            413,
            f"{len(points)} points in one request; your plan takes at most {capacity}:"
            " send smaller batches",
        )
    wait = limiter.admit(tenant.key, len(points), tenant.plan.ingest_points_per_s)
    if wait is not None:
        raise HTTPException(
            429,
            f"over the plan's {tenant.plan.ingest_points_per_s} points/s; retry in {wait:.0f} s",
            {"Retry-After": f"{wait:.0f}"},
        )
    historian = request.app.state.storage.historian(tenant.storage_database)
    session.commit()  # end the metadata transaction before the slower series write
    try:
        await run_in_threadpool(historian.write, points)
    except HistorianUnavailable as exc:
        raise HTTPException(
            503, f"the time-series store is unavailable: {exc}", {"Retry-After": "5"}
        ) from None
    return Response(status_code=204, headers={"X-Points-Written": str(len(points))})


@router.post("", status_code=204, response_class=Response)
async def ingest_line_protocol(
    request: Request, agent: Agent, session: Annotated[Session, Depends(db_session)]
) -> Response:
    """InfluxDB line protocol in the platform's schema; ``Content-Encoding: gzip`` accepted."""
    body = await _body(request, request.app.state.settings.max_body_bytes)
    try:
        points = parse_line_protocol(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise HTTPException(400, f"body is not UTF-8 at byte {exc.start}") from None
    except LineProtocolError as exc:
        raise HTTPException(400, str(exc)) from None
    return await _store(request, session, agent, points)


@router.post("/json", status_code=204, response_class=Response)
async def ingest_json(
    points: list[JsonPoint],
    request: Request,
    agent: Agent,
    session: Annotated[Session, Depends(db_session)],
) -> Response:
    """The same as line protocol, as a JSON array of points."""
    parsed = []
    for number, p in enumerate(points, start=1):
        try:
            when = p.time if isinstance(p.time, int) else parse_instant(p.time)
            parsed.append(Point(SeriesKey(p.site, p.line, p.asset, p.tag), when, p.value))
        except ValueError as exc:
            raise HTTPException(400, f"point {number}: {exc}") from None
    return await _store(request, session, agent, parsed)
