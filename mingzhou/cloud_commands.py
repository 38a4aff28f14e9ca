"""``mingzhou cloud``: serve the API and dashboards."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True, help="The cloud service: API and dashboards.")

DEFAULT_HISTORIAN = "sqlite:.demo/mingzhou.db"


@app.command()
def serve(
    historian: Annotated[
        str,
        typer.Option(
            help="sqlite:PATH or influxdb://[user:pass@]host:port/database",
            envvar="MINGZHOU_HISTORIAN",
        ),
    ] = DEFAULT_HISTORIAN,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = "INFO",
) -> None:
    """Serve the API and the live dashboard until Ctrl-C."""
    from cloud.app import create_app
    from historian import open_historian
    from mingzhou.runtime import configure_logging, run_until_signalled
    from mingzhou.web_server import PortInUse, bind, serve_app

    configure_logging(log_level)
    try:
        store = open_historian(historian)
    except ValueError as exc:
        print(f"--historian: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None
    try:
        sock = bind(host, port, "the cloud (--port)")
    except PortInUse as exc:
        print(exc, file=sys.stderr)
        raise typer.Exit(1) from None

    async def main(stop: asyncio.Event) -> None:
        print(
            f"cloud on http://{host}:{port}/ (historian {store.name}, pid {os.getpid()})",
            flush=True,
        )
        try:
            await serve_app(create_app(store), sock, stop)
        finally:
            store.close()

    run_until_signalled(main)
