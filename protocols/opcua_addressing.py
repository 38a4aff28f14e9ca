"""Where an OPC UA tag lives: a NodeId string or a browse path, resolved on the server.

A NodeId with a namespace *index* (``ns=2;s=…``) depends on the order in which the
server registered its namespaces, which can change with a firmware update; ``nsu=<uri>``
and browse paths (``Objects/2:IMM-01/2:MeltTemp``) survive that, so they are resolved
against the server after every connect rather than once at configuration time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from asyncua import Client, ua

from protocols.opcua_limits import batches

_OBJECTS = ua.NodeId(ua.ObjectIds.ObjectsFolder)
_HIERARCHICAL = ua.NodeId(ua.ObjectIds.HierarchicalReferences)


def parse_node_id(tag: str, node_id: str) -> ua.NodeId:
    """``ns=2;s=X``, ``i=2258``, ``nsu=urn:x;s=Y`` -> NodeId (ExpandedNodeId for ``nsu=``)."""
    try:
        parsed = ua.NodeId.from_string(node_id)
    except (ua.UaError, ValueError) as exc:
        raise ValueError(f"tag {tag!r}: malformed OPC UA NodeId {node_id!r}") from exc
    if parsed.Identifier in ("", None):
        raise ValueError(f"tag {tag!r}: malformed OPC UA NodeId {node_id!r} (empty identifier)")
    return parsed


def parse_browse_path(tag: str, path: str) -> ua.RelativePath:
    """``Objects/2:IMM-01/2:MeltTemp`` -> a RelativePath from the Objects folder.

    Each element is ``<namespace index>:<browse name>`` (no index means namespace 0),
    followed through any hierarchical reference, as UA Expert and most tools show them.
    """
    parts = [p for p in path.strip().strip("/").split("/") if p]
    if parts and parts[0] in ("Objects", "0:Objects"):
        parts = parts[1:]
    if not parts:
        raise ValueError(f"tag {tag!r}: browse path {path!r} names no node below Objects")
    elements = []
    for part in parts:
        index, sep, name = part.partition(":")
        if not sep:
            index, name = "0", part
        if not index.isdigit() or not name:
            raise ValueError(
                f"tag {tag!r}: browse path element {part!r} in {path!r} is not "
                "'<namespace index>:<browse name>', e.g. 2:MeltTemp"
            )
        elements.append(
            ua.RelativePathElement(
                ReferenceTypeId=_HIERARCHICAL,
                IsInverse=False,
                IncludeSubtypes=True,
                TargetName=ua.QualifiedName(name, int(index)),
            )
        )
    return ua.RelativePath(Elements=elements)


@dataclass(frozen=True)
class TagAddress:
    """A tag's address as configured: exactly one of ``node`` and ``path``."""

    tag: str
    node: str | None = None
    path: str | None = None

    def __post_init__(self) -> None:
        if (self.node is None) == (self.path is None):
            raise ValueError(f"tag {self.tag!r}: set exactly one of 'node' and 'path'")
        # Parse now so a typo is a configuration error, not a runtime surprise.
        if self.node is not None:
            parse_node_id(self.tag, self.node)
        else:
            parse_browse_path(self.tag, self.path or "")

    @property
    def text(self) -> str:
        return self.node if self.node is not None else f"path {self.path}"


@dataclass(frozen=True)
class Resolved:
    """A tag's NodeId on this server, or why it has none (a per-tag error, not a crash)."""

    node_id: ua.NodeId | None
    error: str | None = None


async def resolve_addresses(
    client: Client, addresses: Sequence[TagAddress], max_per_translate: int
) -> list[Resolved]:
    """NodeIds for every address, in order; unresolvable ones carry an error."""
    namespaces: list[str] | None = None
    out: list[Resolved | None] = [None] * len(addresses)
    paths: list[tuple[int, ua.RelativePath]] = []
    for i, address in enumerate(addresses):
        if address.path is not None:
            paths.append((i, parse_browse_path(address.tag, address.path)))
            continue
        parsed = parse_node_id(address.tag, address.node or "")
        uri = getattr(parsed, "NamespaceUri", None)
        if not uri:
            out[i] = Resolved(
                ua.NodeId(parsed.Identifier, parsed.NamespaceIndex, parsed.NodeIdType)
            )
            continue
        if namespaces is None:
            namespaces = await client.get_namespace_array()
        if uri not in namespaces:
            out[i] = Resolved(None, f"namespace {uri!r} is not on this server")
        else:
            out[i] = Resolved(
                ua.NodeId(parsed.Identifier, namespaces.index(uri), parsed.NodeIdType)
            )
    for batch in batches(paths, max_per_translate):
        results = await client.translate_browsepaths(_OBJECTS, [p for _, p in batch])
        for (i, _), result in zip(batch, results, strict=True):
            if result.StatusCode.is_good() and result.Targets:
                target = result.Targets[0].TargetId  # an ExpandedNodeId: keep the plain id
                out[i] = Resolved(
                    ua.NodeId(target.Identifier, target.NamespaceIndex, target.NodeIdType)
                )
            else:
                out[i] = Resolved(None, f"browse path not found ({result.StatusCode.name})")
    return [r if r is not None else Resolved(None, "not resolved") for r in out]
