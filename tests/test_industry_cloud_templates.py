"""An industry cloud's own asset templates, on SQLite and PostgreSQL: its operator
writes them (audited), its members list and onboard with them beside the platform's,
and nobody outside the cloud sees or uses them."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import select

from cloud.platform_app import create_platform_app
from cloud.platform_settings import PlatformSettings
from mingzhou.demo_cloud_templates import HOT_RUNNER_CONTROLLER
from tenants import sessions
from tenants.asset_templates import shipped_templates
from tenants.db import Base, make_engine
from tenants.industry_templates import IndustryCloudTemplate
from tenants.models import AuditEvent, IndustryCloud, Tenant, User
from tenants.onboarding import create_industry_cloud
from tenants.passwords import hash_password
from tenants.roles import Role

ADMIN = ("admin@platform.cn", "admin-password")
TOKEN_PREFIX = "mzat_"
KEY = HOT_RUNNER_CONTROLLER["key"]
CLOUD_A = "/api/industry-clouds/mold-cloud/templates"
CLOUD_B = "/api/industry-clouds/appliance-cloud/templates"


@dataclass
class World:
    client: TestClient
    settings: PlatformSettings
    tokens: dict[str, str]  # who -> bearer or agent token

    def auth(self, who: str | None) -> dict[str, str]:
        if who is None:
            return {}
        value = self.tokens[who]
        scheme = "Token " if value.startswith(TOKEN_PREFIX) else "Bearer "
        return {"Authorization": scheme + value}

    def put(self, who: str, document: dict[str, Any], path: str = CLOUD_A) -> Any:
        return self.client.put(f"{path}/{document['key']}", json=document, headers=self.auth(who))


@cache
def _password_hash() -> str:
    return hash_password("password-1")  # Argon2 is slow on purpose: everyone shares one


def _machine(tenant: str, asset: str, template: str = KEY) -> dict[str, Any]:
    return {
        "site": f"site-{tenant}",
        "line": "line-1",
        "asset": asset,
        "template": template,
        "address": {"protocol": "modbus", "host": "10.0.0.9", "port": 502, "base_register": 100},
    }


@pytest.fixture
def world(metadata_url: str, tmp_path: Path) -> Iterator[World]:
    """Clouds A (mold-cloud: tenant a1) and B (appliance-cloud: tenant b1), tenant c1 in
    no cloud; each tenant's people, each cloud's operator, the bureau and an agent."""
    settings = PlatformSettings(
        metadata_url=metadata_url,
        storage=f"sqlite:{tmp_path / 'series'}",
        admin_email=ADMIN[0],
        admin_password=ADMIN[1],
    )
    app = create_platform_app(settings)
    with TestClient(app) as client:
        login = client.post("/api/auth/login", json={"email": ADMIN[0], "password": ADMIN[1]})
        tokens = {"admin": login.json()["token"]}
        admin = {"Authorization": f"Bearer {tokens['admin']}"}
        with app.state.sessions() as session:
            create_industry_cloud(session, "mold-cloud", "Mold cloud", "test")
            create_industry_cloud(session, "appliance-cloud", "Appliance cloud", "test")
            session.commit()
        for tenant, cloud in (("a1", "mold-cloud"), ("b1", "appliance-cloud"), ("c1", None)):
            body = {"key": tenant, "name": tenant.upper(), "industry_cloud": cloud}
            assert client.post("/api/tenants", json=body, headers=admin).status_code == 201
        issued = client.post(
            "/api/tenants/a1/agent-tokens", json={"site": "site-a1", "name": "e"}, headers=admin
        )
        tokens["agent:a1"] = issued.json()["token"]
        with app.state.sessions() as session:
            tenant_ids = dict(session.execute(select(Tenant.key, Tenant.id)).all())
            cloud_ids = dict(session.execute(select(IndustryCloud.key, IndustryCloud.id)).all())
            people = [
                (f"{role.value}:{key}", role, tenant_ids[key], None)
                for key in ("a1", "b1", "c1")
                for role in (Role.TENANT_ADMIN, Role.PLANT_MANAGER)
            ]
            people += [
                ("service_engineer:a1", Role.SERVICE_ENGINEER, tenant_ids["a1"], None),
                ("operator:A", Role.INDUSTRY_OPERATOR, None, cloud_ids["mold-cloud"]),
                ("operator:B", Role.INDUSTRY_OPERATOR, None, cloud_ids["appliance-cloud"]),
                ("bureau", Role.BUREAU_ANALYST, None, None),
            ]
            for who, role, tenant_id, cloud_id in people:
                user = User(
                    email=f"{who.replace(':', '@')}.cn",
                    password_hash=_password_hash(),
                    role=role.value,
                    tenant_id=tenant_id,
                    industry_cloud_id=cloud_id,
                )
                session.add(user)
                session.flush()
                tokens[who] = sessions.issue(settings.secret, user.id, role.value, tenant_id)
            expired = sessions.issue(
                settings.secret, 1, "platform_admin", None, timedelta(seconds=-1)
            )
            tokens["expired"] = expired
            session.commit()
        yield World(client, settings, tokens)


def _audit(world: World, action: str) -> list[AuditEvent]:
    with world.client.app.state.sessions() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_the_operator_creates_updates_and_deletes_a_template_audited(world: World) -> None:
    c, operator = world.client, world.auth("operator:A")
    made = world.put("operator:A", HOT_RUNNER_CONTROLLER)
    assert made.status_code == 201, made.text
    assert made.json()["key"] == KEY
    listed = c.get(CLOUD_A, headers=operator).json()
    assert [(t["key"], t["source"], t["updated_by"]) for t in listed] == [
        (KEY, "industry_cloud", "operator@A.cn")
    ]
    assert listed[0]["tags"] == [t["key"] for t in HOT_RUNNER_CONTROLLER["tags"]]

    changed = copy.deepcopy(HOT_RUNNER_CONTROLLER)
    changed["tags"] = changed["tags"][:2]
    changed["description"] = "two zones"
    again = world.put("operator:A", changed)
    assert again.status_code == 200, again.text
    got = c.get(f"{CLOUD_A}/{KEY}", headers=operator).json()
    assert got["description"] == "two zones" and len(got["tags"]) == 2
    # The platform admin writes any cloud's templates too.
    assert world.put("admin", HOT_RUNNER_CONTROLLER).status_code == 200

    assert c.delete(f"{CLOUD_A}/{KEY}", headers=operator).status_code == 204
    assert c.get(f"{CLOUD_A}/{KEY}", headers=operator).status_code == 404
    assert c.get(CLOUD_A, headers=operator).json() == []
    assert c.delete(f"{CLOUD_A}/{KEY}", headers=operator).status_code == 404

    created = _audit(world, "industry_template.create")
    updated = _audit(world, "industry_template.update")
    deleted = _audit(world, "industry_template.delete")
    assert [e.actor for e in created] == ["operator@A.cn"]
    assert [e.actor for e in updated] == ["operator@A.cn", ADMIN[0]]
    assert [e.actor for e in deleted] == ["operator@A.cn"]
    assert created[0].detail == {"industry_cloud": "mold-cloud", "template": KEY, "tags": 5}
    assert updated[0].detail["tags"] == 2 and deleted[0].tenant_id is None


def test_a_member_lists_the_template_and_onboards_a_machine_with_it(world: World) -> None:
    c = world.client
    assert world.put("operator:A", HOT_RUNNER_CONTROLLER).status_code == 201
    member = world.auth("tenant_admin:a1")
    listed = c.get("/api/tenants/a1/templates", headers=member)
    assert listed.status_code == 200
    sources = {t["key"]: t["source"] for t in listed.json()}
    assert sources == {**dict.fromkeys(shipped_templates(), "platform"), KEY: "industry_cloud"}
    detail = c.get(f"/api/tenants/a1/templates/{KEY}", headers=member)
    assert detail.status_code == 200 and detail.json()["name"]["zh"] == "热流道温控器"
    # The cloud's own listing is open to every person of a member tenant.
    for who in ("tenant_admin:a1", "plant_manager:a1", "service_engineer:a1"):
        answer = c.get(CLOUD_A, headers=world.auth(who))
        assert answer.status_code == 200 and answer.json()[0]["key"] == KEY, who
        assert c.get(f"{CLOUD_A}/{KEY}", headers=world.auth(who)).status_code == 200

    made = c.post("/api/tenants/a1/assets", json=_machine("a1", "HR-01"), headers=member)
    assert made.status_code == 201, made.text
    asset = made.json()
    assert asset["asset_type"] == KEY and asset["digital_control"] is True
    assert asset["attributes"] == HOT_RUNNER_CONTROLLER["attributes"]
    tags = {t["key"]: t for t in asset["tags"]}
    assert list(tags) == [t["key"] for t in HOT_RUNNER_CONTROLLER["tags"]]
    zone = tags["zone_3_temp"]
    assert (zone["unit"], zone["low"], zone["high"], zone["role"]) == (
        "degC",
        180,
        320,
        "temperature",
    )
    assert zone["source"]["modbus"]["register_offset"] == 4
    # A later patch checks attributes against the cloud template's defaults.
    patched = c.patch(
        "/api/tenants/a1/assets/site-a1/line-1/HR-01",
        json={"attributes": {"zones": "four"}},
        headers=member,
    )
    assert patched.status_code == 422
    assert patched.json()["detail"][0]["loc"] == ["body", "attributes", "zones"]
    # Removing the template leaves the asset and its tags as they were.
    assert c.delete(f"{CLOUD_A}/{KEY}", headers=world.auth("operator:A")).status_code == 204
    kept = c.get("/api/tenants/a1/assets/site-a1/line-1/HR-01", headers=member)
    assert kept.status_code == 200 and len(kept.json()["tags"]) == 5
    again = c.post("/api/tenants/a1/assets", json=_machine("a1", "HR-02"), headers=member)
    assert again.status_code == 422 and again.json()["detail"][0]["loc"] == ["body", "template"]


def test_a_member_may_read_but_not_write_its_clouds_templates(world: World) -> None:
    assert world.put("operator:A", HOT_RUNNER_CONTROLLER).status_code == 201
    changed = {**HOT_RUNNER_CONTROLLER, "description": "mine now"}
    for who in ("tenant_admin:a1", "plant_manager:a1"):
        answer = world.put(who, changed)
        assert answer.status_code == 403 and "operator" in answer.json()["detail"], who
        gone = world.client.delete(f"{CLOUD_A}/{KEY}", headers=world.auth(who))
        assert gone.status_code == 403, who
    got = world.client.get(f"{CLOUD_A}/{KEY}", headers=world.auth("operator:A")).json()
    assert got["description"] == HOT_RUNNER_CONTROLLER["description"]


OUTSIDERS = (
    "tenant_admin:b1",
    "plant_manager:b1",
    "tenant_admin:c1",
    "operator:B",
    "bureau",
)


def test_nobody_outside_the_cloud_sees_or_writes_its_templates(world: World) -> None:
    c = world.client
    assert world.put("operator:A", HOT_RUNNER_CONTROLLER).status_code == 201
    wrong = []
    for who in OUTSIDERS:
        h = world.auth(who)
        answers = {
            "list": c.get(CLOUD_A, headers=h),
            "get": c.get(f"{CLOUD_A}/{KEY}", headers=h),
            "put": world.put(who, {**HOT_RUNNER_CONTROLLER, "description": "x"}),
            "delete": c.delete(f"{CLOUD_A}/{KEY}", headers=h),
        }
        for name, answer in answers.items():
            if answer.status_code != 404:
                wrong.append(f"{who} {name}: {answer.status_code} {answer.text}")
            if "zone_1_temp" in answer.text or "Hot-runner" in answer.text:
                wrong.append(f"{who} {name}: the template is in the answer")
        # An unknown cloud answers exactly the same: cloud keys are not probed.
        unknown = c.get("/api/industry-clouds/no-such-cloud/templates", headers=h)
        mine = answers["list"].json()["detail"].replace("mold-cloud", "no-such-cloud")
        if (unknown.status_code, unknown.json()["detail"]) != (404, mine):
            wrong.append(f"{who}: an unknown cloud answers differently: {unknown.text}")
    assert wrong == []
    # Other tenants' catalogs do not have it, and their onboarding refuses its key.
    for tenant in ("b1", "c1"):
        h = world.auth(f"tenant_admin:{tenant}")
        listed = c.get(f"/api/tenants/{tenant}/templates", headers=h)
        assert listed.status_code == 200 and KEY not in listed.text
        assert {t["source"] for t in listed.json()} == {"platform"}
        assert c.get(f"/api/tenants/{tenant}/templates/{KEY}", headers=h).status_code == 404
        made = c.post(f"/api/tenants/{tenant}/assets", json=_machine(tenant, "HR-X"), headers=h)
        assert made.status_code == 422 and made.json()["detail"][0]["loc"] == ["body", "template"]
        assert KEY not in made.json()["detail"][0]["msg"].partition("there are:")[2]
    # Operator B's own cloud is its own: a template there is not cloud A's.
    other = {**HOT_RUNNER_CONTROLLER, "description": "B's controller"}
    assert world.put("operator:B", other, CLOUD_B).status_code == 201
    got = c.get(f"{CLOUD_A}/{KEY}", headers=world.auth("operator:A")).json()
    assert got["description"] == HOT_RUNNER_CONTROLLER["description"]
    b_catalog = c.get("/api/tenants/b1/templates", headers=world.auth("tenant_admin:b1"))
    a_catalog = c.get("/api/tenants/a1/templates", headers=world.auth("tenant_admin:a1"))
    assert "B's controller" in b_catalog.text and "B's controller" not in a_catalog.text
    assert [e.detail["industry_cloud"] for e in _audit(world, "industry_template.create")] == [
        "mold-cloud",
        "appliance-cloud",
    ]


def test_anonymous_expired_and_agent_callers_are_refused(world: World) -> None:
    c = world.client
    assert world.put("operator:A", HOT_RUNNER_CONTROLLER).status_code == 201
    for who, status in ((None, 401), ("expired", 401), ("agent:a1", 403)):
        h = world.auth(who)
        answers = [
            c.get(CLOUD_A, headers=h),
            c.get(f"{CLOUD_A}/{KEY}", headers=h),
            c.put(f"{CLOUD_A}/{KEY}", json=HOT_RUNNER_CONTROLLER, headers=h),
            c.delete(f"{CLOUD_A}/{KEY}", headers=h),
        ]
        assert [a.status_code for a in answers] == [status] * 4, who
        assert all("zone_1_temp" not in a.text for a in answers)
    assert "expired" in c.get(CLOUD_A, headers=world.auth("expired")).json()["detail"]
    assert len(c.get(CLOUD_A, headers=world.auth("operator:A")).json()) == 1


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        (lambda d: d["tags"][1].update(kind="decimal"), ["body", "tags", 1, "kind"]),
        (lambda d: d["tags"][0].update(low=400), ["body", "tags", 0]),
        (lambda d: d["tags"][0]["modbus"].update(type="bool"), ["body", "tags", 0, "modbus"]),
        (lambda d: d.pop("name"), ["body", "name"]),
        (lambda d: d.update(surprise=1), ["body", "surprise"]),
        (lambda d: d.update(key="other_key"), ["body", "key"]),
        (
            lambda d: d["attributes"].update(rated_power_kw=0),
            ["body", "attributes", "rated_power_kw"],
        ),
    ],
)
def test_a_bad_document_is_a_422_naming_the_field(world: World, change, loc) -> None:
    document = copy.deepcopy(HOT_RUNNER_CONTROLLER)
    change(document)
    answer = world.client.put(f"{CLOUD_A}/{KEY}", json=document, headers=world.auth("operator:A"))
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]
    assert detail[0]["loc"] == loc and detail[0]["msg"], detail
    with world.client.app.state.sessions() as session:
        assert session.scalars(select(IndustryCloudTemplate)).all() == []
    assert _audit(world, "industry_template.create") == []


def test_a_shipped_templates_key_is_refused(world: World) -> None:
    for key in ("mould", "power_meter"):
        document = {**HOT_RUNNER_CONTROLLER, "key": key}
        answer = world.put("operator:A", document)
        assert answer.status_code == 409, answer.text
        assert "platform template" in answer.text and key in answer.text
    member = world.auth("tenant_admin:a1")
    mould = world.client.get("/api/tenants/a1/templates/mould", headers=member).json()
    assert mould == shipped_templates()["mould"].model_dump(mode="json", exclude_none=True)


def test_the_migration_builds_exactly_the_template_table(metadata_url: str) -> None:
    engine = make_engine(metadata_url)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    ours = [d for d in diff if "'industry_cloud_templates'" in repr(d)]
    assert ours == [], ours
    assert "industry_cloud_templates" in Base.metadata.tables


def test_the_demo_gives_the_mold_cloud_its_hot_runner_controller(metadata_url: str) -> None:
    from mingzhou.demo_tenants import seed
    from tenants.db import session_factory
    from tenants.onboarding import ensure_default_plans

    engine = make_engine(metadata_url)
    plants = {"mold": ("beilun-molds", "Beilun Molds"), "petrochem": ("zh-chem", "ZH Chem")}
    with session_factory(engine)() as session:
        ensure_default_plans(session)
        for _ in range(2):  # each demo start seeds again: one template all the same
            seed(session, plants)
            session.commit()
        rows = session.scalars(select(IndustryCloudTemplate)).all()
        mold = session.scalar(select(IndustryCloud).where(IndustryCloud.key == "mold-cloud"))
        assert mold is not None
        assert [(r.industry_cloud_id, r.key, r.created_by) for r in rows] == [
            (mold.id, KEY, "make demo")
        ]
    engine.dispose()


def test_the_migration_downgrades_alone(metadata_url: str) -> None:
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import inspect

    from tenants.db import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", metadata_url.replace("%", "%%"))
    command.downgrade(config, "0008_industry_cloud_templates@-1")
    engine = make_engine(metadata_url)
    with engine.connect() as connection:
        tables = set(inspect(connection).get_table_names())
    assert "industry_cloud_templates" not in tables and "industry_clouds" in tables
    command.upgrade(config, "heads")
    with engine.connect() as connection:
        assert "industry_cloud_templates" in inspect(connection).get_table_names()
    engine.dispose()
