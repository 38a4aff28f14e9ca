"""``mingzhou edge run --cloud-url``: an edge agent whose config lives in the cloud."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import typer

EXIT_USAGE = 2


def run_from_cloud(
    url: str,
    token_env: str,
    cache: Path,
    poll_interval: float,
    report_interval: float,
    log_level: str,
    log_format: str,
) -> None:
    """Run until Ctrl-C or SIGTERM; SIGHUP asks the cloud for a new config at once."""
    from edge_agent.cloud_config import AgentCloudClient, ConfigCache
    from edge_agent.cloud_managed import CloudManagedAgent
    from edge_agent.outputs import OutputSetupError
    from mingzhou.runtime import configure_logging, run_until_signalled

    if not url.startswith(("http://", "https://")):
        raise typer.BadParameter(
            f"must start with http:// or https://, got {url!r}", param_hint="--cloud-url"
        )
    token = os.environ.get(token_env, "").strip()
    if not token:
        print(
            f"--token-env: the environment variable {token_env} is not set; it must hold"
            " this agent's token (mzat_…, issued by the tenant's admin)",
            file=sys.stderr,
        )
        raise typer.Exit(EXIT_USAGE)
    configure_logging(log_level, log_format)

    async def main(stop: asyncio.Event) -> None:
        managed = CloudManagedAgent(
            AgentCloudClient(url, token), ConfigCache(cache), poll_interval, report_interval
        )
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, managed.poll_now)
        await managed.run(stop)

    try:
        run_until_signalled(main)
    except OutputSetupError as exc:
        print(f"{url} config: {exc}", file=sys.stderr)
        raise typer.Exit(1) from None
