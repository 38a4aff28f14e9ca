"""Sending Modbus requests to one device: timeout, retries with backoff, a pause between
requests, a bounded number in flight, and a fresh connection after every lost answer."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException
from pymodbus.pdu import ModbusPDU

from protocols.errors import DriverConnectionError
from protocols.modbus_errors import DeviceUnavailableError
from protocols.modbus_transport import ModbusEndpoint

Client = AsyncModbusTcpClient | AsyncModbusSerialClient
Call = Callable[[Client], Awaitable[ModbusPDU]]


@dataclass(frozen=True)
class RequestPolicy:
    """How patiently to talk to one device.

    ``timeout`` bounds one request; ``retries`` more attempts follow a request that got
    no answer, ``retry_backoff`` × 1, 2, 4 … seconds apart. ``request_pause`` is the quiet
    time a connection keeps between two requests (slow PLCs and serial gateways drop
    requests that come back to back). ``max_concurrent`` TCP connections may have a
    request in flight at once (a serial line always has one).
    """

    timeout: float = 3.0
    retries: int = 0
    retry_backoff: float = 0.2
    request_pause: float = 0.0
    max_concurrent: int = 1

    def __post_init__(self) -> None:
        if self.timeout <= 0:
            raise ValueError("timeout must be > 0")
        if self.retries < 0 or self.retry_backoff < 0 or self.request_pause < 0:
            raise ValueError("retries, retry_backoff and request_pause must be >= 0")
        if self.max_concurrent < 1:
            raise ValueError("max_concurrent must be >= 1")

    def worst_case(self, requests: int) -> float:
        """Longest ``requests`` requests can take before the last attempt gives up.

        Each attempt may wait ``timeout`` for a reconnect and ``timeout`` for its
        answer; the poller waits at least this long before it abandons a read.
        """
        backoff = sum(self.retry_backoff * 2**i for i in range(self.retries))
        per_request = (self.retries + 1) * 2 * self.timeout + backoff + self.request_pause
        return requests * per_request


class ModbusConnection:
    """One client connection and the rules for using it.

    After a request goes unanswered the connection is closed and opened again before
    anything else is sent: on RTU framing (serial, RTU over TCP) nothing tells a late
    reply from the answer to the next request, and even Modbus TCP gateways are known
    to reuse transaction ids. A new socket (or a reopened, flushed serial port) cannot
    receive the old reply.
    """

    def __init__(
        self, endpoint: ModbusEndpoint, policy: RequestPolicy, label: str | None = None
    ) -> None:
        self.endpoint = endpoint
        self.policy = policy
        # What messages call this connection: the device, or a shared line's port.
        self.label = label or str(endpoint)
        self._client: Client | None = None
        self._ready_at = 0.0

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.connected

    async def open(self) -> None:
        """Connect; raises DriverConnectionError when the device cannot be reached."""
        self.close()
        client = self.endpoint.client(self.policy.timeout)
        try:
            ok = await client.connect()
        except (OSError, ModbusException, TimeoutError) as exc:
            client.close()
            raise DriverConnectionError(f"cannot connect to Modbus {self.label}: {exc}") from exc
        if not ok:
            client.close()
            raise DriverConnectionError(
                f"cannot connect to Modbus {self.label}: connection refused or timed out"
            )
        self._client = client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    async def request(self, what: str, call: Call) -> ModbusPDU:
        """Send one request, retrying on silence; returns the response PDU.

        An exception response (``isError()``) is an answer and is returned as it is.
        Raises DeviceUnavailableError when no attempt got an answer.
        """
        loop = asyncio.get_running_loop()
        pause = self.policy.request_pause
        last: BaseException | None = None
        for attempt in range(self.policy.retries + 1):
            if attempt:
                await asyncio.sleep(self.policy.retry_backoff * 2 ** (attempt - 1))
            if not self.connected:
                try:
                    await self.open()
                except DriverConnectionError as exc:
                    last = exc
                    continue
            assert self._client is not None
            if pause and (wait := self._ready_at - loop.time()) > 0:
                await asyncio.sleep(wait)
            try:
                response = await call(self._client)
            except (ModbusException, OSError, TimeoutError) as exc:
                # No answer in time, a mismatched transaction or device id, or a broken
                # socket: whatever arrives on this connection now cannot be trusted.
                last = exc
                self.close()
                continue
            except BaseException:
                # Cancelled mid-request (the poller gave up): the answer may still come.
                self.close()
                raise
            finally:
                if pause:
                    self._ready_at = loop.time() + pause
            return response
        tries = self.policy.retries + 1
        raise DeviceUnavailableError(
            f"Modbus {self.label}: {what}: no answer after {tries} "
            f"attempt{'s' if tries > 1 else ''} ({last})"
        )


class ConnectionPool:
    """Up to ``policy.max_concurrent`` connections to one device, handed out one at a time."""

    def __init__(self, endpoint: ModbusEndpoint, policy: RequestPolicy) -> None:
        size = 1 if endpoint.transport == "rtu" else policy.max_concurrent
        self.connections = [ModbusConnection(endpoint, policy) for _ in range(size)]
        self._idle: asyncio.Queue[ModbusConnection] | None = None

    @property
    def connected(self) -> bool:
        return self.connections[0].connected

    async def open(self) -> None:
        """Open the first connection (it proves the device is there); others open on use."""
        self.close()
        await self.connections[0].open()
        self._idle = asyncio.Queue()
        for connection in self.connections:
            self._idle.put_nowait(connection)

    def close(self) -> None:
        for connection in self.connections:
            connection.close()
        self._idle = None

    async def request(self, what: str, call: Call) -> ModbusPDU:
        """Send one request on the next idle connection (waiting for one if all are busy)."""
        idle = self._idle
        if idle is None:
            raise DriverConnectionError(f"not connected to Modbus {self.connections[0].endpoint}")
        # Explicit get/put rather than a context manager: this runs for every request of
        # every poll, and the generator machinery of one costs as much as the decoding.
        connection = idle.get_nowait() if not idle.empty() else await idle.get()
        try:
            return await connection.request(what, call)
        finally:
            idle.put_nowait(connection)
