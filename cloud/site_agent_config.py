"""The edge-agent config of one site, generated from its asset model.

One device per connection (an OPC UA endpoint, a Modbus host and unit), each tag placed
on its line and asset, and the cloud output with the agent token left as
``${MINGZHOU_AGENT_TOKEN}``: the file can be shared, the token stays out of it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import yaml

from historian.durations import format_duration
from tenants.asset_addressing import ModbusConnection, OpcUaConnection, agent_tag_address
from tenants.asset_model import Site
from tenants.asset_onboarding import connection_of

TOKEN_VARIABLE = "MINGZHOU_AGENT_TOKEN"


class NothingToRead(Exception):
    """The site has no asset with a connection, so an agent would have no device."""


def _device(connection: OpcUaConnection | ModbusConnection, interval_s: float) -> dict[str, Any]:
    if isinstance(connection, OpcUaConnection):
        return {
            "name": connection.endpoint,
            "protocol": "opcua",
            "endpoint": connection.endpoint,
            "interval": format_duration(interval_s),
            "tags": [],
        }
    device: dict[str, Any] = {
        "name": f"{connection.host}:{connection.port} unit {connection.unit_id}",
        "protocol": "modbus",
    }
    if connection.transport != "tcp":
        device["transport"] = connection.transport
    device.update(
        host=connection.host,
        port=connection.port,
        unit_id=connection.unit_id,
        interval=format_duration(interval_s),
        tags=[],
    )
    return device


def site_agent_config(
    site: Site, cloud_url: str, interval_s: float = 1.0
) -> tuple[dict[str, Any], list[str]]:
    """The config as data, and the ``line/asset`` of assets left out (no connection)."""
    devices: dict[tuple[Any, ...], dict[str, Any]] = {}
    left_out: list[str] = []
    for line in sorted(site.lines, key=lambda x: x.id):
        for asset in sorted(line.assets, key=lambda x: x.id):
            connection = connection_of(asset)
            if connection is None:
                left_out.append(f"{line.key}/{asset.key}")
                continue
            device = devices.setdefault(connection.device_key(), _device(connection, interval_s))
            for tag in asset.tags:
                entry: dict[str, Any] = {"name": tag.key, "line": line.key, "asset": asset.key}
                if tag.unit:
                    entry["unit"] = tag.unit
                entry.update(agent_tag_address(connection, tag.key, tag.source))
                device["tags"].append(entry)
    if not devices:
        raise NothingToRead(
            f"site {site.key!r} has no asset with an address: onboard one with"
            " address {protocol: opcua|modbus, …} first"
        )
    config = {
        "agent": {"name": f"{site.key}-edge", "site": site.key},
        "devices": list(devices.values()),
        "outputs": [{"type": "cloud", "url": cloud_url, "token": f"${{{TOKEN_VARIABLE}}}"}],
    }
    return config, left_out


def render_yaml(config: dict[str, Any], left_out: list[str], tenant_key: str) -> str:
    """The config as a commented YAML file."""
    site = config["agent"]["site"]
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    header = [
        f"# Edge-agent config for site {site!r} of tenant {tenant_key!r},",
        f"# generated from the asset model on {when}.",
        f"# Set {TOKEN_VARIABLE} to an agent token issued for this site, then run:",
        "#   mingzhou edge run this-file.yaml",
    ]
    if left_out:
        header.append("# Not read by this agent (no address in the asset model):")
        header += [f"#   {place}" for place in left_out]
    body = yaml.safe_dump(config, sort_keys=False, allow_unicode=True, width=100)
    return "\n".join(header) + "\n" + body
