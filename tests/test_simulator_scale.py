"""The benchmark plant: 2,000 tags served over OPC UA and Modbus, read by our drivers."""

from __future__ import annotations

import pytest

from protocols.modbus_driver import ModbusDriver
from protocols.opcua_driver import OpcUaDriver
from protocols.simulators import create_simulator, scale_plant
from tests.conftest import free_port

TAGS = 2000


def test_values_change_every_second_and_folders_hold_a_thousand() -> None:
    plant = scale_plant(TAGS, "opcua")
    assert plant.points[0].node_id == "ns=2;s=B00.t00000"
    assert plant.points[1999].node_id == "ns=2;s=B01.t01999"
    model = plant.model()
    model.step(10.2)
    first = model.snapshot()
    model.step(10.9)
    assert model.snapshot() == first  # within one second nothing moves
    model.step(11.0)
    changed = sum(first[k] != v for k, v in model.snapshot().items())
    assert changed > 0.9 * TAGS
    with pytest.raises(ValueError, match="65535"):
        scale_plant(70_000, "modbus")


async def test_opcua_driver_reads_all_2000_tags() -> None:
    sim = create_simulator("scale", port=free_port(), tags=TAGS, protocol="opcua")
    await sim.start()
    driver = OpcUaDriver(sim.endpoint, sim.plant.opcua_tags(), timeout=5.0)
    try:
        await driver.connect()
        samples = await driver.read()
        assert len(samples) == TAGS and all(s.error is None for s in samples)
        assert [s.value for s in samples] == [sim.served[("B00" if i < 1000 else "B01",
                                              f"t{i:05d}")] for i in range(TAGS)]  # fmt: skip
    finally:
        await driver.close()
        await sim.stop()


async def test_modbus_driver_reads_all_2000_tags() -> None:
    sim = create_simulator("scale", port=free_port(), tags=TAGS, protocol="modbus")
    await sim.start()
    driver = ModbusDriver("127.0.0.1", sim.port, 1, sim.plant.modbus_tags())
    try:
        sim.frozen = True  # compare one publication exactly
        await driver.connect()
        samples = await driver.read()
        assert len(samples) == TAGS and all(s.error is None for s in samples)
        expected = [sim.served[(p.asset, p.tag)] for p in sim.plant.points]
        assert [s.value for s in samples] == expected
        assert len(set(expected)) > 20  # phases differ: not one constant
    finally:
        await driver.close()
        await sim.stop()


@pytest.mark.parametrize("protocol", ["opcua", "modbus"])
async def test_the_10000_tag_simulator_is_read_whole(protocol: str) -> None:
    """The size the issue names for benchmarks: ten folders of 1,000 nodes, or 10,000 registers."""
    sim = create_simulator("scale", port=free_port(), tags=10_000, protocol=protocol)
    await sim.start()
    if protocol == "opcua":
        driver = OpcUaDriver(sim.endpoint, sim.plant.opcua_tags(), timeout=10.0)
    else:
        driver = ModbusDriver("127.0.0.1", sim.port, 1, sim.plant.modbus_tags())
    try:
        sim.frozen = True
        await driver.connect()
        samples = await driver.read()
        assert len(samples) == 10_000 and all(s.error is None for s in samples)
        expected = [sim.served[(p.asset, p.tag)] for p in sim.plant.points]
        assert [s.value for s in samples] == expected
        assert len({p.asset for p in sim.plant.points}) == 10
    finally:
        await driver.close()
        await sim.stop()
