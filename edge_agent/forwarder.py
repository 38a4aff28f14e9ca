"""Per-output queue: batches points, retries with backoff, drops oldest on overflow.

Each output has its own forwarder, so a slow InfluxDB never holds back the SQLite store.
This queue is in memory; points still queued when the process dies are lost.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass

from edge_agent.backoff import Backoff
from edge_agent.outputs import Output, OutputRejected, OutputUnavailable
from historian import Point

log = logging.getLogger(__name__)


@dataclass
class ForwarderStats:
    delivered: int = 0
    rejected: int = 0
    dropped: int = 0
    failures: int = 0
    last_error: str | None = None


class Forwarder:
    def __init__(
        self,
        output: Output,
        batch_size: int = 5000,
        flush_interval: float = 1.0,
        max_queue: int = 1_000_000,
    ) -> None:
        self.output = output
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.max_queue = max_queue
        self.stats = ForwarderStats()
        self._queue: deque[Point] = deque()
        self._ready = asyncio.Event()
        self._backoff = Backoff(initial=0.5, maximum=30.0)
        self._last_drop_log = 0.0

    @property
    def pending(self) -> int:
        return len(self._queue)

    def put(self, points: list[Point]) -> None:
        self._queue.extend(points)
        overflow = len(self._queue) - self.max_queue
        if overflow > 0:
            for _ in range(overflow):
                self._queue.popleft()
            self.stats.dropped += overflow
            now = time.monotonic()
            if now - self._last_drop_log > 10:
                self._last_drop_log = now
                log.warning(
                    "%s: queue full (%d points), dropped the oldest; %d dropped so far",
                    self.output.name,
                    self.max_queue,
                    self.stats.dropped,
                )
        if len(self._queue) >= self.batch_size:
            self._ready.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set; then return, leaving the rest to ``flush``."""
        while not stop.is_set():
            if len(self._queue) < self.batch_size:
                await _wait(self._ready, stop, self.flush_interval)
            self._ready.clear()
            if self._queue and not await self._send_one():
                await _wait(stop, stop, self._backoff.next_delay())

    async def flush(self, deadline: float) -> None:
        """Send what is queued until empty, a failure, or ``deadline`` (monotonic)."""
        while self._queue and time.monotonic() < deadline:
            remaining = deadline - time.monotonic()
            try:
                ok = await asyncio.wait_for(self._send_one(), timeout=max(remaining, 0.01))
            except TimeoutError:
                break
            if not ok:
                break
        if self._queue:
            log.warning(
                "%s: %d points not delivered at shutdown", self.output.name, len(self._queue)
            )

    async def _send_one(self) -> bool:
        batch = [self._queue[i] for i in range(min(self.batch_size, len(self._queue)))]
        try:
            await self.output.write(batch)
        except OutputUnavailable as exc:
            self.stats.failures += 1
            if self.stats.last_error != str(exc):
                log.warning("%s unavailable, will retry: %s", self.output.name, exc)
            self.stats.last_error = str(exc)
            return False
        except OutputRejected as exc:
            self.stats.rejected += len(batch)
            log.error("%s: %d points rejected and dropped: %s", self.output.name, len(batch), exc)
        else:
            self.stats.delivered += len(batch)
            if self.stats.last_error is not None:
                log.info("%s delivering again", self.output.name)
                self.stats.last_error = None
        for _ in range(len(batch)):
            self._queue.popleft()
        self._backoff.reset()
        return True


async def _wait(event: asyncio.Event, stop: asyncio.Event, timeout: float) -> None:
    """Sleep up to ``timeout``, waking early when ``event`` or ``stop`` is set."""
    waiters = {asyncio.ensure_future(event.wait())}
    if stop is not event:
        waiters.add(asyncio.ensure_future(stop.wait()))
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
