"""Real receivers for alert deliveries on loopback: a webhook endpoint (http.server in a
thread) that checks the HMAC signature on its own, and an SMTP server (aiosmtpd) with
optional STARTTLS and login."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from maintenance.webhook_destinations import ALLOW_VARIABLE
from tests.conftest import free_port


@pytest.fixture
def allow_loopback_webhooks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The receivers listen on 127.0.0.1, which the webhook destination policy refuses
    by default: allow it as an operator would, through the platform setting."""
    monkeypatch.setenv(ALLOW_VARIABLE, "127.0.0.1")


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    signature_ok: bool
    timestamp_ok: bool

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    secret: str
    url: str = ""
    # Status codes to answer with, in order; 204 once they run out.
    answers: list[int] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)


@contextmanager
def webhook_receiver(secret: str, answers: list[int] | None = None) -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(secret, answers=list(answers or []))
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            signature_ok = hmac.compare_digest(
                expected, self.headers.get("X-Mingzhou-Signature", "")
            )
            try:
                timestamp_ok = json.loads(body)["timestamp"] == int(
                    self.headers["X-Mingzhou-Timestamp"]
                )
            except (ValueError, KeyError, TypeError):
                timestamp_ok = False
            with lock:
                receiver.requests.append(
                    Received(dict(self.headers.items()), body, signature_ok, timestamp_ok)
                )
                status = receiver.answers.pop(0) if receiver.answers else 204
            if not signature_ok:
                status = 401
            self.send_response(status)
            if status == 429:
                self.send_header("Retry-After", "120")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:  # keep the test output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/mingzhou"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass
class Mailbox:
    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)
    tls_sessions: int = 0


class _Collect:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_DATA(self, server, session, envelope) -> str:  # type: ignore[no-untyped-def]
        # The modern policy unfolds long headers as a mail reader shows them.
        self.box.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        self.box.recipients.append(list(envelope.rcpt_tos))
        if session.ssl is not None:
            self.box.tls_sessions += 1
        return "250 OK"


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (and localhost) and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@contextmanager
def smtp_server(
    tls_files: tuple[Path, Path] | None = None, login: tuple[str, str] | None = None
) -> Iterator[Mailbox]:
    """An SMTP server on loopback; with ``tls_files`` it requires STARTTLS, with
    ``login`` it requires that user and password (over TLS)."""
    box = Mailbox(free_port())
    options: dict = {}
    if tls_files is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*map(str, tls_files))
        options.update(tls_context=context, require_starttls=True)
    if login is not None:

        def authenticator(server, session, envelope, mechanism, auth_data) -> AuthResult:  # type: ignore[no-untyped-def]
            ok = (
                isinstance(auth_data, LoginPassword)
                and (
                    auth_data.login.decode(),
                    auth_data.password.decode(),
                )
                == login
            )
            return AuthResult(success=ok, handled=False)  # the server answers 235 or 535

        options.update(authenticator=authenticator, auth_required=True, auth_require_tls=True)
    controller = Controller(_Collect(box), hostname="127.0.0.1", port=box.port, **options)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()
