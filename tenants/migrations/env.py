"""Alembic's entry point: the metadata of every model, the URL from the caller."""

from __future__ import annotations

import importlib

from alembic import context

from tenants.db import Base, make_engine

# Every module that defines tables, so that they are on Base.metadata.
MODEL_MODULES = (
    "analytics.bureau.report_runs",
    "analytics.bureau.reported_output",
    "analytics.bureau.stored_facts",
    "analytics.energy.stored_results",
    "jobs.models",
    "maintenance.alert_models",
    "maintenance.prediction_models",
    "maintenance.registry_models",
    "maintenance.work_order_models",
    "tenants.agent_contact_days",
    "tenants.agent_registry",
    "tenants.asset_model",
    "tenants.industry_templates",
    "tenants.models",
)
for _module in MODEL_MODULES:
    importlib.import_module(_module)

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as connection:
        # Batch mode lets later migrations alter SQLite tables (it rebuilds them).
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
