"""Several Modbus devices on one serial line (RS-485 multidrop).

A serial port can be opened by one client only, and an RTU line carries one request at a
time whatever the unit id: so every driver whose devices hang on the same line borrows
one connection, and their requests take turns. A timeout on one unit closes and reopens
the shared port (that flushes a late reply, see :class:`ModbusConnection`); the other
units' next requests simply reopen it, they are not failed for it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from pymodbus.pdu import ModbusPDU

from protocols.errors import DriverConnectionError
from protocols.modbus_connection import Call, ModbusConnection, RequestPolicy
from protocols.modbus_transport import ModbusEndpoint


@dataclass
class _Line:
    """One open line and who uses it; lives while at least one driver has joined it."""

    endpoint: ModbusEndpoint
    connection: ModbusConnection
    turn: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


# Per event loop: an asyncio.Lock belongs to the loop that uses it.
_LINES: dict[tuple[int, str], _Line] = {}


def line_key(endpoint: ModbusEndpoint) -> str:
    """What makes two endpoints the same line: the serial port."""
    assert endpoint.serial is not None
    return endpoint.serial.port


def shares_a_line(endpoint: ModbusEndpoint) -> bool:
    """A serial port opens once: its units share it. (Gateways take one socket per unit.)"""
    return endpoint.transport == "rtu"


def line_label(endpoint: ModbusEndpoint) -> str:
    """The line without a unit id, for messages about the port itself."""
    return str(endpoint).rsplit(" unit ", 1)[0]


class SharedLinePool:
    """The connection pool of one unit on a shared line (same interface as ConnectionPool)."""

    def __init__(self, endpoint: ModbusEndpoint, policy: RequestPolicy) -> None:
        self.endpoint = endpoint
        self.policy = policy
        self._line: _Line | None = None

    @property
    def connected(self) -> bool:
        """Joined the line. Its port may be closed for a moment: the next request reopens it."""
        return self._line is not None

    async def open(self) -> None:
        """Join the line, opening its port if no other unit has; DriverConnectionError if not."""
        self.close()
        key = (id(asyncio.get_running_loop()), line_key(self.endpoint))
        line = _LINES.get(key)
        if line is None:
            connection = ModbusConnection(self.endpoint, self.policy, line_label(self.endpoint))
            line = _LINES[key] = _Line(self.endpoint, connection)
        elif line.endpoint.serial != self.endpoint.serial:
            raise DriverConnectionError(
                f"Modbus {self.endpoint}: the line is already open as {line.endpoint}; "
                "devices on one serial port must use the same baud rate, parity and framing"
            )
        line.users += 1
        self._line = line
        try:
            async with line.turn:
                if not line.connection.connected:
                    await line.connection.open()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Leave the line; the last unit to leave closes the port."""
        line, self._line = self._line, None
        if line is None:
            return
        line.users -= 1
        if line.users <= 0:
            line.connection.close()
            for key, value in list(_LINES.items()):
                if value is line:
                    del _LINES[key]

    async def request(self, what: str, call: Call) -> ModbusPDU:
        line = self._line
        if line is None:
            raise DriverConnectionError(f"not connected to Modbus {self.endpoint}")
        async with line.turn:
            # The connection names the line's first unit in its messages: name ours.
            return await line.connection.request(f"unit {self.endpoint.unit_id}: {what}", call)
