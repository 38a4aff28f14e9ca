"""Delivering queued alert messages: signed webhooks and e-mail, retried with capped
exponential backoff until they get through or the attempts run out.

A webhook body is JSON with the delivery's id and a Unix ``timestamp``; the header
``X-Mingzhou-Signature`` is the hex HMAC-SHA256 of the exact body bytes under the
contract's secret, and ``X-Mingzhou-Timestamp`` repeats the timestamp. Because the
timestamp is inside the signed body, a receiver that checks the signature, then that
the header matches the body and is recent, refuses replays; ``X-Mingzhou-Delivery``
stays the same across retries of one message, so a receiver can also drop duplicates.

Before each webhook attempt the destination is checked against the platform's policy
(``maintenance.webhook_destinations``) and the request goes to the checked address;
redirects are never followed. A refused destination fails the delivery at once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import parseaddr

import httpx
from sqlalchemy import select, true
from sqlalchemy.orm import Session

from maintenance.alert_models import Alert, AlertDelivery, DeliveryStatus, ServiceContract
from maintenance.webhook_destinations import (
    DestinationPolicy,
    DestinationRefused,
    DestinationUnresolved,
)

SIGNATURE_HEADER = "X-Mingzhou-Signature"
TIMESTAMP_HEADER = "X-Mingzhou-Timestamp"
DELIVERY_HEADER = "X-Mingzhou-Delivery"
EVENT_HEADER = "X-Mingzhou-Event"
REPLAY_TOLERANCE_S = 300


@dataclass(frozen=True)
class RetryPolicy:
    """Attempt n (1-based) failing waits min(cap, base x 2^(n-1)) before the next; after
    ``max_attempts`` the delivery is marked failed. A receiver's Retry-After is honoured
    up to the cap."""

    base_s: float = 30.0
    cap_s: float = 3600.0
    max_attempts: int = 10
    timeout_s: float = 10.0

    def delay(self, attempts: int, retry_after_s: float | None = None) -> timedelta:
        backoff = min(self.cap_s, self.base_s * 2 ** (attempts - 1))
        if retry_after_s is not None:
            backoff = max(backoff, min(retry_after_s, self.cap_s))
        return timedelta(seconds=backoff)


@dataclass(frozen=True)
class SmtpSettings:
    """Where alert e-mail goes out. STARTTLS and a login are optional; ``ca_file`` trusts
    a private CA (a self-signed relay) in addition to the system's."""

    host: str
    port: int = 25
    sender: str = "Mingzhou alerts <alerts@mingzhou.localhost>"
    starttls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: str | None = None
    timeout_s: float = 10.0

    @classmethod
    def from_environment(cls) -> SmtpSettings | None:
        """MINGZHOU_SMTP_HOST (none: no e-mail), _PORT, _FROM, _STARTTLS (1/true),
        _USERNAME, _PASSWORD, _CA_FILE."""
        env = os.environ
        host = env.get("MINGZHOU_SMTP_HOST")
        if not host:
            return None
        return cls(
            host=host,
            port=int(env.get("MINGZHOU_SMTP_PORT", "25")),
            sender=env.get("MINGZHOU_SMTP_FROM", cls.sender),
            starttls=env.get("MINGZHOU_SMTP_STARTTLS", "").lower() in ("1", "true", "yes"),
            username=env.get("MINGZHOU_SMTP_USERNAME") or None,
            password=env.get("MINGZHOU_SMTP_PASSWORD") or None,
            ca_file=env.get("MINGZHOU_SMTP_CA_FILE") or None,
        )


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0


class DeliveryFailed(Exception):
    """One attempt did not get through; ``retry_after_s`` is the receiver's wish.
    ``permanent``: retrying cannot help (the destination is refused), give up now."""

    def __init__(
        self, message: str, retry_after_s: float | None = None, permanent: bool = False
    ) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.permanent = permanent


