"""A plant served as a real Modbus TCP device (unit id 1), values refreshed every 250 ms."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from protocols.registers import encode
from protocols.sample import Value
from protocols.simulators.plants import Plant

log = logging.getLogger(__name__)

UPDATE_INTERVAL_S = 0.25
_FUNCTION_CODE = {"holding": 3, "input": 4}  # pymodbus maps fc 3 / 4 onto the two tables


def _register_block(size: int) -> list[SimData]:
    if size == 0:
        # An unused table answers every read with "illegal data address", like a real PLC.
        return [SimData(address=0, count=1, datatype=DataType.INVALID)]
    return [SimData(address=0, count=size, values=0, datatype=DataType.REGISTERS)]


def build_registers(plant: Plant, snapshot: dict[tuple[str, str], Value], table: str) -> list[int]:
    """The whole table from address 0, reserved registers zero, from one model snapshot."""
    registers = [0] * plant.table_size(table)
    for p in plant.points:
        if p.table != table or p.address is None:
            continue
        value = snapshot[(p.asset, p.tag)]
        regs = encode(float(value), p.data_type, p.word_order, p.scale, p.offset)
        registers[p.address : p.address + len(regs)] = regs
    return registers


class ModbusSimulator:
    """Serves ``plant`` on ``host:port``; ``start()`` returns once the port listens."""

    def __init__(
        self, plant: Plant, host: str = "127.0.0.1", port: int = 5020, seed: int = 1
    ) -> None:
        if plant.protocol != "modbus":
            raise ValueError(f"plant {plant.key!r} speaks {plant.protocol}, not modbus")
        self.plant = plant
        self.host = host
        self.port = port
        self.model = plant.model(seed)
        self._server: ModbusTcpServer | None = None
        self._task: asyncio.Task[None] | None = None
        self._started_at = 0.0
        # While frozen the served values stay put, so two readers can be compared exactly.
        self.frozen = False
        # The values most recently written to the server, keyed by (asset, tag).
        self.served: dict[tuple[str, str], Value] = {}

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"

    async def start(self) -> None:
        # Coils and discrete inputs are unused but must hold one block each (pymodbus
        # builds every table from its first entry).
        bits = [SimData(address=0, values=[False] * 16, datatype=DataType.BITS)]
        device = SimDevice(
            id=self.plant.unit_id,
            simdata=(
                bits,
                list(bits),
                _register_block(self.plant.table_size("holding")),
                _register_block(self.plant.table_size("input")),
            ),
        )
        self._server = ModbusTcpServer(context=device, address=(self.host, self.port))
        await self._server.serve_forever(background=True)
        self._started_at = asyncio.get_running_loop().time()
        await self.update()
        self._task = asyncio.create_task(self._update_loop(), name=f"modbus-sim {self.endpoint}")
        log.info("Modbus simulator %s serving on %s", self.plant.key, self.endpoint)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._server is not None:
            await self._server.shutdown()
            self._server = None

    async def update(self) -> None:
        """Step the model to now and write every table in one call each (a consistent
        snapshot: no client sees half an update)."""
        assert self._server is not None
        self.model.step(asyncio.get_running_loop().time() - self._started_at)
        # One snapshot per update: measurement noise is drawn when values are taken, so
        # this is the only record of exactly what the registers now hold.
        self.served = self.model.snapshot()
        for table, func_code in _FUNCTION_CODE.items():
            if self.plant.table_size(table):
                registers = build_registers(self.plant, self.served, table)
                await self._server.async_setValues(self.plant.unit_id, func_code, 0, registers)

    async def _update_loop(self) -> None:
        while True:
            await asyncio.sleep(UPDATE_INTERVAL_S)
            if self.frozen:
                continue
            try:
                await self.update()
            except Exception:  # keep serving the last values rather than die silently
                log.exception("Modbus simulator %s: update failed", self.plant.key)
