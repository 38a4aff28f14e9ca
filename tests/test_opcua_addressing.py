"""Tag addresses: NodeIds by index or namespace URI, numeric ids and browse paths."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from protocols.opcua_driver import OpcUaDriver, OpcUaTag
from protocols.sample import Quality
from tests.conftest import free_port
from tests.opcua_servers import TEST_NAMESPACE, add_press, build_server

module_loop = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def press() -> AsyncIterator[tuple[str, int]]:
    port = free_port()
    server, ns = await build_server(port)
    await add_press(server, ns)
    await server.start()
    try:
        yield f"opc.tcp://127.0.0.1:{port}/press/", ns
    finally:
        await server.stop()


@module_loop
async def test_every_way_of_naming_a_node_reads_the_same_value(press) -> None:
    endpoint, ns = press
    assert ns == 4  # other namespaces come first: not the simulator's ns=2
    tags = [
        OpcUaTag("by_index", f"ns={ns};s=Press1.Double"),
        OpcUaTag("by_uri", f"nsu={TEST_NAMESPACE};s=Press1.Double"),
        OpcUaTag("by_path", path=f"Objects/{ns}:Press1/{ns}:Double"),
        OpcUaTag("by_path_no_prefix", path=f"/{ns}:Press1/{ns}:Double"),
        OpcUaTag("numeric", f"ns={ns};i=1001"),
        OpcUaTag("numeric_uri", f"nsu={TEST_NAMESPACE};i=1001"),
        OpcUaTag("standard", "i=2259"),  # Server_ServerStatus_State
    ]
    driver = OpcUaDriver(endpoint, tags, timeout=3.0)
    await driver.connect()
    try:
        samples = {s.tag: s for s in await driver.read()}
    finally:
        await driver.close()
    assert {k: s.value for k, s in samples.items()} == {
        "by_index": 2.25,
        "by_uri": 2.25,
        "by_path": 2.25,
        "by_path_no_prefix": 2.25,
        "numeric": 42,
        "numeric_uri": 42,
        "standard": 0,
    }


@module_loop
async def test_unresolvable_addresses_are_per_tag_errors(press) -> None:
    endpoint, ns = press
    tags = [
        OpcUaTag("no_such_uri", "nsu=urn:nobody;s=Press1.Double"),
        OpcUaTag("no_such_path", path=f"Objects/{ns}:Press1/{ns}:Nothing"),
        OpcUaTag("wrong_ns_in_path", path="Objects/2:Press1/2:Double"),
        OpcUaTag("fine", f"ns={ns};s=Press1.Double"),
    ]
    driver = OpcUaDriver(endpoint, tags, timeout=3.0)
    await driver.connect()
    try:
        uri, path, wrong_ns, fine = await driver.read()
    finally:
        await driver.close()
    assert uri.quality is Quality.BAD
    assert (
        uri.error
        == "tag 'no_such_uri' (nsu=urn:nobody;s=Press1.Double): namespace 'urn:nobody' is not on this server"
    )
    assert path.quality is Quality.BAD
    assert path.error == (
        f"tag 'no_such_path' (path Objects/{ns}:Press1/{ns}:Nothing): browse path not found (BadNoMatch)"
    )
    assert wrong_ns.quality is Quality.BAD
    assert fine.value == 2.25


def test_address_mistakes_are_caught_before_connecting() -> None:
    with pytest.raises(ValueError, match="exactly one of 'node' and 'path'"):
        OpcUaTag("both", "ns=2;s=X", path="Objects/2:X")
    with pytest.raises(ValueError, match="exactly one of 'node' and 'path'"):
        OpcUaTag("neither")
    with pytest.raises(ValueError, match=r"element 'x:Press1'.*e.g. 2:MeltTemp"):
        OpcUaTag("bad_path", path="Objects/x:Press1")
    with pytest.raises(ValueError, match="names no node below Objects"):
        OpcUaTag("only_objects", path="Objects/")
    with pytest.raises(ValueError, match=r"tag 'melt'.*'ns=2;x=Oops'"):
        OpcUaTag("melt", "ns=2;x=Oops")
