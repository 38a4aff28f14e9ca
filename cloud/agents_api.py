"""Remote management of edge agents.

Agents (with their token) fetch the config a tenant admin set for them and report their
status; the tenant's people see every agent's status, and its admin sets configs. What
an agent may see is decided by its token alone: its own registration, nothing else.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.agent_config_check import check_agent_config
from cloud.principals import Caller, DbSession, Scope, require_person
from tenants.agent_contact_days import record_contact
from tenants.agent_registry import (
    AgentRegistryError,
    RegisteredAgent,
    StatusReport,
    active_token,
    agent_by_name,
    agent_for_token,
    agents_of,
    as_utc,
    record_status,
    register_agent,
    register_for_token,
    set_desired_config,
)
from tenants.models import AgentToken, Tenant, utcnow
from tenants.scope import Principal, TenantScope

router = APIRouter(tags=["agents"])

MAX_CONFIG_CHARS = 256 * 1024
MAX_STATUS_BYTES = 1024 * 1024
ErrorText = Annotated[str, Field(max_length=2000)]


# --- what agents send ---------------------------------------------------------------------


class _Report(BaseModel):
    # Newer agents may report more than this cloud knows: extra keys are ignored, and
    # every known one is checked. NaN and infinity have no place in a status.
    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)


class DeviceReport(_Report):
    connected: bool
    reads: int = Field(default=0, ge=0)
    samples: int = Field(default=0, ge=0)
    bad_samples: int = Field(default=0, ge=0)
    connection_errors: int = Field(default=0, ge=0)
    last_error: ErrorText | None = None


class OutputReport(_Report):
    pending: int = Field(ge=0, description="Points in the buffer not yet delivered here.")
    oldest_age_seconds: float = Field(ge=0)
    delivered: int = Field(default=0, ge=0)
    last_error: ErrorText | None = None


class BufferReport(_Report):
    points: int = Field(ge=0, description="Points waiting for the slowest output.")
    oldest_age_seconds: float = Field(ge=0, description="Age of the oldest of them.")
    bytes: int = Field(ge=0, description="Size of the buffered data.")


class StatusIn(_Report):
    agent_version: str = Field(min_length=1, max_length=64)
    site: str | None = Field(default=None, description="The site of the running config.")
    state: Literal["ok", "degraded", "waiting"] = Field(
        description="waiting: the agent has no config to run yet."
    )
    interval_seconds: float = Field(gt=0, le=86_400, description="How often it reports.")
    uptime_seconds: float = Field(ge=0)
    buffer: BufferReport
    devices: dict[str, DeviceReport] = Field(default_factory=dict, max_length=1000)
    outputs: dict[str, OutputReport] = Field(default_factory=dict, max_length=100)
    config_version: int | None = Field(default=None, ge=1, description="The applied version.")
    config_source: Literal["cloud", "cache"] | None = None
    errors: list[ErrorText] = Field(default_factory=list, max_length=20)


# --- what people send and see -------------------------------------------------------------


class AgentConfigIn(BaseModel):
    config: str = Field(
        min_length=1, max_length=MAX_CONFIG_CHARS, description="The agent's YAML config."
    )
    token_id: int | None = Field(
        default=None,
        description="Bind the agent to this token (a new one after a revoke); needed the"
        " first time unless a token has the agent's name.",
    )


class ConfigVersionOut(BaseModel):
    version: int
    etag: str
    set_by: str | None
    set_at: datetime | None


class BufferOut(BaseModel):
    points: int
    oldest_age_seconds: float
    bytes: int


class AgentOut(BaseModel):
    name: str
    site: str
    token_id: int
    token_prefix: str
    token_revoked: bool
    desired_config: ConfigVersionOut | None
    applied_config_version: int | None
    config_in_sync: bool = Field(description="The agent runs the desired version.")
    config_source: str | None
    state: str = Field(description="ok, degraded, waiting, or never (no report yet).")
    stale: bool = Field(description="Not heard from for more than 3 report intervals.")
    last_contact: datetime | None
    seconds_since_contact: float | None
    report_interval_seconds: float | None
    agent_version: str | None
    uptime_seconds: float | None
    buffer: BufferOut | None
    devices: dict[str, Any]
    outputs: dict[str, Any]
    errors: list[str]


class AgentDetailOut(AgentOut):
    config: str | None = Field(description="The desired YAML; only for the tenant's admins.")


def agent_view(agent: RegisteredAgent, now: datetime | None = None) -> AgentOut:
    """One agent as people see it (the API and the agents page)."""
    now = now or utcnow()
    etag = agent.config_etag
    desired = (
        ConfigVersionOut(
            version=agent.config_version,
            etag=etag,
            set_by=agent.config_set_by,
            set_at=as_utc(agent.config_set_at) if agent.config_set_at else None,
        )
        if etag
        else None
    )
    reported = agent.reported_at is not None
    return AgentOut(
        name=agent.name,
        site=agent.site,
        token_id=agent.token_id,
        token_prefix=agent.token.prefix,
        token_revoked=agent.token.revoked_at is not None,
        desired_config=desired,
        applied_config_version=agent.applied_config_version,
        config_in_sync=desired is not None and agent.applied_config_version == desired.version,
        config_source=agent.config_source,
        state=agent.state if reported and agent.state else "never",
        stale=agent.is_stale(now),
        last_contact=as_utc(agent.reported_at) if agent.reported_at else None,
        seconds_since_contact=agent.seconds_since_contact(now),
        report_interval_seconds=agent.report_interval_s,
        agent_version=agent.agent_version,
        uptime_seconds=agent.uptime_s,
        buffer=BufferOut(
            points=agent.buffer_points or 0,
            oldest_age_seconds=agent.buffer_oldest_age_s or 0.0,
            bytes=agent.buffer_bytes or 0,
        )
        if reported
        else None,
        devices=agent.devices or {},
        outputs=agent.outputs or {},
        errors=agent.errors or [],
    )


def tenant_for_people(session: Session, scope: TenantScope, key: str, manage: bool) -> Tenant:
    """The tenant ``key`` if the caller may see its agents (and manage them, if asked)."""
    tenant = session.scalar(select(Tenant).where(Tenant.key == key))
    # One answer for "no such tenant" and "not yours": tenant keys are not to be probed.
    if tenant is None or not scope.can_read_raw(tenant.id):
        raise HTTPException(404, f"no tenant {key!r} whose agents you may see")
    if manage and not scope.can_manage(tenant.id):
        raise HTTPException(403, "only the tenant's admin sets agent configs")
    return tenant


# --- the agent's side ---------------------------------------------------------------------


def _agent_caller(caller: Caller) -> Principal:
    if not caller.is_agent or caller.agent_token_id is None:
        raise HTTPException(403, "only an edge agent's token fetches configs and reports status")
    return caller


AgentCaller = Annotated[Principal, Depends(_agent_caller)]


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in header.split(","))


@router.get(
    "/api/agent/config",
    responses={304: {"description": "Not modified"}, 404: {"description": "No config set"}},
)
def fetch_config(
    session: DbSession,
    caller: AgentCaller,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """The calling agent's desired config (JSON: version, etag, config); 304 when the
    ETag in If-None-Match is still current."""
    agent = agent_for_token(session, caller.agent_token_id or -1)
    if agent is not None and not TenantScope(session, caller).can_write(
        agent.tenant_id, agent.site
    ):
        agent = None  # a registration of another tenant or site: never this caller's
    etag = agent.config_etag if agent is not None else None
    if agent is None or etag is None:
        token = session.get(AgentToken, caller.agent_token_id)
        tenant = session.get(Tenant, caller.tenant_id)
        name = agent.name if agent is not None else token.name if token else "?"
        key = tenant.key if tenant else "?"
        raise HTTPException(
            404,
            f"no config is set for agent {name!r} yet: a tenant admin sets one with"
            f" PUT /api/tenants/{key}/agents/{name}/config",
        )
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if _etag_matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    body = {
        "name": agent.name,
        "site": agent.site,
        "version": agent.config_version,
        "etag": etag,
        "config": agent.config_yaml,
    }
    return JSONResponse(body, headers=headers)


def _bounded_body(content_length: Annotated[str | None, Header()] = None) -> None:
    if content_length and content_length.isdigit() and int(content_length) > MAX_STATUS_BYTES:
        raise HTTPException(413, f"a status report is at most {MAX_STATUS_BYTES} bytes")


@router.post("/api/agent/status", status_code=204, dependencies=[Depends(_bounded_body)])
def report_status(body: StatusIn, session: DbSession, caller: AgentCaller) -> Response:
    """The calling agent's status: version, buffer, devices, applied config, errors."""
    scope = TenantScope(session, caller)
    if body.site is not None and not scope.can_write(caller.tenant_id or -1, body.site):
        raise HTTPException(
            403, f"site: {body.site!r} is not the site of this agent token ({caller.agent_site!r})"
        )
    token = session.get(AgentToken, caller.agent_token_id)
    assert token is not None  # it authenticated this very request
    try:
        agent = register_for_token(session, token)
    except AgentRegistryError as exc:
        raise HTTPException(409, str(exc)) from None
    # Before record_status moves reported_at: the time since the last report is what
    # this one vouches for (the bureau's collection availability).
    record_contact(session, agent, utcnow(), body.interval_seconds)
    record_status(
        session,
        agent,
        StatusReport(
            agent_version=body.agent_version,
            state=body.state,
            interval_s=body.interval_seconds,
            uptime_s=body.uptime_seconds,
            buffer_points=body.buffer.points,
            buffer_oldest_age_s=body.buffer.oldest_age_seconds,
            buffer_bytes=body.buffer.bytes,
            applied_config_version=body.config_version,
            config_source=body.config_source,
            devices={name: d.model_dump() for name, d in body.devices.items()},
            outputs={name: o.model_dump() for name, o in body.outputs.items()},
            errors=list(body.errors),
        ),
    )
    return Response(status_code=204)


