"""One device's poll loop: connect, read on clock-aligned ticks, reconnect with backoff.

Like Home Assistant's DataUpdateCoordinator, one object owns a device's schedule,
backoff and availability; what it reads goes to a callback that never blocks it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from edge_agent.backoff import Backoff
from edge_agent.config import DeviceConfig, TagGroup
from edge_agent.devices import Driver, driver_for, series_for, tag_settings
from edge_agent.exception_filter import ExceptionFilter
from historian import Point, SeriesKey
from historian.line_protocol import encode_points
from protocols.errors import DriverError
from protocols.sample import Quality, Sample

log = logging.getLogger(__name__)


@dataclass
class PollerStats:
    connected: bool = False
    reads: int = 0
    read_seconds: float = 0.0
    last_read_seconds: float = 0.0
    samples: int = 0
    suppressed: int = 0
    bad_samples: int = 0
    overruns: int = 0
    connection_errors: int = 0
    last_error: str | None = None


def next_tick(now: float, interval: float) -> float:
    """The next wall-clock multiple of ``interval`` after ``now``.

    Aligned ticks make samples from different devices and agents line up in time, which
    is what a plant manager expects when comparing two machines on one chart.
    """
    return (math.floor(now / interval) + 1) * interval


class DevicePoller:
    def __init__(
        self,
        device: DeviceConfig,
        site: str,
        deliver: Callable[[str, int], Awaitable[None]],
        driver: Driver | None = None,
        base_dir: Path | None = None,
    ) -> None:
        """``deliver(lines, count)`` must not return before the lines are stored."""
        self.device = device
        self.deliver = deliver
        self.driver = driver or driver_for(device, base_dir)
        self.series: dict[str, SeriesKey] = series_for(device, site)
        self.filter = ExceptionFilter(tag_settings(device, "deadband"), device.heartbeat)
        self.stats = PollerStats()
        self._tag_errors: dict[str, str] = {}

    @property
    def name(self) -> str:
        return self.device.name

    async def run(self, stop: asyncio.Event) -> None:
        backoff = Backoff(initial=0.5, maximum=30.0)
        while not stop.is_set():
            try:
                # A secured OPC UA connect (endpoints, session, types, limits, addresses)
                # is several round trips; one read's timeout would be too strict for it.
                await asyncio.wait_for(self.driver.connect(), timeout=3 * self.device.timeout)
            except (DriverError, TimeoutError, OSError) as exc:
                self._connection_lost(exc, "cannot connect")
                await _sleep(stop, _retry_delay(backoff, exc))
                continue
            self.stats.connected = True
            log.info("%s: connected to %s", self.name, self.driver.endpoint)
            backoff.reset()
            try:
                await self._run_groups(stop)
            except (DriverError, TimeoutError, OSError) as exc:
                self._connection_lost(exc, "connection lost")
                await self._close()
                await _sleep(stop, _retry_delay(backoff, exc))
            except Exception as exc:  # a bug must cost one device a reconnect, not the agent
                log.exception("%s: unexpected error, reconnecting", self.name)
                self._connection_lost(exc, "unexpected error")
                await self._close()
                await _sleep(stop, _retry_delay(backoff, exc))
        await self._close()

    async def _run_groups(self, stop: asyncio.Event) -> None:
        """Each tag group on its own schedule over the one connection, until one fails.

        A failure is the device's (its connection or session): the other groups stop
        too, and the device reconnects once for all of them.
        """
        groups = self.device.tag_groups()
        if len(groups) == 1:  # the common case: no groups, the driver's whole tag list
            groups = [dataclasses.replace(groups[0], indices=())]
        tasks = [asyncio.create_task(self._run_group(stop, g)) for g in groups]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            if (exc := task.exception()) is not None:
                raise exc

    async def _run_group(self, stop: asyncio.Event, group: TagGroup) -> None:
        # () stands for every tag: drivers (and test doubles) then get a plain read().
        args: tuple = (group.indices,) if group.indices else ()
        if group.mode == "subscribe":
            settings = None
            if group.subscription is not None and group.subscription is not getattr(
                self.device, "subscription", None
            ):
                from protocols.opcua_config import subscription_settings

                settings = subscription_settings(group)
            await self._consume(stop, *args, **({"settings": settings} if settings else {}))
        else:
            await self._poll(stop, group.name, group.interval, args)

    async def _poll(
        self, stop: asyncio.Event, name: str, interval: float, args: tuple = ()
    ) -> None:
        while not stop.is_set():
            tick = next_tick(time.time(), interval)
            if await _sleep(stop, tick - time.time()):
                return
            started = time.monotonic()
            # A driver that retries inside a read knows its own worst case (Modbus does).
            timeout = getattr(self.driver, "read_timeout", self.device.timeout)
            samples = await asyncio.wait_for(self.driver.read(*args), timeout=timeout)
            elapsed = time.monotonic() - started
            self.stats.read_seconds += elapsed
            self.stats.last_read_seconds = elapsed
            await self._handle(samples)
            if elapsed > interval:
                self.stats.overruns += 1
                log.warning(
                    "%s: read took %.2f s, longer than the %.2f s interval; skipping ticks",
                    name,
                    elapsed,
                    interval,
                )

    async def _consume(self, stop: asyncio.Event, *args: object, **kwargs: object) -> None:
        """Subscription mode: the server pushes changes; the driver's keep-alive, not a
        read timeout, tells a quiet plant from a dead server."""
        stream = self.driver.subscribe(*args, **kwargs)  # type: ignore[attr-defined]
        stopping = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                batch = asyncio.ensure_future(anext(stream))
                done, _ = await asyncio.wait({batch, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if batch not in done:
                    batch.cancel()
                    # Let the cancelled anext() finish before aclose(): closing a
                    # generator that is still running raises instead of closing it.
                    await asyncio.gather(batch, return_exceptions=True)
                    return
                await self._handle(batch.result())
        finally:
            stopping.cancel()
            await stream.aclose()

    def _series_of(self, tag: str) -> SeriesKey | None:
        """The series of a driver tag; array elements and struct fields (``tag[0]``,
        ``tag.field``) become series of their own under the configured tag's name."""
        key = self.series.get(tag)
        if key is not None:
            return key
        from protocols.opcua_types import split_member  # only OPC UA has members

        if split := split_member(tag, self.series):
            base, member = split
            key = dataclasses.replace(self.series[base], tag=self.series[base].tag + member)
            self.series[tag] = key
            self.filter.deadbands.setdefault(tag, self.filter.deadbands.get(base))
        return key

    async def _handle(self, samples: list[Sample]) -> None:
        self.stats.reads += 1
        points: list[Point] = []
        for sample in samples:
            key = self._series_of(sample.tag)
            if key is None:
                continue
            problem = None if sample.value is None else _unstorable(sample.value)
            if sample.quality is Quality.BAD or sample.value is None or problem:
                self.stats.bad_samples += 1
                error = sample.error or problem or f"bad quality for tag '{key.tag}'"
                if problem:
                    error = f"tag '{sample.tag}': {problem}"
                if self._tag_errors.get(sample.tag) != error:
                    log.warning("%s: %s", self.name, error)
                self._tag_errors[sample.tag] = error
                continue
            if self._tag_errors.pop(sample.tag, None) is not None:
                log.info("%s: tag %s reads again", self.name, sample.tag)
            self.stats.samples += 1
            if self.filter.should_send(
                sample.tag, sample.value, sample.quality, sample.timestamp_ns
            ):
                points.append(Point(key, sample.timestamp_ns, sample.value))
            else:
                self.stats.suppressed += 1
        if points:
            await self.deliver(encode_points(points), len(points))

    def _connection_lost(self, exc: BaseException, what: str) -> None:
        message = str(exc) or exc.__class__.__name__
        if isinstance(exc, TimeoutError):
            message = f"no answer from {self.driver.endpoint} within {self.device.timeout:g} s"
        self.stats.connected = False
        self.stats.connection_errors += 1
        if message != self.stats.last_error:
            log.warning("%s: %s: %s", self.name, what, message)
        self.stats.last_error = message

    async def _close(self) -> None:
        try:
            await self.driver.close()
        except Exception as exc:  # closing a broken connection must never stop the loop
            log.debug("%s: error while closing: %s", self.name, exc)


def _retry_delay(backoff: Backoff, exc: BaseException) -> float:
    """Our backoff, or longer when the driver asks (a device degraded after failures)."""
    delay = backoff.next_delay()
    after = getattr(exc, "retry_after", None)
    return delay if after is None else max(delay, after)


_INT64 = (-(2**63), 2**63 - 1)


def _unstorable(value: object) -> str | None:
    """Why InfluxDB could not store a value (a PLC's NaN or a huge uint64), else None."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"the value {value!r} is not a finite number"
    if (
        isinstance(value, int)
        and not isinstance(value, bool)
        and not _INT64[0] <= value <= _INT64[1]
    ):
        return f"the value {value} does not fit a 64-bit signed integer"
    return None


async def _sleep(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep, waking early on ``stop``; returns True when stopped."""
    if seconds <= 0:
        return stop.is_set()
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True
