"""industry clouds' own asset templates

Revision ID: 0008_industry_cloud_templates
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_industry_cloud_templates"
# A branch from 0001 like every part's (tenants.db.upgrade goes to "heads"): the table
# needs only 0001's industry clouds, and a merge of other branches would stop them from
# downgrading alone (test_energy_jobs downgrades 0007e_energy_results@-1).
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "industry_cloud_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("industry_cloud_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=254), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["industry_cloud_id"],
            ["industry_clouds.id"],
            name=op.f("fk_industry_cloud_templates_industry_cloud_id_industry_clouds"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_industry_cloud_templates")),
        sa.UniqueConstraint(
            "industry_cloud_id", "key", name=op.f("uq_industry_cloud_templates_industry_cloud_id")
        ),
    )


def downgrade() -> None:
    op.drop_table("industry_cloud_templates")
