"""Modbus driver: reads a device's tags as one Sample each, and writes setpoints.

TCP, RTU over TCP and RTU on a serial line (see :mod:`protocols.modbus_transport`);
the request policy is in :mod:`protocols.modbus_connection`, the read plan in
:mod:`protocols.modbus_plan`.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pymodbus.pdu import ModbusPDU

from protocols.errors import DriverConnectionError
from protocols.modbus_connection import Client, ConnectionPool, RequestPolicy
from protocols.modbus_errors import (
    ILLEGAL_DATA_ADDRESS,
    REFUSED_RANGE_CODES,
    DeviceUnavailableError,
    ModbusWriteError,
    exception_text,
)
from protocols.modbus_plan import (
    MODBUS_MAX_BITS,
    MODBUS_MAX_REGISTERS,
    ReadRequest,
    plan_reads,
    split_request,
    touches_refused,
)
from protocols.modbus_probe import RangeReader, find_refused
from protocols.modbus_request_decoder import RequestDecoder
from protocols.modbus_shared_line import SharedLinePool, shares_a_line
from protocols.modbus_tag import BIT_TABLES, TABLE_NOUNS, ModbusTag
from protocols.modbus_transport import ModbusEndpoint, SerialSettings, Transport
from protocols.registers import Value
from protocols.sample import Quality, Sample, now_ns

__all__ = ["ModbusDriver", "ModbusTag"]

log = logging.getLogger(__name__)

# fc 15 / 16 carry at most 1968 coils or 123 registers (the PDU's 253-byte limit).
MAX_WRITE_BITS = 1968
MAX_WRITE_REGISTERS = 123


@dataclass(frozen=True)
class _Slot:
    """A tag and its position in the driver's tag list, as the planner sees it."""

    index: int
    tag: ModbusTag

    @property
    def table(self) -> str:
        return self.tag.table

    @property
    def address(self) -> int:
        return self.tag.address

    @property
    def count(self) -> int:
        return self.tag.count


_READERS = {
    "holding": "read_holding_registers",
    "input": "read_input_registers",
    "coil": "read_coils",
    "discrete": "read_discrete_inputs",
}


def _read_call(table: str, address: int, count: int, unit_id: int):
    """The pymodbus call that reads ``count`` of ``table`` at ``address``."""
    method = _READERS[table]

    def call(client: Client):
        return getattr(client, method)(address, count=count, device_id=unit_id)

    return call


