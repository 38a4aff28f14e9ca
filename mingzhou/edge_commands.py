"""``mingzhou edge``: run the edge agent or check its config file."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer

from edge_agent.config import AgentConfig, ConfigError, load_config

app = typer.Typer(no_args_is_help=True, help="The edge agent that polls PLCs.")

EXIT_CONFIG_ERROR = 2


def _load_or_exit(path: Path) -> AgentConfig:
    try:
        return load_config(path)
    except ConfigError as exc:
        for issue in exc.issues:
            print(issue, file=sys.stderr)
        raise typer.Exit(EXIT_CONFIG_ERROR) from None


@app.command()
def validate(
    config: Annotated[Path, typer.Argument(help="Agent config file (YAML).")],
) -> None:
    """Check a config file; print every error with file, line and field (exit code 2)."""
    agent = _load_or_exit(config)
    tags = sum(len(device.tags) for device in agent.devices)
    print(
        f"{config}: OK: agent {agent.agent.name!r} at site {agent.agent.site!r}, "
        f"{len(agent.devices)} devices, {tags} tags, {len(agent.outputs)} outputs"
    )


@app.command()
def run(
    config: Annotated[Path, typer.Option("--config", "-c", help="Agent config file (YAML).")],
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = "INFO",
) -> None:
    """Poll the configured devices and forward to the outputs until Ctrl-C or SIGTERM."""
    from edge_agent.agent import EdgeAgent
    from edge_agent.outputs import OutputSetupError
    from mingzhou.runtime import configure_logging, run_until_signalled

    agent_config = _load_or_exit(config)
    configure_logging(log_level)
    try:
        agent = EdgeAgent(agent_config, base_dir=config.resolve().parent)
    except OutputSetupError as exc:
        print(f"{config}: {exc}", file=sys.stderr)
        raise typer.Exit(1) from None

    async def main(stop: asyncio.Event) -> None:
        await agent.run(stop)

    run_until_signalled(main)
