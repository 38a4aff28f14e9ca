"""OPC UA security for the client: policy and mode, our certificate, the servers we trust,
and the user identity (anonymous, username/password or a user certificate).

The folder layout follows the OPC UA convention most servers and tools use::

    pki/own/cert.der   our application certificate (made once by ``mingzhou certs create``)
    pki/own/key.pem    its private key
    pki/trusted/       server certificates we trust (DER or PEM, any file name)
    pki/rejected/      server certificates we refused; move one to trusted/ to trust it

Keeping the certificate instead of making a new one per start matters: a server
administrator trusts our certificate once, and a new one would be untrusted again.
"""

from __future__ import annotations

import hashlib
import socket
from dataclasses import dataclass, field
from pathlib import Path

from asyncua import Client, ua
from asyncua.crypto import cert_gen, security_policies, uacrypto
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from protocols.errors import DriverConnectionError

POLICIES: dict[str, type[security_policies.SecurityPolicy] | None] = {
    "None": None,
    "Basic256Sha256": security_policies.SecurityPolicyBasic256Sha256,
    "Aes128Sha256RsaOaep": security_policies.SecurityPolicyAes128Sha256RsaOaep,
}
MODES = ("None", "Sign", "SignAndEncrypt")

DEFAULT_PKI_DIR = Path("pki")
CLIENT_APPLICATION_URI = "urn:mingzhou:edge-agent"


class DriverSecurityError(DriverConnectionError):
    """The connection was refused for a security reason; the message says what to fix.

    A subclass of DriverConnectionError so the agent keeps retrying with backoff: once
    the certificate is moved or the password fixed, the next attempt succeeds.
    """


@dataclass(frozen=True)
class PkiPaths:
    """Where the client keeps its own certificate and the certificates it trusts."""

    root: Path = DEFAULT_PKI_DIR

    @property
    def certificate(self) -> Path:
        return self.root / "own" / "cert.der"

    @property
    def private_key(self) -> Path:
        return self.root / "own" / "key.pem"

    @property
    def trusted(self) -> Path:
        return self.root / "trusted"

    @property
    def rejected(self) -> Path:
        return self.root / "rejected"


async def create_client_certificate(pki: PkiPaths, host_name: str | None = None) -> bool:
    """Make our certificate and key unless a valid pair exists; True when one was made."""
    for folder in (pki.certificate.parent, pki.trusted, pki.rejected):
        folder.mkdir(parents=True, exist_ok=True)
    before = pki.certificate.read_bytes() if pki.certificate.is_file() else None
    await cert_gen.setup_self_signed_certificate(
        pki.private_key,
        pki.certificate,
        CLIENT_APPLICATION_URI,
        host_name or socket.gethostname(),
        [ExtendedKeyUsageOID.CLIENT_AUTH],
        {"organizationName": "Mingzhou", "commonName": "Mingzhou edge agent"},
    )
    return before != pki.certificate.read_bytes()


@dataclass(frozen=True)
class ClientSecurity:
    """A device's security settings as configured; the defaults are no security, anonymous."""

    policy: str = "None"
    mode: str = "None"
    certificate: Path | None = None
    private_key: Path | None = None
    trust_dir: Path | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    user_certificate: Path | None = None
    user_private_key: Path | None = None

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise ValueError(f"security policy must be one of {', '.join(POLICIES)}")
        if self.mode not in MODES:
            raise ValueError(f"security mode must be one of {', '.join(MODES)}")
        if (self.policy == "None") != (self.mode == "None"):
            raise ValueError("security policy None goes with mode None, and only with it")
        if self.policy != "None" and not (self.certificate and self.private_key and self.trust_dir):
            raise ValueError(
                f"policy {self.policy} needs certificate, private_key and trust_dir "
                "(make them once with `mingzhou certs create`)"
            )
        if (self.user_certificate is None) != (self.user_private_key is None):
            raise ValueError("a user certificate needs its private key, and the other way round")
        if self.username is not None and self.user_certificate is not None:
            raise ValueError("choose one user identity: username/password or user_certificate")

    @classmethod
    def from_pki(cls, pki: PkiPaths, policy: str, mode: str, **identity: object) -> ClientSecurity:
        return cls(policy, mode, pki.certificate, pki.private_key, pki.trusted, **identity)  # type: ignore[arg-type]


