"""The server's OperationLimits, and splitting requests into batches that fit them.

A server that caps MaxNodesPerRead at 50 answers a 500-node Read with
BadTooManyOperations for the whole request, so every multi-node service call the driver
makes (Read, RegisterNodes, TranslateBrowsePaths, CreateMonitoredItems) is cut to the
server's own limit, read once per session.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

from asyncua import Client, ua

log = logging.getLogger(__name__)

T = TypeVar("T")

_PREFIX = "Server_ServerCapabilities_OperationLimits_"
_NODES = {
    name: getattr(ua.ObjectIds, _PREFIX + ua_name)
    for name, ua_name in (
        ("max_nodes_per_read", "MaxNodesPerRead"),
        ("max_nodes_per_register", "MaxNodesPerRegisterNodes"),
        ("max_nodes_per_translate", "MaxNodesPerTranslateBrowsePathsToNodeIds"),
        ("max_nodes_per_browse", "MaxNodesPerBrowse"),
        ("max_monitored_items_per_call", "MaxMonitoredItemsPerCall"),
    )
}
# OPC UA says 0 (or an absent node) means "no limit"; we still cut at this, because one
# huge request holds the server (and our session's watchdog) for a long time.
DEFAULT_LIMIT = 1000


@dataclass(frozen=True)
class OperationLimits:
    max_nodes_per_read: int = DEFAULT_LIMIT
    max_nodes_per_register: int = DEFAULT_LIMIT
    max_nodes_per_translate: int = DEFAULT_LIMIT
    max_nodes_per_browse: int = DEFAULT_LIMIT
    max_monitored_items_per_call: int = DEFAULT_LIMIT


async def read_operation_limits(client: Client, cap: int = DEFAULT_LIMIT) -> OperationLimits:
    """The server's limits, each no larger than ``cap`` (0 or unreadable: ``cap``)."""
    nodes = [client.get_node(ua.NodeId(i)) for i in _NODES.values()]
    try:
        values = await client.read_attributes(nodes, ua.AttributeIds.Value)
    except ua.UaStatusCodeError as exc:  # a server without the capability nodes
        log.debug("cannot read OperationLimits (%s); using %d", exc, cap)
        values = []
    limits: dict[str, int] = {}
    for name, data in zip(_NODES, values, strict=False):
        raw = data.Value.Value if data.StatusCode.is_good() and data.Value else 0
        limits[name] = min(int(raw), cap) if isinstance(raw, int) and raw > 0 else cap
    for name in _NODES:
        limits.setdefault(name, cap)
    return OperationLimits(**limits)


def batches(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """``items`` in consecutive slices of at most ``size``."""
    for first in range(0, len(items), max(size, 1)):
        yield items[first : first + size]
