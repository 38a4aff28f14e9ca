"""Subscriptions: the server samples the tags and sends what changed, as batches of Samples.

One subscription per device; its monitored items are created in batches that fit the
server's MaxMonitoredItemsPerCall. Notifications are taken from asyncua's iterator queue
and handed on one batch per wake-up, so the consumer gets a list per publish instead of
a task per change (9,600 changes/s would otherwise be 9,600 tasks/s).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from asyncua import Client, ua
from asyncua.common.subscription import (
    DataChangeEvent,
    OverflowPolicy,
    StatusChangeEvent,
    Subscription,
)

from protocols.errors import DriverConnectionError
from protocols.opcua_limits import batches
from protocols.sample import Sample, now_ns

log = logging.getLogger(__name__)

DeadbandType = Literal["none", "absolute", "percent"]
_DEADBAND = {
    "none": ua.DeadbandType.None_,
    "absolute": ua.DeadbandType.Absolute,
    "percent": ua.DeadbandType.Percent,
}


@dataclass(frozen=True)
class SubscriptionSettings:
    """How the server should watch a device's tags (times in seconds).

    ``sampling_interval`` None lets the server sample at the publishing interval (OPC UA's
    -1). A percent deadband is a percentage of the node's EURange, as OPC UA defines it,
    and the server refuses it for variables without one (a per-tag error).
    """

    publishing_interval: float = 1.0
    sampling_interval: float | None = None
    queue_size: int = 10
    deadband_type: DeadbandType = "none"
    deadband_value: float = 0.0

    def __post_init__(self) -> None:
        if self.publishing_interval <= 0:
            raise ValueError("publishing_interval must be positive")
        if self.queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        if self.deadband_type not in _DEADBAND or self.deadband_value < 0:
            raise ValueError("deadband_type must be none, absolute or percent, value >= 0")

    def item_request(self, node_id: ua.NodeId, handle: int) -> ua.MonitoredItemCreateRequest:
        params = ua.MonitoringParameters()
        params.ClientHandle = handle
        params.SamplingInterval = (
            -1.0 if self.sampling_interval is None else self.sampling_interval * 1000
        )
        params.QueueSize = self.queue_size
        params.DiscardOldest = True
        if self.deadband_type != "none":
            params.Filter = ua.DataChangeFilter(
                Trigger=ua.DataChangeTrigger.StatusValue,
                DeadbandType=_DEADBAND[self.deadband_type],
                DeadbandValue=self.deadband_value,
            )
        request = ua.MonitoredItemCreateRequest()
        request.ItemToMonitor = ua.ReadValueId(NodeId=node_id, AttributeId=ua.AttributeIds.Value)
        request.MonitoringMode = ua.MonitoringMode.Reporting
        request.RequestedParameters = params
        return request


# (tag index, DataValue, agent receive time) -> Samples; the driver owns the conversion.
Convert = Callable[[int, ua.DataValue, int], list[Sample]]


class _Skip:
    """A tag another subscription of the session (another tag group) watches."""

    def __repr__(self) -> str:
        return "SKIP"


SKIP = _Skip()


async def stream_changes(
    client: Client,
    settings: SubscriptionSettings,
    node_ids: Sequence[ua.NodeId | _Skip | None],
    bad: Callable[[int, str | None], Sample],
    convert: Convert,
    max_items_per_call: int,
    poll_seconds: float,
    endpoint: str,
) -> AsyncIterator[list[Sample]]:
    """Create the subscription and yield Samples until the connection breaks.

    Raises DriverConnectionError when the session is lost; the caller reconnects and
    calls this again, which re-creates the subscription on the new session.
    """
    queue_max = max(10_000, 10 * len(node_ids))
    try:
        sub = await client.create_subscription(
            settings.publishing_interval * 1000,
            handler=None,
            queue_maxsize=queue_max,
            overflow=OverflowPolicy.DROP_OLDEST,
        )
    except (OSError, TimeoutError, ConnectionError, ua.UaError) as exc:
        raise DriverConnectionError(
            f"OPC UA {endpoint}: cannot create subscription: {exc}"
        ) from exc
    try:
        first = await _create_items(sub, settings, node_ids, bad, max_items_per_call)
        if first:
            yield first
        while True:
            try:
                event = await sub.next_event(timeout=poll_seconds)
            except StopAsyncIteration:
                raise DriverConnectionError(f"OPC UA {endpoint}: subscription closed") from None
            if event is None:
                if client.uaclient.state.value in ("disconnected", "disconnecting"):
                    raise DriverConnectionError(f"OPC UA {endpoint}: connection lost")
                continue
            events = [event, *_drain(sub)]
            received = now_ns()
            samples: list[Sample] = []
            for ev in events:
                if isinstance(ev, StatusChangeEvent):
                    status = ev.notification.Status
                    if status.is_bad():
                        raise DriverConnectionError(
                            f"OPC UA {endpoint}: subscription lost ({status.name})"
                        )
                elif isinstance(ev, DataChangeEvent):
                    handle = ev.data.subscription_data.client_handle or 0
                    samples.extend(convert(handle - 1, ev.data.monitored_item.Value, received))
            if samples:
                yield samples
    finally:
        await _quiet_delete(sub)


async def _create_items(
    sub: Subscription,
    settings: SubscriptionSettings,
    node_ids: Sequence[ua.NodeId | _Skip | None],
    bad: Callable[[int, str | None], Sample],
    max_items_per_call: int,
) -> list[Sample]:
    """Monitored items in batches; tags the server refuses come back as BAD samples."""
    refused: list[Sample] = [bad(i, None) for i, n in enumerate(node_ids) if n is None]
    # Client handles are tag index + 1 (0 is reserved by some servers for "none").
    wanted = [(i, n) for i, n in enumerate(node_ids) if n is not None and n is not SKIP]
    for batch in batches(wanted, max_items_per_call):
        results = await sub.create_monitored_items(
            [settings.item_request(n, i + 1) for i, n in batch]
        )
        for (i, _), result in zip(batch, results, strict=True):
            if isinstance(result, ua.StatusCode):
                refused.append(bad(i, f"monitored item refused ({result.name})"))
    return refused


def _drain(sub: Subscription) -> list[object]:
    queue = sub._event_queue  # asyncua has no public "take all pending" call
    out: list[object] = []
    while queue is not None:
        try:
            item = queue.get_nowait()
        except asyncio.QueueEmpty:
            break
        if item is None:  # the close sentinel: leave it for next_event to see
            queue.put_nowait(None)
            break
        out.append(item)
    return out


async def _quiet_delete(sub: Subscription) -> None:
    try:
        await asyncio.wait_for(sub.delete(), timeout=2.0)
    except Exception as exc:  # the session may already be gone; nothing to clean then
        log.debug("ignoring error while deleting subscription: %r", exc)
