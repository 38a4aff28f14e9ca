"""A plant served as a real OPC UA server (NoSecurity), values refreshed every 250 ms."""

from __future__ import annotations

import datetime as dt
import logging

from asyncua import Server, ua

from protocols.sample import Value
from protocols.simulators.plant_server import PlantServer, Snapshot
from protocols.simulators.plants import OPCUA_NAMESPACE_URI, Plant

# asyncua's server logs each endpoint, namespace and session at INFO; a simulator in a
# demo terminal should be quiet unless the application chose otherwise.
for _name in ("asyncua", "asyncua.server"):
    if logging.getLogger(_name).level == logging.NOTSET:
        logging.getLogger(_name).setLevel(logging.WARNING)

_ASSET_FOLDERS = {"meter-main": "MeterMain"}


def _initial(vtype: ua.VariantType) -> Value:
    return {ua.VariantType.String: "", ua.VariantType.UInt32: 0}.get(vtype, 0.0)


def _coerce(value: Value, vtype: ua.VariantType) -> Value:
    if vtype == ua.VariantType.String:
        return str(value)
    if vtype == ua.VariantType.Double:
        return float(value)
    return int(value)


class OpcUaSimulator(PlantServer):
    """Serves ``plant`` at ``opc.tcp://host:port``; ``start()`` returns once it listens.

    Each asset is an object under Objects (``ns=2;s=IMM01``), its tags variables with
    fixed VariantTypes, so a client always sees the same type for a node.
    """

    protocol = "opcua"

    def __init__(
        self, plant: Plant, host: str = "127.0.0.1", port: int = 4840, seed: int = 1
    ) -> None:
        super().__init__(plant, host, port, seed)
        self._server: Server | None = None
        self._variables: list[tuple[ua.NodeId, ua.VariantType, str, str]] = []

    @property
    def endpoint(self) -> str:
        return f"opc.tcp://{self.host}:{self.port}"

    async def _serve(self) -> None:
        server = Server()
        await server.init()
        server.set_endpoint(f"{self.endpoint}/")
        server.set_server_name(f"Mingzhou simulator: {self.plant.display_name}")
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        # Anonymous only: offering certificate or password logins without an encrypting
        # policy makes asyncua warn at every start, and the simulator has no users anyway.
        server.set_identity_tokens([ua.AnonymousIdentityToken])
        ns = await server.register_namespace(OPCUA_NAMESPACE_URI)
        if ns != 2:  # the plant's NodeIds are written for ns=2
            raise RuntimeError(f"simulator namespace got index {ns}, expected 2")
        await self._build_address_space(server, ns)
        await server.start()
        self._server = server

    async def _build_address_space(self, server: Server, ns: int) -> None:
        objects: dict[str, object] = {}
        for p in self.plant.points:
            assert p.node_id is not None
            if p.asset not in objects:
                folder = _ASSET_FOLDERS.get(p.asset, p.asset.replace("-", ""))
                objects[p.asset] = await server.nodes.objects.add_object(
                    ua.NodeId(folder, ns), ua.QualifiedName(p.asset, ns)
                )
            vtype = getattr(ua.VariantType, p.data_type)
            node_id = ua.NodeId.from_string(p.node_id)
            browse = str(node_id.Identifier).split(".")[-1]
            await objects[p.asset].add_variable(  # type: ignore[attr-defined]
                node_id, ua.QualifiedName(browse, ns), ua.Variant(_initial(vtype), vtype)
            )
            self._variables.append((node_id, vtype, p.asset, p.tag))

    async def _shutdown(self) -> None:
        if self._server is not None:
            server, self._server = self._server, None
            await server.stop()

    async def _publish(self, snapshot: Snapshot) -> None:
        """Write every variable server-side, all with one source timestamp."""
        assert self._server is not None
        stamp = dt.datetime.now(dt.UTC)
        for node_id, vtype, asset, tag in self._variables:
            variant = ua.Variant(_coerce(snapshot[(asset, tag)], vtype), vtype)
            data = ua.DataValue(variant, SourceTimestamp=stamp, ServerTimestamp=stamp)
            await self._server.write_attribute_value(node_id, data)
