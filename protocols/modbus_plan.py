"""Which Modbus read requests to send for a set of tags: as few as the limits allow."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Table = Literal["holding", "input"]

# The Modbus spec caps a read of holding/input registers at 125 registers.
MODBUS_MAX_REGISTERS = 125


class AddressedTag(Protocol):
    """What the planner needs from a tag: where it is and how many registers it spans."""

    @property
    def table(self) -> Table: ...

    @property
    def address(self) -> int: ...

    @property
    def count(self) -> int: ...


@dataclass
class ReadRequest:
    """One read request on the wire and the tags it serves."""

    table: Table
    address: int
    count: int
    tags: list[Any] = field(default_factory=list)

    @property
    def end(self) -> int:
        """First address after this request."""
        return self.address + self.count


def plan_reads(
    tags: Iterable[AddressedTag], max_gap: int = 0, max_registers: int = MODBUS_MAX_REGISTERS
) -> list[ReadRequest]:
    """Group tags into read requests, per table, in address order.

    Two neighbouring ranges merge when the registers between them number at most
    ``max_gap`` (reading a few unused registers is cheaper than another round trip) and
    the merged request stays within ``max_registers``. Overlapping tags always share a
    request when it fits.
    """
    if max_gap < 0:
        raise ValueError("max_gap must be >= 0")
    if not 1 <= max_registers <= MODBUS_MAX_REGISTERS:
        raise ValueError(f"max_registers must be within 1..{MODBUS_MAX_REGISTERS}")
    requests: list[ReadRequest] = []
    by_table: dict[str, list[AddressedTag]] = {}
    for tag in tags:
        if tag.count > max_registers:
            raise ValueError(f"a tag of {tag.count} registers exceeds max_registers")
        by_table.setdefault(tag.table, []).append(tag)
    for table in sorted(by_table):
        current: ReadRequest | None = None
        for tag in sorted(by_table[table], key=lambda t: (t.address, t.count)):
            tag_end = tag.address + tag.count
            if current is not None:
                gap = tag.address - current.end
                merged_end = max(current.end, tag_end)
                if gap <= max_gap and merged_end - current.address <= max_registers:
                    current.count = merged_end - current.address
                    current.tags.append(tag)
                    continue
            current = ReadRequest(table, tag.address, tag.count, [tag])
            requests.append(current)
    return requests
