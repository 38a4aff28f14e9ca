"""A device whose map has holes: merged reads are split, the holes learned, only bad tags BAD."""

from __future__ import annotations

import asyncio

from pymodbus.constants import ExcCodes
from pymodbus.simulator import DataType, SimData

from protocols.modbus_driver import ModbusDriver, ModbusTag
from protocols.modbus_probe import answered_ranges
from protocols.sample import Quality
from tests.modbus_servers import HOST, RequestLog, device, tcp_server


def _holey_map() -> list[SimData]:
    """Registers 0..9 and 14..29 answer; 10..13 and 22 (inside a float32 tag) do not."""
    return [
        SimData(address=0, values=list(range(100, 110)), datatype=DataType.REGISTERS),
        SimData(address=10, count=4, datatype=DataType.INVALID),
        SimData(address=14, values=list(range(114, 122)), datatype=DataType.REGISTERS),
        SimData(address=22, count=1, datatype=DataType.INVALID),
        SimData(address=23, values=list(range(123, 130)), datatype=DataType.REGISTERS),
    ]


TAGS = [
    ModbusTag("a", "holding", 0, "uint16"),
    ModbusTag("b", "holding", 8, "uint16"),
    ModbusTag("in_hole", "holding", 11, "uint16"),  # a tag the device does not have
    ModbusTag("c", "holding", 15, "uint16"),
    ModbusTag("straddles", "holding", 21, "uint32"),  # 21 answers, 22 does not
    ModbusTag("d", "holding", 25, "uint16"),
]


async def test_merged_read_over_holes_is_split_and_remembered() -> None:
    log = RequestLog()
    async with tcp_server(device(_holey_map(), log=log)) as port:
        driver = ModbusDriver(HOST, port, 1, TAGS, timeout=2.0, max_gap=20)
        assert [(r.address, r.count) for r in driver.requests] == [(0, 26)]
        await driver.connect()
        try:
            first = await driver.read()
            planned = [(r.address, r.count) for r in driver.requests]
            log.requests.clear()
            second = await driver.read()
        finally:
            await driver.close()

    for samples in (first, second):
        values = {s.tag: s.value for s in samples if s.quality is Quality.GOOD}
        assert values == {"a": 100, "b": 108, "c": 115, "d": 125}
        errors = {s.tag: s.error for s in samples if s.quality is Quality.BAD}
        assert errors == {
            "in_hole": f"tag 'in_hole': illegal data address at holding register 11 "
            f"(device {HOST}:{port} unit 1)",
            "straddles": f"tag 'straddles': illegal data address at holding register 21 "
            f"(device {HOST}:{port} unit 1)",
        }
    assert driver.refused == {"holding": {11, 22}}
    # The re-plan never spans 11 or 22, and asks nothing for the two bad tags.
    assert planned == [(0, 9), (15, 1), (25, 1)]
    # The second cycle is those three reads, every one answered.
    assert log.reads(3) == planned


async def test_device_that_refuses_long_reads_gets_shorter_ones() -> None:
    async def at_most_ten(function_code: int, address: int, count: int) -> ExcCodes | None:
        return ExcCodes.ILLEGAL_VALUE if count > 10 else None

    log = RequestLog(hook=at_most_ten)
    holding = [SimData(address=0, values=list(range(40)), datatype=DataType.REGISTERS)]
    tags = [ModbusTag(f"r{i}", "holding", i, "uint16") for i in range(0, 40, 2)]
    async with tcp_server(device(holding, log=log)) as port:
        driver = ModbusDriver(HOST, port, 1, tags, timeout=2.0, max_gap=1)
        await driver.connect()
        try:
            first = await driver.read()
            second = await driver.read()
        finally:
            await driver.close()
    for samples in (first, second):
        assert [s.value for s in samples] == list(range(0, 40, 2))
    assert driver.refused == {}
    assert all(r.count <= 10 for r in driver.requests)


async def test_other_exception_codes_name_tag_and_address() -> None:
    async def busy(function_code: int, address: int, count: int) -> ExcCodes | None:
        return ExcCodes.DEVICE_BUSY if address >= 5 else None

    holding = [SimData(address=0, values=list(range(10)), datatype=DataType.REGISTERS)]
    tags = [ModbusTag("ok", "holding", 0, "uint16"), ModbusTag("busy", "holding", 6, "int16")]
    async with tcp_server(device(holding, log=RequestLog(hook=busy))) as port:
        driver = ModbusDriver(HOST, port, 1, tags, timeout=2.0)
        await driver.connect()
        try:
            ok, bad = await driver.read()
        finally:
            await driver.close()
    assert ok.value == 0
    assert bad.error == (
        f"tag 'busy': server device busy at holding register 6 (device {HOST}:{port} unit 1)"
    )
    assert driver.refused == {}  # busy is not a hole: asked again next cycle


async def test_probe_finds_answered_ranges() -> None:
    async with tcp_server(device(_holey_map())) as port:
        driver = ModbusDriver(HOST, port, 1, [], timeout=2.0)
        await driver.connect()
        try:
            reader = driver.probe_reader("holding")
            ranges = await answered_ranges(reader, 0, 39, 125)
        finally:
            await driver.close()
    assert [(r.first, r.last) for r in ranges] == [(0, 9), (14, 21), (23, 29)]


def test_browse_command_prints_ranges_and_writes_a_config(tmp_path) -> None:
    """The CLI runs its own event loop, so the server runs in a thread of its own."""
    import threading

    import yaml
    from typer.testing import CliRunner

    from edge_agent.config import parse_config
    from edge_agent.config_source import SourceMap
    from mingzhou.cli import app

    ready, stop, ports = threading.Event(), threading.Event(), []

    def serve() -> None:
        async def main() -> None:
            async with tcp_server(device(_holey_map())) as port:
                ports.append(port)
                ready.set()
                while not stop.is_set():
                    await asyncio.sleep(0.02)

        asyncio.run(main())

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        assert ready.wait(10)
        out = tmp_path / "device.yaml"
        result = CliRunner().invoke(
            app,
            [
                "browse",
                "modbus",
                f"{HOST}:{ports[0]}",
                "--range",
                "0-39",
                "--write-config",
                str(out),
            ],
        )
    finally:
        stop.set()
        thread.join()
    assert result.exit_code == 0, result.output
    assert "holding 0-9 (10 registers)\nholding 14-21 (8 registers)\nholding 23-29" in result.output
    section = yaml.safe_load(out.read_text())
    assert len(section["devices"][0]["tags"]) == 25
    config = {
        "agent": {"name": "edge", "site": "s"},
        **section,
        "outputs": [{"type": "sqlite", "path": "x.db"}],
    }
    parse_config(config, SourceMap(str(out), {}))
