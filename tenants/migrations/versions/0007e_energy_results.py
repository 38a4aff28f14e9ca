"""energy: results of the energy_analysis job per tenant, site and run

Revision ID: 0007e_energy_results
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007e_energy_results"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "energy_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("site", sa.String(length=200), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("job_id", sa.String(length=36), nullable=True),
        sa.Column("created_by", sa.String(length=254), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_energy_results_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_energy_results")),
    )
    with op.batch_alter_table("energy_results", schema=None) as batch_op:
        batch_op.create_index(
            "ix_energy_results_tenant_id_site_computed_at",
            ["tenant_id", "site", "computed_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("energy_results", schema=None) as batch_op:
        batch_op.drop_index("ix_energy_results_tenant_id_site_computed_at")
    op.drop_table("energy_results")
