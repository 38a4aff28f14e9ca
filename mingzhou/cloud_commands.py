"""``mingzhou cloud``: serve the API and dashboards."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from fastapi import FastAPI

app = typer.Typer(no_args_is_help=True, help="The cloud service: API and dashboards.")


@app.command()
def serve(
    historian: Annotated[
        str,
        typer.Option(
            help="sqlite:PATH or influxdb://[user:pass@]host:port/database",
            envvar="MINGZHOU_HISTORIAN",
        ),
    ],
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = "INFO",
) -> None:
    """Serve the API and the live dashboard until Ctrl-C."""
    from cloud.app import create_app
    from historian import open_historian
    from mingzhou.runtime import configure_logging

    configure_logging(log_level)
    try:
        store = open_historian(historian)
    except ValueError as exc:
        print(f"--historian: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None
    try:
        _serve(create_app(store), host, port, "the cloud", f"historian {store.name}")
    finally:
        store.close()


@app.command()
def platform(
    metadata: Annotated[
        str,
        typer.Option(help="sqlite:///PATH or postgresql+psycopg://…", envvar="MINGZHOU_METADATA"),
    ] = "sqlite:///.cloud/metadata.db",
    storage: Annotated[
        str,
        typer.Option(
            help="sqlite:DIR or influxdb://[user:pass@]host:port", envvar="MINGZHOU_STORAGE"
        ),
    ] = "sqlite:.cloud/series",
    rate_limits: Annotated[
        str,
        typer.Option(
            help="memory:// or redis://host:port/db (shared by replicas)",
            envvar="MINGZHOU_RATE_LIMITS",
        ),
    ] = "memory://",
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8100,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = "INFO",
) -> None:
    """Serve the multi-tenant API (sign-in, tenants, agent tokens, ingestion).

    Replicas must share MINGZHOU_SECRET (session signing), the metadata store, the
    series store and a Redis for rate limits. MINGZHOU_ADMIN_EMAIL and
    MINGZHOU_ADMIN_PASSWORD create the first platform admin.
    """
    from cloud.platform_app import create_platform_app
    from cloud.platform_settings import PlatformSettings
    from mingzhou.runtime import configure_logging

    configure_logging(log_level)
    try:
        settings = PlatformSettings.from_environment(
            metadata_url=metadata, storage=storage, rate_limits=rate_limits
        )
        app_ = create_platform_app(settings)
    except (ValueError, OSError) as exc:
        print(f"cannot start: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None
    _serve(app_, host, port, "the platform API", "multi-tenant")


def _serve(app_: FastAPI, host: str, port: int, purpose: str, detail: str) -> None:
    """Listen (or exit 1 naming the port), say where, serve until Ctrl-C or SIGTERM."""
    from mingzhou.runtime import run_until_signalled
    from mingzhou.web_server import PortInUse, bind, serve_app

    try:
        sock = bind(host, port, f"{purpose} (--port)")
    except PortInUse as exc:
        print(exc, file=sys.stderr)
        raise typer.Exit(1) from None

    async def main(stop: asyncio.Event) -> None:
        print(f"{purpose} on http://{host}:{port}/ ({detail}, pid {os.getpid()})", flush=True)
        await serve_app(app_, sock, stop)

    run_until_signalled(main)
