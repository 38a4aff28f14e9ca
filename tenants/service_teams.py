"""A tenant's grants to outside service teams: given and taken back by its admin, each
change in the audit log. What a grant allows is TenantScope's to say."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tenants.models import AuditEvent, ServiceTeam, ServiceTeamGrant, Tenant


class GrantError(Exception):
    """No such team, or no such grant; the message names the team."""


@dataclass(frozen=True)
class TeamGrant:
    team_key: str
    team_name: str
    granted_by: str
    granted_at: datetime


def find_team(session: Session, key: str) -> ServiceTeam | None:
    if "\x00" in key:  # PostgreSQL refuses even to compare a NUL
        return None
    return session.scalar(select(ServiceTeam).where(ServiceTeam.key == key))


def _team(session: Session, key: str) -> ServiceTeam:
    team = find_team(session, key)
    if team is None:
        raise GrantError(f"no service team {key!r}")
    return team


def grant(session: Session, tenant: Tenant, team_key: str, actor: str) -> tuple[TeamGrant, bool]:
    """Grant the team; (the grant, whether it is new). Granting again changes nothing."""
    team = _team(session, team_key)
    row = session.scalar(
        select(ServiceTeamGrant).where(
            ServiceTeamGrant.tenant_id == tenant.id, ServiceTeamGrant.service_team_id == team.id
        )
    )
    created = row is None
    if row is None:
        row = ServiceTeamGrant(tenant_id=tenant.id, service_team_id=team.id, granted_by=actor)
        session.add(row)
        session.flush()
        session.add(
            AuditEvent(
                actor=actor,
                tenant_id=tenant.id,
                action="service_team.grant",
                detail={"team": team.key},
            )
        )
    return TeamGrant(team.key, team.name, row.granted_by, row.granted_at), created


def revoke(session: Session, tenant: Tenant, team_key: str, actor: str) -> None:
    """Take the grant back: the team's people lose the tenant on their next request."""
    team = _team(session, team_key)
    row = session.scalar(
        select(ServiceTeamGrant).where(
            ServiceTeamGrant.tenant_id == tenant.id, ServiceTeamGrant.service_team_id == team.id
        )
    )
    if row is None:
        raise GrantError(f"service team {team_key!r} has no grant from this tenant")
    session.delete(row)
    session.add(
        AuditEvent(
            actor=actor,
            tenant_id=tenant.id,
            action="service_team.revoke",
            detail={"team": team.key},
        )
    )
    session.flush()


def grants(session: Session, tenant: Tenant) -> list[TeamGrant]:
    rows = session.execute(
        select(ServiceTeam, ServiceTeamGrant)
        .join(ServiceTeamGrant, ServiceTeamGrant.service_team_id == ServiceTeam.id)
        .where(ServiceTeamGrant.tenant_id == tenant.id)
        .order_by(ServiceTeam.key)
    ).all()
    return [TeamGrant(team.key, team.name, g.granted_by, g.granted_at) for team, g in rows]
