"""Finding which addresses a device refuses, by bisecting refused reads.

Used by the driver (to learn the holes in a device's map from a refused merged read)
and by ``mingzhou browse modbus`` (to show an integrator what a device answers).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from protocols.modbus_errors import REFUSED_RANGE_CODES

# Reads [address, address + count) of one table; returns None when it answered, else
# the Modbus exception code.
RangeReader = Callable[[int, int], Awaitable[int | None]]


async def find_refused(read: RangeReader, address: int, count: int) -> list[int]:
    """The addresses in ``[address, address + count)`` that make a read fail.

    Halves the range until single addresses remain: a few reads when holes are rare.
    A range that is refused as a whole but whose halves both read is refused for its
    size, not an address; it contributes no address.
    """
    code = await read(address, count)
    if code is None or code not in REFUSED_RANGE_CODES:
        return []
    return await _bisect(read, address, count)


async def _bisect(read: RangeReader, address: int, count: int) -> list[int]:
    """``[address, address + count)`` is known to be refused."""
    if count == 1:
        return [address]
    half = count // 2
    refused: list[int] = []
    for start, size in ((address, half), (address + half, count - half)):
        code = await read(start, size)
        if code is not None and code in REFUSED_RANGE_CODES:
            refused.extend(await _bisect(read, start, size))
    return refused


@dataclass(frozen=True)
class AnsweredRange:
    """Addresses ``first..last`` (inclusive) that a device answered."""

    first: int
    last: int

    @property
    def count(self) -> int:
        return self.last - self.first + 1


async def answered_ranges(
    read: RangeReader, first: int, last: int, chunk: int
) -> list[AnsweredRange]:
    """Which addresses of ``first..last`` answer, probing ``chunk`` at a time."""
    refused: set[int] = set()
    for start in range(first, last + 1, chunk):
        size = min(chunk, last + 1 - start)
        code = await read(start, size)
        if code is None:
            continue
        if code in REFUSED_RANGE_CODES:
            refused.update(await _bisect(read, start, size))
        else:  # e.g. "illegal function": the device has no such table at all
            refused.update(range(start, start + size))
    ranges: list[AnsweredRange] = []
    run_start: int | None = None
    for address in range(first, last + 2):
        ok = address <= last and address not in refused
        if ok and run_start is None:
            run_start = address
        elif not ok and run_start is not None:
            ranges.append(AnsweredRange(run_start, address - 1))
            run_start = None
    return ranges
