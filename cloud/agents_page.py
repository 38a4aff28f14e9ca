"""The agents page of a tenant, ``/t/{key}/agents``: per site, every edge agent with its
state, last contact, version, config in effect, buffer and devices.

Server-rendered and refreshed by the browser every few seconds: it must work on the
plain PCs of a plant office, and it reads the same views as the API.
"""

from __future__ import annotations

from itertools import groupby
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from cloud.agents_api import AgentOut, agent_view, tenant_for_people
from cloud.principals import DbSession, Scope, require_person
from cloud.usage_api import TenantUsage, tenant_usage
from tenants.agent_registry import STALE_AFTER_INTERVALS, agents_of
from tenants.models import utcnow
from tenants.scope import Principal

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
REFRESH_SECONDS = 10


def since(seconds: float | None) -> str:
    """``12 s ago``, ``4 min ago``, ``3 h ago``, ``2 d ago``; ``never`` for None."""
    if seconds is None:
        return "never"
    seconds = max(0.0, seconds)
    for size, unit in ((86_400, "d"), (3_600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit} ago"
    return f"{seconds:.0f} s ago"


def badge(agent: AgentOut) -> str:
    """The one word a person reads first, and its colour class."""
    if agent.token_revoked:
        return "revoked"
    if agent.stale:
        return "stale"
    return agent.state


@router.get("/t/{key}/agents", response_class=HTMLResponse)
def agents_page(
    key: str,
    request: Request,
    session: DbSession,
    scope: Scope,
    caller: Annotated[Principal, Depends(require_person)],
    site: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    tenant = tenant_for_people(session, scope, key, manage=False)
    now = utcnow()
    agents = [agent_view(agent, now) for agent in agents_of(session, tenant.id, site)]
    sites = [(name, list(group)) for name, group in groupby(agents, key=lambda a: a.site)]
    usage: TenantUsage | None = None
    usage_error = None
    if scope.can_read_usage(tenant.id):  # not for a granted operator or service team
        try:
            usage = tenant_usage(request, session, tenant)
        except HTTPException as exc:
            # Redis or the store away: the agents are still worth showing.
            usage_error = str(exc.detail)
    return templates.TemplateResponse(
        request,
        "agents.html",
        {
            "tenant": tenant,
            "sites": sites,
            "site_filter": site,
            "who": caller.name,
            "since": since,
            "badge": badge,
            "refresh": REFRESH_SECONDS,
            "stale_after": STALE_AFTER_INTERVALS,
            "usage": usage,
            "usage_error": usage_error,
        },
    )
