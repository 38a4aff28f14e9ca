"""``GET /api/tenants/{key}/usage``: each quota of the tenant's plan beside what it uses now.

Every figure is counted the way the platform enforces it, so a tenant reads here where
its next refusal would come from: series as the ingest series quota counts them, points
in the ingest rate window, users as onboarding counts them, agents as issuing a token
counts them (tokens not revoked).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cloud.principals import DbSession, Scope, readable_tenant, require_person
from cloud.rate_limits import WINDOW_SECONDS, RateLimitsUnavailable, TenantRateLimiter
from cloud.series_quota import SeriesQuotaUnavailable, SeriesRegistry, TenantSeries
from cloud.unavailable import unavailable
from historian import Historian, HistorianError
from tenants.models import AgentToken, Tenant, User
from tenants.scope import Principal

router = APIRouter(prefix="/api/tenants/{key}/usage", tags=["tenants"])
Person = Annotated[Principal, Depends(require_person)]


class Quota(BaseModel):
    used: int = Field(description="In use now.")
    limit: int = Field(description="What the plan allows.")


class IngestUse(BaseModel):
    used: int = Field(description="Points counted in the current rate window (refused points too).")
    limit: int = Field(description="Points the plan allows in one window.")
    window_seconds: int
    resets_in_s: float = Field(description="Seconds until the window ends; 0: none is open.")
    points_per_s: int = Field(description="The plan's ingest rate.")


class TenantUsage(BaseModel):
    tenant: str
    plan: str
    series: Quota
    ingest: IngestUse
    users: Quota
    agents: Quota
    retention_days: int


def _readable(session: DbSession, key: str, scope: Scope) -> Tenant:
    # Whoever may read the usage may read the tenant's data: the 403 below is only for
    # those who see its data but not its account.
    tenant = readable_tenant(session, key, scope, "whose usage you may see")
    if not scope.can_read_usage(tenant.id):
        # A granted operator or service team sees the tenant's data, not its account.
        raise HTTPException(403, "only the tenant's own people or a platform admin see its usage")
    return tenant


def _series_in_use(registry: SeriesRegistry, tenant: Tenant, historian: Historian) -> int:
    """The series the quota counts; before the tenant's set was started (its first new
    series since this registry began), the series its store holds, which is what the set
    would start from. Counting does not start the set: only an admission does."""
    try:
        in_use = registry.in_use(TenantSeries(tenant.key, tenant.id, tenant.created_at))
    except SeriesQuotaUnavailable as exc:
        raise unavailable(f"{exc}; retry shortly") from None
    if in_use is not None:
        return in_use
    try:
        # One kind per series is not guaranteed: a series counts once, as when seeding.
        return len({info.key for info in historian.list_series()})
    except HistorianError as exc:
        detail = f"the time-series store cannot count the series: {exc}; retry shortly"
        raise unavailable(detail) from None


@router.get("", response_model=TenantUsage)
def get_usage(
    key: str, request: Request, session: DbSession, scope: Scope, caller: Person
) -> TenantUsage:
    """The plan's quotas and what the tenant uses of each now. Blocking (Redis, the
    series store): FastAPI runs it in a worker thread."""
    return tenant_usage(request, session, _readable(session, key, scope))


def tenant_usage(request: Request, session: Session, tenant: Tenant) -> TenantUsage:
    """The figures of a tenant the caller was allowed to see (TenantScope.can_read_usage).
    Raises HTTPException 503 while Redis or the series store is away."""
    plan = tenant.plan
    # Counted as create_user counts them (active or not): the figure that refuses the next.
    users = session.scalar(select(func.count()).where(User.tenant_id == tenant.id)) or 0
    agents = (
        session.scalar(
            select(func.count()).where(
                AgentToken.tenant_id == tenant.id, AgentToken.revoked_at.is_(None)
            )
        )
        or 0
    )
    limiter: TenantRateLimiter = request.app.state.rate_limiter
    try:
        window = limiter.window_use(tenant.key, plan.ingest_points_per_s)
    except RateLimitsUnavailable as exc:
        raise unavailable(f"{exc}; retry shortly") from None
    historian = request.app.state.storage.historian(tenant.storage_database)
    series = _series_in_use(request.app.state.series_registry, tenant, historian)
    return TenantUsage(
        tenant=tenant.key,
        plan=plan.key,
        series=Quota(used=series, limit=plan.max_series),
        ingest=IngestUse(
            used=window.counted,
            limit=window.limit,
            window_seconds=WINDOW_SECONDS,
            resets_in_s=round(window.resets_in_s, 1),
            points_per_s=plan.ingest_points_per_s,
        ),
        users=Quota(used=users, limit=plan.max_users),
        agents=Quota(used=agents, limit=plan.max_agents),
        retention_days=plan.retention_days,
    )
