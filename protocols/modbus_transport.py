"""Where a Modbus device is and how frames reach it: TCP, RTU over TCP, RTU on a serial line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.framer import FramerType

Transport = Literal["tcp", "rtu_over_tcp", "rtu"]
TRANSPORTS: tuple[str, ...] = ("tcp", "rtu_over_tcp", "rtu")


@dataclass(frozen=True)
class SerialSettings:
    """An RS-485/RS-232 line. 9600 8N1 is what most field devices ship with."""

    port: str
    baudrate: int = 9600
    parity: Literal["N", "E", "O"] = "N"
    stopbits: int = 1
    bytesize: int = 8


@dataclass(frozen=True)
class ModbusEndpoint:
    """One device's address: a TCP host and port, or a serial line, and its unit id.

    ``rtu_over_tcp`` is what serial-to-Ethernet gateways in transparent mode speak: RTU
    frames (CRC, no MBAP header, so no transaction id) on a TCP socket.
    """

    transport: Transport = "tcp"
    host: str = ""
    port: int = 502
    unit_id: int = 1
    serial: SerialSettings | None = None

    def __post_init__(self) -> None:
        if self.transport not in TRANSPORTS:
            raise ValueError(f"transport must be one of {', '.join(TRANSPORTS)}")
        if self.transport == "rtu" and self.serial is None:
            raise ValueError("transport rtu needs serial settings (serial: {port: ...})")
        if self.transport != "rtu" and not self.host:
            raise ValueError(f"transport {self.transport} needs a host")

    @property
    def has_transaction_ids(self) -> bool:
        """Only Modbus TCP's MBAP header can tell a late reply from the current one."""
        return self.transport == "tcp"

    def __str__(self) -> str:
        if self.transport == "rtu":
            assert self.serial is not None
            s = self.serial
            return f"{s.port} {s.baudrate} {s.bytesize}{s.parity}{s.stopbits} unit {self.unit_id}"
        suffix = " (rtu over tcp)" if self.transport == "rtu_over_tcp" else ""
        return f"{self.host}:{self.port} unit {self.unit_id}{suffix}"

    def client(self, timeout: float) -> AsyncModbusTcpClient | AsyncModbusSerialClient:
        """A new, unconnected pymodbus client for this endpoint.

        pymodbus's own retries and background reconnect are off (``retries=0``,
        ``reconnect_delay=0``): the driver decides when to retry and reconnect, so that
        a retry never reuses a connection on which a late reply may still arrive.
        """
        name = f"modbus {self}"
        if self.transport == "rtu":
            assert self.serial is not None
            s = self.serial
            return AsyncModbusSerialClient(
                s.port,
                framer=FramerType.RTU,
                baudrate=s.baudrate,
                parity=s.parity,
                stopbits=s.stopbits,
                bytesize=s.bytesize,
                timeout=timeout,
                retries=0,
                reconnect_delay=0,
                name=name,
            )
        return AsyncModbusTcpClient(
            self.host,
            port=self.port,
            framer=FramerType.RTU if self.transport == "rtu_over_tcp" else FramerType.SOCKET,
            timeout=timeout,
            retries=0,
            reconnect_delay=0,
            name=name,
        )
