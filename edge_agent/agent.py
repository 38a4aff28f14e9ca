"""The edge agent: a poller per device, the durable buffer, a forwarder per output.

Pollers return from ``deliver`` only once a poll cycle is committed to the buffer, so
anything the agent has read survives a crash, a restart or an outage of every output.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

from edge_agent.buffer import StoreAndForwardBuffer
from edge_agent.config import AgentConfig, ConfigError, DeviceConfig, OutputConfig, load_config
from edge_agent.forwarder import Forwarder
from edge_agent.outputs import Output, OutputSetupError, output_for
from edge_agent.poller import DevicePoller

log = logging.getLogger(__name__)

SHUTDOWN_FLUSH_SECONDS = 5.0
CONFIG_CHECK_SECONDS = 2.0


class _RunningPoller:
    def __init__(self, poller: DevicePoller) -> None:
        self.poller = poller
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(poller.run(self.stop), name=f"poll {poller.name}")

    async def halt(self) -> None:
        self.stop.set()
        await asyncio.gather(self.task, return_exceptions=True)


class EdgeAgent:
    def __init__(
        self, config: AgentConfig, base_dir: Path, config_path: Path | None = None
    ) -> None:
        """``base_dir`` anchors relative paths; ``config_path`` enables hot reload."""
        self.config = config
        self.base_dir = base_dir
        self.config_path = config_path
        self.started_at = time.time()
        outputs = [_open_output(i, c, base_dir) for i, c in enumerate(config.outputs)]
        self.buffer = StoreAndForwardBuffer(
            self._buffer_path(),
            [output.name for output in outputs],
            max_bytes=config.buffer.max_size,
            max_age_s=config.buffer.max_age,
            sync=config.buffer.sync,
        )
        self.forwarders = [
            Forwarder(output, self.buffer, c.batch_size, c.flush_interval, c.retry_max)
            for output, c in zip(outputs, config.outputs, strict=True)
        ]
        self.pollers: dict[str, DevicePoller] = {
            device.name: self._poller(device) for device in config.devices
        }
        self.dropped_appends = 0
        # Where the running config came from, when not a local file (the cloud, its cache).
        self.config_origin: dict[str, Any] | None = None
        # The file watcher, SIGHUP and the cloud may each apply a config: one at a time,
        # or two would both restart the same device.
        self._applying = asyncio.Lock()
        self._running: dict[str, _RunningPoller] = {}

    def _buffer_path(self) -> Path:
        path = Path(self.config.buffer.path or f"{self.config.agent.name}.buffer.db")
        return path if path.is_absolute() else self.base_dir / path

    def _poller(self, device: DeviceConfig) -> DevicePoller:
        return DevicePoller(device, self.config.agent.site, self._deliver, base_dir=self.base_dir)

    async def _deliver(self, body: str, points: int) -> None:
        try:
            await asyncio.to_thread(self.buffer.append, body, points)
        except Exception as exc:  # a full disk: count and say so; the poller goes on
            self.dropped_appends += points
            log.error("buffer %s: cannot store %d points: %s", self.buffer.path, points, exc)
            return
        for forwarder in self.forwarders:
            forwarder.notify(points)

    async def run(self, stop: asyncio.Event) -> None:
        """Poll and forward until ``stop`` is set, then flush for a bounded time."""
        from edge_agent.status_server import StatusServer

        status = StatusServer(self, self.config.status.host, self.config.status.port)
        status.start()
        forwarders_stop = asyncio.Event()
        senders = [
            asyncio.create_task(f.run(forwarders_stop), name=f"forward {f.output.name}")
            for f in self.forwarders
        ]
        for name, poller in self.pollers.items():
            self._running[name] = _RunningPoller(poller)
        watcher = asyncio.create_task(self._watch_config(stop)) if self.config_path else None
        log.info(
            "agent %s (site %s): %d devices, %d tags, buffer %s, outputs: %s",
            self.config.agent.name,
            self.config.agent.site,
            len(self.pollers),
            sum(len(p.series) for p in self.pollers.values()),
            self.buffer.path,
            ", ".join(f.output.name for f in self.forwarders),
        )
        try:
            await stop.wait()
        finally:
            if watcher:
                watcher.cancel()
            await asyncio.gather(*(running.halt() for running in self._running.values()))
            forwarders_stop.set()
            await asyncio.gather(*senders, return_exceptions=True)
            deadline = time.monotonic() + SHUTDOWN_FLUSH_SECONDS
            await asyncio.gather(*(f.flush(deadline) for f in self.forwarders))
            for forwarder in self.forwarders:
                await forwarder.output.close()
            status.stop()
            self.buffer.close()
            log.info("agent %s stopped", self.config.agent.name)

    # --- hot reload -----------------------------------------------------------------------

    async def reload(self) -> bool:
        """Re-read the config file: restart only the devices whose section changed.

        An invalid file is refused and the running configuration stays. Changes outside
        ``devices`` (identity, outputs, buffer, status) are reported as needing a restart.
        """
        assert self.config_path is not None
        try:
            new = await asyncio.to_thread(load_config, self.config_path)
        except ConfigError as exc:
            log.error("config %s not reloaded, keeping the running one:\n%s", self.config_path, exc)
            return False
        await self.apply_config(new, str(self.config_path))
        return True

    async def apply_config(self, new: AgentConfig, origin: str) -> list[str]:
        """Run a new, valid configuration: restart only the devices whose section changed.

        Returns the other sections that changed (identity, outputs, buffer, status): they
        apply at the next start. ``origin`` names where the config came from, for logs.
        """
        async with self._applying:
            return await self._apply(new, origin)

    async def _apply(self, new: AgentConfig, origin: str) -> list[str]:
        old_devices = {d.name: d for d in self.config.devices}
        new_devices = {d.name: d for d in new.devices}
        others = ("agent", "outputs", "buffer", "status")
        pending = [key for key in others if getattr(new, key) != getattr(self.config, key)]
        if pending:
            log.warning(
                "config %s: changes to %s apply at the next start", origin, "/".join(pending)
            )
        changed = [n for n in old_devices if n in new_devices and new_devices[n] != old_devices[n]]
        removed = [n for n in old_devices if n not in new_devices]
        added = [n for n in new_devices if n not in old_devices]
        for name in changed + removed:
            await self._running.pop(name).halt()
            del self.pollers[name]
        self.config = self.config.model_copy(update={"devices": new.devices})
        for name in changed + added:
            self.pollers[name] = self._poller(new_devices[name])
            self._running[name] = _RunningPoller(self.pollers[name])
        log.info(
            "config %s applied: %d devices restarted, %d added, %d removed, %d untouched",
            origin,
            len(changed),
            len(added),
            len(removed),
            len(old_devices) - len(changed) - len(removed),
        )
        return pending

    async def _watch_config(self, stop: asyncio.Event) -> None:
        """Reload when the file changes (polling its mtime: works on every filesystem)."""
        assert self.config_path is not None
        seen = self.config_path.stat().st_mtime_ns
        while not stop.is_set():
            await asyncio.sleep(CONFIG_CHECK_SECONDS)
            try:
                mtime = self.config_path.stat().st_mtime_ns
            except OSError:
                continue
            if mtime != seen:
                seen = mtime
                await self.reload()

    # --- what status, health and metrics show ---------------------------------------------

    def status(self) -> dict[str, Any]:
        devices = {
            name: {
                "endpoint": poller.driver.endpoint,
                "connected": poller.stats.connected,
                "reads": poller.stats.reads,
                "samples": poller.stats.samples,
                "suppressed": poller.stats.suppressed,
                "bad_samples": poller.stats.bad_samples,
                "overruns": poller.stats.overruns,
                "connection_errors": poller.stats.connection_errors,
                "last_read_seconds": round(poller.stats.last_read_seconds, 4),
                "last_error": poller.stats.last_error,
            }
            for name, poller in self.pollers.items()
        }
        outputs = {}
        for forwarder in self.forwarders:
            backlog = self.buffer.backlog(forwarder.output.name)
            outputs[forwarder.output.name] = {
                "delivered": forwarder.stats.delivered,
                "rejected": forwarder.stats.rejected,
                "failures": forwarder.stats.failures,
                "pending": backlog.points,
                "oldest_age_seconds": round(backlog.oldest_age_s, 1),
                "dropped": backlog.dropped,
                "last_error": forwarder.stats.last_error,
            }
        healthy = all(d["connected"] for d in devices.values()) and not any(
            o["last_error"] for o in outputs.values()
        )
        status: dict[str, Any] = {
            "agent": self.config.agent.name,
            "site": self.config.agent.site,
            "status": "ok" if healthy else "degraded",
            "uptime_seconds": round(time.time() - self.started_at, 1),
            "buffer": {"path": str(self.buffer.path), "bytes": self.buffer.size_bytes},
            "devices": devices,
            "outputs": outputs,
        }
        if self.config_origin is not None:
            status["config"] = dict(self.config_origin)
        return status


def _open_output(index: int, config: OutputConfig, base_dir: Path) -> Output:
    try:
        return output_for(config, base_dir)
    except OutputSetupError as exc:
        raise OutputSetupError(f"outputs[{index}] ({config.type}): {exc}") from None
