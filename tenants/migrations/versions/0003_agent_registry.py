"""registered edge agents: desired config and last reported status

Revision ID: 0003_agent_registry
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_agent_registry"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "registered_agents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("site", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("token_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("config_yaml", sa.Text(), nullable=True),
        sa.Column("config_version", sa.Integer(), nullable=False),
        sa.Column("config_sha256", sa.String(length=64), nullable=True),
        sa.Column("config_set_by", sa.String(length=254), nullable=True),
        sa.Column("config_set_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("agent_version", sa.String(length=64), nullable=True),
        sa.Column("report_interval_s", sa.Float(), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=True),
        sa.Column("uptime_s", sa.Float(), nullable=True),
        sa.Column("buffer_points", sa.BigInteger(), nullable=True),
        sa.Column("buffer_oldest_age_s", sa.Float(), nullable=True),
        sa.Column("buffer_bytes", sa.BigInteger(), nullable=True),
        sa.Column("applied_config_version", sa.Integer(), nullable=True),
        sa.Column("config_source", sa.String(length=10), nullable=True),
        sa.Column("devices", sa.JSON(), nullable=False),
        sa.Column("outputs", sa.JSON(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_registered_agents_tenant_id_tenants")
        ),
        sa.ForeignKeyConstraint(
            ["token_id"],
            ["agent_tokens.id"],
            name=op.f("fk_registered_agents_token_id_agent_tokens"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registered_agents")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_registered_agents_tenant_id")),
        sa.UniqueConstraint("token_id", name=op.f("uq_registered_agents_token_id")),
    )


def downgrade() -> None:
    op.drop_table("registered_agents")
