"""The installed command's long-running programs: they start, serve, and stop cleanly;
mistakes in their options get a one-line message, not a traceback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from pymodbus.client import ModbusTcpClient

from tests.conftest import free_port


def mingzhou(*args: str, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "mingzhou", *args],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def wait_until(check, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (OSError, httpx.HTTPError):
            pass
        time.sleep(0.2)
    raise AssertionError("timed out")


def stop(process: subprocess.Popen[bytes], sig: int, log: Path) -> str:
    process.send_signal(sig)
    assert process.wait(timeout=20) == 0, log.read_text()
    output = log.read_text()
    assert "Traceback" not in output, output
    return output


def test_sim_serves_a_standard_modbus_master(tmp_path: Path) -> None:
    port, log = free_port(), tmp_path / "sim.log"
    process = mingzhou("sim", "--industry", "petrochem", "--port", str(port), log=log)
    try:
        client = ModbusTcpClient("127.0.0.1", port=port)
        wait_until(client.connect)
        # P-101 'running' flag at input register 5 and the meter at holding 0..3.
        running = client.read_input_registers(5, count=1, device_id=1)
        meter = client.read_holding_registers(0, count=4, device_id=1)
        client.close()
        assert not running.isError() and running.registers[0] in (0, 1)
        assert not meter.isError() and len(meter.registers) == 4
    finally:
        output = stop(process, signal.SIGINT, log)
    assert f"127.0.0.1:{port}" in output


def test_sim_refuses_an_unknown_industry(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mingzhou", "sim", "--industry", "steel", "--port", "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "must be one of mold, appliance, petrochem" in result.stderr
    assert "Traceback" not in result.stderr


def test_cloud_serve_starts_answers_and_stops_on_sigterm(tmp_path: Path) -> None:
    port, log = free_port(), tmp_path / "cloud.log"
    process = mingzhou(
        "cloud",
        "serve",
        "--historian",
        f"sqlite:{tmp_path / 'store.db'}",
        "--port",
        str(port),
        log=log,
    )
    try:
        wait_until(lambda: httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200)
        assert httpx.get(f"http://127.0.0.1:{port}/api/series").json() == []
    finally:
        stop(process, signal.SIGTERM, log)


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["cloud", "serve", "--historian", "mysql://x"], 2, "--historian: "),
        (
            ["cloud", "serve", "--historian", "sqlite:{tmp}/x.db", "--port", "{busy}"],
            1,
            "cannot listen on 127.0.0.1:{busy} for the cloud (--port)",
        ),
        (
            ["demo", "--port", "{busy}", "--data-dir", "{tmp}"],
            1,
            "cannot listen on 127.0.0.1:{busy} for the cloud (--port)",
        ),
        (
            ["demo", "--plc-base-port", "{busy}", "--data-dir", "{tmp}"],
            1,
            "for the mold PLC (--plc-base-port)",
        ),
    ],
)
def test_option_mistakes_and_busy_ports_are_one_line(
    tmp_path: Path, args: list[str], code: int, message: str
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        fill = {"busy": port, "tmp": str(tmp_path)}
        result = subprocess.run(
            [sys.executable, "-m", "mingzhou", *(a.format(**fill) for a in args)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == code, result.stderr
    assert message.format(**fill) in result.stderr
    assert "Traceback" not in result.stderr


def test_edge_run_with_a_store_it_cannot_open_says_which_output(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder should be")
    config = tmp_path / "agent.yaml"
    config.write_text(
        "agent: {name: a, site: s}\n"
        "devices:\n"
        "  - {name: d, protocol: modbus, host: 127.0.0.1, line: l, asset: a,\n"
        "     tags: [{name: t, table: input, address: 0, type: int16}]}\n"
        f"outputs:\n  - {{type: sqlite, path: {blocker}/store.db}}\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "mingzhou", "edge", "run", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(
        f"{config}: outputs[0] (sqlite): cannot open the SQLite store {blocker}/store.db: "
    ), line
    assert "Traceback" not in result.stderr


def test_edge_run_logs_json_lines_for_a_collector(tmp_path: Path) -> None:
    import json

    config = tmp_path / "agent.yaml"
    config.write_text(
        "agent: {name: a, site: s}\n"
        "devices:\n"
        f"  - {{name: plc, protocol: modbus, host: 127.0.0.1, port: {free_port()}, line: l, asset: a,\n"
        "     tags: [{name: t, table: input, address: 0, type: int16}]}\n"
        "outputs:\n  - {type: sqlite, path: store.db}\n"
        "status: {port: 0}\n"
    )
    log = tmp_path / "agent.log"
    process = mingzhou("edge", "run", "--config", str(config), "--log-format", "json", log=log)
    wait_until(lambda: "cannot connect" in log.read_text(), 30)
    stop(process, signal.SIGTERM, log)
    records = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    assert {"time", "level", "logger", "message"} <= set(records[0])
    assert any(r["level"] == "WARNING" and "plc: cannot connect" in r["message"] for r in records)
    assert records[-1]["message"] == "agent a stopped"
