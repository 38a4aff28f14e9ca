"""The maintenance API under /api/tenants/{key}/maintenance: who may read, who may work
alerts and work orders, who may manage contracts and models; every other caller is
refused and no answer carries another tenant's data. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from maintenance.alert_models import Alert
from maintenance.alerts import on_prediction
from tenants.models import Tenant
from tenants.onboarding import create_user
from tenants.roles import Role
from tests.maintenance_records import NOW, contract, model_version, prediction
from tests.test_cloud_platform import World, login, world  # noqa: F401  (the fixture)

BASE = "/api/tenants/tenant-a/maintenance"
B_SECRET = "B-SECRET-PUMP"  # tenant-b's asset: must never show up in tenant-a's answers
READERS = ("admin", "tenant_admin:tenant-a", "plant_manager:tenant-a", "service_engineer:tenant-a")
OUTSIDERS = (
    "tenant_admin:tenant-b",
    "plant_manager:tenant-b",
    "service_engineer:tenant-b",
    "bureau",
)


@pytest.fixture
def maintained(world: World) -> World:  # noqa: F811
    """The world plus service engineers and a bureau analyst, and maintenance data in
    both tenants: a promoted model, a contract, predictions and open alerts."""
    c = world.client
    for tenant in ("tenant-a", "tenant-b"):
        email = f"service_engineer@{tenant}.cn"
        body = {"email": email, "password": "password-1", "role": "service_engineer"}
        admin = world.auth(f"tenant_admin:{tenant}")
        assert c.post(f"/api/tenants/{tenant}/users", json=body, headers=admin).status_code == 201
        world.tokens[f"service_engineer:{tenant}"] = login(c, email, "password-1")
    with c.app.state.sessions() as session:
        create_user(session, "analyst@bureau.cn", "password-1", Role.BUREAU_ANALYST, "test")
        ids = dict(session.execute(select(Tenant.key, Tenant.id)).all())
        for key, assets in (("tenant-a", ("P-101", "P-102", "P-103")), ("tenant-b", (B_SECRET,))):
            version = model_version(session, ids[key])
            contract(session, ids[key], team=f"{key} pump team", emails=[f"team@{key}.cn"])
            for asset, risk, rul in zip(
                assets, (0.95, 0.95, 0.3), (30.0, 12.0, None), strict=False
            ):
                on_prediction(
                    session, prediction(session, ids[key], version, asset, risk, rul), NOW
                )
        session.commit()
    world.tokens["bureau"] = login(c, "analyst@bureau.cn", "password-1")
    return world


def alert_ids(w: World, who: str = "service_engineer:tenant-a") -> dict[str, int]:
    alerts = w.client.get(f"{BASE}/alerts", headers=w.auth(who)).json()
    return {a["asset"]: a["id"] for a in alerts}


def call(w: World, who: str | None, method: str, path: str, body: dict | None = None):
    headers = w.auth(who) if who else {}
    kwargs = {"json": body} if body is not None else {}
    return w.client.request(method, path, headers=headers, **kwargs)


def refused_everywhere_but(
    w: World, allowed: tuple[str, ...], method: str, path: str, body=None
) -> None:
    """Every caller outside ``allowed`` is refused, with the status that says why."""
    everyone = (*READERS, *OUTSIDERS, "agent:tenant-a", None)
    for who in everyone:
        if who in allowed:
            continue
        response = call(w, who, method, path, body)
        expected = (
            401 if who is None
            else 403 if who == "agent:tenant-a" or who in READERS
            else 404
        )  # fmt: skip
        assert response.status_code == expected, (who, method, path, response.text)
        assert "P-101" not in response.text and B_SECRET not in response.text
        assert "pump team" not in response.text


def test_the_tenants_people_read_and_nobody_else(maintained: World) -> None:
    paths = ("models", "predictions", "alerts", "work-orders", "causes?asset_type=pump",
             "training-labels")  # fmt: skip
    for path in paths:
        for who in READERS:
            response = call(maintained, who, "GET", f"{BASE}/{path}")
            assert response.status_code == 200, (who, path, response.text)
            assert B_SECRET not in response.text and "tenant-b" not in response.text
        refused_everywhere_but(maintained, READERS, "GET", f"{BASE}/{path}")
    # The outsiders are refused as if the tenant did not exist; reading their own works.
    own = call(
        maintained, "plant_manager:tenant-b", "GET", "/api/tenants/tenant-b/maintenance/alerts"
    )
    assert own.status_code == 200 and B_SECRET in own.text and "P-101" not in own.text


def test_predictions_rank_by_risk_then_remaining_life_with_evidence(maintained: World) -> None:
    ranked = call(maintained, "plant_manager:tenant-a", "GET", f"{BASE}/predictions").json()
    assert [(p["asset"], p["risk"], p["rul_hours"]) for p in ranked] == [
        ("P-102", 0.95, 12.0),  # the same risk: the shorter life first
        ("P-101", 0.95, 30.0),
        ("P-103", 0.3, None),
    ]
    evidence = ranked[0]["evidence"][0]
    assert evidence["signal"] == "vibration_rms" and evidence["drifting_since"].startswith(
        "2026-09-30T12:00"
    )
    alerts = call(maintained, "plant_manager:tenant-a", "GET", f"{BASE}/alerts").json()
    assert {a["asset"] for a in alerts} == {"P-101", "P-102"}  # 0.3 is under the threshold
    assert all(a["team"] == "tenant-a pump team" and a["status"] == "open" for a in alerts)
    assert alerts[0]["deliveries"][0] == {
        "channel": "email", "event": "alert.raised", "status": "pending", "attempts": 0,
        "last_error": None, "sent_at": None,
    }  # fmt: skip


def test_service_engineers_work_alerts_through_work_orders(maintained: World) -> None:
    ids = alert_ids(maintained)
    engineer = "service_engineer:tenant-a"
    ack = f"{BASE}/alerts/{ids['P-101']}/acknowledge"
    refused_everywhere_but(maintained, (engineer,), "POST", ack)
    acknowledged = call(maintained, engineer, "POST", ack)
    assert acknowledged.status_code == 200 and acknowledged.json()["status"] == "acknowledged"
    again = call(maintained, engineer, "POST", ack)
    assert again.status_code == 409 and "only an open alert" in again.json()["detail"]

    opening = f"{BASE}/alerts/{ids['P-102']}/work-order"
    refused_everywhere_but(maintained, (engineer,), "POST", opening)
    order = call(maintained, engineer, "POST", opening)
    assert order.status_code == 201, order.text
    order = order.json()
    assert order["status"] == "open" and "bearing_wear" in order["causes"]
    assert call(maintained, engineer, "POST", opening).status_code == 409  # one per alert
    move = f"{BASE}/work-orders/{order['id']}/transition"
    refused_everywhere_but(maintained, (engineer,), "POST", move, {"to": "acknowledged"})

    def step(body: dict, status: int = 200) -> dict:
        response = call(maintained, engineer, "POST", move, body)
        assert response.status_code == status, response.text
        return response.json()

    assert (
        "can move to acknowledged, not to done"
        in step({"to": "done", "cause": "bearing_wear"}, 409)["detail"]
    )
    assert step({"to": "acknowledged"})["status"] == "acknowledged"
    # Acknowledging the work order acknowledged its alert.
    alert = next(
        a
        for a in call(maintained, engineer, "GET", f"{BASE}/alerts").json()
        if a["asset"] == "P-102"
    )
    assert alert["status"] == "acknowledged" and alert["work_order_id"] == order["id"]
    assert "needs a date" in step({"to": "scheduled"}, 409)["detail"]
    assert step({"to": "scheduled", "scheduled_for": "2026-10-03"})["scheduled_for"] == "2026-10-03"
    assert step({"to": "scheduled", "scheduled_for": "2026-10-04"})["scheduled_for"] == "2026-10-04"
    wrong = step({"to": "done", "cause": "heater_failure"}, 409)["detail"]
    assert "'heater_failure' is not a cause for a pump" in wrong and "bearing_wear" in wrong
    failed_at = (NOW + timedelta(hours=2)).isoformat()
    done = step(
        {
            "to": "done",
            "cause": "bearing_wear",
            "notes": "DE bearing spalled",
            "failed_at": failed_at,
        }
    )
    assert (done["status"], done["cause"], done["notes"]) == (
        "done",
        "bearing_wear",
        "DE bearing spalled",
    )
    assert "is done" in step({"to": "scheduled", "scheduled_for": "2026-10-05"}, 409)["detail"]
    alerts = {a["asset"]: a for a in call(maintained, engineer, "GET", f"{BASE}/alerts").json()}
    assert alerts["P-102"]["status"] == "closed"
    labels = call(maintained, "plant_manager:tenant-a", "GET", f"{BASE}/training-labels").json()
    assert [(x["asset"], x["cause"], x["failure"]) for x in labels] == [
        ("P-102", "bearing_wear", True)
    ]
    assert labels[0]["time"].startswith("2026-10-01T10:00")


def test_the_tenant_admin_manages_contracts_and_models(maintained: World) -> None:
    admin = "tenant_admin:tenant-a"
    managers = (admin, "admin")
    body = {
        "team": "Grundfos service Ningbo", "asset_keys": ["P-101"], "risk_threshold": 0.6,
        "webhook_url": "https://hooks.example/grundfos", "webhook_secret": "a-long-shared-secret",
        "emails": ["service@grundfos.example"], "escalate_after_minutes": 60,
        "escalation_emails": ["manager@grundfos.example"],
    }  # fmt: skip
    refused_everywhere_but(maintained, managers, "GET", f"{BASE}/contracts")
    refused_everywhere_but(maintained, managers, "POST", f"{BASE}/contracts", body)
    created = call(maintained, admin, "POST", f"{BASE}/contracts", body)
    assert created.status_code == 201, created.text
    created = created.json()
    assert created["has_webhook_secret"] and "a-long-shared-secret" not in str(created)
    listed = call(maintained, "admin", "GET", f"{BASE}/contracts").json()
    assert [c["team"] for c in listed] == ["tenant-a pump team", "Grundfos service Ningbo"]
    path = f"{BASE}/contracts/{created['id']}"
    refused_everywhere_but(maintained, managers, "PATCH", path, {"risk_threshold": 0.5})
    changed = call(maintained, admin, "PATCH", path, {"risk_threshold": 0.5})
    assert changed.status_code == 200 and changed.json()["risk_threshold"] == 0.5
    refused_everywhere_but(maintained, managers, "DELETE", path)
    assert call(maintained, admin, "DELETE", path).status_code == 204
    assert call(maintained, admin, "GET", f"{BASE}/contracts").json()[1]["active"] is False
    b_contract = call(
        maintained, "tenant_admin:tenant-b", "GET", "/api/tenants/tenant-b/maintenance/contracts"
    ).json()[0]
    assert (
        call(maintained, admin, "DELETE", f"{BASE}/contracts/{b_contract['id']}").status_code == 404
    )

    (model,) = call(maintained, admin, "GET", f"{BASE}/models").json()
    assert model["state"] == "promoted" and "artifact" not in model
    rollback = {"asset_type": "pump", "kind": "anomaly"}
    refused_everywhere_but(maintained, managers, "POST", f"{BASE}/models/rollback", rollback)
    refused = call(maintained, admin, "POST", f"{BASE}/models/rollback", rollback)
    assert refused.status_code == 409 and "nothing to roll back to" in refused.json()["detail"]
    promote = f"{BASE}/models/{model['id']}/promote"
    refused_everywhere_but(maintained, managers, "POST", promote)
    assert call(maintained, admin, "POST", promote).status_code == 409  # promoted already
    b_model = call(
        maintained, "tenant_admin:tenant-b", "GET", "/api/tenants/tenant-b/maintenance/models"
    ).json()[0]
    other = call(maintained, admin, "POST", f"{BASE}/models/{b_model['id']}/promote")
    assert other.status_code == 404 and B_SECRET not in other.text


BAD_CONTRACTS = [
    ({"asset_keys": [], "asset_types": []}, "asset_types or asset_keys"),
    ({"risk_threshold": 1.5}, "risk_threshold"),
    ({"webhook_secret": None}, "webhook_secret"),
    ({"webhook_secret": "short"}, "webhook_secret"),
    ({"webhook_url": "ftp://x"}, "webhook_url"),
    ({"emails": ["not-an-address"]}, "emails"),
    ({"escalation_emails": []}, "escalation_emails"),
    ({"team": ""}, "team"),
]


def test_a_bad_contract_is_refused_naming_the_field(maintained: World) -> None:
    for change, field in BAD_CONTRACTS:
        body = {
            "team": "T", "asset_types": ["pump"], "webhook_url": "https://hooks.example/x",
            "webhook_secret": "a-long-shared-secret", "emails": ["a@b.cn"],
            "escalate_after_minutes": 30, "escalation_emails": ["m@b.cn"],
        }  # fmt: skip
        body.update(change)
        response = call(maintained, "tenant_admin:tenant-a", "POST", f"{BASE}/contracts", body)
        assert response.status_code == 422, (change, response.text)
        assert field in response.text, (change, response.text)
    listed = call(maintained, "tenant_admin:tenant-a", "GET", f"{BASE}/contracts").json()
    assert [c["team"] for c in listed] == ["tenant-a pump team"]  # nothing half-made


def test_bad_requests_name_what_is_wrong(maintained: World) -> None:
    engineer = "service_engineer:tenant-a"
    assert (
        call(maintained, engineer, "POST", f"{BASE}/alerts/999999/acknowledge").status_code == 404
    )
    assert (
        call(
            maintained, engineer, "POST", f"{BASE}/work-orders/999999/transition", {"to": "done"}
        ).status_code
        == 404
    )
    bad = call(maintained, engineer, "POST", f"{BASE}/work-orders/1/transition", {"to": "finished"})
    assert bad.status_code == 422 and "to" in str(bad.json()["detail"][0]["loc"])
    naive = call(maintained, engineer, "POST", f"{BASE}/work-orders/1/transition",
                 {"to": "done", "failed_at": "2026-10-01T08:00:00"})  # fmt: skip
    assert naive.status_code == 422 and "failed_at" in str(naive.json()["detail"][0]["loc"])
    assert call(maintained, engineer, "GET", f"{BASE}/alerts?status=lost").status_code == 422
    assert call(maintained, engineer, "GET", f"{BASE}/causes").status_code == 422
    with maintained.client.app.state.sessions() as session:
        assert session.scalar(select(Alert.status).where(Alert.asset == "P-101")) == "open"
