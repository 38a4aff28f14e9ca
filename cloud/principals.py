"""Who is calling: a signed-in person (``Authorization: Bearer <session>``) or an edge
agent (``Authorization: Token mzat_…``). Every refusal is 401 or 403 with a reason that
names no other tenant."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from historian import Historian
from tenants import sessions
from tenants.agent_tokens import AgentTokenError, authenticate_agent
from tenants.models import Tenant, User
from tenants.roles import Role
from tenants.scope import Principal, TenantScope


def db_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


# "function": the session commits when the handler returns, before the response is sent.
# FastAPI's default would commit after sending it: a client could hear 201, ask again at
# once and not find what it made, and a failing commit would follow a success answer.
DbSession = Annotated[Session, Depends(db_session, scope="function")]


SESSION_COOKIE = "mz_session"


def _credentials(request: Request) -> tuple[str, str]:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if not value and (cookie := request.cookies.get(SESSION_COOKIE)):
        return "bearer", cookie  # pages: the browser sends the session as a cookie
    if not value:
        raise HTTPException(
            401, "sign in first: no Authorization header", {"WWW-Authenticate": "Bearer"}
        )
    return scheme.lower(), value.strip()


def principal(request: Request, session: DbSession) -> Principal:
    scheme, value = _credentials(request)
    if scheme == "bearer":
        try:
            claims = sessions.verify(request.app.state.settings.secret, value)
        except sessions.SessionError as exc:
            raise HTTPException(401, str(exc), {"WWW-Authenticate": "Bearer"}) from None
        user = session.get(User, claims.user_id)
        if user is None or not user.active:
            raise HTTPException(401, "this account is disabled or gone: sign in again")
        return Principal(
            user.email,
            Role(user.role),
            user.tenant_id,
            user.industry_cloud_id,
            service_team_id=user.service_team_id,
        )
    if scheme == "token":
        try:
            agent = authenticate_agent(session, value)
        except AgentTokenError as exc:
            raise HTTPException(401, str(exc)) from None
        return Principal(
            f"agent-token:{agent.token_id}",
            None,
            agent.tenant_id,
            agent_site=agent.site,
            agent_token_id=agent.token_id,
        )
    raise HTTPException(401, f"unknown authorization scheme {scheme!r}: use Bearer or Token")


Caller = Annotated[Principal, Depends(principal)]


def scope(session: DbSession, caller: Caller) -> TenantScope:
    return TenantScope(session, caller)


Scope = Annotated[TenantScope, Depends(scope)]


def require_person(caller: Caller) -> Principal:
    if caller.is_agent:
        raise HTTPException(403, "agent tokens may only send data")
    return caller


def require_agent(caller: Caller) -> Principal:
    if not caller.is_agent:
        raise HTTPException(403, "only an edge agent's token may send data")
    return caller


def readable_tenant(session: Session, key: str, scope: TenantScope, refusal: str) -> Tenant:
    """Tenant ``key``, if the scope lets the caller read its data; else 404 "no tenant
    {key} {refusal}", the same answer for "no such tenant" and "not yours", so tenant keys
    cannot be probed."""
    # PostgreSQL refuses even to compare a NUL: no tenant key holds one.
    tenant = None if "\x00" in key else session.scalar(select(Tenant).where(Tenant.key == key))
    if tenant is None or not scope.can_read_raw(tenant.id):
        raise HTTPException(404, f"no tenant {key!r} {refusal}")
    return tenant


def tenant_historian(key: str, request: Request, session: DbSession, caller: Caller) -> Historian:
    """The store of tenant ``key``, if TenantScope lets this caller read its raw data."""
    tenant = session.scalar(select(Tenant).where(Tenant.key == key))
    if tenant is None or not TenantScope(session, caller).can_read_raw(tenant.id):
        # One answer for "no such tenant" and "not yours": tenant keys are not probed.
        raise HTTPException(404, f"no tenant {key!r} whose data you may see")
    return request.app.state.storage.historian(tenant.storage_database)
