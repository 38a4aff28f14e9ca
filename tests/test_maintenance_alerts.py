"""Alerts reach the contract's team through a real webhook receiver and a real SMTP
server on loopback, signed, deduplicated, retried with backoff when the receiver fails,
and escalated when nobody acknowledges them; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from maintenance.alert_delivery import RetryPolicy, SmtpSettings, deliver_due, sign, verify
from maintenance.alert_models import Alert, AlertDelivery
from maintenance.alerts import AlertError, acknowledge, escalate_due, on_prediction
from tenants.db import make_engine, session_factory
from tests.alert_receivers import (  # noqa: F401  (allow_loopback_webhooks: the fixture)
    allow_loopback_webhooks,
    self_signed_certificate,
    smtp_server,
    webhook_receiver,
)
from tests.conftest import free_port
from tests.maintenance_records import NOW, contract, model_version, prediction, tenants

SECRET = "s3cret-shared-with-the-team"
FAST = RetryPolicy(base_s=30, cap_s=120, max_attempts=4, timeout_s=5)
pytestmark = pytest.mark.usefixtures("allow_loopback_webhooks")  # the receivers' 127.0.0.1


@pytest.fixture
def session(metadata_url: str) -> Iterator:
    engine = make_engine(metadata_url)
    with session_factory(engine)() as session:
        yield session
    engine.dispose()


def deliveries(session) -> list[AlertDelivery]:
    session.expire_all()
    return list(session.scalars(select(AlertDelivery).order_by(AlertDelivery.id)))


def test_a_risky_prediction_reaches_the_team_once_by_signed_webhook_and_email(session) -> None:
    ids = tenants(session, "tenant-a")
    version = model_version(session, ids["tenant-a"])
    with webhook_receiver(SECRET) as hook, smtp_server() as mail:
        contract(
            session, ids["tenant-a"], webhook_url=hook.url, webhook_secret=SECRET,
            emails=["pumps@service.example", "lead@service.example"],
        )  # fmt: skip
        assert (
            on_prediction(session, prediction(session, ids["tenant-a"], version, risk=0.4), NOW)
            is None
        )
        raised = on_prediction(
            session, prediction(session, ids["tenant-a"], version, risk=0.9), NOW
        )
        later = NOW + timedelta(hours=1)
        again = prediction(session, ids["tenant-a"], version, risk=0.95, made_at=later)
        updated = on_prediction(session, again, later)
        session.commit()
        assert raised is not None and raised.change == "raised"
        assert updated is not None and updated.change == "updated"
        assert updated.alert.id == raised.alert.id
        alert = session.get(Alert, raised.alert.id)
        assert (alert.predictions_seen, alert.peak_risk, alert.prediction_id) == (2, 0.95, again.id)
        assert [d.channel for d in deliveries(session)] == ["webhook", "email"]  # not four

        report = deliver_due(session, NOW, SmtpSettings("127.0.0.1", mail.port), FAST)
        assert (report.sent, report.retrying, report.failed) == (2, 0, 0)
        (request,) = hook.requests
        assert request.signature_ok and request.timestamp_ok
        assert request.headers["X-Mingzhou-Event"] == "alert.raised"
        body = request.json
        assert body["alert"]["asset"] == "P-101" and body["tenant"] == "tenant-a"
        assert body["evidence"][0]["signal"] == "vibration_rms"
        assert SECRET not in request.body.decode()
        (message,) = mail.messages
        assert message["Subject"].startswith("P-101: failure risk 0.90")
        assert sorted(mail.recipients[0]) == ["lead@service.example", "pumps@service.example"]
        assert "vibration_rms" in message.get_content()
        assert all(d.status == "sent" and d.attempts == 1 for d in deliveries(session))
        # Nothing is due any more: a second run sends nothing twice.
        assert deliver_due(session, NOW + timedelta(hours=1), None, FAST).sent == 0
        assert len(hook.requests) == 1 and len(mail.messages) == 1


def test_a_failing_receiver_is_retried_with_backoff_and_scoring_never_waits(session) -> None:
    ids = tenants(session, "tenant-a")
    version = model_version(session, ids["tenant-a"])
    with webhook_receiver(SECRET, answers=[503, 500]) as hook:
        contract(session, ids["tenant-a"], webhook_url=hook.url, webhook_secret=SECRET)
        change = on_prediction(session, prediction(session, ids["tenant-a"], version), NOW)
        session.commit()
        # Scoring only queued the message: the alert exists before any attempt.
        assert change is not None and hook.requests == []
        (delivery,) = deliveries(session)
        assert delivery.status == "pending" and delivery.attempts == 0

        assert deliver_due(session, NOW, None, FAST).retrying == 1
        (delivery,) = deliveries(session)
        assert delivery.next_attempt_at == NOW + timedelta(seconds=30)
        assert "HTTP 503" in delivery.last_error
        assert deliver_due(session, NOW + timedelta(seconds=29), None, FAST).retrying == 0
        second = NOW + timedelta(seconds=30)
        assert deliver_due(session, second, None, FAST).retrying == 1
        (delivery,) = deliveries(session)
        assert delivery.next_attempt_at == second + timedelta(seconds=60)  # doubled
        assert deliver_due(session, second + timedelta(seconds=60), None, FAST).sent == 1
        assert len(hook.requests) == 3
        assert len({r.headers["X-Mingzhou-Delivery"] for r in hook.requests}) == 1
        assert all(r.signature_ok and r.timestamp_ok for r in hook.requests)
        # Each retry is signed afresh with its own time, so it is not a replay.
        stamps = [r.json["timestamp"] for r in hook.requests]
        assert stamps == sorted(stamps) and len(set(stamps)) == 3


def test_an_unreachable_receiver_backs_off_to_the_cap_then_gives_up(session) -> None:
    ids = tenants(session, "tenant-a")
    version = model_version(session, ids["tenant-a"])
    dead = f"http://127.0.0.1:{free_port()}/nobody-listens"
    contract(session, ids["tenant-a"], webhook_url=dead, webhook_secret=SECRET)
    on_prediction(session, prediction(session, ids["tenant-a"], version), NOW)
    session.commit()
    moment, waits = NOW, []
    for _ in range(FAST.max_attempts):
        deliver_due(session, moment, None, FAST)
        (delivery,) = deliveries(session)
        if delivery.status == "failed":
            break
        waits.append((delivery.next_attempt_at - moment).total_seconds())
        moment = delivery.next_attempt_at
    assert waits == [30, 60, 120]  # doubling, capped at 120 s
    assert delivery.status == "failed" and delivery.attempts == FAST.max_attempts
    assert "ConnectError" in delivery.last_error


def test_retry_after_from_the_receiver_is_honoured(session) -> None:
    ids = tenants(session, "tenant-a")
    version = model_version(session, ids["tenant-a"])
    with webhook_receiver(SECRET, answers=[429]) as hook:
        contract(session, ids["tenant-a"], webhook_url=hook.url, webhook_secret=SECRET)
        on_prediction(session, prediction(session, ids["tenant-a"], version), NOW)
        session.commit()
        deliver_due(session, NOW, None, RetryPolicy(base_s=10, cap_s=600))
        (delivery,) = deliveries(session)
        assert delivery.next_attempt_at == NOW + timedelta(seconds=120)


def test_unacknowledged_alerts_escalate_once_after_the_contract_time(session) -> None:
    ids = tenants(session, "tenant-a")
    version = model_version(session, ids["tenant-a"])
    with smtp_server() as mail:
        contract(
            session, ids["tenant-a"], emails=["pumps@service.example"],
            escalate_after_minutes=30, escalation_emails=["manager@service.example"],
        )  # fmt: skip
        left = on_prediction(session, prediction(session, ids["tenant-a"], version), NOW)
        seen = on_prediction(
            session, prediction(session, ids["tenant-a"], version, asset="P-102"), NOW
        )
        acknowledge(session, ids["tenant-a"], seen.alert.id, "engineer@tenant-a", NOW)
        session.commit()
        assert escalate_due(session, NOW + timedelta(minutes=29)) == []
        escalated = escalate_due(session, NOW + timedelta(minutes=31))
        assert [a.id for a in escalated] == [left.alert.id]
        assert escalate_due(session, NOW + timedelta(hours=5)) == []  # once
        session.commit()
        deliver_due(session, NOW + timedelta(minutes=31), SmtpSettings("127.0.0.1", mail.port))
        subjects = {
            m["Subject"].strip(): r for m, r in zip(mail.messages, mail.recipients, strict=True)
        }
        escalation = [s for s in subjects if s.startswith("[ESCALATED]")]
        assert len(escalation) == 1 and "P-101" in escalation[0]
        assert subjects[escalation[0]] == ["manager@service.example"]
    with pytest.raises(AlertError, match="only an open alert"):
        acknowledge(session, ids["tenant-a"], seen.alert.id, "engineer@tenant-a", NOW)


def test_email_goes_through_starttls_with_a_login(session, tmp_path: Path) -> None:
    ids = tenants(session, "tenant-a")
    version = model_version(session, ids["tenant-a"])
    cert, key = self_signed_certificate(tmp_path)
    with smtp_server((cert, key), login=("alerts", "mail-password")) as mail:
        contract(session, ids["tenant-a"], emails=["pumps@service.example"])
        on_prediction(session, prediction(session, ids["tenant-a"], version), NOW)
        session.commit()
        wrong = SmtpSettings(
            "127.0.0.1", mail.port, starttls=True, username="alerts", password="nope",
            ca_file=str(cert),
        )  # fmt: skip
        assert deliver_due(session, NOW, wrong, FAST).retrying == 1
        (delivery,) = deliveries(session)
        assert "535" in delivery.last_error and mail.messages == []
        right = SmtpSettings(
            "127.0.0.1", mail.port, starttls=True, username="alerts",
            password="mail-password", ca_file=str(cert),
        )  # fmt: skip
        assert deliver_due(session, delivery.next_attempt_at, right, FAST).sent == 1
        assert len(mail.messages) == 1 and mail.tls_sessions == 1


def test_the_contract_naming_the_asset_wins_and_other_tenants_never_match(session) -> None:
    ids = tenants(session, "tenant-a", "tenant-b")
    a, b = ids["tenant-a"], ids["tenant-b"]
    version_b = model_version(session, b)
    contract(session, a, team="A's contractor", asset_types=["pump"], risk_threshold=0.1)
    assert on_prediction(session, prediction(session, b, version_b), NOW) is None
    general = contract(session, b, team="General", asset_types=["pump"], risk_threshold=0.5)
    exact = contract(
        session, b, team="P-101 maker", asset_types=[],
        asset_keys=["zhenhai-petrochem/pump-station-1/P-101"], risk_threshold=0.8,
    )  # fmt: skip
    contract(session, b, team="Retired", asset_keys=["P-102"], risk_threshold=0.1, active=False)
    # The exact contract's own threshold applies: 0.75 is under it.
    assert on_prediction(session, prediction(session, b, version_b, risk=0.75), NOW) is None
    p101 = on_prediction(session, prediction(session, b, version_b, risk=0.85), NOW)
    p102 = on_prediction(session, prediction(session, b, version_b, asset="P-102", risk=0.6), NOW)
    assert p101.alert.contract_id == exact.id and p102.alert.contract_id == general.id
    # A short remaining life alerts even at a modest risk, when the contract asks for it.
    general.rul_threshold_hours = 48
    p103 = prediction(session, b, version_b, asset="P-103", risk=0.2, rul_hours=60)
    assert on_prediction(session, p103, NOW).change == "raised"  # 60 h x 0.7 = 42 h low end


def test_one_open_alert_per_asset_is_a_rule_of_the_database(session) -> None:
    ids = tenants(session, "tenant-a")
    version = model_version(session, ids["tenant-a"])
    contract(session, ids["tenant-a"])
    first = on_prediction(session, prediction(session, ids["tenant-a"], version), NOW).alert
    session.commit()
    duplicate = Alert(
        **{
            c: getattr(first, c)
            for c in ("tenant_id", "contract_id", "site", "line", "asset", "asset_type")
        },
        failure_kind=first.failure_kind, status="open", risk=0.9, peak_risk=0.9,
        prediction_id=first.prediction_id, raised_at=NOW, updated_at=NOW,
    )  # fmt: skip
    session.add(duplicate)
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()


def test_receivers_can_check_signature_and_age_with_the_helper() -> None:
    body = json.dumps({"timestamp": int(NOW.timestamp()), "alert": {"id": 1}}).encode()
    signature = sign(SECRET, body)
    stamp = str(int(NOW.timestamp()))
    assert verify(SECRET, body, signature, stamp, NOW + timedelta(seconds=10))
    assert not verify(SECRET, body + b" ", signature, stamp, NOW)
    assert not verify("other-secret", body, signature, stamp, NOW)
    assert not verify(SECRET, body, signature, str(int(NOW.timestamp()) + 1), NOW)
    assert not verify(SECRET, body, signature, stamp, NOW + timedelta(minutes=6))  # a replay
