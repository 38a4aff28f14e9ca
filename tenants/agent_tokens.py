"""Agent tokens: created by a tenant admin, shown once, stored as a hash, one tenant and
one site each, revocable. Tokens are 256 random bits, so a plain SHA-256 of them is as
hard to reverse as the token is to guess (a slow hash is for low-entropy passwords)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from tenants.models import AgentToken, AuditEvent, utcnow

PREFIX = "mzat_"
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    id: int
    token: str  # shown once; only its hash is kept


@dataclass(frozen=True, slots=True)
class AgentIdentity:
    token_id: int
    tenant_id: int
    site: str


class AgentTokenError(Exception):
    """Unknown or revoked token; the message never says which part was wrong."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_agent_token(
    session: Session, tenant_id: int, site: str, name: str, created_by: int | None, actor: str
) -> IssuedToken:
    token = PREFIX + secrets.token_urlsafe(32)
    row = AgentToken(
        tenant_id=tenant_id,
        site=site,
        name=name,
        token_hash=_digest(token),
        prefix=token[: len(PREFIX) + 6],
        created_by=created_by,
    )
    session.add(row)
    session.flush()
    session.add(
        AuditEvent(
            actor=actor,
            tenant_id=tenant_id,
            action="agent_token.create",
            detail={"id": row.id, "site": site, "name": name},
        )
    )
    return IssuedToken(row.id, token)


# Built once, as plain columns: every ingest request runs it, and building the statement
# or loading an ORM object cost as much as running it.
_BY_HASH = select(
    AgentToken.id,
    AgentToken.tenant_id,
    AgentToken.site,
    AgentToken.revoked_at,
    AgentToken.last_used_at,
).where(AgentToken.token_hash == bindparam("token_hash"))


def authenticate_agent(session: Session, token: str) -> AgentIdentity:
    row = session.execute(_BY_HASH, {"token_hash": _digest(token)}).one_or_none()
    if row is None or row.revoked_at is not None:
        raise AgentTokenError("unknown or revoked agent token")
    now = utcnow()
    last = row.last_used_at
    if last is not None and last.tzinfo is None:  # SQLite hands back naive UTC
        last = last.replace(tzinfo=UTC)
    # Once a minute is enough to see which agents are alive; a write per request would
    # make every ingest a metadata write.
    if last is None or now - last > LAST_USED_RESOLUTION:
        session.execute(update(AgentToken).where(AgentToken.id == row.id).values(last_used_at=now))
    return AgentIdentity(row.id, row.tenant_id, row.site)


def revoke_agent_token(session: Session, tenant_id: int, token_id: int, actor: str) -> None:
    row = session.get(AgentToken, token_id)
    if row is None or row.tenant_id != tenant_id:
        raise AgentTokenError(f"no agent token {token_id} in this tenant")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(
            AuditEvent(
                actor=actor,
                tenant_id=tenant_id,
                action="agent_token.revoke",
                detail={"id": token_id},
            )
        )
