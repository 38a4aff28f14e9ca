"""``mingzhou demo``: three simulated factories, an edge agent each, and the cloud.

Everything runs in one process and one event loop with the embedded defaults (SQLite
for metadata and series, rate limits in memory), so the demo needs no server installed.
Each factory is a tenant in its industry cloud; its agent fetches its config from the
cloud, reports its status there and sends to the cloud's ingest API with its own token,
as a real agent would. Ctrl-C stops every part in order:
agents first (they flush), then the simulated PLCs, then the web server.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import sys
from pathlib import Path

import yaml

from mingzhou.runtime import configure_logging, run_until_signalled
from mingzhou.web_server import PortInUse, bind, check_free, serve_app

log = logging.getLogger(__name__)

INDUSTRIES = ("mold", "appliance", "petrochem")
HOST = "127.0.0.1"


def token_variable(site: str) -> str:
    return site.upper().replace("-", "_") + "_TOKEN"


def agent_config_texts(plc_base_port: int, cloud_url: str) -> dict[str, str]:
    """One edge-agent config (YAML) per factory: industry -> text, set in the cloud.

    The token is a ``${VAR}``, as it should be in any config a person may read.
    """
    from protocols.simulators import PLANTS

    texts = {}
    for offset, industry in enumerate(INDUSTRIES):
        plant = PLANTS[industry]
        config = plant.agent_config(HOST, plc_base_port + offset)
        config["outputs"] = [
            {"type": "cloud", "url": cloud_url, "token": f"${{{token_variable(plant.site)}}}"}
        ]
        # Three agents share one machine here: each gets its own buffer and status port.
        config["buffer"] = {"path": f"{industry}-buffer.db"}
        config["status"] = {"port": 0}
        header = f"# Edge agent for the simulated {industry} plant, set by `mingzhou demo`.\n"
        texts[industry] = header + yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
    return texts


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
        tenants = seed(
            session,
            {i: (PLANTS[i].site, PLANTS[i].display_name) for i in INDUSTRIES},
            # The asset model knows where each plant's PLC is, as the agents do.
            {i: (HOST, plc_base_port + offset) for offset, i in enumerate(INDUSTRIES)},
        )
        session.commit()
    environ = {token_variable(t.key): t.token for t in tenants}
    from mingzhou.demo_agents import cloud_managed_agent, register_demo_agents

    with app.state.sessions() as session:
        try:
            register_demo_agents(session, tenants, agent_config_texts(plc_base_port, cloud_url))
        except ValueError as exc:  # a generated config must always be valid: a bug if not
            print(f"mingzhou demo: generated agent config is invalid:\n{exc}", file=sys.stderr)
            raise SystemExit(2) from None
        session.commit()

    async def main(stop: asyncio.Event) -> None:
        from protocols.simulators import create_simulator

        web = asyncio.create_task(serve_app(app, cloud_socket, stop))
        simulators = [
            create_simulator(industry, HOST, plc_base_port + offset)
            for offset, industry in enumerate(INDUSTRIES)
        ]
        for simulator in simulators:
            await simulator.start()
        agents = [cloud_managed_agent(cloud_url, root, t, environ) for t in tenants]
        agent_stop = asyncio.Event()
        agent_tasks = [asyncio.create_task(agent.run(agent_stop)) for agent in agents]
        from mingzhou.demo_bureau import report_after_start

        # The bureau's report of this month, once the agents have sent data.
        bureau_report = asyncio.create_task(report_after_start(app, stop))

        lines = ["", "Mingzhou demo is running:"]
        for offset, industry in enumerate(INDUSTRIES):
            plant, port = PLANTS[industry], plc_base_port + offset
            scheme = "opc.tcp" if plant.protocol == "opcua" else "modbus"
            lines.append(
                f"  {plant.display_name:<34} {scheme}://{HOST}:{port}  tenant {plant.site}"
            )
        lines += [
            f"  edge agents (cached configs)       {root}/*-agent.yaml",
            f"  edge agents' status and configs    {cloud_url}/t/<tenant>/agents",
            f"  metadata and series (SQLite)       {root}/metadata.db, {root}/series/",
            f"  cloud and live dashboards          {cloud_url}/  (sign in)",
            f"  OEE, lines, machines, energy       {cloud_url}/t/<tenant>/plant/",
            f"  service team: predictions, orders  {cloud_url}/t/<tenant>/service",
            f"  service team's fleet, all tenants  {cloud_url}/service",
            f"  industry-cloud member benchmarking {cloud_url}/industry/<cloud>",
            f"  API docs                           {cloud_url}/docs",
            f"  jobs (run in this process)         {cloud_url}/api/tenants/<tenant>/jobs",
            f"  economic bureau (aggregates only)  {cloud_url}/bureau",
            "Sign in as:",
            *sign_in_table(tenants),
            "Press Ctrl-C to stop.",
            "",
        ]
        print("\n".join(lines), flush=True)

        await stop.wait()
        print("stopping: edge agents, simulated PLCs, cloud …", flush=True)
        agent_stop.set()
        await asyncio.gather(*agent_tasks, bureau_report, return_exceptions=True)
        for simulator in simulators:
            await simulator.stop()
        await web
        print("demo stopped", flush=True)

    run_until_signalled(main)
