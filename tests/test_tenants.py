"""Tenants, users, sessions, agent tokens and TenantScope on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from tenants import sessions
from tenants.agent_tokens import (
    AgentTokenError,
    authenticate_agent,
    create_agent_token,
    revoke_agent_token,
)
from tenants.db import Base, make_engine, session_factory, upgrade
from tenants.models import AgentToken, AuditEvent
from tenants.onboarding import (
    OnboardingError,
    create_industry_cloud,
    create_tenant,
    create_user,
    ensure_default_plans,
)
from tenants.passwords import hash_password, needs_rehash, verify_password
from tenants.roles import Role
from tenants.scope import Principal, TenantScope


@pytest.fixture
def session(metadata_url: str) -> Iterator[Session]:
    engine = make_engine(metadata_url)
    with session_factory(engine)() as s:
        ensure_default_plans(s)
        yield s
    engine.dispose()


def test_migrations_build_exactly_the_models(metadata_url: str) -> None:
    engine = make_engine(metadata_url)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        tables = set(inspect(connection).get_table_names())
    assert diff == [], diff  # a model changed without a migration
    assert {
        "tenants",
        "users",
        "agent_tokens",
        "audit_events",
        "plans",
        "industry_clouds",
    } <= tables
    upgrade(metadata_url)  # upgrading again is a no-op
    engine.dispose()


def test_onboarding_rules(session: Session) -> None:
    mold = create_industry_cloud(session, "mold", "Mold-making cloud", actor="admin")
    tenant = create_tenant(
        session, "ningbo-mold", "Ningbo Mold Co.", "starter", "admin", mold, "Beilun"
    )
    assert tenant.storage_database == "mz_ningbo_mold"
    with pytest.raises(OnboardingError, match="exists already"):
        create_tenant(session, "ningbo-mold", "Again", "starter", "admin")
    with pytest.raises(OnboardingError, match="lower-case"):
        create_tenant(session, "Bad Key!", "x", "starter", "admin")
    with pytest.raises(OnboardingError, match="no plan"):
        create_tenant(session, "other", "x", "gold", "admin")
    with pytest.raises(OnboardingError, match="works inside a tenant"):
        create_user(session, "pm@x.cn", "long enough", Role.PLANT_MANAGER, "admin")
    with pytest.raises(OnboardingError, match="industry cloud"):
        create_user(session, "op@x.cn", "long enough", Role.INDUSTRY_OPERATOR, "admin")
    for i in range(tenant.plan.max_users):
        create_user(session, f"u{i}@x.cn", "long enough", Role.PLANT_MANAGER, "admin", tenant)
    with pytest.raises(OnboardingError, match="allows 10 users"):
        create_user(
            session, "one-too-many@x.cn", "long enough", Role.PLANT_MANAGER, "admin", tenant
        )
    actions = session.scalars(select(AuditEvent.action)).all()
    assert actions.count("user.create") == 10 and "tenant.create" in actions


def test_passwords_are_argon2_and_checked() -> None:
    stored = hash_password("correct horse")
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    assert verify_password(stored, "correct horse")
    assert not verify_password(stored, "wrong horse")
    assert not verify_password("not a hash", "correct horse")
    assert not needs_rehash(stored)
    with pytest.raises(ValueError, match="8 characters"):
        hash_password("short")


SECRET = "s" * 32


def test_sessions_expire_and_cannot_be_forged() -> None:
    token = sessions.issue(SECRET, 7, "plant_manager", 3)
    claims = sessions.verify(SECRET, token)
    assert (claims.user_id, claims.role, claims.tenant_id) == (7, "plant_manager", 3)
    with pytest.raises(sessions.SessionError, match="invalid"):
        sessions.verify("t" * 32, token)
    old = sessions.issue(SECRET, 7, "x", None, now=datetime.now(UTC) - timedelta(hours=9))
    with pytest.raises(sessions.SessionError, match="expired"):
        sessions.verify(SECRET, old)
    with pytest.raises(sessions.SessionError):
        sessions.verify(SECRET, token[:-2] + "xx")
    with pytest.raises(ValueError, match="32 bytes"):
        sessions.issue("short", 7, "x", None)


def test_agent_tokens_are_shown_once_scoped_and_revocable(session: Session) -> None:
    a = create_tenant(session, "tenant-a", "A", "starter", "admin")
    b = create_tenant(session, "tenant-b", "B", "starter", "admin")
    issued = create_agent_token(session, a.id, "site-1", "edge-1", None, "admin@a")
    stored = session.get(AgentToken, issued.id)
    assert stored is not None and issued.token not in (stored.token_hash, stored.prefix)
    identity = authenticate_agent(session, issued.token)
    assert (identity.tenant_id, identity.site) == (a.id, "site-1")
    assert stored.last_used_at is not None
    with pytest.raises(AgentTokenError):
        revoke_agent_token(session, b.id, issued.id, "admin@b")  # not b's token
    revoke_agent_token(session, a.id, issued.id, "admin@a")
    with pytest.raises(AgentTokenError, match="unknown or revoked"):
        authenticate_agent(session, issued.token)
    with pytest.raises(AgentTokenError, match="unknown or revoked"):
        authenticate_agent(session, "mzat_guessed")


def test_tenant_scope_matrix(session: Session) -> None:
    cloud = create_industry_cloud(session, "appliance", "Appliance cloud", "admin")
    other_cloud = create_industry_cloud(session, "petro", "Petrochemical cloud", "admin")
    member = create_tenant(session, "member", "Member", "starter", "admin", cloud)
    granting = create_tenant(session, "granting", "Granting", "starter", "admin", cloud)
    granting.grants_operator_dashboards = True
    outsider = create_tenant(session, "outsider", "Outsider", "starter", "admin", other_cloud)
    tenants = {"member": member.id, "granting": granting.id, "outsider": outsider.id}

    def scope(
        role: Role | None,
        tenant: int | None = None,
        cloud_id: int | None = None,
        site: str | None = None,
    ) -> TenantScope:
        return TenantScope(session, Principal("x", role, tenant, cloud_id, site))

    # role -> tenants whose raw data it reads, and whose aggregates
    expected = {
        "platform admin": (scope(Role.PLATFORM_ADMIN), set(tenants), set(tenants)),
        "plant manager of member": (scope(Role.PLANT_MANAGER, member.id), {"member"}, {"member"}),
        "tenant admin of member": (scope(Role.TENANT_ADMIN, member.id), {"member"}, {"member"}),
        "service engineer of outsider": (
            scope(Role.SERVICE_ENGINEER, outsider.id),
            {"outsider"},
            {"outsider"},
        ),
        "operator of appliance": (
            scope(Role.INDUSTRY_OPERATOR, cloud_id=cloud.id),
            {"granting"},
            {"member", "granting"},
        ),
        "bureau analyst": (scope(Role.BUREAU_ANALYST), set(), set(tenants)),
        "agent of member": (scope(None, member.id, site="s1"), set(), set()),
    }
    for who, (s, raw, aggregates) in expected.items():
        assert {n for n, t in tenants.items() if s.can_read_raw(t)} == raw, who
        assert {n for n, t in tenants.items() if s.can_read_aggregates(t)} == aggregates, who
        assert s.raw_tenant_ids() == sorted(tenants[n] for n in raw), who
    agent = scope(None, member.id, site="s1")
    assert agent.can_write(member.id, "s1")
    assert not agent.can_write(member.id, "s2") and not agent.can_write(granting.id, "s1")
    assert not scope(Role.PLATFORM_ADMIN).can_write(member.id, "s1")  # people do not write points
    assert scope(Role.TENANT_ADMIN, member.id).can_manage(member.id)
    assert not scope(Role.TENANT_ADMIN, member.id).can_manage(granting.id)
    assert not scope(Role.PLANT_MANAGER, member.id).can_manage(member.id)