def sign(secret: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``body`` under ``secret``."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(
    secret: str,
    body: bytes,
    signature: str,
    timestamp_header: str,
    now: datetime,
    tolerance_s: float = REPLAY_TOLERANCE_S,
) -> bool:
    """What a receiver checks: the signature, that the header's timestamp is the signed
    one, and that it is recent. For receivers written in Python."""
    if not hmac.compare_digest(sign(secret, body), signature):
        return False
    try:
        signed = json.loads(body)["timestamp"]
        stamp = int(timestamp_header)
    except (ValueError, KeyError, TypeError):
        return False
    return signed == stamp and abs(now.timestamp() - stamp) <= tolerance_s


def webhook_body(delivery: AlertDelivery, now: datetime) -> bytes:
    document = {**delivery.payload, "delivery": delivery.id, "timestamp": int(now.timestamp())}
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode("utf-8")


def deliver_due(
    session: Session,
    now: datetime,
    smtp: SmtpSettings | None = None,
    policy: RetryPolicy = RetryPolicy(),
    client: httpx.Client | None = None,
    limit: int = 100,
) -> DeliveryReport:
    """Attempt every delivery that is due at ``now``, one attempt each, and reschedule
    or give up on the ones that fail. Commits after each delivery, so a message that
    went out is never sent again because a later one crashed the run; on PostgreSQL,
    workers running this at once skip each other's rows."""
    report = DeliveryReport()
    own_client = client is None
    # No kept-alive connections: each request goes to the address checked for it (a pooled
    # connection would carry another host's TLS session to a same-address host).
    http = client or httpx.Client(
        timeout=policy.timeout_s,
        follow_redirects=False,
        limits=httpx.Limits(max_keepalive_connections=0),
    )
    destinations = DestinationPolicy.from_environment()
    tried: set[int] = set()
    try:
        for _ in range(limit):
            delivery = session.scalar(
                select(AlertDelivery)
                .where(
                    AlertDelivery.status == DeliveryStatus.PENDING.value,
                    AlertDelivery.next_attempt_at <= now,
                    AlertDelivery.id.not_in(tried) if tried else true(),
                )
                .order_by(AlertDelivery.next_attempt_at, AlertDelivery.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            if delivery is None:
                break
            tried.add(delivery.id)
            _attempt(session, delivery, now, smtp, policy, http, destinations, report)
            session.commit()
    finally:
        if own_client:
            http.close()
    return report


def _attempt(
    session: Session,
    delivery: AlertDelivery,
    now: datetime,
    smtp: SmtpSettings | None,
    policy: RetryPolicy,
    http: httpx.Client,
    destinations: DestinationPolicy,
    report: DeliveryReport,
) -> None:
    alert = session.get(Alert, delivery.alert_id)
    contract = session.get(ServiceContract, alert.contract_id) if alert is not None else None
    delivery.attempts += 1
    try:
        if contract is None:
            raise DeliveryFailed("the alert or its contract is gone")
        if delivery.channel == "webhook":
            _post(http, destinations, delivery, contract, now)
        elif delivery.channel == "email":
            if smtp is None:
                raise DeliveryFailed("no SMTP server is configured (MINGZHOU_SMTP_HOST)")
            send_email(smtp, delivery)
        else:
            raise DeliveryFailed(f"unknown channel {delivery.channel!r}")
    except DeliveryFailed as exc:
        delivery.last_error = str(exc)[:500]
        if exc.permanent or delivery.attempts >= policy.max_attempts:
            delivery.status = DeliveryStatus.FAILED.value
            report.failed += 1
        else:
            delivery.next_attempt_at = now + policy.delay(delivery.attempts, exc.retry_after_s)
            report.retrying += 1
        return
    delivery.status = DeliveryStatus.SENT.value
    delivery.sent_at = now
    delivery.last_error = None
    report.sent += 1


def _post(
    http: httpx.Client,
    destinations: DestinationPolicy,
    delivery: AlertDelivery,
    contract: ServiceContract,
    now: datetime,
) -> None:
    # Checked at every attempt: the URL was checked when saved, but its DNS may have
    # changed since (or the policy has).
    try:
        destination = destinations.check(delivery.target)
    except DestinationRefused as exc:
        raise DeliveryFailed(str(exc), permanent=True) from None
    except DestinationUnresolved as exc:
        raise DeliveryFailed(str(exc)) from None  # DNS may come back: retry
    body = webhook_body(delivery, now)
    headers = {
        "Host": destination.host_header,
        # No keep-alive, also on a client the caller passed in (see deliver_due).
        "Connection": "close",
        "Content-Type": "application/json",
        "User-Agent": "Mingzhou-Alerts/1",
        EVENT_HEADER: delivery.event,
        DELIVERY_HEADER: str(delivery.id),
        TIMESTAMP_HEADER: str(int(now.timestamp())),
        SIGNATURE_HEADER: sign(contract.webhook_secret or "", body),
    }
    try:
        # To the checked address, never re-resolved; TLS still verifies the original
        # host's certificate (sni_hostname). Redirects are not followed, whatever the
        # client's default: their target was never checked.
        response = http.post(
            destination.pinned_url,
            content=body,
            headers=headers,
            extensions={"sni_hostname": destination.server_name},
            follow_redirects=False,
        )
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from None
    if response.is_redirect:
        raise DeliveryFailed(
            f"HTTP {response.status_code} from the receiver: redirects are not followed "
            f"(to {response.headers.get('location', '?')!r}); set the final URL instead"
        )
    if not response.is_success:
        raise DeliveryFailed(
            f"HTTP {response.status_code} from the receiver",
            _retry_after(response.headers.get("retry-after")),
        )


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP date: the backoff alone is fine


def send_email(smtp: SmtpSettings, delivery: AlertDelivery) -> None:
    message = email_message(smtp.sender, delivery)
    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_s) as server:
            server.ehlo()
            if smtp.starttls:
                server.starttls(context=ssl.create_default_context(cafile=smtp.ca_file))
                server.ehlo()
            if smtp.username:
                server.login(smtp.username, smtp.password or "")
            server.send_message(message)
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryFailed(f"SMTP {smtp.host}:{smtp.port}: {exc}") from None


def email_message(sender: str, delivery: AlertDelivery) -> EmailMessage:
    payload = delivery.payload
    alert = payload["alert"]
    escalated = delivery.event == "alert.escalated"
    where = f"{alert['site']}/{alert['line']}/{alert['asset']}"
    # The asset first: it is what a reader scans for, and a long site/line path would
    # otherwise be folded onto a line of its own.
    subject = (
        f"{'[ESCALATED] ' if escalated else ''}{alert['asset']}: failure risk "
        f"{alert['risk']:.2f} at {alert['site']}/{alert['line']}"
    )
    lines = [
        f"Team: {payload.get('team')}",
        f"Enterprise: {payload.get('tenant')}",
        f"Asset: {where} ({alert['asset_type']})",
        f"Risk: {alert['risk']:.2f}",
    ]
    if alert.get("rul_hours") is not None:
        lines.append(f"Remaining useful life: about {alert['rul_hours']:.0f} h")
    if escalated:
        lines.append("Nobody acknowledged this alert in the time the contract allows.")
    lines.append("")
    lines.append("Evidence (signal, feature, deviation in standard deviations, drifting since):")
    for item in payload.get("evidence", []):
        lines.append(
            f"  {item['signal']} {item['feature']} {item['deviation']:+.1f}"
            f"  since {item.get('drifting_since') or '-'}"
        )
    lines.append("")
    lines.append(f"Alert {alert['id']}, raised {alert['raised_at']}.")
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = ", ".join(_addresses(delivery.target))
    message["X-Mingzhou-Alert"] = str(alert["id"])
    message.set_content("\n".join(lines))
    return message


def _addresses(target: str) -> list[str]:
    return [address for address in (parseaddr(a)[1] for a in target.split(",")) if address]