class ModbusDriver:
    """Polls one Modbus device (one unit id) for a fixed list of tags.

    ``read()`` returns one Sample per tag in the order the tags were given.

    Reads are planned once and re-planned when the device refuses an address: the
    refused read is split until the bad tags are isolated, the refused addresses are
    remembered until the next ``connect()``, and no later request spans them.

    Degradation: after ``degrade_after`` failed read cycles in a row, the error raised
    carries ``retry_after`` seconds (doubling from ``interval`` up to
    ``max_degraded_interval``) so the poller asks a dead device less and less often.
    """

    def __init__(
        self,
        host: str,
        port: int = 502,
        unit_id: int = 1,
        tags: Sequence[ModbusTag] = (),
        timeout: float = 3.0,
        max_gap: int = 0,
        max_registers: int = MODBUS_MAX_REGISTERS,
        *,
        transport: Transport = "tcp",
        serial: SerialSettings | None = None,
        max_bits: int = MODBUS_MAX_BITS,
        retries: int = 0,
        retry_backoff: float = 0.2,
        request_pause: float = 0.0,
        max_concurrent: int = 1,
        interval: float = 1.0,
        degrade_after: int = 3,
        max_degraded_interval: float = 60.0,
    ) -> None:
        self.target = ModbusEndpoint(transport, host, port, unit_id, serial)
        self.unit_id = unit_id
        self.tags = list(tags)
        self.policy = RequestPolicy(timeout, retries, retry_backoff, request_pause, max_concurrent)
        self.max_gap = max_gap
        self.max_registers = max_registers
        self.max_bits = max_bits
        self.interval = interval
        self.degrade_after = degrade_after
        self.max_degraded_interval = max_degraded_interval
        self.failed_cycles = 0
        # Tag names may repeat across assets (two machines both have ``melt_temp``), so
        # the plan carries each tag's position and samples come back in config order.
        self._slots = [_Slot(i, t) for i, t in enumerate(self.tags)]
        self.refused: dict[str, set[int]] = {}
        self._refusal_codes: dict[int, int] = {}  # slot index -> the code that refused it
        self.requests: list[ReadRequest] = []
        self._blocked: list[_Slot] = []
        # Tag groups read on schedules of their own: each group's plan, by tag positions.
        self._group_plans: dict[tuple[int, ...], list[ReadRequest]] = {}
        self._calls: dict[tuple[str, int, int], tuple[str, Any]] = {}
        self._replan()
        self._pool: ConnectionPool | SharedLinePool = (
            SharedLinePool(self.target, self.policy)
            if shares_a_line(self.target)
            else ConnectionPool(self.target, self.policy)
        )

    @property
    def endpoint(self) -> str:
        """Where this driver reads from, for log lines and error messages."""
        return str(self.target)

    @property
    def connected(self) -> bool:
        return self._pool.connected

    @property
    def read_timeout(self) -> float:
        """The longest one ``read()`` may take before the driver itself gives up."""
        return self.policy.worst_case(max(1, len(self.requests)))

    def retry_after(self) -> float | None:
        """Seconds to wait before the next attempt when degraded, else None."""
        excess = self.failed_cycles - self.degrade_after
        if excess < 0:
            return None
        return min(self.max_degraded_interval, self.interval * 2 ** (excess + 1))

    async def connect(self) -> None:
        """Open the connection; raises DriverConnectionError when it cannot.

        Refused addresses are forgotten: the device behind the address may have been
        reprogrammed while we were away.
        """
        await self.close()
        try:
            await self._pool.open()
        except DriverConnectionError as exc:
            self.failed_cycles += 1
            raise DeviceUnavailableError(str(exc), self.retry_after()) from exc
        if self.refused:
            self.refused = {}
            self._refusal_codes = {}
            self._replan()

    async def close(self) -> None:
        """Close the connection; safe to call more than once."""
        self._pool.close()

    async def read(self, indices: Sequence[int] | None = None) -> list[Sample]:
        """Read every tag once (or the tags at ``indices``: a tag group), in configuration
        order, stamped with the read's start.

        A Modbus exception for one request turns only its truly bad tags into BAD
        samples; a device that does not answer raises DeviceUnavailableError.
        """
        if not self._pool.connected:
            raise DriverConnectionError(f"not connected to Modbus {self.endpoint}")
        started = now_ns()
        samples: list[Sample | None] = [None] * len(self.tags)
        wanted = None if indices is None else set(indices)
        for slot in self._blocked:
            if wanted is None or slot.index in wanted:
                code = self._refusal_codes.get(slot.index, ILLEGAL_DATA_ADDRESS)
                samples[slot.index] = self._bad(slot.tag, started, code)
        learned = refused = False
        pool = self._pool
        try:
            # Straight to the pool and back, no helper coroutines in between: every await
            # layer costs on each request of each poll (the benchmark counts it).
            for request in self._requests_for(indices):
                response = await pool.request(*self._prepared(request))
                if response.isError():
                    refused = True
                    learned |= await self._refused(request, response, started, samples)
                else:
                    self._fill(request, response, started, samples)
        except DeviceUnavailableError as exc:
            self.failed_cycles += 1
            await self.close()
            raise DeviceUnavailableError(str(exc), self.retry_after()) from exc
        self.failed_cycles = 0
        if learned:
            self._replan()
        if indices is None and not refused:
            # Every tag is in a planned request or blocked, and an answered request fills
            # all of its tags: nothing to leave out.
            return samples  # type: ignore[return-value]
        return [s for s in samples if s is not None]

    def _prepared(self, request: ReadRequest) -> tuple[str, Any]:
        """What to call a read in messages, and the pymodbus call that sends it."""
        key = (request.table, request.address, request.count)
        prepared = self._calls.get(key)
        if prepared is None:
            # Built once per distinct request: every poll sends the same few.
            table, address, count = key
            prepared = self._calls[key] = (
                f"reading {count} {TABLE_NOUNS[table]}s at {address}",
                _read_call(table, address, count, self.target.unit_id),
            )
        return prepared

    async def _send_read(self, table: str, address: int, count: int) -> ModbusPDU:
        return await self._pool.request(*self._prepared(ReadRequest(table, address, count)))

    async def _refused(
        self,
        request: ReadRequest,
        response: ModbusPDU,
        started: int,
        samples: list[Sample | None],
    ) -> bool:
        """An exception answer to a planned read; True when it taught us a refusal."""
        code = response.exception_code
        if code not in REFUSED_RANGE_CODES:
            for slot in request.tags:
                samples[slot.index] = self._bad(slot.tag, started, code)
            return False
        await self._isolate(request, code, started, samples)
        return True

    async def _isolate(
        self, request: ReadRequest, code: int, started: int, samples: list[Sample | None]
    ) -> None:
        """``request`` was refused: split it until the refused tags and addresses are known."""
        parts = split_request(request)
        if len(parts) == 1:
            await self._refuse_tags(request, code, started, samples)
            return
        answered = []
        for part in parts:
            response = await self._send_read(part.table, part.address, part.count)
            if not response.isError():
                self._fill(part, response, started, samples)
                answered.append(part)
            elif response.exception_code in REFUSED_RANGE_CODES:
                await self._isolate(part, response.exception_code, started, samples)
            else:
                for slot in part.tags:
                    samples[slot.index] = self._bad(slot.tag, started, response.exception_code)
        if len(answered) == len(parts):
            # Both halves read: the refusal lay between them, or the device refuses
            # requests that long. Probe the gap; if it holds no refused address, the
            # request size was the problem and the device's limit is lower than ours.
            gap_start, gap_end = parts[0].end, parts[1].address
            refused = []
            if gap_end > gap_start:
                refused = await find_refused(
                    self.probe_reader(request.table), gap_start, gap_end - gap_start
                )
            if refused:
                self.refused.setdefault(request.table, set()).update(refused)
            else:
                self._lower_limit(request.table, max(p.count for p in parts))

    async def _refuse_tags(
        self, request: ReadRequest, code: int, started: int, samples: list[Sample | None]
    ) -> None:
        """One tag (or overlapping tags) refused on its own: BAD, and remember where."""
        refused = await find_refused(
            self.probe_reader(request.table), request.address, request.count
        )
        # A device may refuse part of a value only as a whole; then the whole is refused.
        addresses = refused or range(request.address, request.end)
        self.refused.setdefault(request.table, set()).update(addresses)
        for slot in request.tags:
            self._refusal_codes[slot.index] = code
            samples[slot.index] = self._bad(slot.tag, started, code)

    def probe_reader(self, table: str) -> RangeReader:
        """Reads of ``table`` that return the exception code, or None when answered."""

        async def read(address: int, count: int) -> int | None:
            response = await self._send_read(table, address, count)
            return response.exception_code if response.isError() else None

        return read

    def _lower_limit(self, table: str, limit: int) -> None:
        if table in BIT_TABLES:
            self.max_bits = min(self.max_bits, limit)
        else:
            self.max_registers = min(self.max_registers, limit)
        log.info(
            "Modbus %s refuses long reads of %ss: now at most %d per request",
            self.endpoint,
            TABLE_NOUNS[table],
            limit,
        )

    def _replan(self) -> None:
        self._blocked = [s for s in self._slots if touches_refused(s, self.refused)]
        self.requests = self._plan(self._slots)
        for key in self._group_plans:
            self._group_plans[key] = self._plan([self._slots[i] for i in key])
        every = [r for plan in (self.requests, *self._group_plans.values()) for r in plan]
        self._decoders = {id(r): RequestDecoder(r.table, r.address, r.count, r.tags) for r in every}

    def _plan(self, slots: list[_Slot]) -> list[ReadRequest]:
        return plan_reads(
            slots, self.max_gap, self.max_registers, max_bits=self.max_bits, refused=self.refused
        )

    def _requests_for(self, indices: Sequence[int] | None) -> list[ReadRequest]:
        """The plan for a group of tags (by position), made once and kept with the others."""
        if indices is None:
            return self.requests
        key = tuple(indices)
        plan = self._group_plans.get(key)
        if plan is None:
            plan = self._group_plans[key] = self._plan([self._slots[i] for i in key])
            for r in plan:
                self._decoders[id(r)] = RequestDecoder(r.table, r.address, r.count, r.tags)
        return plan

    def _fill(
        self, request: ReadRequest, response: ModbusPDU, started: int, samples: list[Sample | None]
    ) -> None:
        words = response.bits if request.table in BIT_TABLES else response.registers
        # The hot path of every poll (the benchmark holds it against hand-written struct
        # code): planned requests have a precompiled decoder; the parts of a split request
        # are rare and get one made for them.
        decoder = self._decoders.get(id(request)) or RequestDecoder(
            request.table, request.address, request.count, request.tags
        )
        try:
            decoder.fill(words, started, samples)
        except (struct.error, ValueError, IndexError):
            # A short or odd response: decode tag by tag so only the bad ones say so.
            base = request.address
            for slot in request.tags:
                start = slot.tag.address - base
                chunk = words[start : start + slot.tag.count]
                samples[slot.index] = self._decode(slot.tag, chunk, started)

    def _bad(self, tag: ModbusTag, timestamp_ns: int, code: int) -> Sample:
        return Sample(
            tag=tag.name,
            value=None,
            timestamp_ns=timestamp_ns,
            quality=Quality.BAD,
            error=(
                f"tag {tag.name!r}: {exception_text(code)} at {tag.where} (device {self.endpoint})"
            ),
        )

    def _decode(self, tag: ModbusTag, words: list, timestamp_ns: int) -> Sample:
        try:
            return Sample(tag.name, tag.decode(words), timestamp_ns)
        except (ValueError, IndexError) as exc:
            # A short response is a device bug; report it on the tag, keep the rest.
            return Sample(
                tag.name,
                None,
                timestamp_ns,
                Quality.BAD,
                f"tag {tag.name!r}: cannot decode {tag.data_type} at {tag.where} "
                f"(device {self.endpoint}): {exc}",
            )

    # --- writes (setpoints) ---------------------------------------------------------

    async def write(self, tag: ModbusTag, value: Value) -> None:
        """Write one value with the tag's encoding.

        A coil goes as fc 5, a one-register value as fc 6, anything longer as fc 16.
        Raises ModbusWriteError when the device refuses, DeviceUnavailableError when it
        does not answer, ValueError for a value the tag cannot hold.
        """
        words = self._writable(tag, value)
        unit = self.target.unit_id
        if tag.table == "coil":

            def call(client: Client):
                return client.write_coil(tag.address, bool(words[0]), device_id=unit)
        elif len(words) == 1:

            def call(client: Client):
                return client.write_register(tag.address, int(words[0]), device_id=unit)
        else:

            def call(client: Client):
                return client.write_registers(tag.address, list(words), device_id=unit)

        response = await self._pool.request(f"writing {tag.where}", call)
        if response.isError():
            raise self._write_error([tag], response.exception_code)

    async def write_many(self, values: Sequence[tuple[ModbusTag, Value]]) -> None:
        """Write several values, contiguous ones of a table in one fc 15 / fc 16 request."""
        encoded = sorted(
            ((tag, self._writable(tag, value)) for tag, value in values),
            key=lambda item: (item[0].table, item[0].address),
        )
        groups: list[tuple[str, int, list, list[ModbusTag]]] = []
        for tag, words in encoded:
            limit = MAX_WRITE_BITS if tag.table == "coil" else MAX_WRITE_REGISTERS
            last = groups[-1] if groups else None
            if (
                last is not None
                and last[0] == tag.table
                and last[1] + len(last[2]) == tag.address
                and len(last[2]) + len(words) <= limit
            ):
                last[2].extend(words)
                last[3].append(tag)
            else:
                groups.append((tag.table, tag.address, list(words), [tag]))
        unit = self.target.unit_id
        for table, address, words, tags in groups:

            def call(client: Client, t=table, a=address, w=words):
                if t == "coil":
                    return client.write_coils(a, [bool(x) for x in w], device_id=unit)
                return client.write_registers(a, [int(x) for x in w], device_id=unit)

            what = f"writing {len(words)} {TABLE_NOUNS[table]}s at {address}"
            response = await self._pool.request(what, call)
            if response.isError():
                raise self._write_error(tags, response.exception_code)

    def _writable(self, tag: ModbusTag, value: Value) -> list:
        if tag.table not in ("coil", "holding"):
            raise ValueError(f"tag {tag.name!r}: {TABLE_NOUNS[tag.table]}s are read-only")
        return tag.encode(value)

    def _write_error(self, tags: list[ModbusTag], code: int) -> ModbusWriteError:
        names = ", ".join(repr(t.name) for t in tags)
        return ModbusWriteError(
            f"tag {names}: {exception_text(code)} writing {tags[0].where} (device {self.endpoint})",
            code,
        )
