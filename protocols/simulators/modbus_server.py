"""A plant served as a real Modbus TCP device (unit id 1), values refreshed every 250 ms
(every second for the scale plant)."""

from __future__ import annotations

from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from protocols.registers import encode
from protocols.simulators.plant_server import PlantServer, Snapshot
from protocols.simulators.plants import Plant

_FUNCTION_CODE = {"holding": 3, "input": 4}  # pymodbus maps fc 3 / 4 onto the two tables


def _register_block(size: int) -> list[SimData]:
    if size == 0:
        # An unused table answers every read with "illegal data address", like a real PLC.
        return [SimData(address=0, count=1, datatype=DataType.INVALID)]
    return [SimData(address=0, count=size, values=0, datatype=DataType.REGISTERS)]


def build_registers(plant: Plant, snapshot: Snapshot, table: str) -> list[int]:
    """The whole table from address 0, reserved registers zero, from one model snapshot."""
    registers = [0] * plant.table_size(table)
    for p in plant.points:
        if p.table != table or p.address is None:
            continue
        value = snapshot[(p.asset, p.tag)]
        regs = encode(float(value), p.data_type, p.word_order, p.scale, p.offset)
        registers[p.address : p.address + len(regs)] = regs
    return registers


class ModbusSimulator(PlantServer):
    """Serves ``plant`` on ``host:port``; ``start()`` returns once the port listens."""

    protocol = "modbus"

    def __init__(
        self,
        plant: Plant,
        host: str = "127.0.0.1",
        port: int = 5020,
        seed: int = 1,
        speed: float = 1.0,
    ) -> None:
        super().__init__(plant, host, port, seed, speed)
        self._server: ModbusTcpServer | None = None

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"

    async def _serve(self) -> None:
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

    async def _shutdown(self) -> None:
        if self._server is not None:
            await self._server.shutdown()
            self._server = None

    async def _publish(self, snapshot: Snapshot) -> None:
        """Each table in one call, so no client sees half an update."""
        assert self._server is not None
        for table, func_code in _FUNCTION_CODE.items():
            if self.plant.table_size(table):
                registers = build_registers(self.plant, snapshot, table)
                await self._server.async_setValues(self.plant.unit_id, func_code, 0, registers)
