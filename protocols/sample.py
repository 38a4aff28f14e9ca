"""What every driver hands to the edge agent: one reading of one tag."""

from __future__ import annotations

import time
from enum import StrEnum
from typing import NamedTuple

Value = float | int | bool | str


class Quality(StrEnum):
    """OPC UA's three quality classes; Modbus reads map onto them as well."""

    GOOD = "good"
    UNCERTAIN = "uncertain"
    BAD = "bad"


class Sample(NamedTuple):
    """One reading of one configured tag, timestamped when it was read.

    A NamedTuple, not a frozen dataclass: drivers make tens of thousands a second, and a
    frozen dataclass pays for ``object.__setattr__`` on every field.

    ``value`` is None when the read failed; ``error`` then says why, naming the tag
    and its address, so the agent can log it without knowing the protocol.
    """

    tag: str
    value: Value | None
    timestamp_ns: int
    quality: Quality = Quality.GOOD
    error: str | None = None
    # The protocol's own status name behind ``quality`` (OPC UA: "Good",
    # "UncertainLastUsableValue", "BadNodeIdUnknown"); None where the protocol has none.
    status: str | None = None


def now_ns() -> int:
    """Wall-clock time in nanoseconds, the resolution of InfluxDB line protocol."""
    return time.time_ns()
