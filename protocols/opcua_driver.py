"""OPC UA driver: batched reads of Value attributes, one Sample per configured node."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from asyncua import Client, Node, ua

from protocols.errors import DriverConnectionError, DriverError
from protocols.sample import Quality, Sample, Value, now_ns

log = logging.getLogger(__name__)

# asyncua logs every session, channel and subscription step at INFO; in an agent polling
# dozens of devices that drowns the lines that matter. Only quieten it when the
# application has not chosen a level itself.
_asyncua_log = logging.getLogger("asyncua")
if _asyncua_log.level == logging.NOTSET:
    _asyncua_log.setLevel(logging.WARNING)

SESSION_TIMEOUT_MS = 600_000

_INTEGER_VARIANTS = frozenset(
    {
        ua.VariantType.SByte,
        ua.VariantType.Byte,
        ua.VariantType.Int16,
        ua.VariantType.UInt16,
        ua.VariantType.Int32,
        ua.VariantType.UInt32,
        ua.VariantType.Int64,
        ua.VariantType.UInt64,
    }
)
_FLOAT_VARIANTS = frozenset({ua.VariantType.Float, ua.VariantType.Double})

# Status codes of a whole service call that mean the session or channel is gone, so the
# caller should reconnect (as opposed to e.g. BadTooManyOperations, a configuration fault).
_CONNECTION_STATUS = frozenset(
    {
        ua.StatusCodes.BadSessionIdInvalid,
        ua.StatusCodes.BadSessionClosed,
        ua.StatusCodes.BadSessionNotActivated,
        ua.StatusCodes.BadSecureChannelClosed,
        ua.StatusCodes.BadSecureChannelIdInvalid,
        ua.StatusCodes.BadConnectionClosed,
        ua.StatusCodes.BadCommunicationError,
        ua.StatusCodes.BadTimeout,
        ua.StatusCodes.BadServerNotConnected,
        ua.StatusCodes.BadNotConnected,
        ua.StatusCodes.BadShutdown,
    }
)


def parse_node_id(tag: str, node_id: str) -> ua.NodeId:
    """``ns=2;s=IMM01.MeltTemp`` -> NodeId; a ValueError names the tag and the string."""
    try:
        parsed = ua.NodeId.from_string(node_id)
    except (ua.UaError, ValueError) as exc:
        raise ValueError(f"tag {tag!r}: malformed OPC UA NodeId {node_id!r}") from exc
    if parsed.Identifier in ("", None):
        raise ValueError(f"tag {tag!r}: malformed OPC UA NodeId {node_id!r} (empty identifier)")
    return parsed


@dataclass(frozen=True)
class OpcUaTag:
    """One OPC UA variable to read, by NodeId string (``ns=2;s=...``, ``ns=3;i=1001``)."""

    name: str
    node_id: str
    parsed: ua.NodeId = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "parsed", parse_node_id(self.name, self.node_id))


def variant_to_value(variant: ua.Variant) -> Value:
    """A scalar Variant -> a Python value; raises TypeError for what is not supported yet."""
    vtype = variant.VariantType
    if variant.is_array or isinstance(variant.Value, list):
        raise TypeError(f"array of {vtype.name} is not supported yet")
    if variant.Value is None:
        raise TypeError(f"{vtype.name} without a value")
    if vtype == ua.VariantType.Boolean:
        return bool(variant.Value)
    if vtype in _INTEGER_VARIANTS:
        return int(variant.Value)
    if vtype in _FLOAT_VARIANTS:
        return float(variant.Value)
    if vtype == ua.VariantType.String:
        return str(variant.Value)
    if vtype == ua.VariantType.DateTime:
        stamp: dt.datetime = variant.Value
        if stamp.tzinfo is None:  # OPC UA DateTime is UTC by definition
            stamp = stamp.replace(tzinfo=dt.UTC)
        return stamp.isoformat()
    raise TypeError(f"type {vtype.name} is not supported yet")


class OpcUaDriver:
    """Reads a fixed list of nodes from one OPC UA server (NoSecurity for now).

    ``read()`` returns one Sample per tag in the order the tags were given; names may
    repeat across assets, so callers match samples by position.
    """

    def __init__(
        self,
        endpoint: str,
        tags: Sequence[OpcUaTag],
        timeout: float = 5.0,
        max_nodes_per_read: int = 1000,
    ) -> None:
        if max_nodes_per_read < 1:
            raise ValueError("max_nodes_per_read must be >= 1")
        self.endpoint = endpoint
        self.tags = list(tags)
        self.timeout = timeout
        self.max_nodes_per_read = max_nodes_per_read
        self._client: Client | None = None
        self._nodes: list[Node] = []

    @property
    def connected(self) -> bool:
        return self._client is not None

    async def connect(self) -> None:
        """Open a session; raises DriverConnectionError when the server cannot be reached."""
        await self.close()
        # The watchdog probes the server every interval and drops the session when a probe
        # is late; a server busy with a large read answers late, so give it slack.
        client = Client(self.endpoint, timeout=self.timeout, watchdog_intervall=4 * self.timeout)
        # asyncua asks for a one-hour session and warns when servers (most cap at ten
        # minutes) grant less; ask for what servers grant. The agent reconnects anyway.
        client.session_timeout = SESSION_TIMEOUT_MS
        try:
            await asyncio.wait_for(client.connect(), timeout=2 * self.timeout + 1)
        except (OSError, TimeoutError, ua.UaError) as exc:
            await _quiet_disconnect(client)
            raise DriverConnectionError(
                f"cannot connect to OPC UA {self.endpoint}: {exc or type(exc).__name__}"
            ) from exc
        self._client = client
        self._nodes = [client.get_node(t.parsed) for t in self.tags]

    async def close(self) -> None:
        """Close the session; safe to call more than once."""
        client, self._client = self._client, None
        if client is not None:
            await _quiet_disconnect(client)

    async def read(self) -> list[Sample]:
        """Read every tag once, in chunks of ``max_nodes_per_read``, in configuration order."""
        client = self._client
        if client is None:
            raise DriverConnectionError(f"not connected to OPC UA {self.endpoint}")
        started = now_ns()
        samples: list[Sample] = []
        step = self.max_nodes_per_read
        for first in range(0, len(self.tags), step):
            tags = self.tags[first : first + step]
            nodes = self._nodes[first : first + step]
            values = await self._read_chunk(client, nodes)
            samples.extend(
                _to_sample(tag, value, started) for tag, value in zip(tags, values, strict=True)
            )
        return samples

    async def _read_chunk(self, client: Client, nodes: list[Node]) -> list[ua.DataValue]:
        try:
            return await asyncio.wait_for(
                client.read_attributes(nodes, ua.AttributeIds.Value), timeout=self.timeout
            )
        except ua.UaStatusCodeError as exc:
            if exc.code in _CONNECTION_STATUS:
                await self.close()
                raise DriverConnectionError(
                    f"OPC UA {self.endpoint}: session lost ({type(exc).__name__})"
                ) from exc
            raise DriverError(f"OPC UA {self.endpoint}: read failed: {exc}") from exc
        except (OSError, TimeoutError, ua.UaError) as exc:
            await self.close()
            raise DriverConnectionError(
                f"OPC UA {self.endpoint}: read failed, connection lost or timed out "
                f"({type(exc).__name__}: {exc})"
            ) from exc


def _to_sample(tag: OpcUaTag, data: ua.DataValue, timestamp_ns: int) -> Sample:
    status = data.StatusCode if data.StatusCode is not None else ua.StatusCode()
    where = f"tag {tag.name!r} ({tag.node_id})"
    if status.is_bad():
        return Sample(tag.name, None, timestamp_ns, Quality.BAD, f"{where}: {status.name}")
    try:
        value = variant_to_value(data.Value) if data.Value is not None else None
    except TypeError as exc:
        return Sample(tag.name, None, timestamp_ns, Quality.BAD, f"{where}: {exc}")
    if value is None:
        return Sample(tag.name, None, timestamp_ns, Quality.BAD, f"{where}: no value")
    if status.is_uncertain():
        return Sample(tag.name, value, timestamp_ns, Quality.UNCERTAIN, f"{where}: {status.name}")
    return Sample(tag.name, value, timestamp_ns)


async def _quiet_disconnect(client: Client) -> None:
    # Disconnecting a half-open or dead session raises all sorts; there is nothing to do
    # about it, the socket is going away either way.
    try:
        await asyncio.wait_for(client.disconnect(), timeout=2.0)
    except Exception as exc:
        log.debug("ignoring error while disconnecting OPC UA client: %r", exc)
