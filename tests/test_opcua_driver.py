"""The OPC UA driver against the simulated moulding plant on a real asyncua server."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from asyncua import ua

from protocols.errors import DriverConnectionError
from protocols.opcua_driver import OpcUaDriver, OpcUaTag, variant_to_value
from protocols.sample import Quality
from protocols.simulators import PLANTS, OpcUaSimulator
from tests.conftest import free_port

EXPECTED_TYPES = {
    "cycle_time": float,
    "injection_pressure": float,
    "melt_temp": float,
    "mould_temp": float,
    "shot_count": int,
    "state": str,
    "power_kw": float,
    "active_power_kw": float,
    "energy_kwh": float,
}


def _endpoint(host: str, port: int) -> str:
    return f"opc.tcp://{host}:{port}"


async def test_every_mold_tag_has_its_type(mold_sim) -> None:
    _, host, port = mold_sim
    plant = PLANTS["mold"]
    # A small chunk size makes the driver split the read into several requests.
    driver = OpcUaDriver(_endpoint(host, port), plant.opcua_tags(), 2.0, max_nodes_per_read=4)
    await driver.connect()
    try:
        samples = await driver.read()
    finally:
        await driver.close()
    assert len(samples) == len(plant.points)
    assert len({s.timestamp_ns for s in samples}) == 1
    for point, sample in zip(plant.points, samples, strict=True):
        assert sample.quality is Quality.GOOD, sample.error
        assert sample.tag == point.tag
        assert type(sample.value) is EXPECTED_TYPES[point.tag], point.tag
        if point.tag == "state":
            assert sample.value in ("running", "idle", "alarm")
        if point.tag == "melt_temp":
            assert 220.0 < sample.value < 245.0
        if point.tag == "mould_temp":
            assert 20.0 < sample.value < 60.0


async def test_bad_node_is_bad_for_that_tag_only(mold_sim) -> None:
    _, host, port = mold_sim
    tags = [
        OpcUaTag("melt_temp", "ns=2;s=IMM01.MeltTemp"),
        OpcUaTag("ghost", "ns=2;s=IMM99.Nothing"),
        OpcUaTag("server_state", "i=2259"),  # standard Server_ServerStatus_State: Int32 enum
    ]
    driver = OpcUaDriver(_endpoint(host, port), tags, timeout=2.0)
    await driver.connect()
    try:
        melt, ghost, state = await driver.read()
    finally:
        await driver.close()
    assert melt.quality is Quality.GOOD and isinstance(melt.value, float)
    assert ghost.quality is Quality.BAD and ghost.value is None
    assert ghost.error == "tag 'ghost' (ns=2;s=IMM99.Nothing): BadNodeIdUnknown"
    assert state.quality is Quality.GOOD and state.value == 0  # Running


async def test_values_change_over_time(mold_sim) -> None:
    _, host, port = mold_sim
    tags = [
        OpcUaTag("injection_pressure", "ns=2;s=IMM01.InjectionPressure"),
        OpcUaTag("melt_temp", "ns=2;s=IMM01.MeltTemp"),
        OpcUaTag("active_power_kw", "ns=2;s=MeterMain.ActivePower"),
    ]
    driver = OpcUaDriver(_endpoint(host, port), tags, timeout=2.0)
    await driver.connect()
    try:
        first = [s.value for s in await driver.read()]
        await asyncio.sleep(0.6)
        second = [s.value for s in await driver.read()]
    finally:
        await driver.close()
    assert first != second


def test_malformed_node_id_names_tag_and_string() -> None:
    with pytest.raises(ValueError, match=r"tag 'melt'.*'ns=2;x=Oops'"):
        OpcUaTag("melt", "ns=2;x=Oops")
    with pytest.raises(ValueError, match="tag 'empty'"):
        OpcUaTag("empty", "ns=2;s=")


def test_variant_conversion() -> None:
    stamp = dt.datetime(2024, 5, 1, 8, 30, tzinfo=dt.UTC)
    assert variant_to_value(ua.Variant(True, ua.VariantType.Boolean)) is True
    assert variant_to_value(ua.Variant(7, ua.VariantType.Byte)) == 7
    assert type(variant_to_value(ua.Variant(1.5, ua.VariantType.Float))) is float
    assert variant_to_value(ua.Variant(stamp, ua.VariantType.DateTime)) == (
        "2024-05-01T08:30:00+00:00"
    )
    with pytest.raises(TypeError, match="not a scalar"):
        variant_to_value(ua.Variant([1.0, 2.0], ua.VariantType.Double))
    with pytest.raises(TypeError, match="not supported"):
        variant_to_value(ua.Variant(ua.DiagnosticInfo(), ua.VariantType.DiagnosticInfo))


async def test_array_node_is_flattened_into_members(mold_sim) -> None:
    _, host, port = mold_sim
    # Server_NamespaceArray is a String array on every OPC UA server.
    driver = OpcUaDriver(_endpoint(host, port), [OpcUaTag("namespaces", "i=2255")], 2.0)
    await driver.connect()
    try:
        samples = await driver.read()
    finally:
        await driver.close()
    assert [s.tag for s in samples][:3] == ["namespaces[0]", "namespaces[1]", "namespaces[2]"]
    assert samples[0].value == "http://opcfoundation.org/UA/"
    assert samples[2].value == "urn:mingzhou:simulator"


async def test_server_down_raises_connection_error() -> None:
    plant = PLANTS["mold"]
    endpoint = _endpoint("127.0.0.1", free_port())
    with pytest.raises(DriverConnectionError, match="cannot connect to OPC UA"):
        await OpcUaDriver(endpoint, plant.opcua_tags(), timeout=1.0).connect()

    port = free_port()
    sim = OpcUaSimulator(plant, "127.0.0.1", port)
    await sim.start()
    driver = OpcUaDriver(_endpoint("127.0.0.1", port), plant.opcua_tags(), timeout=1.0)
    try:
        await driver.connect()
        assert (await driver.read())[0].quality is Quality.GOOD
        await sim.stop()
        with pytest.raises(DriverConnectionError):
            await driver.read()
    finally:
        await driver.close()
        await sim.stop()
