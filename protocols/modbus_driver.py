"""Modbus TCP driver: reads configured register tags and returns one Sample per tag."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException
from pymodbus.pdu import ModbusPDU

from protocols.errors import DriverConnectionError
from protocols.modbus_plan import MODBUS_MAX_REGISTERS, ReadRequest, plan_reads
from protocols.registers import DATA_TYPES, decode, register_count
from protocols.sample import Quality, Sample, now_ns

log = logging.getLogger(__name__)

# Exception codes from the Modbus application protocol spec, worded for a log line.
_EXCEPTION_TEXT = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge",
    6: "server device busy",
    8: "memory parity error",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}


@dataclass(frozen=True)
class ModbusTag:
    """One value in a device's register map.

    ``address`` is the protocol address starting at 0 (what goes on the wire), not the
    1-based "40001" notation of some manuals.
    """

    name: str
    table: Literal["holding", "input"]
    address: int
    data_type: str
    word_order: Literal["big", "little"] = "big"
    scale: float = 1.0
    offset: float = 0.0
    count: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.table not in ("holding", "input"):
            raise ValueError(f"tag {self.name!r}: table must be 'holding' or 'input'")
        if self.data_type not in DATA_TYPES:
            raise ValueError(
                f"tag {self.name!r}: unknown data type {self.data_type!r} "
                f"(known: {', '.join(DATA_TYPES)})"
            )
        if self.word_order not in ("big", "little"):
            raise ValueError(f"tag {self.name!r}: word_order must be 'big' or 'little'")
        count = register_count(self.data_type)
        if not 0 <= self.address <= 65536 - count:
            raise ValueError(f"tag {self.name!r}: address {self.address} out of 0..65535")
        object.__setattr__(self, "count", count)


@dataclass(frozen=True)
class _Slot:
    """A tag and its position in the driver's tag list, as the planner sees it."""

    index: int
    tag: ModbusTag

    @property
    def table(self) -> Literal["holding", "input"]:
        return self.tag.table

    @property
    def address(self) -> int:
        return self.tag.address

    @property
    def count(self) -> int:
        return self.tag.count


class ModbusDriver:
    """Polls one Modbus TCP device (one unit id) for a fixed list of tags.

    ``read()`` returns one Sample per tag in the order the tags were given.

    The reads are planned once (see :mod:`protocols.modbus_plan`). pymodbus's own
    reconnect and retries are switched off: the edge agent owns reconnect with backoff,
    and a retry hidden in here would stretch a poll cycle past its interval.
    """

    def __init__(
        self,
        host: str,
        port: int,
        unit_id: int,
        tags: Sequence[ModbusTag],
        timeout: float = 3.0,
        max_gap: int = 0,
        max_registers: int = MODBUS_MAX_REGISTERS,
    ) -> None:
        self.host = host
        self.port = port
        self.unit_id = unit_id
        self.tags = list(tags)
        self.timeout = timeout
        # Tag names may repeat across assets (two machines both have ``melt_temp``), so
        # the plan carries each tag's position and samples come back in config order.
        self.requests: list[ReadRequest] = plan_reads(
            [_Slot(i, t) for i, t in enumerate(self.tags)], max_gap, max_registers
        )
        self._client: AsyncModbusTcpClient | None = None

    @property
    def endpoint(self) -> str:
        """Where this driver reads from, for log lines and error messages."""
        return f"{self.host}:{self.port} unit {self.unit_id}"

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.connected

    async def connect(self) -> None:
        """Open the TCP connection; raises DriverConnectionError when it cannot."""
        await self.close()
        client = AsyncModbusTcpClient(
            self.host,
            port=self.port,
            timeout=self.timeout,
            retries=0,
            reconnect_delay=0,  # 0 turns pymodbus's background reconnect off
            name=f"modbus {self.endpoint}",
        )
        try:
            ok = await client.connect()
        except (OSError, ModbusException, TimeoutError) as exc:
            client.close()
            raise DriverConnectionError(f"cannot connect to Modbus {self.endpoint}: {exc}") from exc
        if not ok:
            client.close()
            raise DriverConnectionError(
                f"cannot connect to Modbus {self.endpoint}: connection refused or timed out"
            )
        self._client = client

    async def close(self) -> None:
        """Close the connection; safe to call more than once."""
        if self._client is not None:
            self._client.close()
            self._client = None

    async def read(self) -> list[Sample]:
        """Read every tag once, in configuration order, stamped with the read's start.

        A Modbus exception for one request turns its tags into BAD samples and the other
        requests still run; a broken connection raises DriverConnectionError.
        """
        client = self._client
        if client is None or not client.connected:
            raise DriverConnectionError(f"not connected to Modbus {self.endpoint}")
        started = now_ns()
        samples: list[Sample | None] = [None] * len(self.tags)
        for request in self.requests:
            response = await self._send(client, request)
            slot: _Slot
            if response.isError():
                for slot in request.tags:
                    samples[slot.index] = self._bad(slot.tag, started, response.exception_code)
                continue
            registers = response.registers
            for slot in request.tags:
                start = slot.address - request.address
                chunk = registers[start : start + slot.count]
                samples[slot.index] = self._decode(slot.tag, chunk, started)
        return [s for s in samples if s is not None]

    async def _send(self, client: AsyncModbusTcpClient, request: ReadRequest) -> ModbusPDU:
        reader = (
            client.read_holding_registers
            if request.table == "holding"
            else client.read_input_registers
        )
        try:
            return await reader(request.address, count=request.count, device_id=self.unit_id)
        except (OSError, ModbusException, TimeoutError) as exc:
            await self.close()
            raise DriverConnectionError(
                f"Modbus {self.endpoint}: reading {request.count} {request.table} registers "
                f"at {request.address} failed: {exc}"
            ) from exc

    def _bad(self, tag: ModbusTag, timestamp_ns: int, code: int) -> Sample:
        text = _EXCEPTION_TEXT.get(code, f"exception code {code}")
        return Sample(
            tag=tag.name,
            value=None,
            timestamp_ns=timestamp_ns,
            quality=Quality.BAD,
            error=(
                f"tag {tag.name!r}: {text} at {tag.table} register {tag.address} "
                f"(device {self.endpoint})"
            ),
        )

    def _decode(self, tag: ModbusTag, registers: list[int], timestamp_ns: int) -> Sample:
        try:
            value = decode(registers, tag.data_type, tag.word_order, tag.scale, tag.offset)
        except (ValueError, ModbusException) as exc:
            # A short response is a device bug; report it on the tag, keep the rest.
            return Sample(
                tag.name,
                None,
                timestamp_ns,
                Quality.BAD,
                f"tag {tag.name!r}: cannot decode {tag.data_type} at {tag.table} register "
                f"{tag.address} (device {self.endpoint}): {exc}",
            )
        return Sample(tag.name, value, timestamp_ns)
