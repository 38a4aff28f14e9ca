"""What the multi-tenant cloud needs to run: where metadata, series and rate limits live."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from datetime import timedelta


@dataclass(frozen=True)
class PlatformSettings:
    metadata_url: str  # sqlite:///path.db or postgresql+psycopg://…
    storage: (
        str  # sqlite:DIR (a file per tenant) or influxdb://[u:p@]host:port (a database per tenant)
    )
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(48))
    # memory:// for one process; redis://… so every replica shares the same limits.
    rate_limits: str = "memory://"
    max_body_bytes: int = 10 * 1024 * 1024
    session_lifetime: timedelta = timedelta(hours=8)
    admin_email: str | None = None  # bootstrap: the first platform admin
    admin_password: str | None = None
    # Jobs (jobs.celery_app): memory:// runs them in a worker thread of this process (no
    # server); redis://host:port/db sends them to `mingzhou jobs worker` processes.
    broker_url: str = "memory://"
    result_backend: str | None = None  # None: the broker's Redis (or memory)
    jobs_key_prefix: str = "mingzhou:"  # of every Redis key the jobs use
    job_modules: tuple[str, ...] = ()  # job kinds beyond the built-in ones
    # How often each replica rolls its tenants' InfluxDB minute/hour rollups; 0: never.
    rollup_interval_s: float = 60.0
    # How often the series quota's sets shrink to the series the stores still hold; 0: never.
    series_reconcile_s: float = 3600.0
    # How often each replica applies its tenants' plan retention; 0: never.
    retention_interval_s: float = 3600.0

    @classmethod
    def from_environment(cls, **overrides: object) -> PlatformSettings:
        """MINGZHOU_* variables, for replicas that must share one secret and one Redis."""
        env = os.environ
        values: dict[str, object] = {
            "metadata_url": env.get("MINGZHOU_METADATA", "sqlite:///.cloud/metadata.db"),
            "storage": env.get("MINGZHOU_STORAGE", "sqlite:.cloud/series"),
            "rate_limits": env.get("MINGZHOU_RATE_LIMITS", "memory://"),
            "admin_email": env.get("MINGZHOU_ADMIN_EMAIL"),
            "admin_password": env.get("MINGZHOU_ADMIN_PASSWORD"),
            "broker_url": env.get("MINGZHOU_BROKER_URL", "memory://"),
            "result_backend": env.get("MINGZHOU_RESULT_BACKEND"),
            "jobs_key_prefix": env.get("MINGZHOU_JOBS_KEY_PREFIX", "mingzhou:"),
            "job_modules": tuple(
                m.strip() for m in env.get("MINGZHOU_JOB_MODULES", "").split(",") if m.strip()
            ),
        }
        for variable, name in _INTERVALS.items():
            if variable in env:
                values[name] = _seconds(variable, env[variable])
        if "MINGZHOU_SECRET" in env:
            values["secret"] = env["MINGZHOU_SECRET"]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]


# Environment variables of the periodic passes, and the settings they set.
_INTERVALS = {
    "MINGZHOU_ROLLUP_INTERVAL_S": "rollup_interval_s",
    "MINGZHOU_SERIES_RECONCILE_S": "series_reconcile_s",
    "MINGZHOU_RETENTION_INTERVAL_S": "retention_interval_s",
}


def _seconds(variable: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:  # also NaN
        raise ValueError(f"{variable}={text!r}: expected seconds, e.g. 3600 (0: never)")
    return value
