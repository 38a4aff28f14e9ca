"""The metadata store: SQLAlchemy 2 models share one declarative base, and the schema is
built by Alembic migrations, never by ``create_all``, so every deployment upgrades the
same way (SQLite by default, PostgreSQL in production and in the test suite)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.orm import DeclarativeBase, sessionmaker

# Stable constraint names: Alembic can only alter or drop what it can name, and SQLite
# needs batch migrations that rebuild tables by these names.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    # Timestamps are always UTC and aware, in PostgreSQL as TIMESTAMPTZ.
    type_annotation_map = {datetime: DateTime(timezone=True)}  # noqa: RUF012 (SQLAlchemy's API)


def make_engine(url: str) -> Engine:
    """An engine for ``sqlite:///path.db`` or ``postgresql+psycopg://…``."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _pragmas(connection, _record) -> None:
            # SQLite ignores foreign keys unless asked, per connection. WAL lets the API's
            # readers run beside a writer, and a busy timeout makes concurrent writers
            # (sign-ins, token use) wait their turn instead of failing with "locked".
            connection.execute("PRAGMA foreign_keys=ON")
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA busy_timeout=10000")

    return engine


def session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)


MIGRATIONS = Path(__file__).parent / "migrations"


def upgrade(url: str) -> None:
    """Bring the schema at ``url`` to the newest migration (the app does this on start)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    # "heads": parts of the platform (assets, agents, jobs, maintenance) add their own
    # branches from 0001, so they can land in any order.
    command.upgrade(config, "heads")
