"""A plant served as a real OPC UA server, values refreshed every 250 ms (by default).

NoSecurity and anonymous by default; with ``SimulatorSecurity`` it also offers
Basic256Sha256 and Aes128Sha256RsaOaep (Sign, SignAndEncrypt), user accounts and
certificate logins, and trusts only client certificates an operator put in its
``trusted/`` folder, like a real PLC.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asyncua import Server, ua
from asyncua.common.utils import ServiceError
from asyncua.crypto import cert_gen, uacrypto
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.user_managers import UserManager
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from protocols.sample import Value
from protocols.simulators.plant_server import PlantServer, Snapshot
from protocols.simulators.plants import OPCUA_NAMESPACE_URI, Plant

# asyncua's server logs each endpoint, namespace and session at INFO; a simulator in a
# demo terminal should be quiet unless the application chose otherwise.
for _name in ("asyncua", "asyncua.server"):
    if logging.getLogger(_name).level == logging.NOTSET:
        logging.getLogger(_name).setLevel(logging.WARNING)

_ASSET_FOLDERS = {"meter-main": "MeterMain"}
SERVER_APPLICATION_URI = "urn:mingzhou:simulator:server"
_SECURE_POLICIES = [
    ua.SecurityPolicyType.Basic256Sha256_Sign,
    ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,
    ua.SecurityPolicyType.Aes128Sha256RsaOaep_Sign,
    ua.SecurityPolicyType.Aes128Sha256RsaOaep_SignAndEncrypt,
]


@dataclass(frozen=True)
class SimulatorSecurity:
    """A secured simulator: its certificate in ``pki_dir/own`` (made on first start and
    kept, so clients trust it once), client certificates it trusts in ``pki_dir/trusted``,
    refused ones saved to ``pki_dir/rejected``, and username -> password accounts."""

    pki_dir: Path
    users: dict[str, str] = field(default_factory=dict)
    allow_anonymous: bool = False
    allow_no_security: bool = False

    @property
    def certificate(self) -> Path:
        return self.pki_dir / "own" / "cert.der"

    @property
    def private_key(self) -> Path:
        return self.pki_dir / "own" / "key.pem"


class _Accounts(UserManager):
    """Password accounts, certificate logins (the channel already checked the
    certificate), and anonymous only when allowed."""

    def __init__(self, security: SimulatorSecurity) -> None:
        self.security = security

    def get_user(self, iserver: Any, username: str | None = None, password: str | None = None,
                 certificate: Any = None) -> User | None:  # fmt: skip
        if username is not None:
            ok = self.security.users.get(username) == password
            return User(role=UserRole.User, name=username) if ok else None
        if certificate is not None:
            return User(role=UserRole.User)
        return User(role=UserRole.Anonymous) if self.security.allow_anonymous else None


class _ClientTrustList:
    """Accepts a client certificate only when the same one is in ``trusted/``."""

    def __init__(self, pki_dir: Path) -> None:
        self.trusted = pki_dir / "trusted"
        self.rejected = pki_dir / "rejected"

    async def __call__(self, cert: x509.Certificate, app: ua.ApplicationDescription) -> None:
        der = uacrypto.der_from_x509(cert)
        for path in self.trusted.glob("*"):
            if path.is_file() and _der(path.read_bytes()) == der:
                return
        name = hashlib.sha1(der).hexdigest()[:16]
        (self.rejected / f"client [{name}].der").write_bytes(der)
        raise ServiceError(ua.StatusCodes.BadCertificateUntrusted)


def _der(data: bytes) -> bytes | None:
    try:
        if data.lstrip().startswith(b"-----"):
            return uacrypto.der_from_x509(x509.load_pem_x509_certificate(data))
        return uacrypto.der_from_x509(x509.load_der_x509_certificate(data))
    except ValueError:
        return None


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
        self,
        plant: Plant,
        host: str = "127.0.0.1",
        port: int = 4840,
        seed: int = 1,
        security: SimulatorSecurity | None = None,
        speed: float = 1.0,
    ) -> None:
        super().__init__(plant, host, port, seed, speed)
        self.security = security
        self._server: Server | None = None
        self._variables: list[tuple[ua.NodeId, ua.VariantType, str, str]] = []

    @property
    def endpoint(self) -> str:
        return f"opc.tcp://{self.host}:{self.port}"

    async def _serve(self) -> None:
        self._variables = []  # a restart builds the address space anew
        server = Server(user_manager=_Accounts(self.security) if self.security else None)
        await server.init()
        server.set_endpoint(f"{self.endpoint}/")
        server.set_server_name(f"Mingzhou simulator: {self.plant.display_name}")
        if self.security is None:
            server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
            # Anonymous only: offering certificate or password logins without an
            # encrypting policy makes asyncua warn at every start.
            server.set_identity_tokens([ua.AnonymousIdentityToken])
        else:
            await self._secure(server, self.security)
        ns = await server.register_namespace(OPCUA_NAMESPACE_URI)
        if ns != 2:  # the plant's NodeIds are written for ns=2
            raise RuntimeError(f"simulator namespace got index {ns}, expected 2")
        await self._build_address_space(server, ns)
        await server.start()
        self._server = server

    async def _secure(self, server: Server, security: SimulatorSecurity) -> None:
        for folder in ("own", "trusted", "rejected"):
            (security.pki_dir / folder).mkdir(parents=True, exist_ok=True)
        await server.set_application_uri(SERVER_APPLICATION_URI)
        await cert_gen.setup_self_signed_certificate(
            security.private_key,
            security.certificate,
            SERVER_APPLICATION_URI,
            socket.gethostname(),
            [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
            {"commonName": f"Mingzhou simulator {self.plant.key}"},
        )
        await server.load_certificate(str(security.certificate))
        await server.load_private_key(str(security.private_key))
        policies = list(_SECURE_POLICIES)
        if security.allow_no_security:
            policies.insert(0, ua.SecurityPolicyType.NoSecurity)
        server.set_security_policy(policies)
        tokens: list[type] = [ua.UserNameIdentityToken, ua.X509IdentityToken]
        if security.allow_anonymous:
            tokens.insert(0, ua.AnonymousIdentityToken)
        server.set_identity_tokens(tokens)
        server.set_certificate_validator(_ClientTrustList(security.pki_dir))

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
