"""Report by exception: send a value only when it moved past its deadband, its quality
changed, or its heartbeat is due, so a slowly changing plant costs little bandwidth."""

from __future__ import annotations

from dataclasses import dataclass

from edge_agent.config import Deadband
from protocols.sample import Quality, Value


@dataclass(slots=True)
class _LastSent:
    value: Value
    quality: Quality
    timestamp_ns: int


class ExceptionFilter:
    """Per-tag memory of what was last sent. Tags without a deadband always pass."""

    def __init__(self, deadbands: dict[str, Deadband | None], heartbeat_s: float) -> None:
        self.deadbands = deadbands
        self.heartbeat_ns = int(heartbeat_s * 1e9)
        self._last: dict[str, _LastSent] = {}

    def should_send(self, tag: str, value: Value, quality: Quality, timestamp_ns: int) -> bool:
        deadband = self.deadbands.get(tag)
        last = self._last.get(tag)
        send = (
            deadband is None
            or last is None
            or last.quality is not quality  # quality changes are always reported
            or timestamp_ns - last.timestamp_ns >= self.heartbeat_ns
            or _moved(deadband, last.value, value)
        )
        if send:
            self._last[tag] = _LastSent(value, quality, timestamp_ns)
        return send


def _moved(deadband: Deadband, last: Value, value: Value) -> bool:
    numeric = (int, float)
    if isinstance(value, bool) or isinstance(last, bool) or not isinstance(value, numeric):
        return value != last
    if not isinstance(last, numeric):
        return True
    return deadband.exceeded(float(last), float(value))
