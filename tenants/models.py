"""Tenants, industry clouds, plans, users, agent tokens and the audit log."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tenants.db import Base


def utcnow() -> datetime:
    return datetime.now(UTC)


class IndustryCloud(Base):
    """Groups the tenants of one vertical (mold making, home appliances, petrochemicals)."""

    __tablename__ = "industry_clouds"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    tenants: Mapped[list[Tenant]] = relationship(back_populates="industry_cloud")


class Plan(Base):
    """Quotas a tenant buys: ingest rate, series, retention, users and agents."""

    __tablename__ = "plans"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    ingest_points_per_s: Mapped[int] = mapped_column(Integer)
    max_series: Mapped[int] = mapped_column(Integer)
    retention_days: Mapped[int] = mapped_column(Integer)
    max_users: Mapped[int] = mapped_column(Integer)
    max_agents: Mapped[int] = mapped_column(Integer)


class Tenant(Base):
    """An enterprise. Its time series live in a database (v1) or bucket (v2) of its own."""

    __tablename__ = "tenants"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    district: Mapped[str | None] = mapped_column(String(100))
    industry_cloud_id: Mapped[int | None] = mapped_column(ForeignKey("industry_clouds.id"))
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"))
    storage_database: Mapped[str] = mapped_column(String(100), unique=True)
    # "accept" stores tags missing from the asset model and reports them; "reject" refuses.
    unknown_tags: Mapped[str] = mapped_column(String(10), default="accept")
    # Whether the industry cloud's operator may open this tenant's own dashboards.
    grants_operator_dashboards: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    industry_cloud: Mapped[IndustryCloud | None] = relationship(back_populates="tenants")
    plan: Mapped[Plan] = relationship()


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(40))
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id"))
    industry_cloud_id: Mapped[int | None] = mapped_column(ForeignKey("industry_clouds.id"))
    # A service engineer of an outside service team (no tenant): sees the tenants that
    # granted the team (ServiceTeamGrant).
    service_team_id: Mapped[int | None] = mapped_column(ForeignKey("service_teams.id"))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ServiceTeam(Base):
    """An equipment maker's or maintenance contractor's team serving many tenants."""

    __tablename__ = "service_teams"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ServiceTeamGrant(Base):
    """A tenant lets a service team work its maintenance like its own service engineers.
    Revoking deletes the row (the audit log keeps the history)."""

    __tablename__ = "service_team_grants"
    __table_args__ = (UniqueConstraint("tenant_id", "service_team_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    service_team_id: Mapped[int] = mapped_column(
        ForeignKey("service_teams.id", ondelete="CASCADE"), index=True
    )
    granted_by: Mapped[str] = mapped_column(String(254))
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)


class AgentToken(Base):
    """A credential for one edge agent: one tenant, one site. Only its hash is stored."""

    __tablename__ = "agent_tokens"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    site: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class AuditEvent(Base):
    """Sign-ins, token use and changes: who did what, to which tenant, when."""

    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(254))
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id"), index=True)
    action: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
