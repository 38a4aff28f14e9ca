"""The registry of edge agents: each agent's desired config, set in the cloud, and the
last status it reported.

An agent is one tenant's, at one site, and is known by the agent token it holds: the
token says who is calling, the registration says what that caller should run. A token
can be replaced (revoked, a new one issued) without losing the agent's config or
history, by binding the registration to the new token.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from tenants.db import Base
from tenants.models import AgentToken, AuditEvent, utcnow

# An agent counts as stale once it has missed this many of its own status intervals:
# one late report is a hiccup, three are an agent (or its network) that is down.
STALE_AFTER_INTERVALS = 3


class RegisteredAgent(Base):
    __tablename__ = "registered_agents"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    site: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    token_id: Mapped[int] = mapped_column(ForeignKey("agent_tokens.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    # What the agent should run: the YAML as the tenant admin wrote it (``${VAR}``s kept,
    # so secrets stay on the agent's machine), numbered so the agent can say what it runs.
    config_yaml: Mapped[str | None] = mapped_column(Text)
    config_version: Mapped[int] = mapped_column(Integer, default=0)
    config_sha256: Mapped[str | None] = mapped_column(String(64))
    config_set_by: Mapped[str | None] = mapped_column(String(254))
    config_set_at: Mapped[datetime | None]

    # What the agent last said about itself.
    reported_at: Mapped[datetime | None]
    agent_version: Mapped[str | None] = mapped_column(String(64))
    report_interval_s: Mapped[float | None] = mapped_column(Float)
    state: Mapped[str | None] = mapped_column(String(20))
    uptime_s: Mapped[float | None] = mapped_column(Float)
    buffer_points: Mapped[int | None] = mapped_column(BigInteger)
    buffer_oldest_age_s: Mapped[float | None] = mapped_column(Float)
    buffer_bytes: Mapped[int | None] = mapped_column(BigInteger)
    applied_config_version: Mapped[int | None] = mapped_column(Integer)
    config_source: Mapped[str | None] = mapped_column(String(10))
    devices: Mapped[dict] = mapped_column(JSON, default=dict)
    outputs: Mapped[dict] = mapped_column(JSON, default=dict)
    errors: Mapped[list] = mapped_column(JSON, default=list)

    token: Mapped[AgentToken] = relationship()

    @property
    def config_etag(self) -> str | None:
        """A strong ETag: the version, and the content's hash so two clouds never agree
        on a version whose text differs."""
        if not self.config_yaml or not self.config_sha256:
            return None
        return f'"v{self.config_version}-{self.config_sha256[:16]}"'

    def seconds_since_contact(self, now: datetime | None = None) -> float | None:
        if self.reported_at is None:
            return None
        return ((now or utcnow()) - as_utc(self.reported_at)).total_seconds()

    def is_stale(self, now: datetime | None = None) -> bool:
        """Not heard from for more than STALE_AFTER_INTERVALS of its report interval."""
        since = self.seconds_since_contact(now)
        if since is None or not self.report_interval_s:
            return False
        return since > STALE_AFTER_INTERVALS * self.report_interval_s


class AgentRegistryError(Exception):
    """A registration that cannot be made; the message says what to do instead."""


@dataclass(frozen=True, slots=True)
class StatusReport:
    """What an agent reports, already validated by the API."""

    agent_version: str
    state: str
    interval_s: float
    uptime_s: float
    buffer_points: int
    buffer_oldest_age_s: float
    buffer_bytes: int
    applied_config_version: int | None
    config_source: str | None
    devices: dict[str, Any]
    outputs: dict[str, Any]
    errors: list[str]


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; they were written as UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def agent_for_token(session: Session, token_id: int) -> RegisteredAgent | None:
    return session.scalar(select(RegisteredAgent).where(RegisteredAgent.token_id == token_id))


def agent_by_name(session: Session, tenant_id: int, name: str) -> RegisteredAgent | None:
    return session.scalar(
        select(RegisteredAgent).where(
            RegisteredAgent.tenant_id == tenant_id, RegisteredAgent.name == name
        )
    )


def agents_of(session: Session, tenant_id: int, site: str | None = None) -> list[RegisteredAgent]:
    query = select(RegisteredAgent).where(RegisteredAgent.tenant_id == tenant_id)
    if site is not None:
        query = query.where(RegisteredAgent.site == site)
    return list(session.scalars(query.order_by(RegisteredAgent.site, RegisteredAgent.name)))


def active_token(session: Session, tenant_id: int, token_id: int) -> AgentToken:
    token = session.get(AgentToken, token_id)
    if token is None or token.tenant_id != tenant_id:
        raise AgentRegistryError(f"no agent token {token_id} in this tenant")
    if token.revoked_at is not None:
        raise AgentRegistryError(f"agent token {token_id} ({token.name!r}) is revoked")
    return token


def register_agent(session: Session, token: AgentToken, name: str, actor: str) -> RegisteredAgent:
    """The agent ``name`` of the token's tenant, bound to ``token``: created, or rebound
    when its old token was replaced. A token serves one agent only."""
    agent = agent_by_name(session, token.tenant_id, name)
    holder = agent_for_token(session, token.id)
    if holder is not None and holder is not agent:
        raise AgentRegistryError(
            f"agent token {token.id} ({token.name!r}) belongs to agent {holder.name!r}"
        )
    if agent is None:
        agent = RegisteredAgent(tenant_id=token.tenant_id, site=token.site, name=name, token=token)
        session.add(agent)
        action = "agent.register"
    elif agent.token_id != token.id:
        if agent.token.revoked_at is None and agent.token.site != token.site:
            raise AgentRegistryError(
                f"agent {name!r} runs at site {agent.site!r}; token {token.id} is for"
                f" site {token.site!r}"
            )
        agent.token = token
        agent.site = token.site
        action = "agent.rebind"
    else:
        return agent
    session.flush()
    session.add(
        AuditEvent(
            actor=actor,
            tenant_id=token.tenant_id,
            action=action,
            detail={"agent": name, "site": token.site, "token_id": token.id},
        )
    )
    return agent


def register_for_token(session: Session, token: AgentToken) -> RegisteredAgent:
    """The registration of the agent holding ``token``; an agent that reports before
    anyone configured it is registered under its token's name."""
    agent = agent_for_token(session, token.id)
    if agent is not None:
        return agent
    taken = agent_by_name(session, token.tenant_id, token.name)
    if taken is not None and taken.token.revoked_at is None:
        raise AgentRegistryError(
            f"agent {token.name!r} is registered to another token; a tenant admin binds"
            " this token to an agent by setting its config with token_id"
        )
    return register_agent(session, token, token.name, f"agent-token:{token.id}")


