"""A tenant's webhook may not reach into the platform's own network (server-side request
forgery): loopback, private, link-local (cloud metadata), multicast, unspecified and
reserved addresses and schemes other than http/https are refused when the URL is saved
and again at send time, unless an operator allows them with MINGZHOU_WEBHOOK_ALLOW."""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from maintenance import webhook_destinations
from maintenance.alert_delivery import RetryPolicy, deliver_due
from maintenance.alert_models import AlertDelivery
from maintenance.alerts import on_prediction
from maintenance.webhook_destinations import (
    ALLOW_VARIABLE,
    DestinationPolicy,
    DestinationRefused,
    DestinationUnresolved,
)
from tests.alert_receivers import webhook_receiver
from tests.conftest import free_port
from tests.maintenance_records import NOW, contract, model_version, prediction, tenants
from tests.test_cloud_platform import World, world  # noqa: F401  (the fixture)
from tests.test_maintenance_api import BASE, call, maintained  # noqa: F401  (the fixture)

SECRET = "s3cret-shared-with-the-team"
FAST = RetryPolicy(base_s=30, cap_s=120, max_attempts=4, timeout_s=5)
DEFAULT = DestinationPolicy()

REFUSED = [
    ("http://127.0.0.1:6379/", "127.0.0.1", "loopback"),
    ("http://localhost:8080/hooks", "127.0.0.1", "loopback"),  # really resolved
    ("http://10.1.2.3/hooks", "10.1.2.3", "private"),
    ("http://172.16.0.9/", "172.16.0.9", "private"),
    ("http://192.168.1.10:5432/", "192.168.1.10", "private"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254", "link-local"),
    ("http://[::1]:8080/", "::1", "loopback"),
    ("http://[fe80::1]/", "fe80::1", "link-local"),
    ("http://[fd00::5]/", "fd00::5", "private"),
    ("http://0.0.0.0:6379/", "0.0.0.0", "unspecified"),
    ("http://224.0.0.1/", "224.0.0.1", "multicast"),
    ("http://240.0.0.1/", "240.0.0.1", "reserved"),
    ("http://100.64.0.1/", "100.64.0.1", "not globally routable"),
    ("http://[::ffff:127.0.0.1]/", "::ffff:7f00:1", "loopback"),  # IPv4-mapped
]


@pytest.fixture(autouse=True)
def no_allow_list(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default policy, whatever the machine running the tests has set."""
    monkeypatch.delenv(ALLOW_VARIABLE, raising=False)


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """A DNS server the test controls: names in the dict resolve to their addresses,
    others as usual (through socket.getaddrinfo)."""
    answers: dict[str, list[str]] = {}
    real = webhook_destinations.resolve

    def resolve(host: str, port: int) -> list:
        if host in answers:
            return [ipaddress.ip_address(a) for a in answers[host]]
        return real(host, port)

    monkeypatch.setattr(webhook_destinations, "resolve", resolve)
    return answers


@pytest.fixture
def session(sqlite_session: Session) -> Session:
    # SQLite is enough: the policy does not depend on the engine (the alert tests run
    # delivery on both).
    return sqlite_session


# --- the policy --------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "address", "reason"), REFUSED)
def test_internal_destinations_are_refused_by_default(url: str, address: str, reason: str) -> None:
    with pytest.raises(DestinationRefused) as refused:
        DEFAULT.check(url)
    message = str(refused.value)
    # Which URL, which address, why, and how an operator allows it.
    assert url in message and address in message and reason in message
    assert ALLOW_VARIABLE in message


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://files.example.com/x",
        "gopher://127.0.0.1:6379/_FLUSHALL",
        "redis://127.0.0.1:6379/0",
        "dict://127.0.0.1:11211/",
    ],
)
def test_schemes_other_than_http_and_https_are_refused(url: str) -> None:
    with pytest.raises(DestinationRefused, match="only http:// and https://"):
        DEFAULT.check(url)
    # Allowing the host does not allow the scheme.
    with pytest.raises(DestinationRefused):
        DestinationPolicy.parse("127.0.0.1,files.example.com").check(url)


def test_a_name_that_resolves_to_loopback_is_refused(dns: dict[str, list[str]]) -> None:
    dns["hooks.evil.example"] = ["93.184.216.34", "127.0.0.1"]  # one bad address is enough
    with pytest.raises(DestinationRefused, match=r"'hooks.evil.example' resolves to 127\.0\.0\.1"):
        DEFAULT.check("https://hooks.evil.example/x")


def test_public_destinations_are_allowed_and_pinned(dns: dict[str, list[str]]) -> None:
    dns["hooks.service.example"] = ["93.184.216.34", "2606:2800:220:1::1"]
    destination = DEFAULT.check("https://hooks.service.example:8443/mingzhou?team=7")
    assert destination.address == ipaddress.ip_address("93.184.216.34")
    assert str(destination.pinned_url) == "https://93.184.216.34:8443/mingzhou?team=7"
    assert destination.host_header == "hooks.service.example:8443"
    assert destination.server_name == "hooks.service.example"
    v6 = DEFAULT.check("http://[2606:2800:220:1::1]/x")
    assert str(v6.pinned_url) == "http://[2606:2800:220:1::1]/x"


@pytest.mark.parametrize(
    ("setting", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:6379/"),
        ("localhost", "http://localhost:8080/hooks"),  # a host name: whatever it resolves to
        ("LocalHost.", "http://localhost:8080/hooks"),
        ("10.0.0.0/8", "http://10.1.2.3/hooks"),
        ("tickets.corp, 192.168.1.0/24", "http://192.168.1.10:5432/"),
        ("::1", "http://[::1]:8080/"),
        ("fe80::/10", "http://[fe80::1]/"),
    ],
)
def test_an_operator_allows_listed_hosts_and_networks(
    monkeypatch: pytest.MonkeyPatch, setting: str, url: str
) -> None:
    monkeypatch.setenv(ALLOW_VARIABLE, setting)
    DestinationPolicy.from_environment().check(url)


def test_only_what_is_listed_is_allowed(dns: dict[str, list[str]]) -> None:
    policy = DestinationPolicy.parse("10.0.0.0/8,tickets.corp")
    dns["tickets.corp"] = ["10.9.9.9"]
    dns["other.corp"] = ["10.9.9.9"]
    policy.check("http://tickets.corp/api")
    policy.check("http://10.200.0.1/api")
    for url in ("http://192.168.1.1/", "http://169.254.169.254/", "http://127.0.0.1/"):
        with pytest.raises(DestinationRefused):
            policy.check(url)
    # The same address under a listed network is allowed whichever name leads to it.
    policy.check("http://other.corp/api")
    assert DestinationPolicy.parse("tickets.corp").refusal(
        "other.corp", ipaddress.ip_address("10.9.9.9")
    )


@pytest.mark.parametrize("setting", ["http://tickets.corp", "10.0.0.0/33", "a b", "user@host"])
def test_a_bad_setting_is_a_clear_error(setting: str) -> None:
    with pytest.raises(ValueError, match=f"{ALLOW_VARIABLE}: .* is neither"):
        DestinationPolicy.parse(setting)


def test_an_unresolvable_host_is_its_own_error() -> None:
    with pytest.raises(DestinationUnresolved, match="does not resolve"):
        DEFAULT.check("https://no-such-host.invalid/x")


# --- saving a contract -------------------------------------------------------------------


def contract_body(url: str) -> dict:
    return {
        "team": "T", "asset_types": ["pump"], "webhook_url": url,
        "webhook_secret": "a-long-shared-secret", "emails": ["a@b.cn"],
    }  # fmt: skip


def test_saving_an_internal_webhook_is_refused_saying_why(
    maintained: World,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    admin = "tenant_admin:tenant-a"
    url = "http://169.254.169.254/latest/meta-data/iam/"
    refused = call(maintained, admin, "POST", f"{BASE}/contracts", contract_body(url))
    assert refused.status_code == 422, refused.text
    detail = refused.json()["detail"]
    assert url in detail and "169.254.169.254" in detail and "link-local" in detail
    assert f"{ALLOW_VARIABLE}=169.254.169.254" in detail

    created = call(
        maintained, admin, "POST", f"{BASE}/contracts", contract_body("https://hooks.example/x")
    )
    assert created.status_code == 201, created.text  # does not resolve yet: checked on send
    path = f"{BASE}/contracts/{created.json()['id']}"
    changed = call(maintained, admin, "PATCH", path, {"webhook_url": "http://127.0.0.1:6379/"})
    assert changed.status_code == 422 and "loopback" in changed.json()["detail"]
    listed = call(maintained, admin, "GET", f"{BASE}/contracts").json()
    assert "127.0.0.1" not in str(listed) and "169.254" not in str(listed)

    monkeypatch.setenv(ALLOW_VARIABLE, "127.0.0.1")
    changed = call(maintained, admin, "PATCH", path, {"webhook_url": "http://127.0.0.1:6379/"})
    assert changed.status_code == 200, changed.text


# --- sending -----------------------------------------------------------------------------


def queued_webhook(session, url: str) -> None:
    ids = tenants(session, "tenant-a")
    version = model_version(session, ids["tenant-a"])
    contract(session, ids["tenant-a"], webhook_url=url, webhook_secret=SECRET)
    change = on_prediction(session, prediction(session, ids["tenant-a"], version), NOW)
    session.commit()
    assert change is not None  # scoring raised the alert and queued the message


def the_delivery(session) -> AlertDelivery:
    session.expire_all()
    (delivery,) = session.scalars(select(AlertDelivery))
    return delivery


def test_dns_that_turns_internal_after_saving_is_refused_at_send_time(
    session, dns: dict[str, list[str]]
) -> None:
    with webhook_receiver(SECRET) as hook:
        port = httpx.URL(hook.url).port
        url = f"http://hooks.service.example:{port}/hooks/mingzhou"
        dns["hooks.service.example"] = ["93.184.216.34"]
        DEFAULT.check(url)  # what the API saw when the URL was saved
        queued_webhook(session, url)
        dns["hooks.service.example"] = ["127.0.0.1"]  # rebound since
        report = deliver_due(session, NOW, None, FAST)
        assert (report.sent, report.retrying, report.failed) == (0, 0, 1)
        delivery = the_delivery(session)
        assert delivery.status == "failed" and delivery.attempts == 1  # no retries
        assert "refused" in delivery.last_error and "127.0.0.1" in delivery.last_error
        assert hook.requests == []  # nothing reached the internal address


def test_the_request_goes_to_the_checked_address(
    session, dns: dict[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real DNS does not know the name: the request arrives only because it went
    to the address that was checked, with the name in the Host header."""
    monkeypatch.setenv(ALLOW_VARIABLE, "127.0.0.0/8")
    with webhook_receiver(SECRET) as hook:
        port = httpx.URL(hook.url).port
        dns["receiver.invalid"] = ["127.0.0.1"]
        queued_webhook(session, f"http://receiver.invalid:{port}/hooks/mingzhou")
        assert deliver_due(session, NOW, None, FAST).sent == 1
        (request,) = hook.requests
        assert request.signature_ok and request.headers["Host"] == f"receiver.invalid:{port}"


def test_an_unresolvable_host_is_retried(session) -> None:
    queued_webhook(session, "https://no-such-host.invalid/hooks")
    assert deliver_due(session, NOW, None, FAST).retrying == 1
    delivery = the_delivery(session)
    assert delivery.status == "pending" and "does not resolve" in delivery.last_error


@contextmanager
def http_server(
    host: str, answer: Callable[[BaseHTTPRequestHandler], None]
) -> Iterator[tuple[int, list[str]]]:
    """A server on ``host`` answering every request with ``answer``; yields its port and
    the URLs it was asked for."""
    seen: list[str] = []
    port = free_port()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            seen.append(f"http://{host}:{port}{self.path}")
            answer(self)

        do_GET = do_POST

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield port, seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.mark.parametrize("follow", [None, True])
def test_redirects_to_a_refused_address_are_not_followed(
    session, monkeypatch: pytest.MonkeyPatch, follow: bool | None
) -> None:
    """127.0.0.1 is allowed, 127.0.0.2 is not: a receiver that redirects there does not
    get the platform to go. Also with a client of the caller's that follows redirects."""
    monkeypatch.setenv(ALLOW_VARIABLE, "127.0.0.1")

    def ok(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(204)
        handler.end_headers()

    with http_server("127.0.0.2", ok) as (internal_port, internal):
        target = f"http://127.0.0.2:{internal_port}/admin"

        def redirect(handler: BaseHTTPRequestHandler) -> None:
            handler.send_response(307)
            handler.send_header("Location", target)
            handler.send_header("Content-Length", "0")
            handler.end_headers()

        with http_server("127.0.0.1", redirect) as (outside_port, outside):
            queued_webhook(session, f"http://127.0.0.1:{outside_port}/hooks")
            client = None if follow is None else httpx.Client(follow_redirects=True)
            report = deliver_due(session, NOW, None, FAST, client=client)
            if client is not None:
                client.close()
            assert report.retrying == 1 and len(outside) == 1
            assert internal == []
            delivery = the_delivery(session)
            assert "HTTP 307" in delivery.last_error and "not followed" in delivery.last_error
