"""What a running job reaches: the metadata store and the tenants' historians.

In the embedded mode the platform hands its own session factory and tenant storage to
the worker thread. A separate ``mingzhou jobs worker`` builds them from the same
settings as the platform (MINGZHOU_METADATA, MINGZHOU_STORAGE), once per worker process
and lazily, so prefork children never share a connection opened before the fork.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

if TYPE_CHECKING:
    from cloud.platform_settings import PlatformSettings
    from cloud.tenant_storage import TenantStorage


@dataclass
class JobRuntime:
    sessions: sessionmaker
    storage: TenantStorage
    # Set when the process stops: running jobs end at their next progress report.
    stopping: threading.Event = field(default_factory=threading.Event)
    engine: Engine | None = None  # owned (closed with the runtime) when built here

    @classmethod
    def from_settings(cls, settings: PlatformSettings) -> JobRuntime:
        from cloud.tenant_storage import TenantStorage
        from tenants.db import make_engine, session_factory

        engine = make_engine(settings.metadata_url)
        return cls(session_factory(engine), TenantStorage(settings.storage), engine=engine)

    def close(self) -> None:
        self.stopping.set()
        if self.engine is not None:
            self.storage.close()
            self.engine.dispose()
