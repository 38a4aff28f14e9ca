"""What ``mingzhou browse opcua`` prints or writes: endpoints, variables, a device section."""

from __future__ import annotations

import asyncio
from typing import Any

import typer
import yaml

from protocols.opcua_security import ClientSecurity


async def browse_report(
    url: str,
    depth: int,
    name: str,
    timeout: float,
    to_file: bool,
    security: ClientSecurity | None = None,
) -> str:
    """The endpoints and variables as ``#`` comments, then ``devices:`` YAML."""
    from asyncua import Client, ua

    from protocols.errors import DriverConnectionError
    from protocols.opcua_browse import browse_variables, device_section
    from protocols.opcua_security import apply_security, describe_security_failure

    security = security or ClientSecurity()
    client = Client(url, timeout=timeout)
    client.session_timeout = 600_000  # what servers grant; asking more only makes a warning
    try:
        # The endpoint list needs no security: it is what tells a user which to choose.
        endpoints = await asyncio.wait_for(client.connect_and_get_server_endpoints(), timeout)
        await apply_security(client, security)
        await asyncio.wait_for(client.connect(), timeout)
    except DriverConnectionError as exc:
        raise typer.BadParameter(str(exc)) from None
    except (OSError, TimeoutError, ConnectionError, ua.UaError) as exc:
        reason = describe_security_failure(exc, url, security)
        raise typer.BadParameter(
            reason or f"cannot connect to {url}: {exc or type(exc).__name__}"
        ) from None
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
    device = device_section(url, found, name)
    if security.policy != "None" or security.username is not None:
        device = _with_security(device, security)
    section = yaml.safe_dump({"devices": [device]}, sort_keys=False, allow_unicode=True)
    return "\n".join(lines) + "\n" + section


def _with_security(device: dict[str, Any], security: ClientSecurity) -> dict[str, Any]:
    """The device section with the settings that just worked; the password stays out."""
    out = {k: v for k, v in device.items() if k != "tags"}
    if security.policy != "None":
        out["security"] = {
            "policy": security.policy,
            "mode": security.mode,
            "certificate": str(security.certificate),
            "private_key": str(security.private_key),
            "trust_dir": str(security.trust_dir),
        }
    if security.username is not None:
        out["username"] = security.username
        out["password"] = "${OPCUA_PASSWORD}"  # a secret belongs in the environment
    out["tags"] = device["tags"]
    return out
