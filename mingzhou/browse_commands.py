"""``mingzhou browse``: find out what a device serves before writing its config."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True, help="Probe a device for what it serves.")

_TABLES = ("holding", "input", "coil", "discrete")


def _parse_range(text: str) -> tuple[int, int]:
    try:
        first, last = (int(part) for part in text.split("-", 1))
    except ValueError:
        raise typer.BadParameter(f"expected FIRST-LAST such as 0-999, got {text!r}") from None
    if not 0 <= first <= last <= 65535:
        raise typer.BadParameter("addresses must satisfy 0 <= FIRST <= LAST <= 65535")
    return first, last


@app.command()
def modbus(
    target: Annotated[str, typer.Argument(help="HOST:PORT of a Modbus TCP device.")],
    unit: Annotated[int, typer.Option(help="Unit id.")] = 1,
    range_: Annotated[
        str, typer.Option("--range", help="Addresses to probe, FIRST-LAST.")
    ] = "0-999",
    table: Annotated[str, typer.Option(help="holding, input, coil or discrete.")] = "holding",
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each answer.")] = 3.0,
    write_config: Annotated[
        str | None,
        typer.Option("--write-config", help="Write a starter agent config section to FILE."),
    ] = None,
) -> None:
    """Print which address ranges of one table answer (refused reads are bisected)."""
    if table not in _TABLES:
        raise typer.BadParameter(f"must be one of {', '.join(_TABLES)}", param_hint="--table")
    host, _, port_text = target.rpartition(":")
    if not host or not port_text.isdigit():
        raise typer.BadParameter(f"expected HOST:PORT, got {target!r}", param_hint="TARGET")
    first, last = _parse_range(range_)
    from protocols.errors import DriverConnectionError
    from protocols.modbus_browse import probe_table, starter_config

    try:
        ranges = asyncio.run(probe_table(host, int(port_text), unit, table, first, last, timeout))
    except DriverConnectionError as exc:
        print(exc)
        raise typer.Exit(1) from None
    noun = "bits" if table in ("coil", "discrete") else "registers"
    if not ranges:
        print(f"{target} unit {unit}: no {table} address in {first}-{last} answers")
    for r in ranges:
        print(f"{table} {r.first}-{r.last} ({r.count} {noun})")
    if write_config:
        import yaml

        section = starter_config(host, int(port_text), unit, table, ranges)
        with open(write_config, "w", encoding="utf-8") as out:
            yaml.safe_dump(section, out, sort_keys=False)
        print(f"wrote a starter config for {sum(r.count for r in ranges)} tags to {write_config}")


@app.command()
def opcua(
    endpoint: Annotated[str, typer.Argument(help="opc.tcp://host:port[/path] of the server.")],
    depth: Annotated[int, typer.Option(help="Levels below Objects to walk.")] = 3,
    name: Annotated[str, typer.Option(help="Device name in the written section.")] = "opcua-device",
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the server.")] = 5.0,
    write_config: Annotated[
        str | None,
        typer.Option("--write-config", help="Write a starter agent config section to FILE."),
    ] = None,
    policy: Annotated[
        str, typer.Option(help="None, Basic256Sha256 or Aes128Sha256RsaOaep.")
    ] = "None",
    mode: Annotated[str, typer.Option(help="None, Sign or SignAndEncrypt.")] = "None",
    pki: Annotated[
        str, typer.Option(help="Our certificate folder (made by `mingzhou certs create`).")
    ] = "pki",
    username: Annotated[str | None, typer.Option(help="Log in as this user.")] = None,
    password: Annotated[
        str | None,
        typer.Option(envvar="MINGZHOU_OPCUA_PASSWORD", help="The user's password (or env var)."),
    ] = None,
) -> None:
    """Print an OPC UA server's endpoints and variables, or write a device section.

    Secured servers: give the policy and mode it offers (the first, unsecured look lists
    them) and our pki folder; the written section carries the same security settings.
    """
    from pathlib import Path

    from mingzhou.opcua_browse_output import browse_report
    from protocols.opcua_security import ClientSecurity, PkiPaths

    try:
        security = ClientSecurity.from_pki(
            PkiPaths(Path(pki)), policy, mode, username=username, password=password
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--policy/--mode") from None
    report = asyncio.run(
        browse_report(endpoint, depth, name, timeout, write_config is not None, security)
    )
    if write_config:
        with open(write_config, "w", encoding="utf-8") as out:
            out.write(report)
        print(f"wrote {write_config}")
    else:
        print(report, end="")
