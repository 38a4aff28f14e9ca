"""The OPC UA keys of the agent config: addressing, modes, timestamps, security."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.config import ConfigError, load_config
from edge_agent.devices import driver_for
from protocols.opcua_driver import OpcUaDriver

BASE = """\
agent: {name: edge, site: ningbo}
outputs: [{type: sqlite, path: x.db}]
devices:
  - name: press
    protocol: opcua
    endpoint: opc.tcp://127.0.0.1:4840
    line: hall-1
    asset: P-1
"""


def _load(tmp_path: Path, device_lines: str) -> object:
    path = tmp_path / "agent.yaml"
    path.write_text(BASE + device_lines)
    return load_config(path)


def test_every_opcua_key_reaches_the_driver(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        """\
    mode: subscribe
    timestamp: source
    subscription: {publishing_interval: 500ms, sampling_interval: 100ms, queue_size: 5,
                   deadband_type: absolute, deadband_value: 0.5}
    security: {policy: Basic256Sha256, mode: SignAndEncrypt, certificate: pki/own/cert.der,
               private_key: pki/own/key.pem, trust_dir: pki/trusted}
    username: operator
    password: s3cret
    watchdog_interval: 30s
    tags:
      - {name: temp, node: "nsu=urn:vendor;s=Temp"}
      - {name: level, path: "Objects/2:Tank/2:Level"}
""",
    )
    device = config.devices[0]  # type: ignore[attr-defined]
    assert device.mode == "subscribe"
    driver = driver_for(device)
    assert isinstance(driver, OpcUaDriver)
    assert driver.timestamp == "source"
    assert driver.subscription.publishing_interval == 0.5
    assert driver.subscription.sampling_interval == 0.1
    assert driver.subscription.deadband_type == "absolute"
    assert driver.security.policy == "Basic256Sha256" and driver.security.username == "operator"
    assert str(driver.security.trust_dir) == "pki/trusted"
    assert driver.watchdog_interval == 30.0
    assert [t.path for t in driver.tags] == [None, "Objects/2:Tank/2:Level"]


@pytest.mark.parametrize(
    ("tag", "message"),
    [
        ('{name: t, node: "ns=2;s=A", path: "Objects/2:A"}', "exactly one of 'node' and 'path'"),
        ("{name: t}", "exactly one of 'node' and 'path'"),
        ('{name: t, path: "Objects/x:A"}', "is not '<namespace index>:<browse name>'"),
        ('{name: t, node: "ns=2;x=A"}', "malformed OPC UA NodeId"),
    ],
)
def test_address_errors_name_the_line(tmp_path: Path, tag: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, f"    tags:\n      - {tag}\n")
    text = str(caught.value)
    assert message in text and "agent.yaml:" in text


def test_security_without_certificate_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs certificate, private_key and trust_dir"):
        _load(
            tmp_path,
            "    security: {policy: Basic256Sha256, mode: Sign}\n"
            '    tags: [{name: t, node: "ns=2;s=A"}]\n',
        )
