"""What ``mingzhou browse opcua`` prints or writes: endpoints, variables, a device section."""

from __future__ import annotations

import asyncio

import typer
import yaml


async def browse_report(url: str, depth: int, name: str, timeout: float, to_file: bool) -> str:
    """The endpoints and variables as ``#`` comments, then ``devices:`` YAML."""
    from asyncua import Client

    from protocols.opcua_browse import browse_variables, device_section

    client = Client(url, timeout=timeout)
    client.session_timeout = 600_000  # what servers grant; asking more only makes a warning
    try:
        endpoints = await asyncio.wait_for(client.connect_and_get_server_endpoints(), timeout)
        await asyncio.wait_for(client.connect(), timeout)
    except (OSError, TimeoutError, ConnectionError) as exc:
        raise typer.BadParameter(f"cannot connect to {url}: {exc or type(exc).__name__}") from None
    try:
        found = await browse_variables(client, depth)
    finally:
        await client.disconnect()
    lines = [f"# OPC UA {url}: {len(found)} variables within {depth} levels of Objects"]
    offered = sorted(
        {
            (e.SecurityPolicyUri.rsplit("#", 1)[-1], e.SecurityMode.name.rstrip("_"))
            for e in endpoints
        }
    )
    lines.append("# endpoints (security.policy / security.mode): " + ", ".join(
        f"{policy} / {mode}" for policy, mode in offered
    ))  # fmt: skip
    if not to_file:
        lines += [f"#   {v.path}  {v.node_id}  {v.data_type}" for v in found]
    section = yaml.safe_dump(
        {"devices": [device_section(url, found, name)]}, sort_keys=False, allow_unicode=True
    )
    return "\n".join(lines) + "\n" + section
