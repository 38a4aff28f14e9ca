"""Which Modbus read requests to send for a set of tags: as few as the limits allow."""

from __future__ import annotations

import bisect
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

# The Modbus spec caps one read at 125 registers (fc 3, 4) or 2000 bits (fc 1, 2).
MODBUS_MAX_REGISTERS = 125
MODBUS_MAX_BITS = 2000
BIT_TABLES = frozenset({"coil", "discrete"})

# Addresses a device refused, per table; the planner never lets one request span them.
Refused = Mapping[str, Collection[int]]


class AddressedTag(Protocol):
    """What the planner needs from a tag: where it is and how many registers it spans."""

    @property
    def table(self) -> str: ...

    @property
    def address(self) -> int: ...

    @property
    def count(self) -> int: ...


@dataclass
class ReadRequest:
    """One read request on the wire and the tags it serves."""

    table: str
    address: int
    count: int
    tags: list[Any] = field(default_factory=list)

    @property
    def end(self) -> int:
        """First address after this request."""
        return self.address + self.count


def span(table: str, tags: list[Any]) -> ReadRequest:
    """The smallest request that covers ``tags`` (all of one table)."""
    start = min(t.address for t in tags)
    end = max(t.address + t.count for t in tags)
    return ReadRequest(table, start, end - start, list(tags))


def touches_refused(tag: AddressedTag, refused: Refused) -> bool:
    """True when the tag itself covers an address the device refused."""
    addresses = refused.get(tag.table)
    return bool(addresses) and _first_in(sorted(addresses), tag.address, tag.address + tag.count)


def _first_in(sorted_addresses: list[int], start: int, end: int) -> bool:
    i = bisect.bisect_left(sorted_addresses, start)
    return i < len(sorted_addresses) and sorted_addresses[i] < end


def plan_reads(
    tags: Iterable[AddressedTag],
    max_gap: int = 0,
    max_registers: int = MODBUS_MAX_REGISTERS,
    *,
    max_bits: int = MODBUS_MAX_BITS,
    refused: Refused | None = None,
) -> list[ReadRequest]:
    """Group tags into read requests, per table, in address order.

    Two neighbouring ranges merge when the addresses between them number at most
    ``max_gap`` (reading a few unused registers is cheaper than another round trip),
    the merged request stays within ``max_registers`` (``max_bits`` for coils and
    discrete inputs), and no address in between was ``refused`` by the device. Tags
    that themselves cover a refused address are left out: the caller reports them.
    Overlapping tags always share a request when it fits.
    """
    if max_gap < 0:
        raise ValueError("max_gap must be >= 0")
    if not 1 <= max_registers <= MODBUS_MAX_REGISTERS:
        raise ValueError(f"max_registers must be within 1..{MODBUS_MAX_REGISTERS}")
    if not 1 <= max_bits <= MODBUS_MAX_BITS:
        raise ValueError(f"max_bits must be within 1..{MODBUS_MAX_BITS}")
    refused = refused or {}
    requests: list[ReadRequest] = []
    by_table: dict[str, list[AddressedTag]] = {}
    for tag in tags:
        limit = max_bits if tag.table in BIT_TABLES else max_registers
        if tag.count > limit:
            raise ValueError(f"a tag of {tag.count} registers exceeds max_registers ({limit})")
        by_table.setdefault(tag.table, []).append(tag)
    for table in sorted(by_table):
        limit = max_bits if table in BIT_TABLES else max_registers
        barriers = sorted(refused.get(table, ()))
        current: ReadRequest | None = None
        for tag in sorted(by_table[table], key=lambda t: (t.address, t.count)):
            tag_end = tag.address + tag.count
            if barriers and _first_in(barriers, tag.address, tag_end):
                continue
            if current is not None:
                gap = tag.address - current.end
                merged_end = max(current.end, tag_end)
                if (
                    gap <= max_gap
                    and merged_end - current.address <= limit
                    and not (barriers and _first_in(barriers, current.end, tag.address))
                ):
                    current.count = merged_end - current.address
                    current.tags.append(tag)
                    continue
            current = ReadRequest(table, tag.address, tag.count, [tag])
            requests.append(current)
    return requests


def split_request(request: ReadRequest) -> list[ReadRequest]:
    """Two requests covering the first and second half of ``request``'s tags.

    Splitting by tags rather than by addresses keeps every value whole in one request
    and drops the unused registers at the cut; a single tag cannot be split.
    """
    tags = sorted(request.tags, key=lambda t: (t.address, t.count))
    if len(tags) < 2:
        return [request]
    # Cut where the tags stop overlapping, nearest to the middle.
    cuts: list[int] = []
    reach = tags[0].address + tags[0].count
    for i in range(1, len(tags)):
        if tags[i].address >= reach:
            cuts.append(i)
        reach = max(reach, tags[i].address + tags[i].count)
    if not cuts:
        return [request]
    middle = min(cuts, key=lambda i: abs(i - len(tags) / 2))
    return [span(request.table, tags[:middle]), span(request.table, tags[middle:])]
