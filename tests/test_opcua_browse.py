"""``mingzhou browse opcua``: walk a server, write a device section the agent accepts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from asyncua import Client
from typer.testing import CliRunner

from edge_agent.config import parse_config
from edge_agent.config_source import SourceMap
from mingzhou.cli import app
from protocols.opcua_browse import browse_variables, device_section, tag_name
from tests.conftest import free_port
from tests.opcua_servers import add_press, build_server, spawn_simulator


@pytest.fixture
def sim_endpoint() -> Iterator[str]:
    # In its own process: the command runs its own event loop, as it does for a user.
    port = free_port()
    proc = spawn_simulator(port)
    try:
        yield f"opc.tcp://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_browse_writes_a_config_the_agent_accepts(sim_endpoint: str, tmp_path: Path) -> None:
    out = tmp_path / "device.yaml"
    result = CliRunner().invoke(
        app, ["browse", "opcua", sim_endpoint, "--depth", "3", "--write-config", str(out)]
    )
    assert result.exit_code == 0, result.output
    section = yaml.safe_load(out.read_text())
    tags = section["devices"][0]["tags"]
    assert {"name": "melt_temp", "asset": "IMM-01", "node": "ns=2;s=IMM01.MeltTemp"} in tags
    assert len(tags) == 16
    config = {
        "agent": {"name": "edge", "site": "ningbo"},
        **section,
        "outputs": [{"type": "sqlite", "path": "x.db"}],
    }
    parse_config(config, SourceMap(str(out), {}))  # raises ConfigError if not ready


def test_browse_prints_variables_and_endpoints(sim_endpoint: str) -> None:
    result = CliRunner().invoke(app, ["browse", "opcua", sim_endpoint])
    assert result.exit_code == 0, result.output
    assert "# endpoints (security.policy / security.mode): None / None" in result.output
    assert "#   Objects/2:IMM-01/2:MeltTemp  ns=2;s=IMM01.MeltTemp  Double" in result.output


async def test_browse_a_server_with_other_namespaces_and_depth() -> None:
    port = free_port()
    server, ns = await build_server(port)
    await add_press(server, ns)
    await server.start()
    try:
        async with Client(f"opc.tcp://127.0.0.1:{port}/press/") as client:
            shallow = await browse_variables(client, depth=1)
            deep = await browse_variables(client, depth=2)
    finally:
        await server.stop()
    assert shallow == []  # the press's variables are two levels down
    by_name = {v.browse_name: v for v in deep}
    assert by_name["Double"].path == f"Objects/{ns}:Press1/{ns}:Double"
    assert by_name["Double"].data_type == "Double"
    assert by_name["StrokeCount"].node_id == f"ns={ns};i=1001"
    assert not any("Server" in v.path for v in deep)  # the standard Server object is skipped
    section = device_section("opc.tcp://x", deep)
    assert {t["name"] for t in section["tags"]} >= {"double", "stroke_count", "zone_temps"}


def test_tag_names() -> None:
    assert tag_name("MeltTemp") == "melt_temp"
    assert tag_name("Zone 3 Temp.PV") == "zone_3_temp_pv"
