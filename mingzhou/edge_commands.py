"""``mingzhou edge``: run the edge agent or check its config file."""

from __future__ import annotations

import asyncio
import signal
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
    tags = sum(len(device.all_tags()) for device in agent.devices)
    print(
        f"{config}: OK: agent {agent.agent.name!r} at site {agent.agent.site!r}, "
        f"{len(agent.devices)} devices, {tags} tags, {len(agent.outputs)} outputs"
    )


@app.command()
def run(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Agent config file (YAML).")
    ] = None,
    cloud_url: Annotated[
        str | None,
        typer.Option(
            help="Instead of --config: take the config from this Mingzhou cloud, follow its"
            " changes and report status to it."
        ),
    ] = None,
    token_env: Annotated[
        str, typer.Option(help="With --cloud-url: the variable that holds the agent token.")
    ] = "MINGZHOU_AGENT_TOKEN",
    cache: Annotated[
        Path,
        typer.Option(
            help="With --cloud-url: the last good config, to start with while the cloud is"
            " away; relative paths in the config start in its folder."
        ),
    ] = Path("mingzhou-agent.yaml"),
    poll_interval: Annotated[
        float, typer.Option(min=0.5, help="With --cloud-url: seconds between config checks.")
    ] = 30.0,
    report_interval: Annotated[
        float, typer.Option(min=0.5, help="With --cloud-url: seconds between status reports.")
    ] = 15.0,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = "INFO",
    log_format: Annotated[str, typer.Option(help="text, or json for a log collector.")] = "text",
) -> None:
    """Poll the configured devices and forward to the outputs until Ctrl-C or SIGTERM."""
    if log_format not in ("text", "json"):
        raise typer.BadParameter("must be text or json", param_hint="--log-format")
    if (config is None) == (cloud_url is None):
        raise typer.BadParameter(
            "give either --config FILE or --cloud-url URL", param_hint="--config / --cloud-url"
        )
    if cloud_url is not None:
        from mingzhou.edge_cloud_run import run_from_cloud

        run_from_cloud(
            cloud_url, token_env, cache, poll_interval, report_interval, log_level, log_format
        )
        return
    assert config is not None
    from edge_agent.agent import EdgeAgent
    from edge_agent.outputs import OutputSetupError
    from mingzhou.runtime import configure_logging, run_until_signalled

    agent_config = _load_or_exit(config)
    configure_logging(log_level, log_format)
    try:
        agent = EdgeAgent(agent_config, base_dir=config.resolve().parent, config_path=config)
    except OutputSetupError as exc:
        print(f"{config}: {exc}", file=sys.stderr)
        raise typer.Exit(1) from None

    async def main(stop: asyncio.Event) -> None:
        # SIGHUP re-reads the config, as daemons do (and systemd's ExecReload sends).
        asyncio.get_running_loop().add_signal_handler(
            signal.SIGHUP, lambda: asyncio.ensure_future(agent.reload())
        )
        await agent.run(stop)

    run_until_signalled(main)


@app.command()
def status(
    url: Annotated[
        str, typer.Option(help="The agent's status address (status.host and status.port).")
    ] = "http://127.0.0.1:9180",
) -> None:
    """One screen on a running agent: devices, buffer and outputs."""
    import httpx

    try:
        data = httpx.get(f"{url.rstrip('/')}/status", timeout=5).json()
    except (httpx.HTTPError, ValueError) as exc:
        print(f"no agent answers at {url}: {exc}", file=sys.stderr)
        raise typer.Exit(1) from None
    print(render_status(data))


def render_status(data: dict) -> str:
    """The ``edge status`` screen, from the agent's ``/status`` document."""
    lines = [
        f"agent {data['agent']} · site {data['site']} · {data['status'].upper()}"
        f" · up {data['uptime_seconds']:.0f} s · buffer {data['buffer']['bytes'] / 1e6:.1f} MB",
        "",
        f"{'device':<24} {'state':<12} {'reads':>8} {'samples':>9} {'bad':>6} {'overruns':>8}"
        "  last error",
    ]
    for name, d in data["devices"].items():
        state = "connected" if d["connected"] else "DOWN"
        lines.append(
            f"{name:<24} {state:<12} {d['reads']:>8} {d['samples']:>9} {d['bad_samples']:>6}"
            f" {d['overruns']:>8}  {d['last_error'] or ''}"
        )
    lines += [
        "",
        f"{'output':<40} {'delivered':>10} {'pending':>9} {'oldest':>8} {'dropped':>8}  last error",
    ]
    for name, o in data["outputs"].items():
        lines.append(
            f"{name:<40} {o['delivered']:>10} {o['pending']:>9} {o['oldest_age_seconds']:>7.0f}s"
            f" {o['dropped']:>8}  {o['last_error'] or ''}"
        )
    return "\n".join(lines)
