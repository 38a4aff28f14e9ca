"""Large configurations against a server that enforces low OperationLimits."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from asyncua import Client, ua

from protocols.opcua_driver import OpcUaDriver, OpcUaTag, SubscriptionSettings
from protocols.sample import Quality
from tests.conftest import free_port
from tests.opcua_servers import ServerProbe, build_server

TAGS = 500
LIMIT = 50
module_loop = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def strict() -> AsyncIterator[tuple[str, ServerProbe, int]]:
    """500 variables on a server that refuses more than 50 per Read or CreateMonitoredItems."""
    port = free_port()
    probe = ServerProbe()
    server, ns = await build_server(
        port, max_nodes_per_read=LIMIT, max_monitored_items_per_call=LIMIT, probe=probe
    )
    folder = await server.nodes.objects.add_folder(
        ua.NodeId("Sensors", ns), ua.QualifiedName("Sensors", ns)
    )
    for i in range(TAGS):
        await folder.add_variable(ua.NodeId(f"S{i}", ns), ua.QualifiedName(f"S{i}", ns),
                                  ua.Variant(float(i), ua.VariantType.Double))  # fmt: skip
    await server.start()
    try:
        yield f"opc.tcp://127.0.0.1:{port}/press/", probe, ns
    finally:
        await server.stop()


def _tags(ns: int) -> list[OpcUaTag]:
    # Half by NodeId, half by browse path: both go through batched services.
    return [
        OpcUaTag(f"s{i}", f"ns={ns};s=S{i}")
        if i % 2
        else OpcUaTag(f"s{i}", path=f"Objects/{ns}:Sensors/{ns}:S{i}")
        for i in range(TAGS)
    ]


@module_loop
async def test_the_server_really_refuses_big_reads(strict) -> None:
    endpoint, _, ns = strict
    async with Client(endpoint) as client:
        nodes = [client.get_node(f"ns={ns};s=S{i}") for i in range(TAGS)]
        with pytest.raises(ua.UaStatusCodeError, match="TooManyOperations"):
            await client.read_values(nodes)


@module_loop
async def test_reads_are_split_to_the_servers_limit_in_one_session(strict) -> None:
    endpoint, probe, ns = strict
    sessions_before = probe.sessions
    driver = OpcUaDriver(endpoint, _tags(ns), timeout=5.0, max_nodes_per_read=1000)
    await driver.connect()
    try:
        assert driver.limits.max_nodes_per_read == LIMIT
        probe.read_sizes.clear()
        for _ in range(3):
            samples = await driver.read()
            assert [s.value for s in samples] == [float(i) for i in range(TAGS)]
            assert all(s.quality is Quality.GOOD for s in samples)
    finally:
        await driver.close()
    assert probe.read_sizes == [LIMIT] * (3 * TAGS // LIMIT)
    assert probe.sessions - sessions_before == 1 == driver.sessions_opened


@module_loop
async def test_monitored_items_are_created_in_batches(strict) -> None:
    endpoint, probe, ns = strict
    driver = OpcUaDriver(endpoint, _tags(ns), timeout=5.0,
                         subscription=SubscriptionSettings(publishing_interval=0.1))  # fmt: skip
    await driver.connect()
    probe.item_call_sizes.clear()
    seen: dict[str, float] = {}
    try:
        async for batch in driver.subscribe():
            seen.update((s.tag, s.value) for s in batch)
            if len(seen) == TAGS:
                break
    finally:
        await driver.close()
    assert seen == {f"s{i}": float(i) for i in range(TAGS)}
    assert probe.item_call_sizes == [LIMIT] * (TAGS // LIMIT)
