"""Security against the secured simulator: each policy and mode, passwords, certificate
logins, and certificates that one side does not trust yet — each a clear error."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio

from protocols.errors import DriverConnectionError
from protocols.opcua_driver import OpcUaDriver, OpcUaTag
from protocols.opcua_security import (
    ClientSecurity,
    DriverSecurityError,
    PkiPaths,
    create_client_certificate,
)
from protocols.simulators import PLANTS, OpcUaSimulator
from protocols.simulators.opcua_server import SimulatorSecurity
from tests.conftest import free_port

module_loop = pytest.mark.asyncio(loop_scope="module")
TAGS = [OpcUaTag("melt_temp", "ns=2;s=IMM01.MeltTemp")]


@dataclass
class Secured:
    endpoint: str
    client: PkiPaths
    server: SimulatorSecurity


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def secured(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Secured]:
    root = tmp_path_factory.mktemp("pki")
    client = PkiPaths(root / "client")
    assert await create_client_certificate(client)
    server_security = SimulatorSecurity(root / "server", users={"operator": "s3cret"})
    (server_security.pki_dir / "trusted").mkdir(parents=True)
    shutil.copy(client.certificate, server_security.pki_dir / "trusted" / "edge-agent.der")
    port = free_port()
    sim = OpcUaSimulator(PLANTS["mold"], "127.0.0.1", port, security=server_security)
    await sim.start()
    # The operator's one-time step: trust the simulator's certificate on the client.
    shutil.copy(server_security.certificate, client.trusted / "simulator.der")
    try:
        yield Secured(f"opc.tcp://127.0.0.1:{port}", client, server_security)
    finally:
        await sim.stop()


async def _read_once(endpoint: str, security: ClientSecurity) -> float:
    driver = OpcUaDriver(endpoint, TAGS, timeout=3.0, security=security)
    await driver.connect()
    try:
        (sample,) = await driver.read()
    finally:
        await driver.close()
    assert sample.error is None
    return sample.value  # type: ignore[return-value]


@module_loop
@pytest.mark.parametrize("policy", ["Basic256Sha256", "Aes128Sha256RsaOaep"])
@pytest.mark.parametrize("mode", ["Sign", "SignAndEncrypt"])
async def test_each_policy_and_mode_with_a_password(
    secured: Secured, policy: str, mode: str
) -> None:
    security = ClientSecurity.from_pki(
        secured.client, policy, mode, username="operator", password="s3cret"
    )
    assert 200.0 < await _read_once(secured.endpoint, security) < 260.0


@module_loop
async def test_certificate_user_identity(secured: Secured) -> None:
    security = ClientSecurity.from_pki(
        secured.client,
        "Basic256Sha256",
        "SignAndEncrypt",
        user_certificate=secured.client.certificate,
        user_private_key=secured.client.private_key,
    )
    assert await _read_once(secured.endpoint, security) > 0


@module_loop
async def test_wrong_password_is_a_clear_error(secured: Secured) -> None:
    security = ClientSecurity.from_pki(
        secured.client, "Basic256Sha256", "SignAndEncrypt", username="operator", password="guess"
    )
    with pytest.raises(DriverConnectionError, match=r"refused user 'operator'.*check username"):
        await _read_once(secured.endpoint, security)


@module_loop
async def test_anonymous_is_refused_when_the_server_wants_a_user(secured: Secured) -> None:
    security = ClientSecurity.from_pki(secured.client, "Basic256Sha256", "Sign")
    with pytest.raises(DriverConnectionError, match="refused anonymous access"):
        await _read_once(secured.endpoint, security)


@module_loop
async def test_no_security_is_refused_by_a_secured_server(secured: Secured) -> None:
    with pytest.raises(
        DriverConnectionError, match="offers no endpoint with security policy None and mode None"
    ):
        await _read_once(secured.endpoint, ClientSecurity(username="operator", password="s3cret"))


@module_loop
async def test_untrusted_server_says_which_file_to_move_where(
    secured: Secured, tmp_path: Path
) -> None:
    client = PkiPaths(tmp_path / "fresh")  # same certificate, an empty trust list
    for folder in (client.certificate.parent, client.trusted):
        folder.mkdir(parents=True)
    shutil.copy(secured.client.certificate, client.certificate)
    shutil.copy(secured.client.private_key, client.private_key)
    security = ClientSecurity.from_pki(
        client, "Basic256Sha256", "SignAndEncrypt", username="operator", password="s3cret"
    )
    with pytest.raises(DriverSecurityError, match="not trusted yet") as caught:
        await _read_once(secured.endpoint, security)
    (rejected,) = list(client.rejected.iterdir())
    assert f"move {rejected} into {client.trusted}/" in str(caught.value)
    # Doing what the message says is all it takes.
    rejected.rename(client.trusted / rejected.name)
    assert await _read_once(secured.endpoint, security) > 0


@module_loop
async def test_server_that_does_not_trust_us_says_so(secured: Secured, tmp_path: Path) -> None:
    stranger = PkiPaths(tmp_path / "stranger")
    await create_client_certificate(stranger, host_name="stranger")
    shutil.copy(secured.server.certificate, stranger.trusted / "simulator.der")
    security = ClientSecurity.from_pki(
        stranger, "Basic256Sha256", "SignAndEncrypt", username="operator", password="s3cret"
    )
    with pytest.raises(DriverConnectionError, match="refused our certificate") as caught:
        await _read_once(secured.endpoint, security)
    assert str(stranger.certificate) in str(caught.value)


async def test_certificate_is_made_once_and_kept(tmp_path: Path) -> None:
    pki = PkiPaths(tmp_path / "pki")
    assert await create_client_certificate(pki)
    first = pki.certificate.read_bytes()
    assert not await create_client_certificate(pki)
    assert pki.certificate.read_bytes() == first


def test_incomplete_security_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="needs certificate, private_key and trust_dir"):
        ClientSecurity("Basic256Sha256", "Sign")
    with pytest.raises(ValueError, match="policy None goes with mode None"):
        ClientSecurity("None", "Sign")


@module_loop
async def test_browse_a_secured_server_writes_a_section_with_its_security(
    secured: Secured, tmp_path: Path
) -> None:
    import typer
    import yaml

    from edge_agent.config import load_config
    from mingzhou.opcua_browse_output import browse_report

    security = ClientSecurity.from_pki(
        secured.client, "Basic256Sha256", "SignAndEncrypt", username="operator", password="s3cret"
    )
    report = await browse_report(secured.endpoint, 3, "imm", 5.0, True, security)
    (device,) = yaml.safe_load(report)["devices"]
    assert device["security"]["policy"] == "Basic256Sha256"
    assert device["username"] == "operator" and device["password"] == "${OPCUA_PASSWORD}"
    assert "ns=2;s=IMM01.MeltTemp" in {t["node"] for t in device["tags"]}
    config = tmp_path / "agent.yaml"
    body = {"agent": {"name": "e", "site": "s"}, "devices": [{**device, "asset": "imm-01"}]}
    config.write_text(yaml.safe_dump({**body, "outputs": [{"type": "sqlite", "path": "x.db"}]}))
    loaded = load_config(config, {"OPCUA_PASSWORD": "s3cret"})
    assert loaded.devices[0].password == "s3cret"
    # Without security the same server is refused, and the message says what to set.
    with pytest.raises(typer.BadParameter, match="offers no endpoint with security policy None"):
        await browse_report(secured.endpoint, 3, "imm", 5.0, True, None)
    wrong = ClientSecurity.from_pki(
        secured.client, "Basic256Sha256", "SignAndEncrypt", username="operator", password="no"
    )
    with pytest.raises(typer.BadParameter, match="refused user 'operator'"):
        await browse_report(secured.endpoint, 3, "imm", 5.0, True, wrong)
