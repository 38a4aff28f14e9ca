"""Onboarding through the API: tenants (platform admin), their users and agent tokens
(the tenant's admin). Each answer names what was refused, never another tenant's data."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from cloud.principals import DbSession, Scope, require_person
from historian import HistorianError
from tenants.agent_tokens import AgentTokenError, create_agent_token, revoke_agent_token
from tenants.models import AgentToken, IndustryCloud, Tenant
from tenants.onboarding import OnboardingError, create_tenant, create_user
from tenants.roles import Role
from tenants.scope import Principal

router = APIRouter(prefix="/api/tenants", tags=["tenants"])
Person = Annotated[Principal, Depends(require_person)]


class TenantIn(BaseModel):
    key: str
    name: str = Field(min_length=1, max_length=200)
    plan: str = "starter"
    industry_cloud: str | None = None
    district: str | None = None


class TenantOut(BaseModel):
    id: int
    key: str
    name: str
    plan: str
    district: str | None


class UserIn(BaseModel):
    email: str = Field(min_length=3, max_length=254)
    password: str
    role: Role


class TokenIn(BaseModel):
    site: str = Field(min_length=1, max_length=200)
    name: str = Field(min_length=1, max_length=200)


class TokenOut(BaseModel):
    id: int
    site: str
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def _tenant(session: DbSession, key: str, scope: Scope) -> Tenant:
    tenant = session.scalar(select(Tenant).where(Tenant.key == key))
    # The same answer for "no such tenant" and "not yours": keys are not to be probed.
    if tenant is None or not scope.can_manage(tenant.id):
        raise HTTPException(404, f"no tenant {key!r} that you manage")
    return tenant


@router.post("", response_model=TenantOut, status_code=201)
def onboard_tenant(
    body: TenantIn, request: Request, session: DbSession, caller: Person
) -> TenantOut:
    if caller.role is not Role.PLATFORM_ADMIN:
        raise HTTPException(403, "only a platform admin onboards tenants")
    cloud = None
    if body.industry_cloud:
        cloud = session.scalar(
            select(IndustryCloud).where(IndustryCloud.key == body.industry_cloud)
        )
        if cloud is None:
            raise HTTPException(400, f"no industry cloud {body.industry_cloud!r}")
    try:
        tenant = create_tenant(
            session, body.key, body.name, body.plan, caller.name, cloud, body.district
        )
    except OnboardingError as exc:
        raise HTTPException(400, str(exc)) from None
    try:
        request.app.state.storage.create(
            tenant.storage_database, timedelta(days=tenant.plan.retention_days)
        )
    except HistorianError as exc:
        # Nothing is committed: the tenant and its store come into being together.
        raise HTTPException(503, f"cannot create the tenant's store: {exc}") from None
    return TenantOut(
        id=tenant.id, key=tenant.key, name=tenant.name, plan=body.plan, district=tenant.district
    )


@router.post("/{key}/users", status_code=201)
def add_user(key: str, body: UserIn, session: DbSession, scope: Scope, caller: Person) -> dict:
    tenant = _tenant(session, key, scope)
    if not body.role.belongs_to_tenant:
        raise HTTPException(400, f"a {body.role.value} does not belong to a tenant")
    try:
        user = create_user(session, body.email, body.password, body.role, caller.name, tenant)
        session.flush()
    except (OnboardingError, ValueError) as exc:
        raise HTTPException(400, str(exc)) from None
    except IntegrityError:
        # Two requests for one new address at once: the second meets the unique index.
        raise HTTPException(409, f"a user with e-mail {body.email!r} exists already") from None
    return {"id": user.id, "email": user.email, "role": user.role}


@router.post("/{key}/agent-tokens", status_code=201)
def issue_token(key: str, body: TokenIn, session: DbSession, scope: Scope, caller: Person) -> dict:
    """The token is in this answer and nowhere else: only its hash is kept."""
    tenant = _tenant(session, key, scope)
    agents = session.scalars(
        select(AgentToken).where(AgentToken.tenant_id == tenant.id, AgentToken.revoked_at.is_(None))
    ).all()
    if len(agents) >= tenant.plan.max_agents:
        raise HTTPException(400, f"plan {tenant.plan.key!r} allows {tenant.plan.max_agents} agents")
    if any(a.name == body.name for a in agents):
        raise HTTPException(400, f"an agent token named {body.name!r} exists already")
    issued = create_agent_token(session, tenant.id, body.site, body.name, None, caller.name)
    return {"id": issued.id, "token": issued.token, "site": body.site, "name": body.name}


@router.get("/{key}/agent-tokens", response_model=list[TokenOut])
def list_tokens(key: str, session: DbSession, scope: Scope, caller: Person) -> list[TokenOut]:
    tenant = _tenant(session, key, scope)
    rows = session.scalars(
        select(AgentToken).where(AgentToken.tenant_id == tenant.id).order_by(AgentToken.id)
    )
    return [TokenOut.model_validate(row, from_attributes=True) for row in rows]


@router.delete("/{key}/agent-tokens/{token_id}", status_code=204)
def revoke_token(
    key: str, token_id: int, session: DbSession, scope: Scope, caller: Person
) -> Response:
    tenant = _tenant(session, key, scope)
    try:
        revoke_agent_token(session, tenant.id, token_id, caller.name)
    except AgentTokenError as exc:
        raise HTTPException(404, str(exc)) from None
    return Response(status_code=204)
