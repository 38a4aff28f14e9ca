"""A bad agent config gets one line per problem naming file, line and field; exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edge_agent.config import ConfigError, ModbusDeviceConfig, load_config
from mingzhou.cli import app

GOOD = """\
agent:
  name: test-edge
  site: plant-1
devices:
  - name: plc
    protocol: modbus
    host: 127.0.0.1
    port: 5020
    line: line-1
    asset: st-01
    interval: 500ms
    tags:
      - name: motor_current
        table: input
        address: 10
        type: float32
      - name: cycle_count
        table: input
        address: 0
        type: uint32
        asset: st-02
  - name: opc
    protocol: opcua
    endpoint: opc.tcp://127.0.0.1:4840
    line: line-2
    asset: imm-01
    tags:
      - name: melt_temp
        node: ns=2;s=IMM01.MeltTemp
outputs:
  - type: sqlite
    path: store.db
  - type: influxdb_v1
    url: http://127.0.0.1:8086/
    database: plant
    password: ${INFLUX_PASSWORD}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agent.yaml"
    path.write_text(text)
    return path


def errors_of(path: Path, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path, {"INFLUX_PASSWORD": "x"} if environ is None else environ)
    return [str(issue) for issue in caught.value.issues]


def test_good_config_loads_with_defaults_and_environment(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD), {"INFLUX_PASSWORD": "s3cret"})
    modbus = config.devices[0]
    assert isinstance(modbus, ModbusDeviceConfig)
    assert modbus.interval == 0.5
    assert modbus.timeout == 5.0
    assert modbus.tags[0].word_order == "big"
    assert config.outputs[1].password == "s3cret"
    assert config.outputs[1].url == "http://127.0.0.1:8086"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        # unknown key, with a hint
        (
            "        address: 10\n",
            "        address: 10\n        adress: 11\n",
            "agent.yaml:16: devices[0].tags[0].adress: unknown key 'adress' (did you mean 'address'?)",
        ),
        # wrong type
        (
            "    port: 5020\n",
            "    port: lots\n",
            "agent.yaml:8: devices[0].port: Input should be a valid integer",
        ),
        # register out of range
        (
            "        address: 10\n",
            "        address: 70000\n",
            "agent.yaml:15: devices[0].tags[0].address: Input should be less than or equal to 65535",
        ),
        # a float32 that would run past the last register
        (
            "        address: 10\n",
            "        address: 65535\n",
            "agent.yaml:15: devices[0].tags[0].address: float32 at input register 65535 would end at 65536, past 65535",
        ),
        # duplicate tag name for the same asset
        (
            "      - name: cycle_count\n        table: input\n        address: 0\n        type: uint32\n        asset: st-02\n",
            "      - name: motor_current\n        table: input\n        address: 0\n        type: uint32\n",
            "agent.yaml:17: devices[0].tags[1].name: duplicate tag name 'motor_current' for asset 'st-01' (first on line 13)",
        ),
        # wrong protocol
        (
            "    protocol: opcua\n",
            "    protocol: opc-ua\n",
            "agent.yaml:23: devices[1].protocol: protocol must be one of 'opcua', 'modbus', got 'opc-ua'",
        ),
        # a bad duration
        (
            "    interval: 500ms\n",
            "    interval: fast\n",
            "agent.yaml:11: devices[0].interval: expected a duration such as 500ms, 1s, 2m or 1h, got 'fast'",
        ),
        # a repeated key in one mapping
        (
            "    port: 5020\n",
            "    port: 5020\n    port: 5021\n",
            "agent.yaml:9: devices[0].port: duplicate key 'port' (first set on line 8)",
        ),
        # missing required key
        (
            "    endpoint: opc.tcp://127.0.0.1:4840\n",
            "",
            "agent.yaml:22: devices[1].endpoint: required key 'endpoint' is missing",
        ),
    ],
)
def test_each_mistake_is_reported_with_file_line_and_field(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    assert old in GOOD
    errors = errors_of(write(tmp_path, GOOD.replace(old, new, 1)))
    assert len(errors) == 1, errors
    assert errors[0].startswith(
        str(tmp_path / expected.split(":", 1)[0]) + ":" + expected.split(":", 1)[1]
    ), errors[0]


def test_missing_environment_variable_names_line(tmp_path: Path) -> None:
    errors = errors_of(write(tmp_path, GOOD), environ={})
    assert errors == [
        f"{tmp_path / 'agent.yaml'}:36: outputs[1].password: environment variable ${{INFLUX_PASSWORD}} is not set"
    ]


def test_all_errors_are_reported_at_once(tmp_path: Path) -> None:
    text = GOOD.replace("    port: 5020\n", "    port: lots\n").replace(
        "    path: store.db\n", "    path: store.db\n    colour: red\n"
    )
    errors = errors_of(write(tmp_path, text))
    assert [e.split(": ")[1] for e in errors] == ["devices[0].port", "outputs[0].colour"]


def test_invalid_yaml_names_line(tmp_path: Path) -> None:
    errors = errors_of(write(tmp_path, GOOD.replace("  site: plant-1\n", "  site: [plant-1\n")))
    assert len(errors) == 1 and "invalid YAML" in errors[0]
    assert errors[0].startswith(f"{tmp_path / 'agent.yaml'}:")


def test_cli_validate_exit_codes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFLUX_PASSWORD", "x")
    runner = CliRunner()
    good = runner.invoke(app, ["edge", "validate", str(write(tmp_path, GOOD))])
    assert good.exit_code == 0, good.output
    assert "3 tags" in good.output
    bad = runner.invoke(
        app,
        [
            "edge",
            "validate",
            str(write(tmp_path, GOOD.replace("    port: 5020\n", "    port: lots\n"))),
        ],
    )
    assert bad.exit_code == 2
    assert "agent.yaml:8: devices[0].port:" in bad.output
    assert "Traceback" not in bad.output


def test_installed_command_refuses_to_run_a_bad_config(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("        type: uint32\n", "        type: uint33\n"))
    result = subprocess.run(
        [sys.executable, "-m", "mingzhou", "edge", "run", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"INFLUX_PASSWORD": "x", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"{path}:20: devices[0].tags[1].type: Input should be")


@pytest.mark.parametrize("industry", ["mold", "appliance", "petrochem"])
def test_generated_plant_configs_are_valid(tmp_path: Path, industry: str) -> None:
    import yaml

    from protocols.simulators import PLANTS

    plant = PLANTS[industry]
    data = plant.agent_config("127.0.0.1", 5020)
    data["outputs"] = [{"type": "sqlite", "path": "store.db"}]
    path = write(tmp_path, yaml.safe_dump(data))
    config = load_config(path, {})
    assert config.agent.site == plant.site
    assert sum(len(d.tags) for d in config.devices) == len(plant.points)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ('"st-01\\\\"', "must not end with a backslash"),
        ('"st\\n01"', "must not contain a line break"),
        ('"  "', "must not be empty"),
    ],
)
def test_names_influxdb_cannot_store_are_refused(tmp_path: Path, name: str, message: str) -> None:
    errors = errors_of(write(tmp_path, GOOD.replace("    asset: st-01\n", f"    asset: {name}\n")))
    assert errors == [
        f"{tmp_path / 'agent.yaml'}:10: devices[0].asset: {message}"
        + errors[0].split(message, 1)[1]
    ]


