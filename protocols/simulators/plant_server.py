"""What every simulated PLC does whatever its protocol: step the plant model on a clock,
publish a snapshot to the server, and stop in order."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from protocols.sample import Value
from protocols.simulators.plants import Plant

log = logging.getLogger(__name__)

UPDATE_INTERVAL_S = 0.25

Snapshot = dict[tuple[str, str], Value]


class PlantServer:
    """Base of the protocol simulators; subclasses say how to serve and publish values."""

    protocol: str = ""

    def __init__(self, plant: Plant, host: str, port: int, seed: int = 1) -> None:
        if plant.protocol != self.protocol:
            raise ValueError(f"plant {plant.key!r} speaks {plant.protocol}, not {self.protocol}")
        self.plant = plant
        self.host = host
        self.port = port
        self.model = plant.model(seed)
        # While frozen the served values stay put, so two readers can be compared exactly.
        self.frozen = False
        # The values most recently published, keyed by (asset, tag). Measurement noise is
        # drawn when values are taken, so this is the only record of what was served.
        self.served: Snapshot = {}
        self._task: asyncio.Task[None] | None = None
        self._started_at = 0.0

    @property
    def endpoint(self) -> str:
        raise NotImplementedError

    async def _serve(self) -> None:
        """Start listening; return once clients can connect."""
        raise NotImplementedError

    async def _publish(self, snapshot: Snapshot) -> None:
        raise NotImplementedError

    async def _shutdown(self) -> None:
        raise NotImplementedError

    async def start(self) -> None:
        await self._serve()
        self._started_at = asyncio.get_running_loop().time()
        await self.update()
        self._task = asyncio.create_task(self._update_loop(), name=f"sim {self.endpoint}")
        log.info("%s simulator %s serving on %s", self.protocol, self.plant.key, self.endpoint)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._shutdown()

    async def update(self) -> None:
        """Step the model to now and publish one consistent snapshot."""
        self.model.step(asyncio.get_running_loop().time() - self._started_at)
        self.served = self.model.snapshot()
        await self._publish(self.served)

    async def _update_loop(self) -> None:
        while True:
            await asyncio.sleep(UPDATE_INTERVAL_S)
            if self.frozen:
                continue
            try:
                await self.update()
            except Exception:  # keep serving the last values rather than die silently
                log.exception("%s simulator %s: update failed", self.protocol, self.plant.key)