async def apply_security(client: Client, security: ClientSecurity) -> None:
    """Configure ``client`` before connect(); raises DriverSecurityError on bad files."""
    if security.username is not None:
        client.set_user(security.username)
        client.set_password(security.password or "")
    if security.user_certificate is not None and security.user_private_key is not None:
        await client.load_client_certificate(str(security.user_certificate))
        await client.load_private_key(security.user_private_key)
    policy = POLICIES[security.policy]
    if policy is None:
        return
    assert security.certificate and security.private_key and security.trust_dir
    for what, path in (
        ("certificate", security.certificate),
        ("private key", security.private_key),
    ):
        if not path.is_file():
            raise DriverSecurityError(
                f"client {what} {path} does not exist: run `mingzhou certs create --dir "
                f"{path.parent.parent}` once, then have the server trust {security.certificate}"
            )
    cert = await uacrypto.load_certificate(str(security.certificate))
    # The server checks that our ApplicationUri matches the one in our certificate.
    client.application_uri = _application_uri(cert) or client.application_uri
    client.certificate_validator = _TrustList(security.trust_dir, client.server_url.geturl())
    try:
        await client.set_security(
            policy,
            str(security.certificate),
            str(security.private_key),
            mode=getattr(ua.MessageSecurityMode, security.mode),
        )
    except ua.UaError as exc:
        raise DriverSecurityError(
            f"OPC UA {client.server_url.geturl()} offers no endpoint with policy "
            f"{security.policy} and mode {security.mode}: {exc}"
        ) from exc


def _application_uri(cert: x509.Certificate) -> str | None:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return None
    uris = san.value.get_values_for_type(x509.UniformResourceIdentifier)
    return uris[0] if uris else None


class _TrustList:
    """Accepts a server certificate only when the same certificate is in ``trust_dir``.

    Exact-certificate trust (not CA chains) is what a factory needs: a PLC's self-signed
    certificate, approved once by a person who moved the file.
    """

    def __init__(self, trust_dir: Path, endpoint: str) -> None:
        self.trust_dir = trust_dir
        self.endpoint = endpoint

    def _trusted(self) -> set[bytes]:
        found: set[bytes] = set()
        if not self.trust_dir.is_dir():
            return found
        for path in self.trust_dir.iterdir():
            try:
                data = path.read_bytes()
                cert = (
                    x509.load_pem_x509_certificate(data)
                    if data.lstrip().startswith(b"-----")
                    else x509.load_der_x509_certificate(data)
                )
            except (OSError, ValueError):
                continue  # not a certificate (a README, a .crl): skip it
            found.add(uacrypto.der_from_x509(cert))
        return found

    async def __call__(self, cert: x509.Certificate, app: ua.ApplicationDescription) -> None:
        der = uacrypto.der_from_x509(cert)
        if der in self._trusted():
            return
        rejected = self.trust_dir.parent / "rejected"
        rejected.mkdir(parents=True, exist_ok=True)
        name = _safe_name(app.ApplicationName.Text or "server")
        path = rejected / f"{name} [{hashlib.sha1(der).hexdigest()[:16]}].der"
        path.write_bytes(der)
        raise DriverSecurityError(
            f"OPC UA {self.endpoint}: the server's certificate is not trusted yet. "
            f"If this is the right server, move {path} into {self.trust_dir}/ and the next "
            "connection attempt will use it"
        )


def _safe_name(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_. " else "_" for c in text).strip() or "server"


def describe_security_failure(
    exc: BaseException, endpoint: str, security: ClientSecurity
) -> str | None:
    """A sentence that says what to fix for a security refusal, or None if it is not one."""
    if "No matching endpoints" in str(exc):  # asyncua's words when policy/mode are not offered
        return (
            f"OPC UA {endpoint} offers no endpoint with security policy {security.policy} "
            f"and mode {security.mode}: set security.policy and security.mode to one it offers "
            f"(`mingzhou browse opcua {endpoint}` lists them)"
        )
    code = getattr(exc, "code", None)
    codes = ua.StatusCodes
    if code in (
        codes.BadUserAccessDenied,
        codes.BadIdentityTokenRejected,
        codes.BadIdentityTokenInvalid,
    ):
        who = (
            f"user {security.username!r}"
            if security.username is not None
            else "the user certificate"
            if security.user_certificate
            else "anonymous access"
        )
        return (
            f"OPC UA {endpoint}: the server refused {who} ({ua.StatusCode(code).name}): "
            "check username and password"
        )
    if code in (
        codes.BadCertificateUntrusted,
        codes.BadSecurityChecksFailed,
        codes.BadCertificateInvalid,
    ):
        mine = security.certificate or "our certificate"
        return (
            f"OPC UA {endpoint}: the server refused our certificate ({ua.StatusCode(code).name}): "
            f"have the server's administrator trust {mine}"
        )
    if code in (codes.BadSecurityPolicyRejected, codes.BadSecurityModeRejected):
        return (
            f"OPC UA {endpoint}: the server does not accept policy {security.policy} "
            f"with mode {security.mode}"
        )
    return None
