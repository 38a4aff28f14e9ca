"""Subscriptions: changes as batches of Samples, server-side deadbands, and resuming
after the server restarts on the same port."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from asyncua import ua

from protocols.errors import DriverConnectionError
from protocols.opcua_driver import OpcUaDriver, OpcUaTag, SubscriptionSettings
from protocols.sample import Quality, Sample
from protocols.simulators import PLANTS, OpcUaSimulator
from tests.conftest import free_port
from tests.opcua_servers import build_server

FAST = SubscriptionSettings(publishing_interval=0.05, sampling_interval=0.02)


async def _next(stream: AsyncIterator[list[Sample]]) -> list[Sample]:
    # A generous bound so a broken subscription fails the test instead of hanging it.
    return await asyncio.wait_for(anext(stream), timeout=10)


async def test_subscription_delivers_changes_of_the_simulator(mold_sim) -> None:
    _, host, port = mold_sim
    driver = OpcUaDriver(f"opc.tcp://{host}:{port}", PLANTS["mold"].opcua_tags(), 2.0,
                         subscription=FAST, timestamp="source")  # fmt: skip
    await driver.connect()
    stream = driver.subscribe()
    try:
        first = await _next(stream)  # every tag's current value
        assert {s.tag for s in first} == {p.tag for p in PLANTS["mold"].points}
        assert all(s.quality is Quality.GOOD and s.status == "Good" for s in first)
        changed = await _next(stream)  # the simulator moves every 250 ms
        assert changed and all(s.value is not None for s in changed)
    finally:
        await stream.aclose()
        await driver.close()


async def test_absolute_deadband_is_applied_by_the_server() -> None:
    port = free_port()
    server, ns = await build_server(port)
    node = await server.nodes.objects.add_variable(
        ua.NodeId("Level", ns),
        ua.QualifiedName("Level", ns),
        ua.Variant(1.0, ua.VariantType.Double),
    )
    await server.start()
    settings = SubscriptionSettings(publishing_interval=0.05, sampling_interval=0.0,
                                    deadband_type="absolute", deadband_value=0.5)  # fmt: skip
    driver = OpcUaDriver(f"opc.tcp://127.0.0.1:{port}/press/", [OpcUaTag("level", f"ns={ns};s=Level")],
                         2.0, subscription=settings)  # fmt: skip
    await driver.connect()
    stream = driver.subscribe()
    try:
        assert [s.value for s in await _next(stream)] == [1.0]
        received: list[float] = []
        for value in (1.2, 1.4, 2.0, 2.1, 3.0):  # only 2.0 and 3.0 move more than 0.5
            await node.write_value(ua.Variant(value, ua.VariantType.Double))
            await asyncio.sleep(0.1)
        while received[-1:] != [3.0]:
            received += [s.value for s in await _next(stream)]  # type: ignore[misc]
        assert received == [2.0, 3.0]
    finally:
        await stream.aclose()
        await driver.close()
        await server.stop()


async def test_subscription_resumes_after_the_server_restarts() -> None:
    plant = PLANTS["mold"]
    port = free_port()
    sim = OpcUaSimulator(plant, "127.0.0.1", port)
    await sim.start()
    driver = OpcUaDriver(f"opc.tcp://127.0.0.1:{port}", plant.opcua_tags(), timeout=1.0,
                         subscription=FAST, watchdog_interval=0.5)  # fmt: skip
    await driver.connect()
    stream = driver.subscribe()
    try:
        assert await _next(stream)
        await sim.stop()
        # The driver notices the lost session (socket closed or keep-alive probe) and
        # ends the stream with DriverConnectionError; no samples after the stop.
        lost = None
        while lost is None:
            try:
                await _next(stream)
            except DriverConnectionError as exc:
                lost = exc
        assert not driver.connected

        sim = OpcUaSimulator(plant, "127.0.0.1", port)  # same port, a new server process state
        await sim.start()
        await _reconnect_like_the_poller(driver)
        stream = driver.subscribe()  # re-created on the new session
        resumed = await _next(stream)
        assert {s.tag for s in resumed} == {p.tag for p in plant.points}
        assert driver.sessions_opened == 2
    finally:
        await stream.aclose()
        await driver.close()
        await sim.stop()


async def _reconnect_like_the_poller(driver: OpcUaDriver) -> None:
    """What DevicePoller.run does: connect, and on failure back off (capped) and retry."""
    delay = 0.05
    for _ in range(50):
        try:
            await driver.connect()
            return
        except DriverConnectionError:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)
    raise AssertionError("never reconnected")
