"""maintenance: model registry, predictions, service contracts, alerts, work orders

Revision ID: 0005_maintenance
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_maintenance"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "maintenance_model_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("asset_type", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("trained_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("trained_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assets", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("features", sa.JSON(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("artifact", sa.LargeBinary(), nullable=False),
        sa.Column("artifact_sha256", sa.String(length=64), nullable=False),
        sa.Column("artifact_size", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("promoted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("previous_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["previous_id"],
            ["maintenance_model_versions.id"],
            name=op.f("fk_maintenance_model_versions_previous_id_maintenance_model_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_maintenance_model_versions_tenant_id_tenants"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_model_versions")),
        sa.UniqueConstraint(
            "tenant_id",
            "asset_type",
            "kind",
            "version",
            name=op.f("uq_maintenance_model_versions_tenant_id"),
        ),
    )
    with op.batch_alter_table("maintenance_model_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_maintenance_model_versions_tenant_id"), ["tenant_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("uq_maintenance_model_versions_promoted"),
            ["tenant_id", "asset_type", "kind"],
            unique=True,
            sqlite_where=sa.text("state = 'promoted'"),
            postgresql_where=sa.text("state = 'promoted'"),
        )

    op.create_table(
        "maintenance_service_contracts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("team", sa.String(length=200), nullable=False),
        sa.Column("asset_types", sa.JSON(), nullable=False),
        sa.Column("asset_keys", sa.JSON(), nullable=False),
        sa.Column("risk_threshold", sa.Float(), nullable=False),
        sa.Column("rul_threshold_hours", sa.Float(), nullable=True),
        sa.Column("webhook_url", sa.String(length=2000), nullable=True),
        sa.Column("webhook_secret", sa.String(length=200), nullable=True),
        sa.Column("emails", sa.JSON(), nullable=False),
        sa.Column("escalate_after_minutes", sa.Integer(), nullable=True),
        sa.Column("escalation_emails", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_maintenance_service_contracts_tenant_id_tenants"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_service_contracts")),
    )
    with op.batch_alter_table("maintenance_service_contracts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_maintenance_service_contracts_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "maintenance_predictions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("site", sa.String(length=200), nullable=False),
        sa.Column("line", sa.String(length=200), nullable=False),
        sa.Column("asset", sa.String(length=200), nullable=False),
        sa.Column("asset_type", sa.String(length=100), nullable=False),
        sa.Column("failure_kind", sa.String(length=64), nullable=False),
        sa.Column("risk", sa.Float(), nullable=False),
        sa.Column("anomaly_score", sa.Float(), nullable=False),
        sa.Column("rul_hours", sa.Float(), nullable=True),
        sa.Column("rul_low_hours", sa.Float(), nullable=True),
        sa.Column("rul_high_hours", sa.Float(), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model_version_id", sa.Integer(), nullable=False),
        sa.Column("rul_model_version_id", sa.Integer(), nullable=True),
        sa.Column("made_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["model_version_id"],
            ["maintenance_model_versions.id"],
            name=op.f("fk_maintenance_predictions_model_version_id_maintenance_model_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["rul_model_version_id"],
            ["maintenance_model_versions.id"],
            name=op.f("fk_maintenance_predictions_rul_model_version_id_maintenance_model_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_maintenance_predictions_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_predictions")),
    )
    with op.batch_alter_table("maintenance_predictions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_maintenance_predictions_open"),
            ["tenant_id", "superseded_at"],
            unique=False,
        )

    op.create_table(
        "maintenance_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("site", sa.String(length=200), nullable=False),
        sa.Column("line", sa.String(length=200), nullable=False),
        sa.Column("asset", sa.String(length=200), nullable=False),
        sa.Column("asset_type", sa.String(length=100), nullable=False),
        sa.Column("failure_kind", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("risk", sa.Float(), nullable=False),
        sa.Column("peak_risk", sa.Float(), nullable=False),
        sa.Column("rul_hours", sa.Float(), nullable=True),
        sa.Column("rul_low_hours", sa.Float(), nullable=True),
        sa.Column("prediction_id", sa.Integer(), nullable=False),
        sa.Column("predictions_seen", sa.Integer(), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=254), nullable=True),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["maintenance_service_contracts.id"],
            name=op.f("fk_maintenance_alerts_contract_id_maintenance_service_contracts"),
        ),
        sa.ForeignKeyConstraint(
            ["prediction_id"],
            ["maintenance_predictions.id"],
            name=op.f("fk_maintenance_alerts_prediction_id_maintenance_predictions"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_maintenance_alerts_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_alerts")),
    )
    with op.batch_alter_table("maintenance_alerts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_maintenance_alerts_tenant_id"), ["tenant_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("uq_maintenance_alerts_one_open"),
            ["tenant_id", "site", "line", "asset", "failure_kind"],
            unique=True,
            sqlite_where=sa.text("status != 'closed'"),
            postgresql_where=sa.text("status != 'closed'"),
        )

    op.create_table(
        "maintenance_alert_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("target", sa.String(length=2000), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["maintenance_alerts.id"],
            name=op.f("fk_maintenance_alert_deliveries_alert_id_maintenance_alerts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_alert_deliveries")),
    )
    with op.batch_alter_table("maintenance_alert_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_maintenance_alert_deliveries_alert_id"), ["alert_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_maintenance_alert_deliveries_due"),
            ["status", "next_attempt_at"],
            unique=False,
        )

    op.create_table(
        "maintenance_work_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.Column("site", sa.String(length=200), nullable=False),
        sa.Column("line", sa.String(length=200), nullable=False),
        sa.Column("asset", sa.String(length=200), nullable=False),
        sa.Column("asset_type", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("scheduled_for", sa.Date(), nullable=True),
        sa.Column("cause", sa.String(length=64), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=254), nullable=True),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_by", sa.String(length=254), nullable=True),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["maintenance_alerts.id"],
            name=op.f("fk_maintenance_work_orders_alert_id_maintenance_alerts"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_maintenance_work_orders_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_work_orders")),
        sa.UniqueConstraint("alert_id", name=op.f("uq_maintenance_work_orders_alert_id")),
    )
    with op.batch_alter_table("maintenance_work_orders", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_maintenance_work_orders_tenant_id"), ["tenant_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("maintenance_work_orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_maintenance_work_orders_tenant_id"))

    op.drop_table("maintenance_work_orders")
    with op.batch_alter_table("maintenance_alert_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_maintenance_alert_deliveries_due"))
        batch_op.drop_index(batch_op.f("ix_maintenance_alert_deliveries_alert_id"))

    op.drop_table("maintenance_alert_deliveries")
    with op.batch_alter_table("maintenance_alerts", schema=None) as batch_op:
        batch_op.drop_index(
            batch_op.f("uq_maintenance_alerts_one_open"),
            sqlite_where=sa.text("status != 'closed'"),
            postgresql_where=sa.text("status != 'closed'"),
        )
        batch_op.drop_index(batch_op.f("ix_maintenance_alerts_tenant_id"))

    op.drop_table("maintenance_alerts")
    with op.batch_alter_table("maintenance_predictions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_maintenance_predictions_open"))

    op.drop_table("maintenance_predictions")
    with op.batch_alter_table("maintenance_service_contracts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_maintenance_service_contracts_tenant_id"))

    op.drop_table("maintenance_service_contracts")
    with op.batch_alter_table("maintenance_model_versions", schema=None) as batch_op:
        batch_op.drop_index(
            batch_op.f("uq_maintenance_model_versions_promoted"),
            sqlite_where=sa.text("state = 'promoted'"),
            postgresql_where=sa.text("state = 'promoted'"),
        )
        batch_op.drop_index(batch_op.f("ix_maintenance_model_versions_tenant_id"))

    op.drop_table("maintenance_model_versions")