def test_hostile_but_storable_names_are_accepted(tmp_path: Path) -> None:
    text = GOOD.replace("    asset: st-01\n", "    asset: 'st 01, \"A\"=x 中文 SELECT'\n")
    config = load_config(write(tmp_path, text), {"INFLUX_PASSWORD": "x"})
    assert config.devices[0].asset == 'st 01, "A"=x 中文 SELECT'


def test_relative_certificate_paths_start_at_the_config_folder(tmp_path: Path) -> None:
    from edge_agent.devices import driver_for

    text = GOOD.replace(
        "    endpoint: opc.tcp://127.0.0.1:4840\n",
        "    endpoint: opc.tcp://127.0.0.1:4840\n"
        "    security: {policy: Basic256Sha256, mode: SignAndEncrypt, certificate: pki/own/cert.der,"
        " private_key: /etc/mingzhou/key.pem, trust_dir: pki/trusted}\n",
    )
    config = load_config(write(tmp_path, text), {"INFLUX_PASSWORD": "x"})
    security = driver_for(config.devices[1], tmp_path).security
    assert security.certificate == tmp_path / "pki/own/cert.der"
    assert security.trust_dir == tmp_path / "pki/trusted"
    assert str(security.private_key) == "/etc/mingzhou/key.pem"  # absolute stays as given


def test_units_on_one_serial_port_must_agree_on_its_framing(tmp_path: Path) -> None:
    device = """\
  - name: {name}
    protocol: modbus
    transport: rtu
    serial: {{port: /dev/ttyUSB0, baudrate: {baud}}}
    unit_id: {unit}
    line: line-1
    asset: {name}
    tags:
      - name: level
        table: holding
        address: 0
        type: uint16
"""
    head = "agent:\n  name: e\n  site: s\ndevices:\n"
    tail = "outputs:\n  - type: sqlite\n    path: store.db\n"
    same = (
        head
        + device.format(name="a", baud=19200, unit=1)
        + device.format(name="b", baud=19200, unit=2)
    )
    assert len(load_config(write(tmp_path, same + tail), {}).devices) == 2
    other = (
        head
        + device.format(name="a", baud=19200, unit=1)
        + device.format(name="b", baud=9600, unit=2)
    )
    assert errors_of(write(tmp_path, other + tail)) == [
        f"{tmp_path / 'agent.yaml'}:20: devices[1].serial: serial port /dev/ttyUSB0 is also"
        " used by device 'a' (line 8) with other settings: one line has one baud rate,"
        " parity and framing"
    ]
