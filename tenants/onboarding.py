"""Onboarding: plans, industry clouds, tenants and users, with quotas and an audit trail."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tenants.models import AuditEvent, IndustryCloud, Plan, ServiceTeam, Tenant, User
from tenants.passwords import hash_password
from tenants.roles import Role

DEFAULT_PLANS = {
    # key: points/s, series, retention days, users, agents
    "starter": (2_000, 5_000, 90, 10, 3),
    "standard": (20_000, 50_000, 365, 50, 20),
    "enterprise": (200_000, 1_000_000, 1825, 500, 200),
}
_KEY = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


class OnboardingError(Exception):
    """A request that breaks a rule (bad key, quota reached); the message says which."""


def ensure_default_plans(session: Session) -> None:
    for key, (rate, series, days, users, agents) in DEFAULT_PLANS.items():
        if session.scalar(select(Plan).where(Plan.key == key)) is None:
            session.add(
                Plan(
                    key=key,
                    ingest_points_per_s=rate,
                    max_series=series,
                    retention_days=days,
                    max_users=users,
                    max_agents=agents,
                )
            )
    session.flush()


def create_industry_cloud(session: Session, key: str, name: str, actor: str) -> IndustryCloud:
    _check_key(key)
    cloud = IndustryCloud(key=key, name=name)
    session.add(cloud)
    session.flush()
    session.add(AuditEvent(actor=actor, action="industry_cloud.create", detail={"key": key}))
    return cloud


def create_service_team(session: Session, key: str, name: str, actor: str) -> ServiceTeam:
    """An outside service team (equipment maker, contractor); tenants grant it access."""
    _check_key(key)
    if session.scalar(select(ServiceTeam.id).where(ServiceTeam.key == key)) is not None:
        raise OnboardingError(f"a service team {key!r} exists already")
    team = ServiceTeam(key=key, name=name)
    session.add(team)
    session.flush()
    session.add(AuditEvent(actor=actor, action="service_team.create", detail={"key": key}))
    return team


def create_tenant(
    session: Session,
    key: str,
    name: str,
    plan_key: str,
    actor: str,
    industry_cloud: IndustryCloud | None = None,
    district: str | None = None,
) -> Tenant:
    """A tenant whose series go to the database ``mz_<key>`` (created by the caller)."""
    _check_key(key)
    plan = session.scalar(select(Plan).where(Plan.key == plan_key))
    if plan is None:
        raise OnboardingError(f"no plan {plan_key!r}")
    if session.scalar(select(Tenant).where(Tenant.key == key)) is not None:
        raise OnboardingError(f"a tenant {key!r} exists already")
    tenant = Tenant(
        key=key,
        name=name,
        plan=plan,
        industry_cloud=industry_cloud,
        district=district,
        storage_database="mz_" + key.replace("-", "_"),
    )
    session.add(tenant)
    session.flush()
    session.add(
        AuditEvent(actor=actor, tenant_id=tenant.id, action="tenant.create", detail={"key": key})
    )
    return tenant


def create_user(
    session: Session,
    email: str,
    password: str,
    role: Role,
    actor: str,
    tenant: Tenant | None = None,
    industry_cloud: IndustryCloud | None = None,
    service_team: ServiceTeam | None = None,
) -> User:
    """A person of ``role``: tenant roles inside ``tenant``; a service engineer inside a
    tenant or, for an outside team serving many tenants, inside ``service_team``."""
    if service_team is not None and (role is not Role.SERVICE_ENGINEER or tenant is not None):
        raise OnboardingError("only a service engineer belongs to a service team, and to no tenant")
    if role.belongs_to_tenant != (tenant is not None or service_team is not None):
        where = "inside a tenant" if role.belongs_to_tenant else "outside any tenant"
        if role is Role.SERVICE_ENGINEER:
            where += " or a service team"
        raise OnboardingError(f"a {role.value} works {where}")
    if (role is Role.INDUSTRY_OPERATOR) != (industry_cloud is not None):
        raise OnboardingError("an industry operator, and only one, belongs to an industry cloud")
    if tenant is not None:
        users = session.scalar(select(func.count()).where(User.tenant_id == tenant.id)) or 0
        if users >= tenant.plan.max_users:
            raise OnboardingError(f"plan {tenant.plan.key!r} allows {tenant.plan.max_users} users")
    address = email.strip().lower()
    if session.scalar(select(User.id).where(User.email == address)) is not None:
        raise OnboardingError(f"a user with e-mail {address!r} exists already")
    user = User(
        email=address,
        password_hash=hash_password(password),
        role=role.value,
        tenant_id=tenant.id if tenant else None,
        industry_cloud_id=industry_cloud.id if industry_cloud else None,
        service_team_id=service_team.id if service_team else None,
    )
    session.add(user)
    session.flush()
    detail = {"email": user.email, "role": role.value}
    if service_team is not None:
        detail["service_team"] = service_team.key
    session.add(
        AuditEvent(actor=actor, tenant_id=user.tenant_id, action="user.create", detail=detail)
    )
    return user


def _check_key(key: str) -> None:
    if not _KEY.match(key):
        raise OnboardingError(
            f"key {key!r}: use 2-63 lower-case letters, digits and dashes,"
            " starting with a letter or digit"
        )
