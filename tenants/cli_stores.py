"""The two stores a tenant command of the CLI works on (``mingzhou maintenance ...``,
``mingzhou energy analyse``): a historian and the metadata store, migrated first so its
tables exist before the first run. A bad historian URL is the caller's mistake, named by
its option."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from sqlalchemy.orm import Session

from historian import Historian


@contextmanager
def tenant_stores(historian_url: str, metadata_url: str) -> Iterator[tuple[Historian, Session]]:
    from historian import open_historian
    from tenants.db import make_engine, session_factory, upgrade

    try:
        store = open_historian(historian_url)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--historian") from None
    engine = None
    try:
        upgrade(metadata_url)
        engine = make_engine(metadata_url)
        with session_factory(engine)() as session:
            yield store, session
    finally:
        store.close()
        if engine is not None:
            engine.dispose()
