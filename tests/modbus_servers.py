"""Real pymodbus servers for the Modbus tests, configured unlike the plant simulators:
typed values in every table, holes in the map, slow answers, RTU framing, a serial line."""

from __future__ import annotations

import asyncio
import contextlib
import os
import tty
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from pymodbus.constants import ExcCodes
from pymodbus.framer import FramerType
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from tests.conftest import free_port

HOST = "127.0.0.1"


@dataclass
class RequestLog:
    """What the server answered, as (function code, address, count), in order.

    pymodbus calls the action only for requests its map allows, so a request refused
    for an invalid address is not in the log.
    """

    requests: list[tuple[int, int, int]] = field(default_factory=list)
    # Called before answering; may sleep (a slow device) or return an exception code.
    hook: Callable[[int, int, int], Awaitable[ExcCodes | None]] | None = None

    async def action(
        self,
        function_code: int,
        _start: int,
        address: int,
        count: int,
        _registers: list[int],
        _values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        self.requests.append((function_code, address, count))
        if self.hook is not None:
            return await self.hook(function_code, address, count)
        return None

    def reads(self, function_code: int) -> list[tuple[int, int]]:
        return [(a, c) for fc, a, c in self.requests if fc == function_code]


def device(
    holding: list[SimData],
    inputs: list[SimData] | None = None,
    coils: list[bool] | None = None,
    discrete: list[bool] | None = None,
    unit_id: int = 1,
    log: RequestLog | None = None,
) -> SimDevice:
    """A device with separate tables; bit tables start at address 0."""
    bits = [False] * 16
    return SimDevice(
        id=unit_id,
        simdata=(
            [SimData(address=0, values=coils or bits, datatype=DataType.BITS)],
            [SimData(address=0, values=discrete or bits, datatype=DataType.BITS)],
            holding,
            inputs or [SimData(address=0, count=1, datatype=DataType.INVALID)],
        ),
        action=log.action if log else None,
    )


@contextlib.asynccontextmanager
async def tcp_server(
    context: SimDevice | list[SimDevice], framer: FramerType = FramerType.SOCKET
) -> AsyncIterator[int]:
    """Serve on a free loopback port (Modbus TCP, or RTU frames on TCP); yields the port."""
    port = free_port()
    server = ModbusTcpServer(context=context, address=(HOST, port), framer=framer)
    await server.serve_forever(background=True)
    try:
        yield port
    finally:
        await server.shutdown()


def _pty_pair() -> tuple[int, str]:
    """A pseudo-terminal in raw mode: (master fd, slave path)."""
    master, slave = os.openpty()
    tty.setraw(slave)
    path = os.ttyname(slave)
    os.close(slave)  # pyserial opens it again by path
    return master, path


@contextlib.asynccontextmanager
async def serial_server(
    context: SimDevice | list[SimDevice], silent_units: frozenset[int] = frozenset()
) -> AsyncIterator[str]:
    """A Modbus RTU server on one end of a virtual null-modem cable; yields the other end.

    Two pseudo-terminals whose master sides this coroutine joins byte for byte, as a
    cable joins two RS-232 ports, so no Debian package (socat) is needed. Requests to a
    unit in ``silent_units`` are dropped on the cable, as if that device were switched
    off (pymodbus's server would answer for any unit).
    """
    master_a, server_path = _pty_pair()
    master_b, client_path = _pty_pair()
    loop = asyncio.get_running_loop()

    def relay(source: int, target: int) -> None:
        with contextlib.suppress(OSError):  # EIO while the other end is closed
            data = os.read(source, 4096)
            # A pty hands over one whole request frame per read: its first byte is the unit.
            if source == master_b and data and data[0] in silent_units:
                return
            os.write(target, data)

    # Keep the slaves open from our side too, so a master never reads EIO between
    # the client's close and reopen.
    holders = [os.open(p, os.O_RDWR | os.O_NOCTTY) for p in (server_path, client_path)]
    loop.add_reader(master_a, relay, master_a, master_b)
    loop.add_reader(master_b, relay, master_b, master_a)
    server = ModbusSerialServer(
        context=context, framer=FramerType.RTU, port=server_path, baudrate=115200
    )
    await server.serve_forever(background=True)
    try:
        yield client_path
    finally:
        await server.shutdown()
        for fd in (master_a, master_b):
            loop.remove_reader(fd)
        for fd in (master_a, master_b, *holders):
            os.close(fd)
