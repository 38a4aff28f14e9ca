"""One forwarder per output: drains the durable buffer from that output's cursor.

Batches leave when they reach ``batch_size`` points or their oldest row has waited
``flush_interval``; after an outage full batches follow each other with no pause, so a
backlog drains at the output's full speed while pollers keep appending live data.
A batch is acknowledged (and may leave the disk) only after the output accepted it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from edge_agent.backoff import Backoff
from edge_agent.buffer import Batch, StoreAndForwardBuffer
from edge_agent.outputs import Output, OutputRejected, OutputUnavailable

log = logging.getLogger(__name__)


@dataclass
class ForwarderStats:
    delivered: int = 0
    rejected: int = 0
    writes: int = 0
    failures: int = 0
    write_seconds: float = 0.0
    last_error: str | None = None


class Forwarder:
    def __init__(
        self,
        output: Output,
        buffer: StoreAndForwardBuffer,
        batch_size: int = 5000,
        flush_interval: float = 1.0,
        retry_max: float = 30.0,
    ) -> None:
        self.output = output
        self.buffer = buffer
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.stats = ForwarderStats()
        self._wake = asyncio.Event()
        self._arrived = 0
        self._backoff = Backoff(initial=0.5, maximum=retry_max)
        self._retry_after: float | None = None

    def notify(self, points: int) -> None:
        """The poller stored ``points`` more; wake up early once a batch is full."""
        self._arrived += points
        if self._arrived >= self.batch_size:
            self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set; what is left stays on disk for ``flush``."""
        while not stop.is_set():
            self._arrived = 0
            batch = await asyncio.to_thread(self.buffer.read, self.output.name, self.batch_size)
            if batch is None:
                await _wait(self._wake, stop, self.flush_interval)
                continue
            waited = (time.time_ns() - batch.oldest_ns) / 1e9
            if batch.points < self.batch_size and waited < self.flush_interval:
                await _wait(self._wake, stop, self.flush_interval - waited)
                continue
            if not await self._send(batch):
                delay = max(self._backoff.next_delay(), self._retry_after or 0.0)
                await _wait(stop, stop, delay)

    async def flush(self, deadline: float) -> None:
        """Send what is stored, regardless of age, until done, a failure or ``deadline``."""
        while time.monotonic() < deadline:
            batch = await asyncio.to_thread(self.buffer.read, self.output.name, self.batch_size)
            if batch is None:
                return
            try:
                sent = await asyncio.wait_for(self._send(batch), deadline - time.monotonic())
            except TimeoutError:
                sent = False
            if not sent:
                break
        backlog = self.buffer.backlog(self.output.name)
        if backlog.points:
            log.info(
                "%s: %d points stay in the buffer for the next start",
                self.output.name,
                backlog.points,
            )

    async def _send(self, batch: Batch) -> bool:
        started = time.monotonic()
        try:
            await self.output.write(batch.body, batch.points)
        except OutputUnavailable as exc:
            self._retry_after = exc.retry_after
            self.stats.failures += 1
            if self.stats.last_error != str(exc):
                log.warning("%s unavailable, will retry: %s", self.output.name, exc)
            self.stats.last_error = str(exc)
            return False
        except OutputRejected as exc:
            self.stats.rejected += batch.points
            log.error("%s: %d points rejected and dropped: %s", self.output.name, batch.points, exc)
        else:
            self.stats.delivered += batch.points
            self.stats.writes += 1
            self.stats.write_seconds += time.monotonic() - started
            if self.stats.last_error is not None:
                log.info("%s delivering again", self.output.name)
                self.stats.last_error = None
        await asyncio.to_thread(self.buffer.acknowledge, self.output.name, batch)
        self._backoff.reset()
        return True


async def _wait(event: asyncio.Event, stop: asyncio.Event, timeout: float) -> None:
    """Sleep up to ``timeout``, waking early when ``event`` or ``stop`` is set."""
    waiters = {asyncio.ensure_future(event.wait())}
    if stop is not event:
        waiters.add(asyncio.ensure_future(stop.wait()))
    try:
        await asyncio.wait(waiters, timeout=max(timeout, 0), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        if event is not stop:
            event.clear()
