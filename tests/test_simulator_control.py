"""The fault control port of a running `mingzhou sim`, driven over HTTP and by
`mingzhou sim-fault`, with the effects read back through the Modbus driver."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from protocols.errors import DriverConnectionError
from protocols.modbus_driver import ModbusDriver
from protocols.simulators import PLANTS
from protocols.simulators.fault_control import call_fault_api
from tests.conftest import free_port
from tests.e2e_helpers import start_command, stop_command

ENERGY = len(PLANTS["petrochem"].points) - 1  # the meter's energy counter is the last point


async def _wait_for_line(log: Path, text: str, process: asyncio.subprocess.Process) -> None:
    for _ in range(300):
        if text in log.read_text(errors="replace"):
            return
        assert process.returncode is None, log.read_text()
        await asyncio.sleep(0.1)
    raise AssertionError(f"{text!r} never appeared:\n{log.read_text()}")


async def _sim_fault(control: str, *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mingzhou", "sim-fault", *args, "--control", control,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await process.communicate()
    return process.returncode or 0, out.decode()


async def _energy(driver: ModbusDriver) -> float:
    return (await driver.read())[ENERGY].value  # type: ignore[return-value]


async def _energy_changes(driver: ModbusDriver) -> bool:
    """Whether the served energy counter moves within a few publications."""
    first = await _energy(driver)
    for _ in range(8):
        await asyncio.sleep(0.25)
        if await _energy(driver) != first:
            return True
    return False


async def test_control_port_of_a_running_simulator(tmp_path: Path) -> None:
    port, control_port = free_port(), free_port()
    control = f"http://127.0.0.1:{control_port}"
    log = tmp_path / "sim.log"
    # speed 60: a minute of plant life a second, so the energy counter visibly moves.
    process = await start_command(
        "sim", "--industry", "petrochem", "--port", str(port),
        "--control-port", str(control_port), "--speed", "60", log=log,
    )  # fmt: skip
    driver = ModbusDriver("127.0.0.1", port, 1, PLANTS["petrochem"].modbus_tags(), max_gap=8)
    try:
        await _wait_for_line(log, f"fault control on {control}/faults", process)
        await driver.connect()
        assert await _energy_changes(driver)

        code, out = await _sim_fault(control, "inject", "stuck_sensor", "meter-main.energy_kwh")
        assert code == 0, out
        assert json.loads(out)["target"] == "meter-main.energy_kwh"
        assert not await _energy_changes(driver)

        status, body = await asyncio.to_thread(call_fault_api, control, "GET")
        assert status == 200 and body is not None
        assert [f["fault"] for f in body["faults"]] == ["stuck_sensor"]
        assert body["kinds"]["bearing_wear"]["params"] == {"rate": 0.01, "trip_vibration": 11.2}

        code, out = await _sim_fault(control, "inject", "bearing_wear", "P-101", "--rate", "0.2")
        assert code == 0 and json.loads(out)["params"]["rate"] == 0.2, out
        code, out = await _sim_fault(control, "inject", "bearing_wear", "P-101", "--speed", "2")
        assert code == 1 and "unknown parameter(s) speed" in out
        code, out = await _sim_fault(control, "clear", "leak", "P-101")
        assert code == 1 and "no active leak" in out

        code, out = await _sim_fault(control, "clear", "stuck_sensor", "meter-main.energy_kwh")
        assert code == 0, out
        assert await _energy_changes(driver)

        status, body = await asyncio.to_thread(
            call_fault_api, control, "POST", "/faults", {"fault": "comms_drop", "seconds": 1.0}
        )
        assert status == 201, body
        try:
            await driver.read()
            raise AssertionError("read during a comms drop succeeded")
        except DriverConnectionError:
            pass
        for _ in range(100):
            try:
                await driver.connect()
                break
            except DriverConnectionError:
                await asyncio.sleep(0.1)
        assert all(s.error is None for s in await driver.read())

        status, body = await asyncio.to_thread(
            call_fault_api, control, "POST", "/faults", {"fault": "fire", "target": "P-101"}
        )
        assert status == 400 and body is not None and "unknown fault 'fire'" in body["error"]
        code, out = await _sim_fault(control, "list")
        assert code == 0 and [f["fault"] for f in json.loads(out)["faults"]] == ["bearing_wear"]
    finally:
        await driver.close()
        assert await stop_command(process) == 0, log.read_text()
