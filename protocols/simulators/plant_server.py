"""What every simulated PLC does whatever its protocol: step the plant model on a clock,
publish a snapshot to the server, and stop in order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from protocols.sample import Value
from protocols.simulators.faults import (
    SERVER_FAULTS,
    ActiveFault,
    FaultError,
    clear_process_fault,
    fault_kind,
    inject_process_fault,
    resolve_params,
)
from protocols.simulators.plants import Plant

log = logging.getLogger(__name__)

Snapshot = dict[tuple[str, str], Value]


class PlantServer:
    """Base of the protocol simulators; subclasses say how to serve and publish values."""

    protocol: str = ""

    def __init__(
        self, plant: Plant, host: str, port: int, seed: int = 1, speed: float = 1.0
    ) -> None:
        if plant.protocol != self.protocol:
            raise ValueError(f"plant {plant.key!r} speaks {plant.protocol}, not {self.protocol}")
        self.plant = plant
        self.host = host
        self.port = port
        self.model = plant.model(seed)
        # While frozen the served values stay put, so two readers can be compared exactly,
        # and the model clock stands still (only fast_forward moves it).
        self._frozen_since: float | None = None
        self._frozen_s = 0.0
        # The values most recently published, keyed by (asset, tag). Measurement noise is
        # drawn when values are taken, so this is the only record of what was served.
        self.served: Snapshot = {}
        self._task: asyncio.Task[None] | None = None
        self._started_at = 0.0
        # Model time runs ``speed`` times the wall clock, plus whatever was fast-forwarded:
        # a week of bearing wear can be served in minutes, or skipped over in one call.
        if speed <= 0:
            raise ValueError("speed must be > 0")
        self.speed = speed
        self._skipped_s = 0.0
        # Injected faults by (fault, target); while offline (a comms drop) the model
        # goes on but nothing is served.
        self._faults: dict[tuple[str, str], ActiveFault] = {}
        self._offline = False
        self._drop_task: asyncio.Task[None] | None = None

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
        self._started_at = time.monotonic()
        await self.update()
        self._task = asyncio.create_task(self._update_loop(), name=f"sim {self.endpoint}")
        log.info("%s simulator %s serving on %s", self.protocol, self.plant.key, self.endpoint)

    async def stop(self) -> None:
        if self._drop_task is not None:
            self._drop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._drop_task
            self._drop_task = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._shutdown()

    @property
    def frozen(self) -> bool:
        return self._frozen_since is not None

    @frozen.setter
    def frozen(self, value: bool) -> None:
        now = time.monotonic()
        if value and self._frozen_since is None:
            self._frozen_since = now
        elif not value and self._frozen_since is not None:
            self._frozen_s += now - self._frozen_since
            self._frozen_since = None

    @property
    def model_time(self) -> float:
        """Seconds of plant life the model should have lived by now.

        Wall time spent frozen does not count: a recording that steps a frozen plant by
        fast_forward must see exactly the steps it asked for. Even a tiny speed let wall
        time add a sliver to each step, an extra sub-step that drew noise, so the same
        seed recorded a different history from run to run."""
        now = time.monotonic()
        since = self._frozen_since
        frozen = self._frozen_s + (now - since if since is not None else 0.0)
        return max(0.0, now - self._started_at - frozen) * self.speed + self._skipped_s

    async def fast_forward(self, seconds: float) -> None:
        """Step the plant ``seconds`` ahead now (faults develop meanwhile) and publish."""
        if seconds < 0:
            raise ValueError("cannot fast-forward backwards")
        self._skipped_s += seconds
        await self.update()

    async def update(self) -> None:
        """Step the model to now and publish one consistent snapshot."""
        self.model.step(self.model_time)
        if self._offline:
            return
        self.served = self.model.snapshot()
        await self._publish(self.served)

    @property
    def faults(self) -> list[ActiveFault]:
        """The faults in effect, in the order they were injected."""
        return list(self._faults.values())

    async def inject(self, fault: str, target: str | None = None, **params: Any) -> ActiveFault:
        """Give the plant (or the server) ``fault``; raises FaultError when it cannot.

        Process faults act on the model from its next step; ``comms_drop`` takes the
        server down for ``seconds`` in the background; ``server_restart`` stops and
        starts it on the same port before returning (it is not listed afterwards).
        """
        kind = fault_kind(fault)
        resolved = resolve_params(fault, params)
        if fault in SERVER_FAULTS:
            if target not in (None, "", "server", self.plant.key):
                raise FaultError(f"{fault} applies to the server, not {target!r}")
            target = "server"
        elif not target:
            raise FaultError(f"{fault} needs a target ({kind.target})")
        active = ActiveFault(fault, target, resolved, self.model.meter.t)
        if fault == "server_restart":
            await self._restart()
            return active
        if fault == "comms_drop":
            if self._drop_task is not None and not self._drop_task.done():
                raise FaultError("comms_drop: a drop is already in progress")
            if resolved["seconds"] <= 0:
                raise FaultError("comms_drop: seconds must be > 0")
            await self._go_offline()
            self._drop_task = asyncio.create_task(self._come_back(resolved["seconds"]))
        else:
            inject_process_fault(self.model, fault, target, resolved)
        self._faults[(fault, target)] = active
        log.info("%s simulator %s: injected %s on %s %s", self.protocol, self.plant.key,
                 fault, target, resolved)  # fmt: skip
        return active

    async def clear(self, fault: str, target: str | None = None) -> None:
        """End ``fault`` on ``target`` (a comms drop ends now); KeyError if not active."""
        fault_kind(fault)
        key = (fault, "server" if fault in SERVER_FAULTS else target or "")
        if key not in self._faults:
            raise KeyError(f"no active {fault} on {key[1]!r}")
        if fault == "comms_drop":
            assert self._drop_task is not None
            self._drop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._drop_task
            self._drop_task = None
            await self._go_online()
        else:
            clear_process_fault(self.model, fault, key[1])
        del self._faults[key]

    async def _go_offline(self) -> None:
        self._offline = True
        await self._shutdown()

    async def _go_online(self) -> None:
        if self._offline:
            await self._serve()
            self._offline = False
            await self.update()

    async def _come_back(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        await self._go_online()
        self._faults.pop(("comms_drop", "server"), None)
        log.info("%s simulator %s: back after a %.1f s drop", self.protocol, self.plant.key,
                 seconds)  # fmt: skip

    async def _restart(self) -> None:
        await self._go_offline()
        await self._go_online()

    async def _update_loop(self) -> None:
        while True:
            await asyncio.sleep(self.plant.update_interval_s)
            if self.frozen:
                continue
            try:
                await self.update()
            except Exception:  # keep serving the last values rather than die silently
                log.exception("%s simulator %s: update failed", self.protocol, self.plant.key)
