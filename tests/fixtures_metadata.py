"""The metadata store on both engines: embedded SQLite, and the PostgreSQL server that
runs on development and CI machines (127.0.0.1:5432, trust auth) with a database made
for this test run and dropped after it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    name = f"mingzhou_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # a missing server is a broken machine, not a skip
        pytest.fail(f"PostgreSQL at 127.0.0.1:5432 is not usable: {exc}")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def metadata_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A freshly migrated, empty metadata store on each engine."""
    from tenants.db import upgrade

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'meta.db'}"
        upgrade(url)
        yield url
        return
    base = request.getfixturevalue("postgres_database")
    schema_url = _fresh_schema(base)
    upgrade(schema_url)
    yield schema_url


def _fresh_schema(url: str) -> str:
    """Each test gets an empty schema in the run's database (cheaper than a database)."""
    schema = f"t_{uuid.uuid4().hex[:10]}"
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    return f"{url}?options=-csearch_path%3D{schema}"