def set_desired_config(session: Session, agent: RegisteredAgent, text: str, actor: str) -> bool:
    """Store a (validated) config; a new version only when the text changed."""
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    if agent.config_yaml is not None and digest == agent.config_sha256:
        return False
    previous = agent.config_version
    agent.config_yaml = text
    agent.config_sha256 = digest
    agent.config_version = previous + 1
    agent.config_set_by = actor
    agent.config_set_at = utcnow()
    session.add(
        AuditEvent(
            actor=actor,
            tenant_id=agent.tenant_id,
            action="agent.config.set",
            detail={
                "agent": agent.name,
                "site": agent.site,
                "version": agent.config_version,
                "previous_version": previous or None,
                "sha256": digest,
            },
        )
    )
    return True


def record_status(session: Session, agent: RegisteredAgent, report: StatusReport) -> None:
    agent.reported_at = utcnow()
    agent.agent_version = report.agent_version
    agent.state = report.state
    agent.report_interval_s = report.interval_s
    agent.uptime_s = report.uptime_s
    agent.buffer_points = report.buffer_points
    agent.buffer_oldest_age_s = report.buffer_oldest_age_s
    agent.buffer_bytes = report.buffer_bytes
    agent.applied_config_version = report.applied_config_version
    agent.config_source = report.config_source
    agent.devices = report.devices
    agent.outputs = report.outputs
    agent.errors = report.errors
