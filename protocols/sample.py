"""What every driver hands to the edge agent: one reading of one tag."""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum

Value = float | int | bool | str


class Quality(StrEnum):
    """OPC UA's three quality classes; Modbus reads map onto them as well."""

    GOOD = "good"
    UNCERTAIN = "uncertain"
    BAD = "bad"


@dataclass(frozen=True, slots=True)
class Sample:
    """One reading of one configured tag, timestamped when it was read.

    ``value`` is None when the read failed; ``error`` then says why, naming the tag
    and its address, so the agent can log it without knowing the protocol.
    """

    tag: str
    value: Value | None
    timestamp_ns: int
    quality: Quality = Quality.GOOD
    error: str | None = None


def now_ns() -> int:
    """Wall-clock time in nanoseconds, the resolution of InfluxDB line protocol."""
    return time.time_ns()
