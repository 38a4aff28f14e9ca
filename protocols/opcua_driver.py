"""OPC UA driver: one session per server, batched reads or a subscription, Samples out.

The parts live beside it: addressing (NodeIds, browse paths), limits (OperationLimits
and batching), types (values to Samples), security, subscription.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from asyncua import Client, ua

from protocols.errors import DriverConnectionError, DriverError
from protocols.opcua_addressing import TagAddress, parse_node_id, resolve_addresses
from protocols.opcua_limits import OperationLimits, batches, read_operation_limits
from protocols.opcua_security import ClientSecurity, apply_security, describe_security_failure
from protocols.opcua_subscription import SKIP as _SKIP
from protocols.opcua_subscription import SubscriptionSettings, stream_changes
from protocols.opcua_types import (
    TIMESTAMP_MODES,
    UnsupportedValue,
    sample_time,
    to_samples,
    variant_to_value,
)
from protocols.sample import Quality, Sample, now_ns

__all__ = [
    "OpcUaDriver",
    "OpcUaTag",
    "SubscriptionSettings",
    "UnsupportedValue",
    "parse_node_id",
    "variant_to_value",
]

log = logging.getLogger(__name__)

# asyncua logs every session, channel and subscription step at INFO; in an agent polling
# dozens of devices that drowns the lines that matter. Only quieten it when the
# application has not chosen a level itself.
_asyncua_log = logging.getLogger("asyncua")
if _asyncua_log.level == logging.NOTSET:
    _asyncua_log.setLevel(logging.WARNING)

SESSION_TIMEOUT_MS = 600_000

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


@dataclass(frozen=True)
class OpcUaTag:
    """One OPC UA variable: by NodeId string (``ns=2;s=…``, ``nsu=urn:…;i=5``) or browse
    path from Objects (``Objects/2:IMM-01/2:MeltTemp``), exactly one of the two."""

    name: str
    node_id: str | None = None
    path: str | None = None
    address: TagAddress = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "address", TagAddress(self.name, self.node_id, self.path))

    @property
    def where(self) -> str:
        """How log lines name this tag: ``tag 'melt' (ns=2;s=IMM01.MeltTemp)``."""
        return f"tag {self.name!r} ({self.address.text})"


class OpcUaDriver:
    """Reads, or subscribes to, a fixed list of tags on one OPC UA server.

    ``read()`` returns Samples in tag order: one per scalar tag, one per member for
    arrays and structures (``tag[0]``, ``tag.field``). ``subscribe()`` yields batches of
    changed Samples. Both raise DriverConnectionError when the session is lost; the
    caller closes, backs off and calls ``connect()`` again — the driver never retries.
    """

    def __init__(
        self,
        endpoint: str,
        tags: Sequence[OpcUaTag],
        timeout: float = 5.0,
        max_nodes_per_read: int = 1000,
        *,
        timestamp: str = "agent",
        security: ClientSecurity | None = None,
        subscription: SubscriptionSettings | None = None,
        watchdog_interval: float | None = None,
    ) -> None:
        if max_nodes_per_read < 1:
            raise ValueError("max_nodes_per_read must be >= 1")
        if timestamp not in TIMESTAMP_MODES:
            raise ValueError(f"timestamp must be one of {', '.join(TIMESTAMP_MODES)}")
        self.endpoint = endpoint
        self.tags = list(tags)
        self.timeout = timeout
        self.max_nodes_per_read = max_nodes_per_read
        self.timestamp = timestamp
        self.security = security or ClientSecurity()
        self.subscription = subscription or SubscriptionSettings()
        # The watchdog probes the server every interval and drops the session when a
        # probe is late; a server busy with a large read answers late, so give it slack.
        self.watchdog_interval = watchdog_interval or 4 * timeout
        self.limits = OperationLimits()
        self.sessions_opened = 0  # one per connect(); a retry never opens a second
        self._client: Client | None = None
        self._node_ids: list[ua.NodeId | None] = []
        self._errors: list[str | None] = []
        # Built once: formatting it per sample per read costs more than the decoding.
        self._where = [t.where for t in self.tags]
        self._timestamps = (
            ua.TimestampsToReturn.Both if timestamp != "agent" else ua.TimestampsToReturn.Neither
        )

    @property
    def connected(self) -> bool:
        return self._client is not None

    async def connect(self) -> None:
        """Open a session and prepare the tags; DriverConnectionError if that fails."""
        await self.close()
        client = Client(
            self.endpoint, timeout=self.timeout, watchdog_intervall=self.watchdog_interval
        )
        # asyncua asks for a one-hour session and warns when servers (most cap at ten
        # minutes) grant less; ask for what servers grant. The agent reconnects anyway.
        client.session_timeout = SESSION_TIMEOUT_MS
        client.name = client.description = "Mingzhou edge agent"
        try:
            await asyncio.wait_for(apply_security(client, self.security), timeout=2 * self.timeout)
            await asyncio.wait_for(client.connect(), timeout=2 * self.timeout + 1)
            self.sessions_opened += 1
            await self._prepare(client)
        except DriverConnectionError:
            await _quiet_disconnect(client)
            raise
        except (OSError, TimeoutError, ConnectionError, ua.UaError) as exc:
            await _quiet_disconnect(client)
            reason = describe_security_failure(exc, self.endpoint, self.security)
            raise DriverConnectionError(
                reason or f"cannot connect to OPC UA {self.endpoint}: {exc or type(exc).__name__}"
            ) from exc
        self._client = client

    async def _prepare(self, client: Client) -> None:
        """Limits, custom types and NodeIds for this session (they may differ per session)."""
        self.limits = await read_operation_limits(client, cap=self.max_nodes_per_read)
        try:
            # Structures are decoded with the server's own DataTypeDefinitions; without
            # them a structure is a per-tag error, not a failed connect.
            await client.load_data_type_definitions()
        except Exception as exc:
            log.warning("OPC UA %s: cannot load data-type definitions: %s", self.endpoint, exc)
        resolved = await resolve_addresses(
            client, [t.address for t in self.tags], self.limits.max_nodes_per_translate
        )
        self._node_ids = [r.node_id for r in resolved]
        self._errors = [r.error for r in resolved]
        self._node_ids = await self._register(client, self._node_ids)

    async def _register(
        self, client: Client, node_ids: list[ua.NodeId | None]
    ) -> list[ua.NodeId | None]:
        """RegisterNodes, in batches: servers may answer repeated reads of them faster."""
        out = list(node_ids)
        wanted = [(i, n) for i, n in enumerate(node_ids) if n is not None]
        try:
            for batch in batches(wanted, self.limits.max_nodes_per_register):
                registered = await client.uaclient.register_nodes([n for _, n in batch])
                for (i, _), n in zip(batch, registered, strict=True):
                    out[i] = n
        except ua.UaStatusCodeError as exc:  # optional service: read by plain NodeIds then
            log.debug("OPC UA %s: RegisterNodes refused (%s)", self.endpoint, exc)
            return list(node_ids)
        return out

    async def close(self) -> None:
        """Close the session; safe to call more than once."""
        client, self._client = self._client, None
        if client is not None:
            await _quiet_disconnect(client)

    def _require_client(self) -> Client:
        if self._client is None:
            raise DriverConnectionError(f"not connected to OPC UA {self.endpoint}")
        return self._client

    async def read(self, indices: Sequence[int] | None = None) -> list[Sample]:
        """Read every tag once (or the tags at ``indices``: a tag group), in batches the
        server accepts, in configuration order."""
        client = self._require_client()
        started = now_ns()
        samples: list[Sample] = []
        chosen = range(len(self.tags)) if indices is None else indices
        wanted = [i for i in chosen if self._node_ids[i] is not None]
        values: dict[int, ua.DataValue] = {}
        for batch in batches(wanted, self.limits.max_nodes_per_read):
            results = await self._read_batch(client, [self._node_ids[i] for i in batch])  # type: ignore[misc]
            values.update(zip(batch, results, strict=True))
        for i in chosen:
            data = values.get(i)
            if data is None:
                samples.append(self._bad(i, None, started))
            else:
                samples.extend(self._convert(i, data, started))
        return samples

    async def _read_batch(self, client: Client, node_ids: list[ua.NodeId]) -> list[ua.DataValue]:
        params = ua.ReadParameters()
        params.TimestampsToReturn = self._timestamps
        params.NodesToRead = [
            ua.ReadValueId(NodeId=n, AttributeId=ua.AttributeIds.Value) for n in node_ids
        ]
        try:
            return await asyncio.wait_for(client.uaclient.read(params), timeout=self.timeout)
        except ua.UaStatusCodeError as exc:
            if exc.code in _CONNECTION_STATUS:
                await self.close()
                raise DriverConnectionError(
                    f"OPC UA {self.endpoint}: session lost ({type(exc).__name__})"
                ) from exc
            raise DriverError(f"OPC UA {self.endpoint}: read failed: {exc}") from exc
        except (OSError, TimeoutError, ConnectionError, ua.UaError) as exc:
            await self.close()
            raise DriverConnectionError(
                f"OPC UA {self.endpoint}: read failed, connection lost or timed out "
                f"({type(exc).__name__}: {exc})"
            ) from exc

    async def subscribe(
        self,
        indices: Sequence[int] | None = None,
        settings: SubscriptionSettings | None = None,
    ) -> AsyncIterator[list[Sample]]:
        """Yield batches of Samples as the server reports changes, until the session breaks.

        ``indices`` subscribes a tag group only, with its own ``settings`` if given; each
        group is a subscription of its own on the one session.

        The first batch holds BAD samples for tags that could not be monitored (unknown
        node, refused filter); after that, one batch per publish. Raises
        DriverConnectionError on a lost session: close(), back off, connect() and call
        subscribe() again — that re-creates the subscription on the new session.
        """
        client = self._require_client()
        try:
            chosen = set(range(len(self.tags)) if indices is None else indices)
            node_ids = [n if i in chosen else _SKIP for i, n in enumerate(self._node_ids)]
            settings = settings or self.subscription
            async for samples in stream_changes(
                client,
                settings,
                node_ids,
                lambda i, why: self._bad(i, why, now_ns()),
                self._convert,
                self.limits.max_monitored_items_per_call,
                poll_seconds=max(self.timeout, settings.publishing_interval),
                endpoint=self.endpoint,
            ):
                yield samples
        except DriverConnectionError:
            await self.close()
            raise
        except (OSError, TimeoutError, ConnectionError, ua.UaError) as exc:
            await self.close()
            raise DriverConnectionError(
                f"OPC UA {self.endpoint}: subscription failed: {exc}"
            ) from exc

    def _convert(self, i: int, data: ua.DataValue, agent_ns: int) -> list[Sample]:
        return to_samples(
            self.tags[i].name, self._where[i], data, sample_time(data, self.timestamp, agent_ns)
        )

    def _bad(self, i: int, why: str | None, timestamp_ns: int) -> Sample:
        tag = self.tags[i]
        reason = why or (self._errors[i] if i < len(self._errors) else None) or "not resolved"
        return Sample(tag.name, None, timestamp_ns, Quality.BAD, f"{tag.where}: {reason}")


async def _quiet_disconnect(client: Client) -> None:
    # Disconnecting a half-open or dead session raises all sorts; there is nothing to do
    # about it, the socket is going away either way.
    try:
        await asyncio.wait_for(client.disconnect(), timeout=2.0)
    except Exception as exc:
        log.debug("ignoring error while disconnecting OPC UA client: %r", exc)
