"""``mingzhou demo``: three simulated factories, an edge agent each, and the cloud.

Everything runs in one process and one event loop with the embedded defaults (SQLite
for metadata and series, rate limits in memory), so the demo needs no server installed.
Each factory is a tenant in its industry cloud; its agent sends to the cloud's ingest
API with its own token, as a real agent would. Ctrl-C stops every part in order:
agents first (they flush), then the simulated PLCs, then the web server.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import sys
from pathlib import Path

import yaml

from edge_agent.agent import EdgeAgent
from edge_agent.config import AgentConfig, ConfigError, load_config
from mingzhou.runtime import configure_logging, run_until_signalled
from mingzhou.web_server import PortInUse, bind, check_free, serve_app

log = logging.getLogger(__name__)

INDUSTRIES = ("mold", "appliance", "petrochem")
HOST = "127.0.0.1"


def token_variable(site: str) -> str:
    return site.upper().replace("-", "_") + "_TOKEN"


def write_agent_configs(data_dir: Path, plc_base_port: int, cloud_url: str) -> list[Path]:
    """One edge-agent config per factory, written where people can read and copy them.

    The token is a ``${VAR}``, as it should be in any config file a person may share.
    """
    from protocols.simulators import PLANTS

    paths = []
    for offset, industry in enumerate(INDUSTRIES):
        plant = PLANTS[industry]
        config = plant.agent_config(HOST, plc_base_port + offset)
        config["outputs"] = [
            {"type": "cloud", "url": cloud_url, "token": f"${{{token_variable(plant.site)}}}"}
        ]
        # Three agents share one machine here: each gets its own buffer and status port.
        config["buffer"] = {"path": f"{industry}-buffer.db"}
        config["status"] = {"port": 0}
        path = data_dir / f"{industry}-agent.yaml"
        header = f"# Edge agent for the simulated {industry} plant, written by `mingzhou demo`.\n"
        path.write_text(header + yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
        paths.append(path)
    return paths


def _secret(root: Path) -> str:
    """Kept in the data folder, so browser sessions survive a restart of the demo."""
    path = root / "session-secret"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def run_demo(cloud_port: int = 8000, data_dir: str = ".demo", plc_base_port: int = 4840) -> None:
    configure_logging("INFO")
    root = Path(data_dir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    cloud_url = f"http://{HOST}:{cloud_port}"
    try:
        for offset, industry in enumerate(INDUSTRIES):
            check_free(HOST, plc_base_port + offset, f"the {industry} PLC (--plc-base-port)")
        cloud_socket = bind(HOST, cloud_port, "the cloud (--port)")
    except PortInUse as exc:
        print(f"mingzhou demo: {exc}", file=sys.stderr)
        raise SystemExit(1) from None

    from cloud.platform_app import create_platform_app
    from cloud.platform_settings import PlatformSettings
    from mingzhou.demo_tenants import ADMIN_EMAIL, DEMO_PASSWORD, seed, sign_in_table
    from protocols.simulators import PLANTS

    settings = PlatformSettings(
        metadata_url=f"sqlite:///{root / 'metadata.db'}",
        storage=f"sqlite:{root / 'series'}",
        secret=_secret(root),
        admin_email=ADMIN_EMAIL,
        admin_password=DEMO_PASSWORD,
    )
    app = create_platform_app(settings)
    with app.state.sessions() as session:
        tenants = seed(session, {i: (PLANTS[i].site, PLANTS[i].display_name) for i in INDUSTRIES})
        session.commit()
    environ = {token_variable(t.key): t.token for t in tenants}
    try:
        configs: list[AgentConfig] = [
            load_config(path, environ)
            for path in write_agent_configs(root, plc_base_port, cloud_url)
        ]
    except ConfigError as exc:  # a generated config must always be valid: a bug if not
        print(f"mingzhou demo: generated agent config is invalid:\n{exc}", file=sys.stderr)
        raise SystemExit(2) from None

    async def main(stop: asyncio.Event) -> None:
        from protocols.simulators import create_simulator

        web = asyncio.create_task(serve_app(app, cloud_socket, stop))
        simulators = [
            create_simulator(industry, HOST, plc_base_port + offset)
            for offset, industry in enumerate(INDUSTRIES)
        ]
        for simulator in simulators:
            await simulator.start()
        agents = [EdgeAgent(config, base_dir=root) for config in configs]
        agent_stop = asyncio.Event()
        agent_tasks = [asyncio.create_task(agent.run(agent_stop)) for agent in agents]

        lines = ["", "Mingzhou demo is running:"]
        for offset, industry in enumerate(INDUSTRIES):
            plant, port = PLANTS[industry], plc_base_port + offset
            scheme = "opc.tcp" if plant.protocol == "opcua" else "modbus"
            lines.append(
                f"  {plant.display_name:<34} {scheme}://{HOST}:{port}  tenant {plant.site}"
            )
        lines += [
            f"  edge agents (configs)              {root}/*-agent.yaml",
            f"  metadata and series (SQLite)       {root}/metadata.db, {root}/series/",
            f"  cloud and live dashboards          {cloud_url}/  (sign in)",
            f"  API docs                           {cloud_url}/docs",
            "Sign in as:",
            *sign_in_table(tenants),
            "Press Ctrl-C to stop.",
            "",
        ]
        print("\n".join(lines), flush=True)

        await stop.wait()
        print("stopping: edge agents, simulated PLCs, cloud …", flush=True)
        agent_stop.set()
        await asyncio.gather(*agent_tasks, return_exceptions=True)
        for simulator in simulators:
            await simulator.stop()
        await web
        print("demo stopped", flush=True)

    run_until_signalled(main)
