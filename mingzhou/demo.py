"""``mingzhou demo``: three simulated factories, an edge agent each, the store and the cloud.

Everything runs in one process and one event loop, with the embedded SQLite store, so
the demo needs no server installed and Ctrl-C stops every part in order: agents first
(they flush to the store), then the simulated PLCs, then the web server.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import yaml

from edge_agent.agent import EdgeAgent
from edge_agent.config import ConfigError, load_config
from mingzhou.runtime import configure_logging, run_until_signalled
from mingzhou.web_server import PortInUse, bind, check_free, serve_app

log = logging.getLogger(__name__)

INDUSTRIES = ("mold", "appliance", "petrochem")
HOST = "127.0.0.1"


def write_agent_configs(data_dir: Path, plc_base_port: int, store: Path) -> list[Path]:
    """One edge-agent config per factory, written where people can read and copy them."""
    from protocols.simulators import PLANTS

    paths = []
    for offset, industry in enumerate(INDUSTRIES):
        config = PLANTS[industry].agent_config(HOST, plc_base_port + offset)
        config["outputs"] = [{"type": "sqlite", "path": str(store)}]
        # Three agents share one machine here: each gets its own buffer and status port.
        config["buffer"] = {"path": f"{industry}-buffer.db"}
        config["status"] = {"port": 0}
        path = data_dir / f"{industry}-agent.yaml"
        header = f"# Edge agent for the simulated {industry} plant, written by `mingzhou demo`.\n"
        path.write_text(header + yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
        paths.append(path)
    return paths


def run_demo(cloud_port: int = 8000, data_dir: str = ".demo", plc_base_port: int = 4840) -> None:
    configure_logging("INFO")
    root = Path(data_dir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    store = root / "mingzhou.db"
    try:
        for offset, industry in enumerate(INDUSTRIES):
            check_free(HOST, plc_base_port + offset, f"the {industry} PLC (--plc-base-port)")
        cloud_socket = bind(HOST, cloud_port, "the cloud (--port)")
    except PortInUse as exc:
        print(f"mingzhou demo: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    try:
        configs = [load_config(path) for path in write_agent_configs(root, plc_base_port, store)]
    except ConfigError as exc:  # a generated config must always be valid: a bug if not
        print(f"mingzhou demo: generated agent config is invalid:\n{exc}", file=sys.stderr)
        raise SystemExit(2) from None

    async def main(stop: asyncio.Event) -> None:
        from cloud.app import create_app
        from historian.sqlite_store import SqliteHistorian
        from protocols.simulators import PLANTS, create_simulator

        simulators = [
            create_simulator(industry, HOST, plc_base_port + offset)
            for offset, industry in enumerate(INDUSTRIES)
        ]
        for simulator in simulators:
            await simulator.start()
        agents = [EdgeAgent(config, base_dir=root) for config in configs]
        agent_stop = asyncio.Event()
        agent_tasks = [asyncio.create_task(agent.run(agent_stop)) for agent in agents]
        historian = SqliteHistorian(store)
        web = asyncio.create_task(serve_app(create_app(historian), cloud_socket, stop))

        lines = ["", "Mingzhou demo is running:"]
        for offset, industry in enumerate(INDUSTRIES):
            plant, port = PLANTS[industry], plc_base_port + offset
            scheme = "opc.tcp" if plant.protocol == "opcua" else "modbus"
            lines.append(f"  {plant.display_name:<34} {scheme}://{HOST}:{port}  site {plant.site}")
        lines += [
            f"  edge agents (configs)              {root}/*-agent.yaml",
            f"  time-series store (SQLite)         {store}",
            f"  cloud API and live dashboard       http://{HOST}:{cloud_port}/",
            f"  API docs                           http://{HOST}:{cloud_port}/docs",
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
        historian.close()
        print("demo stopped", flush=True)

    run_until_signalled(main)
