"""Outside service teams and the tenants' grants to them.

- ``/api/service-teams`` (platform admin): create a team, list teams, add a team's
  service engineers (people of the team, in no tenant).
- ``/api/tenants/{key}/service-teams[/{team}]`` (the tenant's admin, or a platform
  admin): list the teams the tenant grants, ``PUT`` to grant one, ``DELETE`` to revoke.
  Each grant and revocation is in the audit log. What a grant lets the team do is
  TenantScope's rule: read and work the tenant as its own service engineers do.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from cloud.principals import DbSession, Scope, readable_tenant, require_person
from tenants.models import ServiceTeam, Tenant
from tenants.onboarding import OnboardingError, create_service_team, create_user
from tenants.roles import Role
from tenants.scope import Principal
from tenants.service_teams import GrantError, TeamGrant, find_team, grant, grants, revoke

router = APIRouter(tags=["service teams"])
Person = Annotated[Principal, Depends(require_person)]


class TeamIn(BaseModel):
    key: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)


class TeamOut(BaseModel):
    key: str
    name: str


class TeamUserIn(BaseModel):
    email: str = Field(min_length=3, max_length=254)
    password: str


class GrantOut(BaseModel):
    team: str
    name: str
    granted_by: str
    granted_at: datetime


def _platform_admin(caller: Person) -> Principal:
    if caller.role is not Role.PLATFORM_ADMIN:
        raise HTTPException(403, "only a platform admin manages service teams")
    return caller


PlatformAdmin = Annotated[Principal, Depends(_platform_admin)]


@router.post("/api/service-teams", response_model=TeamOut, status_code=201)
def add_team(body: TeamIn, session: DbSession, caller: PlatformAdmin) -> TeamOut:
    try:
        team = create_service_team(session, body.key, body.name, caller.name)
        session.flush()
    except OnboardingError as exc:
        raise HTTPException(400, str(exc)) from None
    except IntegrityError:
        raise HTTPException(409, f"a service team {body.key!r} exists already") from None
    return TeamOut(key=team.key, name=team.name)


@router.get("/api/service-teams", response_model=list[TeamOut])
def list_teams(session: DbSession, caller: PlatformAdmin) -> list[TeamOut]:
    rows = session.scalars(select(ServiceTeam).order_by(ServiceTeam.key))
    return [TeamOut(key=row.key, name=row.name) for row in rows]


@router.post("/api/service-teams/{team}/users", status_code=201)
def add_team_user(team: str, body: TeamUserIn, session: DbSession, caller: PlatformAdmin) -> dict:
    """A service engineer of the team: it sees the tenants that grant the team."""
    found = find_team(session, team)
    if found is None:
        raise HTTPException(404, f"no service team {team!r}")
    try:
        user = create_user(
            session, body.email, body.password, Role.SERVICE_ENGINEER, caller.name,
            service_team=found,
        )  # fmt: skip
        session.flush()
    except (OnboardingError, ValueError) as exc:
        raise HTTPException(400, str(exc)) from None
    except IntegrityError:
        raise HTTPException(409, f"a user with e-mail {body.email!r} exists already") from None
    return {"id": user.id, "email": user.email, "role": user.role, "service_team": found.key}


def _managed(session: DbSession, key: str, scope: Scope) -> Tenant:
    tenant = readable_tenant(session, key, scope, "that you manage")
    if not scope.can_manage(tenant.id):
        raise HTTPException(403, "only the tenant's admin or a platform admin grants service teams")
    return tenant


def _out(row: TeamGrant) -> GrantOut:
    return GrantOut(
        team=row.team_key, name=row.team_name, granted_by=row.granted_by, granted_at=row.granted_at
    )


@router.get("/api/tenants/{key}/service-teams", response_model=list[GrantOut])
def list_grants(key: str, session: DbSession, scope: Scope, caller: Person) -> list[GrantOut]:
    return [_out(row) for row in grants(session, _managed(session, key, scope))]


@router.put("/api/tenants/{key}/service-teams/{team}", response_model=GrantOut)
def grant_team(
    key: str, team: str, response: Response, session: DbSession, scope: Scope, caller: Person
) -> GrantOut:
    """201 for a new grant, 200 when the team had it already (nothing changes)."""
    tenant = _managed(session, key, scope)
    try:
        row, created = grant(session, tenant, team, caller.name)
    except GrantError as exc:
        raise HTTPException(404, str(exc)) from None
    except IntegrityError:
        # The same grant twice at once: the second meets the unique constraint.
        raise HTTPException(409, f"service team {team!r} is being granted already") from None
    response.status_code = 201 if created else 200
    return _out(row)


@router.delete("/api/tenants/{key}/service-teams/{team}", status_code=204)
def revoke_team(key: str, team: str, session: DbSession, scope: Scope, caller: Person) -> Response:
    tenant = _managed(session, key, scope)
    try:
        revoke(session, tenant, team, caller.name)
    except GrantError as exc:
        raise HTTPException(404, str(exc)) from None
    return Response(status_code=204)
