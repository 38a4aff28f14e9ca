"""Where the agent delivers line protocol: the embedded SQLite store, InfluxDB's v1 API,
and InfluxDB 2.x / 3.x through influxdb-client. Each takes a batch of lines from the
buffer and either accepts all of it or raises, so the buffer knows what to keep."""

from __future__ import annotations

import asyncio
import gzip
import logging
import sqlite3
from pathlib import Path
from typing import Protocol

import httpx

from edge_agent.config import (
    CloudOutputConfig,
    InfluxV1OutputConfig,
    InfluxV2OutputConfig,
    OutputConfig,
    SqliteOutputConfig,
)
from historian.influxdb_rollups import hours_of_body, mark_lines

log = logging.getLogger(__name__)


class OutputUnavailable(Exception):
    """The output cannot take points now; the same batch is retried later (not before
    ``retry_after`` seconds when the output said so)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class OutputRejected(Exception):
    """The output refused these points for good (e.g. a field type conflict); retrying
    would block everything behind them, so they are counted and dropped."""


class _DatabaseMissing(Exception):
    pass


class OutputSetupError(Exception):
    """An output that cannot even be opened (a store path that cannot be created)."""


class Output(Protocol):
    name: str

    async def write(self, body: str, points: int) -> None:
        """Deliver a batch of line protocol; raises OutputUnavailable or OutputRejected."""
        ...

    async def close(self) -> None: ...


class SqliteOutput:
    """The embedded store, fed the same line protocol as InfluxDB."""

    def __init__(self, path: Path) -> None:
        from historian.sqlite_store import SqliteHistorian

        self.name = f"sqlite:{path}"
        try:
            self._store = SqliteHistorian(path)
        except (OSError, sqlite3.Error) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise OutputSetupError(f"cannot open the SQLite store {path}: {reason}") from None

    async def write(self, body: str, points: int) -> None:
        from historian.line_protocol import LineProtocolError

        try:
            await asyncio.to_thread(self._store.write_line_protocol, body)
        except LineProtocolError as exc:
            raise OutputRejected(f"{self.name}: {exc}") from exc
        except Exception as exc:  # disk full, locked database: keep the batch, retry
            raise OutputUnavailable(f"{self.name}: {exc}") from exc

    async def close(self) -> None:
        self._store.close()


class InfluxV1Output:
    """InfluxDB's ``/write`` endpoint: 1.x, and 2.x / 3.x through their v1 compatibility.

    Bodies are gzip-compressed; a missing database is created on first need when
    allowed, so an agent can start before InfluxDB is provisioned.
    """

    def __init__(self, config: InfluxV1OutputConfig) -> None:
        self.name = f"influxdb_v1:{config.url}/{config.database}"
        self.config = config
        auth = (config.username, config.password or "") if config.username else None
        self._client = httpx.AsyncClient(base_url=config.url, timeout=config.timeout, auth=auth)

    async def write(self, body: str, points: int) -> None:
        raw = body.encode("utf-8").rstrip(b"\n")
        # The hours these points fall in are marked changed, so the cloud's rollups of
        # them are read raw until rolled again (historian.influxdb_rollups).
        raw += mark_lines(hours_of_body(raw))
        payload = gzip.compress(raw, compresslevel=1)
        try:
            await self._post(payload)
        except _DatabaseMissing:
            if not self.config.create_database:
                raise OutputUnavailable(
                    f"{self.name}: database {self.config.database!r} does not exist"
                    " (and create_database is off)"
                ) from None
            await self._create_database()
            await self._post(payload)

    async def _post(self, payload: bytes) -> None:
        response = await _post_gzip(
            self._client,
            self.name,
            "/write",
            payload,
            {"db": self.config.database, "precision": "ns"},
        )
        if response.status_code == 204:
            return
        error = _error_text(response)
        if response.status_code == 404 and "database not found" in error:
            raise _DatabaseMissing(error)
        if response.status_code == 400:
            # InfluxDB 1.x stores the valid points of a batch and reports the others.
            raise OutputRejected(f"{self.name}: InfluxDB refused points: {error}")
        if response.status_code in (401, 403):
            raise OutputUnavailable(
                f"{self.name}: authentication failed, check username and password: {error}"
            )
        raise OutputUnavailable(f"{self.name}: HTTP {response.status_code}: {error}")

    async def _create_database(self) -> None:
        # Database creation differs per InfluxDB version; the historian keeps that in
        # one adapter, which is synchronous: run it in a thread, it happens once.
        from historian import HistorianError
        from historian.influxdb_databases import create_database_v1

        def create() -> None:
            with httpx.Client(
                base_url=self.config.url, timeout=self.config.timeout, auth=self._client.auth
            ) as client:
                create_database_v1(client, self.config.database)

        try:
            await asyncio.to_thread(create)
        except HistorianError as exc:
            raise OutputUnavailable(f"{self.name}: {exc}") from exc
        log.info("created InfluxDB database %r at %s", self.config.database, self.config.url)

    async def close(self) -> None:
        await self._client.aclose()


class InfluxV2Output:
    """InfluxDB 2.x / 3.x / Cloud through influxdb-client's synchronous write API.

    The library's own batching and retries are not used: the buffer already batches,
    and a retry hidden in here would hold a batch the buffer thinks is in flight.
    """

    def __init__(self, config: InfluxV2OutputConfig) -> None:
        from influxdb_client import InfluxDBClient
        from influxdb_client.client.write_api import SYNCHRONOUS

        self.name = f"influxdb_v2:{config.url}/{config.org}/{config.bucket}"
        self.config = config
        self._client = InfluxDBClient(
            url=config.url,
            token=config.token,
            org=config.org,
            timeout=int(config.timeout * 1000),
            enable_gzip=True,
        )
        self._write_api = self._client.write_api(write_options=SYNCHRONOUS)

    async def write(self, body: str, points: int) -> None:
        from influxdb_client import WritePrecision
        from influxdb_client.rest import ApiException

        try:
            await asyncio.to_thread(
                self._write_api.write,
                bucket=self.config.bucket,
                org=self.config.org,
                record=body,
                write_precision=WritePrecision.NS,
            )
        except ApiException as exc:
            message = f"{self.name}: HTTP {exc.status}: {(exc.body or exc.reason or '')!s:.300}"
            if exc.status in (400, 422):
                raise OutputRejected(message) from exc
            raise OutputUnavailable(message) from exc
        except Exception as exc:  # urllib3 connection errors and timeouts
            raise OutputUnavailable(f"{self.name}: {exc.__class__.__name__}: {exc}") from exc

    async def close(self) -> None:
        await asyncio.to_thread(self._client.close)


class CloudOutput:
    """The Mingzhou cloud's ``/api/ingest``, authenticated by the agent token.

    Refusals that a person must fix (a revoked token, a site the token is not for, a
    batch over the plan's size) keep the points in the buffer rather than drop them:
    once the token or config is fixed, nothing read in the meantime is missing.
    """

    def __init__(self, config: CloudOutputConfig) -> None:
        self.name = f"cloud:{config.url}"
        self.config = config
        self._client = httpx.AsyncClient(
            base_url=config.url,
            timeout=config.timeout,
            headers={"Authorization": f"Token {config.token}"},
        )

    async def write(self, body: str, points: int) -> None:
        payload = gzip.compress(body.encode("utf-8"), compresslevel=1)
        response = await _post_gzip(self._client, self.name, "/api/ingest", payload)
        if response.status_code == 204:
            return
        reason = _error_text(response)
        if response.status_code == 400:
            raise OutputRejected(f"{self.name}: the cloud refused the batch: {reason}")
        retry = response.headers.get("retry-after", "")
        hint = {
            401: " (the agent token was refused: ask the tenant admin for a new one)",
            403: " (check agent.site against the token's site)",
            413: " (lower this output's batch_size)",
        }.get(response.status_code, "")
        raise OutputUnavailable(
            f"{self.name}: HTTP {response.status_code}: {reason}{hint}",
            retry_after=float(retry) if retry.replace(".", "", 1).isdigit() else None,
        )

    async def close(self) -> None:
        await self._client.aclose()


async def _post_gzip(
    client: httpx.AsyncClient, name: str, path: str, payload: bytes, params: dict | None = None
) -> httpx.Response:
    """POST a gzip body; a network failure means try again later."""
    try:
        return await client.post(
            path,
            params=params,
            content=payload,
            headers={"Content-Encoding": "gzip", "Content-Type": "text/plain"},
        )
    except httpx.HTTPError as exc:
        raise OutputUnavailable(f"{name}: {exc.__class__.__name__}: {exc}") from exc


def _error_text(response: httpx.Response) -> str:
    try:
        data = response.json()
        return str(data.get("error") or data.get("detail") or response.text)
    except ValueError:
        return response.text.strip()[:300]


def output_for(config: OutputConfig, base_dir: Path) -> Output:
    if isinstance(config, SqliteOutputConfig):
        path = Path(config.path)
        return SqliteOutput(path if path.is_absolute() else base_dir / path)
    if isinstance(config, InfluxV1OutputConfig):
        return InfluxV1Output(config)
    if isinstance(config, InfluxV2OutputConfig):
        return InfluxV2Output(config)
    if isinstance(config, CloudOutputConfig):
        return CloudOutput(config)
    raise TypeError(f"no output for type {config.type!r}")
