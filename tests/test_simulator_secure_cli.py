"""`mingzhou sim --secure`: a signed-and-encrypted OPC UA simulator with accounts,
reached by a client whose certificate the operator trusted."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from protocols.errors import DriverConnectionError
from protocols.opcua_driver import OpcUaDriver, OpcUaTag
from protocols.opcua_security import ClientSecurity, PkiPaths, create_client_certificate
from tests.conftest import free_port
from tests.e2e_helpers import start_command, stop_command

TAGS = [OpcUaTag("melt_temp", "ns=2;s=IMM01.MeltTemp")]


async def _read(endpoint: str, security: ClientSecurity | None) -> float:
    driver = OpcUaDriver(endpoint, TAGS, timeout=3.0, security=security)
    await driver.connect()
    try:
        (sample,) = await driver.read()
    finally:
        await driver.close()
    return sample.value  # type: ignore[return-value]


async def test_secured_simulator_from_the_command_line(tmp_path: Path) -> None:
    client = PkiPaths(tmp_path / "client")
    assert await create_client_certificate(client)
    server_pki = tmp_path / "server"
    (server_pki / "trusted").mkdir(parents=True)
    shutil.copy(client.certificate, server_pki / "trusted" / "edge-agent.der")
    port, log = free_port(), tmp_path / "sim.log"
    process = await start_command(
        "sim", "--industry", "mold", "--port", str(port), "--secure",
        "--pki", str(server_pki), "--user", "operator:s3cret", log=log,
    )  # fmt: skip
    endpoint = f"opc.tcp://127.0.0.1:{port}"
    try:
        for _ in range(300):
            if "server certificate" in log.read_text():
                break
            assert process.returncode is None, log.read_text()
            await asyncio.sleep(0.1)
        shutil.copy(server_pki / "own" / "cert.der", client.trusted / "simulator.der")
        security = ClientSecurity.from_pki(
            client, "Basic256Sha256", "SignAndEncrypt", username="operator", password="s3cret"
        )
        assert 200.0 < await _read(endpoint, security) < 260.0
        with pytest.raises(DriverConnectionError):
            await _read(endpoint, None)  # no NoSecurity endpoint, no anonymous login
        wrong = ClientSecurity.from_pki(
            client, "Basic256Sha256", "SignAndEncrypt", username="operator", password="nope"
        )
        with pytest.raises(DriverConnectionError):
            await _read(endpoint, wrong)
    finally:
        assert await stop_command(process) == 0, log.read_text()


async def test_secure_flags_are_checked(tmp_path: Path) -> None:
    log = tmp_path / "sim.log"
    for args, message in [
        (["--industry", "mold", "--secure"], "--secure needs --pki DIR"),
        (["--industry", "petrochem", "--secure", "--pki", "x"], "only OPC UA plants"),
        (["--industry", "mold", "--secure", "--pki", "x", "--user", "bob"], "NAME:PASSWORD"),
        (["--industry", "mold", "--user", "bob:pw"], "need --secure"),
    ]:
        process = await start_command("sim", "--port", "1", *args, log=log)
        assert await process.wait() == 2
        assert message in log.read_text(), log.read_text()
