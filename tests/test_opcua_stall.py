"""A stalled server (process frozen with SIGSTOP, socket still open) is detected; a
briefly busy one is not taken for dead."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections.abc import Iterator

import pytest

from protocols.errors import DriverConnectionError
from protocols.opcua_driver import OpcUaDriver, SubscriptionSettings
from protocols.simulators import PLANTS
from tests.conftest import free_port
from tests.opcua_servers import spawn_simulator


@pytest.fixture
def sim_process() -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """The mold simulator in its own process, so the test can freeze it."""
    port = free_port()
    proc = spawn_simulator(port)
    try:
        yield proc, f"opc.tcp://127.0.0.1:{port}"
    finally:
        os.kill(proc.pid, signal.SIGCONT)
        proc.terminate()
        proc.wait(timeout=10)


async def _connect(driver: OpcUaDriver) -> None:
    for _ in range(100):
        try:
            await driver.connect()
            return
        except DriverConnectionError:
            await asyncio.sleep(0.1)
    raise AssertionError("simulator never accepted a session")


async def test_frozen_server_fails_reads_and_recovers(sim_process) -> None:
    proc, endpoint = sim_process
    driver = OpcUaDriver(endpoint, PLANTS["mold"].opcua_tags(), timeout=1.0)
    await _connect(driver)
    try:
        assert (await driver.read())[0].value is not None
        os.kill(proc.pid, signal.SIGSTOP)
        with pytest.raises(DriverConnectionError, match=r"timed out|connection lost"):
            await driver.read()
        os.kill(proc.pid, signal.SIGCONT)
        await _connect(driver)
        assert (await driver.read())[0].value is not None
    finally:
        await driver.close()


async def test_frozen_server_ends_a_subscription(sim_process) -> None:
    proc, endpoint = sim_process
    settings = SubscriptionSettings(publishing_interval=0.1)
    driver = OpcUaDriver(endpoint, PLANTS["mold"].opcua_tags(), timeout=1.0,
                         subscription=settings, watchdog_interval=0.5)  # fmt: skip
    await _connect(driver)
    stream = driver.subscribe()
    try:
        assert await asyncio.wait_for(anext(stream), 10)
        os.kill(proc.pid, signal.SIGSTOP)
        with pytest.raises(DriverConnectionError):
            while True:  # changes already in flight may still arrive first
                await asyncio.wait_for(anext(stream), 20)
    finally:
        await stream.aclose()
        await driver.close()


async def test_briefly_busy_server_keeps_its_session(sim_process) -> None:
    proc, endpoint = sim_process
    # The keep-alive probe waits watchdog_interval for an answer: a server that is
    # busy for less than that keeps its session (no reconnect, no lost data).
    driver = OpcUaDriver(endpoint, PLANTS["mold"].opcua_tags(), timeout=3.0, watchdog_interval=4.0)
    await _connect(driver)
    try:
        os.kill(proc.pid, signal.SIGSTOP)
        await asyncio.sleep(1.0)
        os.kill(proc.pid, signal.SIGCONT)
        assert (await driver.read())[0].value is not None
        assert driver.connected and driver.sessions_opened == 1
    finally:
        await driver.close()
