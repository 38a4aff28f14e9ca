"""Modbus sections of the agent config: the new keys load, and mistakes say what to fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.config import ConfigError, ModbusDeviceConfig, load_config
from edge_agent.devices import driver_for

HEAD = """agent: {name: a, site: s}
outputs: [{type: sqlite, path: x.db}]
devices:
"""


def _load(tmp_path: Path, device: str):
    path = tmp_path / "agent.yaml"
    path.write_text(HEAD + device)
    return load_config(path, {})


def _errors(tmp_path: Path, device: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, device)
    return [issue.message for issue in caught.value.issues]


def test_every_modbus_key_reaches_the_driver(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        """  - name: gw
    protocol: modbus
    transport: rtu_over_tcp
    host: 127.0.0.1
    unit_id: 4
    line: l
    asset: m
    retries: 2
    retry_backoff: 50ms
    request_pause: 10ms
    max_concurrent: 2
    max_bits: 800
    tags:
      - {name: run, table: coil, address: 3, type: bool}
      - {name: alarm, table: holding, address: 0, type: uint16, bit: 15}
      - {name: recipe, table: holding, address: 10, type: string, length: 8}
      - {name: energy, table: input, address: 0, type: float64, byte_order: DCBA}
      - {name: power, table: input, address: 4, type: float32, word_order: little}
""",
    )
    device = config.devices[0]
    assert isinstance(device, ModbusDeviceConfig)
    driver = driver_for(device)
    assert driver.endpoint == "127.0.0.1:502 unit 4 (rtu over tcp)"
    assert driver.policy.retries == 2 and driver.policy.retry_backoff == 0.05
    assert driver.policy.request_pause == 0.01 and driver.policy.max_concurrent == 2
    assert driver.max_bits == 800
    tags = {t.name.split(".")[-1]: t for t in driver.tags}
    assert tags["alarm"].bit == 15 and tags["recipe"].count == 8
    assert tags["energy"].byte_order == "DCBA" and tags["power"].byte_order == "CDAB"


def test_serial_device(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        """  - name: rs485
    protocol: modbus
    transport: rtu
    serial: {port: /dev/ttyUSB0, baudrate: 19200, parity: E}
    unit_id: 12
    asset: m
    line: l
    tags: [{name: t, table: input, address: 0, type: int16}]
""",
    )
    assert driver_for(config.devices[0]).endpoint == "/dev/ttyUSB0 19200 8E1 unit 12"


DEVICE = """  - name: d
    protocol: modbus
    host: 127.0.0.1
    line: l
    asset: m
    tags: [{TAG}]
"""


@pytest.mark.parametrize(
    ("tag", "message"),
    [
        (
            "name: t, table: holding, address: 0, type: float32, bit: 3",
            "bit needs type int16 or uint16, not float32",
        ),
        (
            "name: t, table: holding, address: 0, type: string",
            "type string needs length: N (registers)",
        ),
        ("name: t, table: coil, address: 0, type: int16", "a coil tag has type bool, not int16"),
        (
            "name: t, table: input, address: 0, type: bool",
            "type bool is for coil or discrete tables; for one bit of a input register use type"
            " uint16 with bit: 0..15",
        ),
        (
            "name: t, table: holding, address: 0, type: uint32, word_order: big, byte_order: CDAB",
            "word_order big (ABCD) contradicts byte_order CDAB: keep byte_order only",
        ),
        (
            "name: t, table: holding, address: 0, type: uint16, bit: 16",
            "Input should be less than or equal to 15",
        ),
        (
            "name: t, table: holding, address: 65530, type: string, length: 10",
            "string at holding register 65530 would end at 65539, past 65535",
        ),
    ],
)
def test_tag_mistakes_are_explained(tmp_path: Path, tag: str, message: str) -> None:
    assert _errors(tmp_path, DEVICE.replace("{TAG}", "{" + tag + "}")) == [message]


def test_transport_mistakes_are_explained(tmp_path: Path) -> None:
    rtu_without_serial = DEVICE.replace("host: 127.0.0.1", "transport: rtu").replace(
        "{TAG}", "{name: t, table: input, address: 0, type: int16}"
    )
    assert _errors(tmp_path, rtu_without_serial) == [
        "transport rtu needs serial: {port: /dev/ttyUSB0, ...}"
    ]
