"""Real asyncua servers, configured unlike the plant simulator, for the OPC UA tests.

``LimitedServer`` enforces OperationLimits the way strict PLC servers do (asyncua only
advertises them): a Read or CreateMonitoredItems call over the limit is refused with
BadTooManyOperations. It counts sessions and the size of every such call, so tests can
check batching and "one session per server" from the server's side.
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from asyncua import Server, ua
from asyncua.common.structures104 import new_struct, new_struct_field
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.internal_session import InternalSession
from asyncua.server.user_managers import UserManager

logging.getLogger("asyncua").setLevel(logging.ERROR)

# Two namespaces before ours, so our variables live in ns=4 (not the simulator's ns=2).
OTHER_NAMESPACES = ("urn:test:vendor-a", "urn:test:vendor-b")
TEST_NAMESPACE = "urn:test:press-line"
STAMP = dt.datetime(2024, 5, 1, 8, 30, tzinfo=dt.UTC)


@dataclass
class ServerProbe:
    """What clients did to the server: sessions opened and per-call operation counts."""

    sessions: int = 0
    read_sizes: list[int] = field(default_factory=list)
    item_call_sizes: list[int] = field(default_factory=list)


def _enforce(limit_read: int | None, limit_items: int | None, probe: ServerProbe) -> Any:
    def wrap(session: InternalSession) -> InternalSession:
        read, create_items = session.read, session.create_monitored_items

        async def limited_read(params: ua.ReadParameters) -> list[ua.DataValue]:
            probe.read_sizes.append(len(params.NodesToRead))
            if limit_read and len(params.NodesToRead) > limit_read:
                raise ua.UaStatusCodeError(ua.StatusCodes.BadTooManyOperations)
            return await read(params)

        async def limited_items(params: ua.CreateMonitoredItemsParameters) -> Any:
            probe.item_call_sizes.append(len(params.ItemsToCreate))
            if limit_items and len(params.ItemsToCreate) > limit_items:
                raise ua.UaStatusCodeError(ua.StatusCodes.BadTooManyOperations)
            return await create_items(params)

        session.read = limited_read  # type: ignore[method-assign]
        session.create_monitored_items = limited_items  # type: ignore[method-assign]
        return session

    return wrap


class PasswordUsers(UserManager):
    """username -> password; everyone else (and anonymous, when allowed) is refused."""

    def __init__(self, accounts: dict[str, str], anonymous: bool = False) -> None:
        self.accounts = accounts
        self.anonymous = anonymous

    def get_user(self, iserver: Any, username: str | None = None, password: str | None = None,
                 certificate: Any = None) -> Any:  # fmt: skip

        if certificate is not None and username is None:
            return User(role=UserRole.User)
        if username is None:
            return User(role=UserRole.Anonymous) if self.anonymous else None
        if self.accounts.get(username) == password:
            return User(role=UserRole.User)
        return None


async def build_server(
    port: int,
    *,
    max_nodes_per_read: int | None = None,
    max_monitored_items_per_call: int | None = None,
    probe: ServerProbe | None = None,
    server: Server | None = None,
) -> tuple[Server, int]:
    """An initialised (not started) server with our namespace at ns=4; returns (server, ns)."""
    if server is None:
        server = Server()
        await server.init()
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        server.set_identity_tokens([ua.AnonymousIdentityToken])
    server.set_endpoint(f"opc.tcp://127.0.0.1:{port}/press/")
    server.set_server_name("Mingzhou test press line")
    for uri in OTHER_NAMESPACES:
        await server.register_namespace(uri)
    ns = await server.register_namespace(TEST_NAMESPACE)
    probe = probe if probe is not None else ServerProbe()
    for node_id, value in (
        (ua.ObjectIds.Server_ServerCapabilities_OperationLimits_MaxNodesPerRead, max_nodes_per_read),
        (ua.ObjectIds.Server_ServerCapabilities_OperationLimits_MaxMonitoredItemsPerCall,
         max_monitored_items_per_call),
    ):  # fmt: skip
        if value is not None:
            await server.write_attribute_value(
                ua.NodeId(node_id), ua.DataValue(ua.Variant(value, ua.VariantType.UInt32))
            )
    create_session = server.iserver.create_session
    wrap = _enforce(max_nodes_per_read, max_monitored_items_per_call, probe)

    def counted(*args: Any, **kwargs: Any) -> InternalSession:
        session = create_session(*args, **kwargs)
        if kwargs.get("external"):
            probe.sessions += 1
            return wrap(session)
        return session

    server.iserver.create_session = counted  # type: ignore[method-assign]
    return server, ns


async def add_press(server: Server, ns: int) -> dict[str, ua.NodeId]:
    """A press object with every common scalar type, arrays, a struct and odd statuses."""
    press = await server.nodes.objects.add_object(
        ua.NodeId("Press1", ns), ua.QualifiedName("Press1", ns)
    )
    ids: dict[str, ua.NodeId] = {}
    scalars: list[tuple[str, Any, ua.VariantType]] = [
        ("Running", True, ua.VariantType.Boolean),
        ("SByte", -5, ua.VariantType.SByte),
        ("Byte", 250, ua.VariantType.Byte),
        ("Int16", -300, ua.VariantType.Int16),
        ("UInt16", 60000, ua.VariantType.UInt16),
        ("Int32", -70000, ua.VariantType.Int32),
        ("UInt32", 4_000_000_000, ua.VariantType.UInt32),
        ("Int64", -(2**40), ua.VariantType.Int64),
        ("UInt64", 2**63 + 5, ua.VariantType.UInt64),
        ("Float", 1.5, ua.VariantType.Float),
        ("Double", 2.25, ua.VariantType.Double),
        ("Text", "pressing", ua.VariantType.String),
        ("LastService", STAMP, ua.VariantType.DateTime),
        ("Blob", b"\x00\x01", ua.VariantType.ByteString),
        ("ZoneTemps", [180.0, 185.5, 190.25], ua.VariantType.Double),
        ("Waveform", [0.0] * 1000, ua.VariantType.Double),
    ]
    for name, value, vtype in scalars:
        node = await press.add_variable(ua.NodeId(f"Press1.{name}", ns), ua.QualifiedName(name, ns),
                                        ua.Variant(value, vtype))  # fmt: skip
        ids[name] = node.nodeid
    # Numeric NodeIds too: many PLCs (Siemens, B&R) use them.
    node = await press.add_variable(ua.NodeId(1001, ns), ua.QualifiedName("StrokeCount", ns),
                                    ua.Variant(42, ua.VariantType.UInt32))  # fmt: skip
    ids["StrokeCount"] = node.nodeid

    recipe_type, _ = await new_struct(server, ns, "PressRecipe", [
        new_struct_field("Setpoint", ua.VariantType.Double),
        new_struct_field("Tool", ua.VariantType.String),
        new_struct_field("Strokes", ua.VariantType.UInt32, array=True),
    ])  # fmt: skip
    await server.load_data_type_definitions()
    recipe = ua.PressRecipe(Setpoint=812.5, Tool="T-17", Strokes=[3, 4])  # type: ignore[attr-defined]
    node = await press.add_variable(ua.NodeId("Press1.Recipe", ns), ua.QualifiedName("Recipe", ns),
                                    ua.Variant(recipe, ua.VariantType.ExtensionObject),
                                    datatype=recipe_type.nodeid)  # fmt: skip
    ids["Recipe"] = node.nodeid

    # An ExtensionObject of a type the server does not describe: undecodable by design.
    opaque = ua.ExtensionObject(TypeId=ua.NodeId(999_999, ns), Body=b"\x01\x02\x03")
    node = await press.add_variable(ua.NodeId("Press1.Opaque", ns), ua.QualifiedName("Opaque", ns),
                                    ua.Variant(opaque, ua.VariantType.ExtensionObject),
                                    datatype=ua.NodeId(ua.ObjectIds.Structure))  # fmt: skip
    ids["Opaque"] = node.nodeid

    for name, code in (("Drifting", ua.StatusCodes.UncertainLastUsableValue),
                       ("SensorFault", ua.StatusCodes.BadSensorFailure)):  # fmt: skip
        node = await press.add_variable(ua.NodeId(f"Press1.{name}", ns), ua.QualifiedName(name, ns),
                                        ua.Variant(7.0, ua.VariantType.Double))  # fmt: skip
        await server.write_attribute_value(
            node.nodeid,
            ua.DataValue(ua.Variant(7.0, ua.VariantType.Double), StatusCode=ua.StatusCode(code),
                         SourceTimestamp=STAMP, ServerTimestamp=STAMP),
        )  # fmt: skip
        ids[name] = node.nodeid
    return ids


def spawn_simulator(port: int) -> subprocess.Popen[bytes]:
    """The mold simulator in its own process (to freeze it, or to let a command run its
    own event loop); returns once it accepts TCP connections."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "mingzhou", "sim", "--industry", "mold", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"simulator on port {port} never listened")
