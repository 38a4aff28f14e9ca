"""The edge agent: a poller per device feeding a forwarder per output."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

from edge_agent.config import AgentConfig, InfluxV1OutputConfig, OutputConfig
from edge_agent.forwarder import Forwarder
from edge_agent.outputs import Output, OutputSetupError, output_for
from edge_agent.poller import DevicePoller
from historian import Point

log = logging.getLogger(__name__)

SHUTDOWN_FLUSH_SECONDS = 5.0


class EdgeAgent:
    def __init__(
        self,
        config: AgentConfig,
        base_dir: Path,
        outputs: list[Output] | None = None,
    ) -> None:
        """``base_dir`` anchors relative paths in the config (its folder, usually)."""
        self.config = config
        if outputs is None:
            self.forwarders = [
                _forwarder(_open_output(i, c, base_dir), c) for i, c in enumerate(config.outputs)
            ]
        else:  # handed in by an embedding program (the demo) instead of the config's
            self.forwarders = [Forwarder(output) for output in outputs]
        self.pollers = [
            DevicePoller(device, config.agent.site, self._deliver) for device in config.devices
        ]

    def _deliver(self, points: list[Point]) -> None:
        for forwarder in self.forwarders:
            forwarder.put(points)

    async def run(self, stop: asyncio.Event) -> None:
        """Poll and forward until ``stop`` is set, then flush for a bounded time."""
        inner_stop = asyncio.Event()
        tasks = [asyncio.create_task(p.run(stop), name=f"poll {p.name}") for p in self.pollers]
        senders = [
            asyncio.create_task(f.run(inner_stop), name=f"forward {f.output.name}")
            for f in self.forwarders
        ]
        log.info(
            "agent %s (site %s): %d devices, %d tags, outputs: %s",
            self.config.agent.name,
            self.config.agent.site,
            len(self.pollers),
            sum(len(p.series) for p in self.pollers),
            ", ".join(f.output.name for f in self.forwarders),
        )
        try:
            await stop.wait()
        finally:
            await asyncio.gather(*tasks, return_exceptions=True)
            inner_stop.set()
            await asyncio.gather(*senders, return_exceptions=True)
            deadline = time.monotonic() + SHUTDOWN_FLUSH_SECONDS
            await asyncio.gather(*(f.flush(deadline) for f in self.forwarders))
            for forwarder in self.forwarders:
                await forwarder.output.close()
            log.info("agent %s stopped", self.config.agent.name)


def _open_output(index: int, config: OutputConfig, base_dir: Path) -> Output:
    try:
        return output_for(config, base_dir)
    except OutputSetupError as exc:
        raise OutputSetupError(f"outputs[{index}] ({config.type}): {exc}") from None


def _forwarder(output: Output, config: object) -> Forwarder:
    if isinstance(config, InfluxV1OutputConfig):
        return Forwarder(output, config.batch_size, config.flush_interval, config.max_queue)
    return Forwarder(output)
