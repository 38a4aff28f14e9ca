"""service teams, their users, and the tenants' grants to them

Revision ID: 0007_service_team_grants
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_service_team_grants"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "service_teams",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_teams")),
        sa.UniqueConstraint("key", name=op.f("uq_service_teams_key")),
    )
    op.create_table(
        "service_team_grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("service_team_id", sa.Integer(), nullable=False),
        sa.Column("granted_by", sa.String(length=254), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_service_team_grants_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["service_team_id"],
            ["service_teams.id"],
            name=op.f("fk_service_team_grants_service_team_id_service_teams"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_team_grants")),
        sa.UniqueConstraint(
            "tenant_id", "service_team_id", name=op.f("uq_service_team_grants_tenant_id")
        ),
    )
    with op.batch_alter_table("service_team_grants", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_service_team_grants_service_team_id"), ["service_team_id"]
        )
    # Not a batch rebuild: rebuilding ``users`` in SQLite drops a table that agent tokens
    # and audit events refer to, which its foreign keys refuse. SQLite adds a column with
    # a (named) REFERENCES clause in place when its default is NULL.
    fk = op.f("fk_users_service_team_id_service_teams")
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE users ADD COLUMN service_team_id INTEGER"
            f" CONSTRAINT {fk} REFERENCES service_teams (id)"
        )
    else:
        op.add_column("users", sa.Column("service_team_id", sa.Integer(), nullable=True))
        op.create_foreign_key(fk, "users", "service_teams", ["service_team_id"], ["id"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE users DROP COLUMN service_team_id")  # SQLite 3.35+
    else:
        op.drop_constraint(
            op.f("fk_users_service_team_id_service_teams"), "users", type_="foreignkey"
        )
        op.drop_column("users", "service_team_id")
    op.drop_table("service_team_grants")
    op.drop_table("service_teams")
