"""Walk a server's address space from Objects and describe its variables as agent tags.

An integrator facing a new PLC wants its tag list as a config to edit, not a tree to
click through. Objects become assets, variables their tags; the standard Server object
(diagnostics, capabilities) and properties (metadata such as EURange) are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from asyncua import Client, ua

from protocols.opcua_limits import batches, read_operation_limits

_SERVER_OBJECT = ua.NodeId(ua.ObjectIds.Server)
_HAS_PROPERTY = ua.NodeId(ua.ObjectIds.HasProperty)
_MASK = ua.NodeClass.Object | ua.NodeClass.Variable


@dataclass(frozen=True)
class FoundVariable:
    """A variable found while browsing: where it is and what it holds."""

    node_id: str
    path: str  # browse path from Objects, e.g. Objects/2:IMM-01/2:MeltTemp
    asset: str  # browse name of the nearest object above it
    browse_name: str
    data_type: str  # built-in type name (Double, UInt32 …) or the custom type's NodeId


@dataclass(frozen=True)
class _Pending:
    node_id: ua.NodeId
    path: str
    asset: str
    depth: int


async def browse_variables(client: Client, depth: int = 5) -> list[FoundVariable]:
    """Every variable up to ``depth`` levels below Objects, in browse order."""
    limits = await read_operation_limits(client)
    objects = ua.NodeId(ua.ObjectIds.ObjectsFolder)
    level = [_Pending(objects, "Objects", "", 0)]
    found: list[tuple[ua.NodeId, str, str, str]] = []
    seen = {objects}
    while level:
        below: list[_Pending] = []
        for batch in batches(level, limits.max_nodes_per_browse):
            for parent, refs in zip(batch, await _browse(client, batch), strict=True):
                for ref in refs:
                    node_id = ua.NodeId(ref.NodeId.Identifier, ref.NodeId.NamespaceIndex,
                                        ref.NodeId.NodeIdType)  # fmt: skip
                    if node_id in seen or node_id == _SERVER_OBJECT:
                        continue
                    if ref.ReferenceTypeId == _HAS_PROPERTY:
                        continue
                    seen.add(node_id)
                    name = ref.BrowseName
                    path = f"{parent.path}/{name.NamespaceIndex}:{name.Name}"
                    if ref.NodeClass == ua.NodeClass.Variable:
                        found.append((node_id, path, parent.asset or name.Name, name.Name))
                    elif parent.depth + 1 < depth:
                        below.append(_Pending(node_id, path, name.Name, parent.depth + 1))
        level = below
    types = await _data_types(client, [f[0] for f in found], limits.max_nodes_per_read)
    return [
        FoundVariable(n.to_string(), path, asset, name, dtype)
        for (n, path, asset, name), dtype in zip(found, types, strict=True)
    ]


async def _browse(client: Client, nodes: Sequence[_Pending]) -> list[list[ua.ReferenceDescription]]:
    params = ua.BrowseParameters()
    params.View = ua.ViewDescription()
    params.RequestedMaxReferencesPerNode = 0
    params.NodesToBrowse = [
        ua.BrowseDescription(
            NodeId=p.node_id,
            BrowseDirection=ua.BrowseDirection.Forward,
            ReferenceTypeId=ua.NodeId(ua.ObjectIds.HierarchicalReferences),
            IncludeSubtypes=True,
            NodeClassMask=_MASK,
            ResultMask=ua.BrowseResultMask.All,
        )
        for p in nodes
    ]
    out = []
    for result in await client.uaclient.browse(params):
        refs = list(result.References or [])
        point = result.ContinuationPoint
        while point:  # servers page long child lists
            more = await client.uaclient.browse_next(
                ua.BrowseNextParameters(ReleaseContinuationPoints=False, ContinuationPoints=[point])
            )
            refs += more[0].References or []
            point = more[0].ContinuationPoint
        out.append(refs)
    return out


async def _data_types(client: Client, node_ids: list[ua.NodeId], per_read: int) -> list[str]:
    names: list[str] = []
    for batch in batches(node_ids, per_read):
        values = await client.read_attributes(
            [client.get_node(n) for n in batch], ua.AttributeIds.DataType
        )
        for data in values:
            dtype = data.Value.Value if data.Value is not None else None
            if isinstance(dtype, ua.NodeId) and dtype.NamespaceIndex == 0:
                names.append(ua.ObjectIdNames.get(dtype.Identifier, dtype.to_string()))
            else:
                names.append(dtype.to_string() if isinstance(dtype, ua.NodeId) else "unknown")
    return names


def tag_name(browse_name: str) -> str:
    """``MeltTemp`` -> ``melt_temp``: the snake_case the agent's configs use."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|[^A-Za-z0-9]+", "_", browse_name).strip("_")
    return snake.lower() or "value"


def device_section(
    endpoint: str, variables: Sequence[FoundVariable], name: str = "opcua-device"
) -> dict[str, Any]:
    """One ``devices:`` entry for the agent config, a tag per variable (names unique)."""
    tags: list[dict[str, Any]] = []
    taken: set[tuple[str, str]] = set()
    for v in variables:
        base = tag_name(v.browse_name)
        tag, n = base, 2
        while (v.asset, tag) in taken:
            tag, n = f"{base}_{n}", n + 1
        taken.add((v.asset, tag))
        tags.append({"name": tag, "asset": v.asset, "node": v.node_id})
    return {
        "name": name,
        "protocol": "opcua",
        "endpoint": endpoint,
        "line": "line-1",
        "interval": "1s",
        "tags": tags,
    }
