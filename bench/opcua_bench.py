"""OPC UA driver against raw asyncua, same server, same nodes, same run.

Reads: OpcUaDriver.read() (batched, converted to Samples) against asyncua's
``read_values`` in chunks of 1,000. Subscriptions: samples/s the driver's subscribe()
yields against data-change events/s from a raw asyncua iterator-mode subscription. The
server runs in its own process, with its variables in folders of 1,000 (adding 10,000
under one parent is quadratic in asyncua), and rewrites the subscribed values on a clock.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import socket
import time
from typing import Any

from asyncua import Client, Server, ua

from protocols.opcua_driver import OpcUaDriver, OpcUaTag, SubscriptionSettings

NODES = 10_000  # the size the protocols issue names for benchmarks
FOLDER = 1_000
SUBSCRIBED = 1_000
UPDATE_S = 0.1
READ_ROUNDS = 7
SUBSCRIBE_SECONDS = 3.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _quiet() -> None:
    # Deleting a subscription races its last publish; both sides log that as an error.
    logging.getLogger("asyncua").setLevel(logging.CRITICAL)


async def _serve(port: int) -> None:
    _quiet()
    server = Server()
    await server.init()
    server.set_endpoint(f"opc.tcp://127.0.0.1:{port}/")
    server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
    server.set_identity_tokens([ua.AnonymousIdentityToken])
    ns = await server.register_namespace("urn:mingzhou:bench")
    ids: list[ua.NodeId] = []
    for f in range(NODES // FOLDER):
        folder = await server.nodes.objects.add_folder(ua.NodeId(f"F{f}", ns), f"{ns}:F{f}")
        for i in range(f * FOLDER, (f + 1) * FOLDER):
            node = await folder.add_variable(ua.NodeId(f"V{i}", ns), f"{ns}:V{i}", float(i))
            ids.append(node.nodeid)
    await server.start()
    tick = 0
    while True:  # the first SUBSCRIBED values change every UPDATE_S: the subscription load
        await asyncio.sleep(UPDATE_S)
        tick += 1
        for node_id in ids[:SUBSCRIBED]:
            await server.write_attribute_value(
                node_id, ua.DataValue(ua.Variant(float(tick), ua.VariantType.Double))
            )


def _server_process(port: int) -> None:
    asyncio.run(_serve(port))


async def _wait_listening(port: int) -> None:
    for _ in range(1200):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        await asyncio.sleep(0.05)
    raise RuntimeError("bench server never listened")


def _ns_tags(count: int) -> list[OpcUaTag]:
    return [OpcUaTag(f"v{i}", f"nsu=urn:mingzhou:bench;s=V{i}") for i in range(count)]


async def _bench_reads(endpoint: str) -> tuple[float, float]:
    driver = OpcUaDriver(endpoint, _ns_tags(NODES), timeout=30.0)
    await driver.connect()
    raw = Client(endpoint, timeout=30.0, watchdog_intervall=60.0)
    raw.session_timeout = 600_000  # what the server grants; asking more logs a warning
    await raw.connect()
    try:
        ns = await raw.get_namespace_index("urn:mingzhou:bench")
        nodes = [raw.get_node(ua.NodeId(f"V{i}", ns)) for i in range(NODES)]
        best_raw = best_ours = float("inf")
        for _ in range(READ_ROUNDS):  # interleaved, best of each: the least disturbed run
            started = time.perf_counter()
            for first in range(0, NODES, 1000):
                await raw.read_values(nodes[first : first + 1000])
            best_raw = min(best_raw, time.perf_counter() - started)
            started = time.perf_counter()
            samples = await driver.read()
            best_ours = min(best_ours, time.perf_counter() - started)
            assert len(samples) == NODES
        return NODES / best_ours, NODES / best_raw
    finally:
        await raw.disconnect()
        await driver.close()


async def _count_raw_changes(endpoint: str) -> float:
    client = Client(endpoint, timeout=30.0, watchdog_intervall=60.0)
    client.session_timeout = 600_000
    await client.connect()
    try:
        ns = await client.get_namespace_index("urn:mingzhou:bench")
        nodes = [client.get_node(ua.NodeId(f"V{i}", ns)) for i in range(SUBSCRIBED)]
        sub = await client.create_subscription(UPDATE_S * 1000, None, queue_maxsize=100_000)
        await sub.subscribe_data_change(nodes, sampling_interval=0)
        await _drain_for(sub, 1.0)  # initial values and warm-up
        count, seconds = await _drain_for(sub, SUBSCRIBE_SECONDS)
        await sub.delete()
        return count / seconds
    finally:
        await client.disconnect()


async def _drain_for(sub: Any, seconds: float) -> tuple[int, float]:
    count = 0
    started = time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        if await sub.next_event(timeout=seconds - elapsed) is not None:
            count += 1
    return count, time.perf_counter() - started


async def _count_our_changes(endpoint: str) -> float:
    settings = SubscriptionSettings(publishing_interval=UPDATE_S, sampling_interval=0.0)
    driver = OpcUaDriver(endpoint, _ns_tags(SUBSCRIBED), timeout=30.0, subscription=settings)
    await driver.connect()
    stream = driver.subscribe()
    try:
        for phase in (1.0, SUBSCRIBE_SECONDS):  # warm-up, then the measured window
            count = 0
            started = time.perf_counter()
            while time.perf_counter() - started < phase:
                count += len(await anext(stream))
            seconds = time.perf_counter() - started
        return count / seconds
    finally:
        await stream.aclose()
        await driver.close()


def _line(name: str, ours: float, raw: float, unit: str) -> None:
    print(
        f"  {name:<46} {ours:>11,.0f} {unit}  raw asyncua {raw:>11,.0f} {unit}"
        f"  ratio {ours / raw:5.2f}"
    )


async def _run(endpoint: str) -> None:
    ours_read, raw_read = await _bench_reads(endpoint)
    _line(f"read {NODES:,} nodes (batched, to Samples)", ours_read, raw_read, "values/s")
    raw_sub = ours_sub = 0.0
    for _ in range(2):  # interleaved, best of each
        raw_sub = max(raw_sub, await _count_raw_changes(endpoint))
        ours_sub = max(ours_sub, await _count_our_changes(endpoint))
    _line(f"subscription, {SUBSCRIBED:,} items at {UPDATE_S * 1000:.0f} ms", ours_sub, raw_sub,
          "changes/s")  # fmt: skip


def main() -> None:
    print("OPC UA driver (asyncua server in its own process)")
    _quiet()
    port = _free_port()
    ctx = multiprocessing.get_context("spawn")
    server = ctx.Process(target=_server_process, args=(port,), daemon=True)
    server.start()
    try:
        endpoint = f"opc.tcp://127.0.0.1:{port}/"

        async def run() -> None:
            await _wait_listening(port)
            await _run(endpoint)

        asyncio.run(run())
    finally:
        server.terminate()
        server.join(timeout=10)


if __name__ == "__main__":
    main()
