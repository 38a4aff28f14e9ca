"""A plant served as a real OPC UA server (NoSecurity), values refreshed every 250 ms."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging

from asyncua import Server, ua

from protocols.sample import Value
from protocols.simulators.plants import OPCUA_NAMESPACE_URI, Plant

log = logging.getLogger(__name__)

UPDATE_INTERVAL_S = 0.25

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


class OpcUaSimulator:
    """Serves ``plant`` at ``opc.tcp://host:port``; ``start()`` returns once it listens.

    Each asset is an object under Objects (``ns=2;s=IMM01``), its tags variables with
    fixed VariantTypes, so a client always sees the same type for a node.
    """

    def __init__(
        self, plant: Plant, host: str = "127.0.0.1", port: int = 4840, seed: int = 1
    ) -> None:
        if plant.protocol != "opcua":
            raise ValueError(f"plant {plant.key!r} speaks {plant.protocol}, not opcua")
        self.plant = plant
        self.host = host
        self.port = port
        self.model = plant.model(seed)
        self._server: Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._started_at = 0.0
        # While frozen the served values stay put, so two readers can be compared exactly.
        self.frozen = False
        # The values most recently written to the server, keyed by (asset, tag).
        self.served: dict[tuple[str, str], Value] = {}
        self._variables: list[tuple[ua.NodeId, ua.VariantType, str, str]] = []

    @property
    def endpoint(self) -> str:
        return f"opc.tcp://{self.host}:{self.port}"

    async def start(self) -> None:
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
        self._started_at = asyncio.get_running_loop().time()
        await self.update()
        self._task = asyncio.create_task(self._update_loop(), name=f"opcua-sim {self.endpoint}")
        log.info("OPC UA simulator %s serving on %s", self.plant.key, self.endpoint)

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

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._server is not None:
            server, self._server = self._server, None
            await server.stop()

    async def update(self) -> None:
        """Step the model to now and write every variable server-side."""
        assert self._server is not None
        self.model.step(asyncio.get_running_loop().time() - self._started_at)
        # Measurement noise is drawn when values are taken: keep what was actually served.
        snapshot = self.served = self.model.snapshot()
        stamp = dt.datetime.now(dt.UTC)
        for node_id, vtype, asset, tag in self._variables:
            variant = ua.Variant(_coerce(snapshot[(asset, tag)], vtype), vtype)
            data = ua.DataValue(variant, SourceTimestamp=stamp, ServerTimestamp=stamp)
            await self._server.write_attribute_value(node_id, data)

    async def _update_loop(self) -> None:
        while True:
            await asyncio.sleep(UPDATE_INTERVAL_S)
            if self.frozen:
                continue
            try:
                await self.update()
            except Exception:  # keep serving the last values rather than die silently
                log.exception("OPC UA simulator %s: update failed", self.plant.key)
