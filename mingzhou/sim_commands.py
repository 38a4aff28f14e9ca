"""``mingzhou sim`` and ``mingzhou sim-fault``: simulated PLCs and their fault control."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

INDUSTRIES = ("mold", "appliance", "petrochem")


def sim(
    industry: Annotated[
        str,
        typer.Option(help="mold (OPC UA), appliance or petrochem (Modbus TCP), or scale."),
    ],
    port: Annotated[int, typer.Option(help="TCP port to listen on.")],
    host: Annotated[str, typer.Option(help="Address to bind; loopback by default.")] = "127.0.0.1",
    print_config: Annotated[
        bool, typer.Option("--print-config", help="Print an edge-agent config for it and exit.")
    ] = False,
    control_port: Annotated[
        int | None,
        typer.Option(help="Serve the fault control API (JSON over HTTP) on this port."),
    ] = None,
    tags: Annotated[int, typer.Option(help="Tags of the scale plant.")] = 1000,
    protocol: Annotated[str, typer.Option(help="Protocol of the scale plant.")] = "opcua",
    speed: Annotated[float, typer.Option(help="Model seconds per wall-clock second.")] = 1.0,
    secure: Annotated[
        bool, typer.Option("--secure", help="OPC UA: signed and encrypted, logins required.")
    ] = False,
    pki: Annotated[
        str | None, typer.Option(help="With --secure: own/, trusted/, rejected/ live here.")
    ] = None,
    user: Annotated[
        list[str] | None, typer.Option(help="With --secure: an account NAME:PASSWORD (repeat).")
    ] = None,
) -> None:
    """Run one simulated factory's PLC until Ctrl-C."""
    if industry not in (*INDUSTRIES, "scale"):
        raise typer.BadParameter(
            f"must be one of {', '.join(INDUSTRIES)}, scale", param_hint="--industry"
        )
    if protocol not in ("opcua", "modbus"):
        raise typer.BadParameter("must be opcua or modbus", param_hint="--protocol")
    from protocols.simulators import PLANTS, SimulatorSecurity, run_simulator, scale_plant

    plant = scale_plant(tags, protocol) if industry == "scale" else PLANTS[industry]  # type: ignore[arg-type]
    security = None
    if secure:
        if plant.protocol != "opcua":
            raise typer.BadParameter("only OPC UA plants can be secured", param_hint="--secure")
        if not pki:
            raise typer.BadParameter("--secure needs --pki DIR", param_hint="--pki")
        accounts = dict(u.partition(":")[::2] for u in user or [])
        if not all(accounts) or not all(accounts.values()):
            raise typer.BadParameter("expected NAME:PASSWORD", param_hint="--user")
        from pathlib import Path

        security = SimulatorSecurity(Path(pki), users=accounts)
    elif pki or user:
        raise typer.BadParameter("--pki and --user need --secure", param_hint="--secure")
    if print_config:
        import yaml

        print(yaml.safe_dump(plant.agent_config(host, port), sort_keys=False, allow_unicode=True))
        return
    from mingzhou.runtime import configure_logging, run_until_signalled

    configure_logging()

    def ready(simulator: object, control: object) -> None:
        if control is not None:
            print(f"fault control on {control.url}/faults", flush=True)  # type: ignore[attr-defined]
        if security is not None:
            print(f"server certificate {security.certificate}", flush=True)

    async def main(stop: asyncio.Event) -> None:
        await run_simulator(
            industry, host, port, stop, control_port=control_port, on_ready=ready,
            tags=tags, protocol=plant.protocol, security=security, speed=speed,
        )  # fmt: skip

    print(
        f"simulated {industry} PLC ({plant.protocol}) on {host}:{port}; Ctrl-C stops it", flush=True
    )
    run_until_signalled(main)


def sim_fault(
    ctx: typer.Context,
    action: Annotated[str, typer.Argument(help="inject, clear or list.")],
    fault: Annotated[str | None, typer.Argument(help="e.g. bearing_wear, comms_drop.")] = None,
    target: Annotated[str | None, typer.Argument(help="An asset, ASSET.tag, or none.")] = None,
    control: Annotated[
        str, typer.Option(help="The simulator's control URL.")
    ] = "http://127.0.0.1:8765",
) -> None:
    """Inject, clear or list faults of a running `mingzhou sim --control-port N`.

    Parameters follow as options: `inject bearing_wear P-101 --rate 0.5`.
    """
    import json
    import urllib.parse

    from protocols.simulators.fault_control import call_fault_api

    extra = list(ctx.args)
    params: dict[str, str] = {}
    while extra:
        name = extra.pop(0)
        if not name.startswith("--") or not extra:
            raise typer.BadParameter(f"expected --NAME VALUE, got {name!r}")
        params[name[2:].replace("-", "_")] = extra.pop(0)
    if action == "list":
        status, body = call_fault_api(control, "GET")
    elif action == "inject" and fault:
        status, body = call_fault_api(
            control, "POST", body={"fault": fault, "target": target, **params}
        )
    elif action == "clear" and fault:
        path = "/faults/" + "/".join(urllib.parse.quote(p, safe="") for p in (fault, target) if p)
        status, body = call_fault_api(control, "DELETE", path)
    else:
        raise typer.BadParameter("use: list | inject FAULT [TARGET] | clear FAULT [TARGET]")
    if body is not None:
        print(json.dumps(body, indent=2))
    if status >= 400:
        raise typer.Exit(1)
