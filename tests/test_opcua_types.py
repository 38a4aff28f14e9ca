"""Values, statuses and timestamps from a server unlike the simulator: every common
scalar type, arrays, a custom structure, an undecodable one and non-Good statuses."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from asyncua import ua

from protocols.opcua_driver import OpcUaDriver, OpcUaTag
from protocols.opcua_types import MAX_ARRAY_ELEMENTS, flatten, split_member, variant_to_value
from protocols.sample import Quality, Sample
from tests.conftest import free_port
from tests.opcua_servers import STAMP, TEST_NAMESPACE, add_press, build_server

NSU = f"nsu={TEST_NAMESPACE};s=Press1."

# One server for the module: starting asyncua's standard address space takes seconds.
module_loop = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def press() -> AsyncIterator[str]:
    """A started press server; yields its endpoint."""
    port = free_port()
    server, ns = await build_server(port)
    await add_press(server, ns)
    await server.start()
    try:
        yield f"opc.tcp://127.0.0.1:{port}/press/"
    finally:
        await server.stop()


async def _read(endpoint: str, tags: list[OpcUaTag], **kwargs: object) -> dict[str, Sample]:
    driver = OpcUaDriver(endpoint, tags, timeout=3.0, **kwargs)  # type: ignore[arg-type]
    await driver.connect()
    try:
        return {s.tag: s for s in await driver.read()}
    finally:
        await driver.close()


SCALARS = {
    "Running": True,
    "SByte": -5,
    "Byte": 250,
    "Int16": -300,
    "UInt16": 60000,
    "Int32": -70000,
    "UInt32": 4_000_000_000,
    "Int64": -(2**40),
    "UInt64": 2**63 + 5,
    "Float": 1.5,
    "Double": 2.25,
    "Text": "pressing",
    "LastService": "2024-05-01T08:30:00+00:00",
}


@module_loop
async def test_every_common_scalar_type(press: str) -> None:
    samples = await _read(press, [OpcUaTag(n, NSU + n) for n in SCALARS])
    for name, expected in SCALARS.items():
        sample = samples[name]
        assert sample.quality is Quality.GOOD and sample.status == "Good", sample
        assert sample.value == expected and type(sample.value) is type(expected), name


@module_loop
async def test_bytestring_and_long_arrays_are_clear_per_tag_errors(press: str) -> None:
    tags = [OpcUaTag("blob", NSU + "Blob"), OpcUaTag("wave", NSU + "Waveform"),
            OpcUaTag("double", NSU + "Double")]  # fmt: skip
    samples = await _read(press, tags)
    assert samples["blob"].quality is Quality.BAD
    assert "ByteString (2 bytes) is binary and is not stored" in samples["blob"].error
    assert samples["blob"].error.startswith("tag 'blob' (nsu=")
    assert samples["wave"].quality is Quality.BAD
    assert f"array of 1000 elements is longer than {MAX_ARRAY_ELEMENTS}" in samples["wave"].error
    assert samples["double"].value == 2.25  # the neighbours still read


@module_loop
async def test_arrays_are_flattened_into_indexed_members(press: str) -> None:
    samples = await _read(press, [OpcUaTag("zone_temp", NSU + "ZoneTemps")])
    assert {k: s.value for k, s in samples.items()} == {
        "zone_temp[0]": 180.0,
        "zone_temp[1]": 185.5,
        "zone_temp[2]": 190.25,
    }


@module_loop
async def test_custom_structure_is_decoded_into_fields(press: str) -> None:
    samples = await _read(
        press, [OpcUaTag("recipe", NSU + "Recipe"), OpcUaTag("opaque", NSU + "Opaque")]
    )
    values = {k: s.value for k, s in samples.items() if s.quality is Quality.GOOD}
    assert values == {
        "recipe.Setpoint": 812.5,
        "recipe.Tool": "T-17",
        "recipe.Strokes[0]": 3,
        "recipe.Strokes[1]": 4,
    }
    opaque = samples["opaque"]
    assert opaque.quality is Quality.BAD and "could not be decoded" in opaque.error


@module_loop
async def test_status_names_travel_with_samples(press: str) -> None:
    samples = await _read(
        press, [OpcUaTag("drift", NSU + "Drifting"), OpcUaTag("fault", NSU + "SensorFault")]
    )
    drift, fault = samples["drift"], samples["fault"]
    assert drift.quality is Quality.UNCERTAIN and drift.value == 7.0
    assert drift.status == "UncertainLastUsableValue"
    assert fault.quality is Quality.BAD and fault.value is None
    assert fault.status == "BadSensorFailure" and "BadSensorFailure" in fault.error


@module_loop
async def test_timestamp_source_server_or_agent(press: str) -> None:
    tag = [OpcUaTag("drift", NSU + "Drifting")]
    stamp_ns = int(STAMP.timestamp()) * 1_000_000_000
    assert (await _read(press, tag, timestamp="source"))["drift"].timestamp_ns == stamp_ns
    assert (await _read(press, tag, timestamp="server"))["drift"].timestamp_ns == stamp_ns
    # The agent's clock: the time of the read, certainly after 2024.
    assert (await _read(press, tag))["drift"].timestamp_ns > stamp_ns
    # A value written without an explicit source time still has the server's.
    running = (await _read(press, [OpcUaTag("run", NSU + "Running")], timestamp="source"))["run"]
    assert running.timestamp_ns > stamp_ns


def test_conversion_without_a_server() -> None:
    assert (
        variant_to_value(ua.Variant(ua.LocalizedText("Auto"), ua.VariantType.LocalizedText))
        == "Auto"
    )
    assert variant_to_value(ua.Variant(dt.datetime(2024, 5, 1), ua.VariantType.DateTime)) == (
        "2024-05-01T00:00:00+00:00"
    )
    assert [(m.suffix, m.value) for m in flatten([[1, 2], [3, 4]])] == [
        ("[0][0]", 1), ("[0][1]", 2), ("[1][0]", 3), ("[1][1]", 4)
    ]  # fmt: skip
    with pytest.raises(TypeError, match="empty"):
        flatten([])


def test_split_member_takes_the_longest_configured_name() -> None:
    known = {"ST-01.recipe", "ST-01.recipe.v2"}
    assert split_member("ST-01.recipe.Setpoint", known) == ("ST-01.recipe", ".Setpoint")
    assert split_member("ST-01.recipe.v2[3]", known) == ("ST-01.recipe.v2", "[3]")
    assert split_member("ST-02.other", known) is None
