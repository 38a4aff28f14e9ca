"""Modbus failures as the agent sees them: exception codes in words, and error types."""

from __future__ import annotations

from protocols.errors import DriverConnectionError, DriverError

# Exception codes from the Modbus application protocol spec, worded for a log line.
EXCEPTION_TEXT: dict[int, str] = {
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
ILLEGAL_DATA_ADDRESS = 2
ILLEGAL_DATA_VALUE = 3
# Codes a device gives for a range it cannot serve as one request: some report a read
# across a hole as "illegal data value" rather than "address". Both are worth splitting.
REFUSED_RANGE_CODES = frozenset({ILLEGAL_DATA_ADDRESS, ILLEGAL_DATA_VALUE})


def exception_text(code: int) -> str:
    """``illegal data address`` for 2; unknown codes by number."""
    return EXCEPTION_TEXT.get(code, f"exception code {code}")


class DeviceUnavailableError(DriverConnectionError):
    """The device did not answer (after retries); reconnect, and wait ``retry_after``.

    ``retry_after`` is set once the device has failed ``degrade_after`` read cycles in a
    row: seconds the poller should wait before trying again, growing while it stays
    silent, so a dead device costs a timeout now and then rather than every cycle.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ModbusWriteError(DriverError):
    """A write was refused by the device (a Modbus exception response)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code
