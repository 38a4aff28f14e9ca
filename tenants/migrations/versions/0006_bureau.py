"""bureau: agent contact per day, monthly facts per enterprise, reported output, report runs

Revision ID: 0006_bureau
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_bureau"
down_revision = "0001"
branch_labels = None
# agent_contact_days refers to registered_agents (the agent registry's branch).
depends_on = ("0003_agent_registry",)


def upgrade() -> None:
    op.create_table(
        "agent_contact_days",
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("reports", sa.Integer(), nullable=False),
        sa.Column("covered_s", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["registered_agents.id"],
            name=op.f("fk_agent_contact_days_agent_id_registered_agents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agent_id", "day", name=op.f("pk_agent_contact_days")),
    )
    op.create_table(
        "bureau_facts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("gathered_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_bureau_facts_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bureau_facts")),
        sa.UniqueConstraint("tenant_id", "period", name=op.f("uq_bureau_facts_tenant_id")),
    )
    with op.batch_alter_table("bureau_facts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bureau_facts_period"), ["period"], unique=False)
    op.create_table(
        "bureau_reported_output",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("output_value_10k_yuan", sa.Float(), nullable=True),
        sa.Column("output_quantity", sa.Float(), nullable=True),
        sa.Column("output_unit", sa.String(length=20), nullable=True),
        sa.Column("reported_by", sa.String(length=254), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_bureau_reported_output_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bureau_reported_output")),
        sa.UniqueConstraint(
            "tenant_id", "period", name=op.f("uq_bureau_reported_output_tenant_id")
        ),
    )
    op.create_table(
        "bureau_report_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("k", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("enterprises", sa.Integer(), nullable=True),
        sa.Column("failed_parts", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=1000), nullable=True),
        sa.Column("pdf_error", sa.String(length=1000), nullable=True),
        sa.Column("groups_csv", sa.Text(), nullable=True),
        sa.Column("trends_csv", sa.Text(), nullable=True),
        sa.Column("html", sa.Text(), nullable=True),
        sa.Column("pdf", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bureau_report_runs")),
        sa.UniqueConstraint("key", name=op.f("uq_bureau_report_runs_key")),
    )
    with op.batch_alter_table("bureau_report_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bureau_report_runs_period"), ["period"], unique=False)
    op.create_table(
        "bureau_report_parts",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["bureau_report_runs.id"],
            name=op.f("fk_bureau_report_parts_run_id_bureau_report_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_bureau_report_parts_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "tenant_id", name=op.f("pk_bureau_report_parts")),
    )


def downgrade() -> None:
    op.drop_table("bureau_report_parts")
    with op.batch_alter_table("bureau_report_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bureau_report_runs_period"))
    op.drop_table("bureau_report_runs")
    op.drop_table("bureau_reported_output")
    with op.batch_alter_table("bureau_facts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bureau_facts_period"))
    op.drop_table("bureau_facts")
    op.drop_table("agent_contact_days")
