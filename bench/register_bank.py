"""A Modbus TCP server with N holding registers whose values move every second: the
stand-in for a large PLC in the edge agent's benchmark. Runs as its own process so the
agent's CPU time is measured alone.

    python -m bench.register_bank --port 5020 --registers 20000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice


async def serve(port: int, registers: int) -> None:
    bits = [SimData(address=0, values=[False] * 16, datatype=DataType.BITS)]
    block = [SimData(address=0, count=registers, values=0, datatype=DataType.REGISTERS)]
    device = SimDevice(id=1, simdata=(bits, list(bits), block, list(block)))
    server = ModbusTcpServer(context=device, address=("127.0.0.1", port))
    await server.serve_forever(background=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    tick = 0
    while not stop.is_set():
        tick += 1
        values = [(tick + i) % 1000 for i in range(registers)]
        await server.async_setValues(1, 3, 0, values)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)
    await server.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--registers", type=int, default=20000)
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.registers))


if __name__ == "__main__":
    main()