# --- the people's side --------------------------------------------------------------------

Person = Annotated[Principal, Depends(require_person)]


@router.get("/api/tenants/{key}/agents", response_model=list[AgentOut])
def list_agents(
    key: str,
    session: DbSession,
    scope: Scope,
    caller: Person,
    site: Annotated[str | None, Query(max_length=200, description="Only this site.")] = None,
) -> list[AgentOut]:
    tenant = tenant_for_people(session, scope, key, manage=False)
    now = utcnow()
    return [agent_view(agent, now) for agent in agents_of(session, tenant.id, site)]


@router.get("/api/tenants/{key}/agents/{name}", response_model=AgentDetailOut)
def get_agent(
    key: str, name: str, session: DbSession, scope: Scope, caller: Person
) -> AgentDetailOut:
    tenant = tenant_for_people(session, scope, key, manage=False)
    agent = agent_by_name(session, tenant.id, name)
    if agent is None:
        raise HTTPException(404, f"no agent {name!r} in tenant {key!r}")
    # Configs may hold device passwords: only those who may change them read them.
    config = agent.config_yaml if scope.can_manage(tenant.id) else None
    return AgentDetailOut(**agent_view(agent).model_dump(), config=config)


@router.put(
    "/api/tenants/{key}/agents/{name}/config",
    response_model=AgentDetailOut,
    responses={422: {"description": "The config is invalid: every issue with line and field"}},
)
def put_config(
    key: str,
    name: str,
    body: AgentConfigIn,
    session: DbSession,
    scope: Scope,
    caller: Person,
) -> Response | AgentDetailOut:
    """Set the agent's desired config; it picks it up at its next poll. The agent is
    registered here the first time, bound to ``token_id`` or to the token named ``name``."""
    tenant = tenant_for_people(session, scope, key, manage=True)
    agent = agent_by_name(session, tenant.id, name)
    try:
        token = _token_for(session, tenant, name, agent, body.token_id)
    except AgentRegistryError as exc:
        raise HTTPException(400, f"token_id: {exc}") from None
    issues = sorted(check_agent_config(body.config, name, token.site), key=lambda i: i.line or 0)
    if issues:
        text = "\n".join(
            f"line {i.line}: {i.field}: {i.message}" if i.line else f"{i.field}: {i.message}"
            for i in issues
        )
        return JSONResponse(
            {
                "detail": f"the config is invalid and was not stored:\n{text}",
                "issues": [
                    {"line": i.line, "field": i.field, "message": i.message} for i in issues
                ],
            },
            status_code=422,
        )
    try:
        agent = register_agent(session, token, name, caller.name)
    except AgentRegistryError as exc:
        raise HTTPException(409, str(exc)) from None
    set_desired_config(session, agent, body.config, caller.name)
    session.flush()
    return AgentDetailOut(**agent_view(agent).model_dump(), config=agent.config_yaml)


def _token_for(
    session: Session,
    tenant: Tenant,
    name: str,
    agent: RegisteredAgent | None,
    token_id: int | None,
) -> AgentToken:
    if token_id is not None:
        return active_token(session, tenant.id, token_id)
    if agent is not None:
        return agent.token  # a revoked one still names the site; the agent shows it revoked
    token = session.scalar(
        select(AgentToken).where(
            AgentToken.tenant_id == tenant.id,
            AgentToken.name == name,
            AgentToken.revoked_at.is_(None),
        )
    )
    if token is None:
        raise AgentRegistryError(
            f"agent {name!r} is not registered and no active agent token is named {name!r}:"
            " give the id of the token this agent holds"
        )
    return token
