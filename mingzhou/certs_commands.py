"""``mingzhou certs``: the edge agent's OPC UA application certificate."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True, help="The agent's OPC UA certificate and trust list.")


@app.command()
def create(
    dir: Annotated[
        Path, typer.Option("--dir", help="PKI folder (own/, trusted/, rejected/).")
    ] = Path("pki"),
) -> None:
    """Make the agent's certificate and key once; an existing valid pair is kept."""
    from protocols.opcua_security import PkiPaths, create_client_certificate

    pki = PkiPaths(dir)
    made = asyncio.run(create_client_certificate(pki))
    print(f"{'created' if made else 'kept the existing'} certificate {pki.certificate}")
    print(f"  private key:  {pki.private_key}")
    print(f"  trusted servers: put their certificates in {pki.trusted}/")
    print("  have each server trust this certificate once (copy it into the server's trusted list)")
    print(
        "  config: security: {policy: Basic256Sha256, mode: SignAndEncrypt, "
        f"certificate: {pki.certificate}, private_key: {pki.private_key}, "
        f"trust_dir: {pki.trusted}}}"
    )
