"""The asset model on SQLite and PostgreSQL: templates, one-call onboarding, the tree,
edge-agent configs the agent's own loader accepts, who may do what, hostile names, and
``unknown_series`` for ingestion."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from cloud.platform_app import create_platform_app
from cloud.platform_settings import PlatformSettings
from edge_agent.config import AgentConfig, OpcUaTagConfig, load_config
from historian import Point, SeriesKey
from historian.line_protocol import encode_points, parse_line_protocol
from mingzhou.demo_tenants import plant_onboardings, seed
from protocols.simulators import PLANTS
from tenants import sessions
from tenants.asset_model import (
    Asset,
    Line,
    Site,
    TagDef,
    TagRole,
    state_value_key,
    unknown_series,
)
from tenants.asset_templates import TemplateError, load_template, shipped_templates
from tenants.db import Base, make_engine, session_factory
from tenants.models import AuditEvent, IndustryCloud, Plan, Tenant, User
from tenants.onboarding import create_industry_cloud, create_tenant
from tenants.passwords import hash_password
from tenants.roles import Role

ADMIN = ("admin@platform.cn", "admin-password")
TOKEN = "mzat_example_token_for_tests"
SHIPPED = {
    "injection_moulding_machine",
    "mould",
    "assembly_station",
    "end_of_line_tester",
    "centrifugal_pump",
    "compressor",
    "power_meter",
}


@dataclass
class World:
    client: TestClient
    tokens: dict[str, str]  # who -> bearer or agent token

    def auth(self, who: str | None) -> dict[str, str]:
        if who is None:
            return {}
        value = self.tokens[who]
        return {"Authorization": ("Token " if value.startswith("mzat_") else "Bearer ") + value}

    def session(self) -> Session:
        return self.client.app.state.sessions()


def _login(client: TestClient, email: str, password: str) -> str:
    response = client.post("/api/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return response.json()["token"]


def _press(site: str, asset: str, **extra: Any) -> dict[str, Any]:
    body = {
        "site": site,
        "line": "line-1",
        "asset": asset,
        "template": "injection_moulding_machine",
        "address": {
            "protocol": "opcua",
            "endpoint": "opc.tcp://10.0.0.5:4840",
            "node_prefix": f"ns=2;s={asset}.",
        },
    }
    body.update(extra)
    return body


@cache
def _password_hash() -> str:
    # Argon2 takes ~0.4 s a hash on purpose; the people of every world share one.
    return hash_password("password-1")


@pytest.fixture
def world(metadata_url: str, tmp_path: Path) -> Iterator[World]:
    """Two tenants (tenant-a in an industry cloud) with every role, agent tokens, an
    operator and a bureau analyst, and one machine each (press-secret-a / -b).

    The platform admin signs in for real; the others get the session token sign-in
    would issue them (sign-in itself is test_cloud_platform's subject).
    """
    settings = PlatformSettings(
        metadata_url=metadata_url,
        storage=f"sqlite:{tmp_path / 'series'}",
        admin_email=ADMIN[0],
        admin_password=ADMIN[1],
    )
    app = create_platform_app(settings)
    with TestClient(app) as client:
        tokens = {"admin": _login(client, *ADMIN)}
        admin = {"Authorization": f"Bearer {tokens['admin']}"}
        with app.state.sessions() as session:
            create_industry_cloud(session, "mold-cloud", "Mold cloud", "test")
            session.commit()
        for tenant, cloud_key in (("tenant-a", "mold-cloud"), ("tenant-b", None)):
            body = {"key": tenant, "name": tenant.upper(), "industry_cloud": cloud_key}
            assert client.post("/api/tenants", json=body, headers=admin).status_code == 201
            letter = tenant[-1]
            issued = client.post(
                f"/api/tenants/{tenant}/agent-tokens",
                json={"site": f"site-{letter}", "name": "edge-1"},
                headers=admin,
            )
            tokens[f"agent:{tenant}"] = issued.json()["token"]
            made = client.post(
                f"/api/tenants/{tenant}/assets",
                json=_press(f"site-{letter}", f"press-secret-{letter}"),
                headers=admin,
            )
            assert made.status_code == 201, made.text
        with app.state.sessions() as session:
            tenant_ids = dict(session.execute(select(Tenant.key, Tenant.id)).all())
            cloud_id = session.scalar(select(IndustryCloud.id))
            people = [
                (f"{role.value}:{key}", role, tenant_ids[key], None)
                for key in ("tenant-a", "tenant-b")
                for role in (Role.TENANT_ADMIN, Role.PLANT_MANAGER, Role.SERVICE_ENGINEER)
            ]
            people += [
                ("operator", Role.INDUSTRY_OPERATOR, None, cloud_id),
                ("bureau", Role.BUREAU_ANALYST, None, None),
            ]
            for who, role, tenant_id, industry_cloud_id in people:
                user = User(
                    email=f"{who.replace(':', '@')}.cn",
                    password_hash=_password_hash(),
                    role=role.value,
                    tenant_id=tenant_id,
                    industry_cloud_id=industry_cloud_id,
                )
                session.add(user)
                session.flush()
                tokens[who] = sessions.issue(settings.secret, user.id, role.value, tenant_id)
            session.commit()
        yield World(client, tokens)


# --- templates -------------------------------------------------------------------------


def test_every_shipped_template_loads_and_the_roles_are_all_used() -> None:
    templates = shipped_templates()
    assert set(templates) == SHIPPED
    roles = set()
    for key, template in templates.items():
        assert template.name.en and template.name.zh and template.description
        for tag in template.tags:
            # Both protocols have a default address for every tag.
            assert tag.opcua is not None and tag.modbus is not None, (key, tag.key)
            roles.add(tag.role)
            if tag.role is TagRole.STATE:
                assert tag.states and all(s.reason for s in tag.states.values())
    assert roles - {None} == set(TagRole)
    assert all(t.attributes for t in templates.values())
    assert templates["injection_moulding_machine"].digital_control is True
    assert templates["power_meter"].digital_control is False


def test_state_values_look_up_the_same_over_opcua_and_modbus() -> None:
    pump = shipped_templates()["centrifugal_pump"].tag("running")
    assert pump is not None and pump.states is not None
    # OPC UA sends True, Modbus 1, a scaled register 1.0: one entry serves all three.
    assert {state_value_key(v) for v in (True, 1, 1.0)} == {"1"}
    assert pump.states[state_value_key(True)].category == "producing"
    assert pump.states[state_value_key(0)].category == "idle"
    imm = shipped_templates()["injection_moulding_machine"].tag("state")
    assert imm is not None and imm.states is not None
    assert imm.states[state_value_key("alarm")].category == "down"


GOOD_TEMPLATE = {
    "key": "probe",
    "name": {"en": "Probe", "zh": "探头"},
    "description": "d",
    "digital_control": False,
    "attributes": {"rated_power_kw": 1.0},
    "tags": [
        {
            "key": "t",
            "kind": "float",
            "opcua": {"browse_name": "T"},
            "modbus": {"table": "input", "register_offset": 0, "type": "float32"},
        },
        {
            "key": "state",
            "kind": "int",
            "role": "state",
            "states": {0: {"category": "idle", "reason": "off"}},
        },
    ],
}


@pytest.mark.parametrize(
    ("path", "value", "field", "says"),
    [
        (("tags", 0, "kind"), "double", "tags[0].kind", "float"),
        (("tags", 0, "colour"), "red", "tags[0].colour", "Extra inputs"),
        (("tags", 0, "low"), 5, "tags[0]", "low 5.0 is above high"),
        (("tags", 1, "states"), None, "tags[1]", "needs states"),
        (("tags", 1, "states", 0, "category"), "broken", "tags[1].states.0.category", "producing"),
        (("tags", 0, "modbus", "type"), "bool", "tags[0].modbus", "coil and discrete"),
        (("tags", 0, "opcua"), {"browse_name": "A", "node": "ns=2;s=A"}, "tags[0].opcua", "one"),
        (("tags", 0, "key"), "bad\nkey", "tags[0].key", "line break"),
        (("name", "zh"), "", "name.zh", "at least 1"),
        (("key",), "other", "key", "differs from the file name"),
    ],
)
def test_a_bad_template_names_its_file_and_field(
    tmp_path: Path, path: tuple, value: Any, field: str, says: str
) -> None:
    data = copy.deepcopy(GOOD_TEMPLATE)
    data["tags"][0]["high"] = 1
    node = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    file = tmp_path / "probe.yaml"
    file.write_text(yaml.safe_dump(data, allow_unicode=True))
    with pytest.raises(TemplateError) as caught:
        load_template(file)
    assert caught.value.file == str(file)
    assert caught.value.field == field, str(caught.value)
    assert says in caught.value.message
    assert str(file) in str(caught.value)


def test_a_good_template_file_loads(tmp_path: Path) -> None:
    file = tmp_path / "probe.yaml"
    file.write_text(yaml.safe_dump(GOOD_TEMPLATE, allow_unicode=True))
    template = load_template(file)
    assert template.tag("state").states["0"].reason == "off"  # type: ignore[union-attr]
    broken = tmp_path / "broken.yaml"
    broken.write_text("key: [unclosed\n")
    with pytest.raises(TemplateError, match=r"broken\.yaml: invalid YAML"):
        load_template(broken)


# --- onboarding, tree, patch, delete ---------------------------------------------------


def test_a_machine_is_onboarded_in_one_call_listed_changed_and_removed(world: World) -> None:
    c, admin_a = world.client, world.auth("tenant_admin:tenant-a")
    body = {
        "site": "ningbo-2",
        "site_name": "Ningbo plant 2",
        "district": "Beilun",
        "line": "hall-3",
        "line_name": "Moulding hall 3",
        "asset": "IMM-07",
        "name": "Haitian MA2500",
        "template": "injection_moulding_machine",
        "attributes": {"ideal_cycle_time_s": 12.5, "supplier": "Haitian"},
        "limits": {"melt_temp": {"low": 210, "high": 250}},
        "address": {
            "protocol": "modbus",
            "host": "10.0.0.7",
            "unit_id": 3,
            "base_register": 100,
        },
    }
    made = c.post("/api/tenants/tenant-a/assets", json=body, headers=admin_a)
    assert made.status_code == 201, made.text
    asset = made.json()
    assert (asset["site"], asset["line"], asset["key"]) == ("ningbo-2", "hall-3", "IMM-07")
    assert asset["asset_type"] == "injection_moulding_machine" and asset["digital_control"]
    assert asset["attributes"]["ideal_cycle_time_s"] == 12.5
    assert asset["attributes"]["rated_power_kw"] == 45.0  # the template's default stays
    assert asset["attributes"]["supplier"] == "Haitian"
    tags = {t["key"]: t for t in asset["tags"]}
    assert len(tags) == 7
    assert (tags["melt_temp"]["low"], tags["melt_temp"]["high"]) == (210, 250)
    assert tags["shot_count"]["role"] == "count_total"
    assert tags["state"]["states"]["alarm"]["category"] == "down"
    assert tags["state"]["source"]["modbus"]["register_offset"] == 10

    again = c.post("/api/tenants/tenant-a/assets", json=body, headers=admin_a)
    assert again.status_code == 409 and "exists already" in again.json()["detail"]

    # A second machine on the same line reuses the site and line.
    second = {**body, "asset": "IMM-08", "tags": ["state", "shot_count"], "limits": {}}
    assert c.post("/api/tenants/tenant-a/assets", json=second, headers=admin_a).status_code == 201

    tree = c.get("/api/tenants/tenant-a/assets", headers=world.auth("plant_manager:tenant-a"))
    assert tree.status_code == 200
    sites = {s["key"]: s for s in tree.json()}
    assert set(sites) == {"site-a", "ningbo-2"}
    assert (
        sites["ningbo-2"]["name"] == "Ningbo plant 2" and sites["ningbo-2"]["district"] == "Beilun"
    )
    (hall,) = sites["ningbo-2"]["lines"]
    assert hall["name"] == "Moulding hall 3"
    assert [a["key"] for a in hall["assets"]] == ["IMM-07", "IMM-08"]
    assert [t["key"] for t in hall["assets"][1]["tags"]] == ["state", "shot_count"]
    only = c.get("/api/tenants/tenant-a/assets", params={"site": "ningbo-2"}, headers=admin_a)
    assert [s["key"] for s in only.json()] == ["ningbo-2"]

    path = "/api/tenants/tenant-a/assets/ningbo-2/hall-3/IMM-07"
    changed = c.patch(
        path,
        json={
            "name": "Haitian MA2500 II",
            "attributes": {"supplier": None, "cavities": 4},
            "digital_control": False,
            "tags": {"melt_temp": {"high": None}, "mould_temp": {"low": 25, "unit": "°C"}},
        },
        headers=admin_a,
    )
    assert changed.status_code == 200, changed.text
    got = c.get(path, headers=world.auth("service_engineer:tenant-a")).json()
    assert got["name"] == "Haitian MA2500 II" and got["digital_control"] is False
    assert "supplier" not in got["attributes"] and got["attributes"]["cavities"] == 4
    tags = {t["key"]: t for t in got["tags"]}
    assert (tags["melt_temp"]["low"], tags["melt_temp"]["high"]) == (210, None)
    assert (tags["mould_temp"]["low"], tags["mould_temp"]["unit"]) == (25, "°C")

    assert c.delete(path, headers=admin_a).status_code == 204
    assert c.get(path, headers=admin_a).status_code == 404
    with world.session() as session:
        tenant_id = session.scalar(select(Tenant.id).where(Tenant.key == "tenant-a"))
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.tenant_id == tenant_id)
        ).all()
        left = session.scalars(select(TagDef.key).join(Asset).where(Asset.key == "IMM-07")).all()
    for action in ("site.create", "line.create", "asset.onboard", "asset.update", "asset.delete"):
        assert action in actions
    assert left == []  # the tags went with the asset


def test_the_plan_quota_caps_the_series_of_the_model(world: World) -> None:
    with world.session() as session:
        tiny = Plan(
            key="tiny",
            ingest_points_per_s=10,
            max_series=9,
            retention_days=1,
            max_users=10,
            max_agents=1,
        )
        session.add(tiny)
        session.flush()
        tenant = session.scalar(select(Tenant).where(Tenant.key == "tenant-b"))
        assert tenant is not None
        tenant.plan_id = tiny.id
        session.commit()
    # tenant-b has 7 tags already; 2 more fit, 7 more do not.
    refused = world.client.post(
        "/api/tenants/tenant-b/assets",
        json=_press("site-b", "press-2"),
        headers=world.auth("tenant_admin:tenant-b"),
    )
    assert refused.status_code == 400 and "plan 'tiny' allows 9 series" in refused.json()["detail"]
    fits = _press("site-b", "press-2", tags=["state", "shot_count"])
    assert (
        world.client.post(
            "/api/tenants/tenant-b/assets", json=fits, headers=world.auth("tenant_admin:tenant-b")
        ).status_code
        == 201
    )


# --- agent config ----------------------------------------------------------------------


def _load_agent_config(text: str, tmp_path: Path, name: str = "agent.yaml") -> AgentConfig:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return load_config(path, {"MINGZHOU_AGENT_TOKEN": TOKEN})


def test_the_site_agent_config_is_one_the_edge_agent_loads(world: World, tmp_path: Path) -> None:
    c, admin_a = world.client, world.auth("tenant_admin:tenant-a")
    pump = {
        "site": "site-a",
        "line": "utilities",
        "asset": "P-1",
        "template": "centrifugal_pump",
        "address": {"protocol": "modbus", "host": "10.0.0.9", "port": 5020, "base_register": 40},
    }
    meter = {
        **pump,
        "asset": "meter-1",
        "template": "power_meter",
        "address": {"protocol": "modbus", "host": "10.0.0.9", "port": 5020, "base_register": 0},
    }
    by_path = {
        **pump,
        "asset": "compressor-1",
        "template": "compressor",
        "address": {
            "protocol": "opcua",
            "endpoint": "opc.tcp://10.0.0.5:4840",
            "browse_path": "Objects/3:Compressor1",
            "namespace_index": 3,
        },
    }
    unconnected = {**pump, "asset": "spare-pump", "address": None}
    for body in (pump, meter, by_path, unconnected):
        made = c.post("/api/tenants/tenant-a/assets", json=body, headers=admin_a)
        assert made.status_code == 201, made.text

    answer = c.get(
        "/api/tenants/tenant-a/sites/site-a/agent-config",
        params={"interval": "2s"},
        headers=world.auth("plant_manager:tenant-a"),
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/yaml")
    assert "${MINGZHOU_AGENT_TOKEN}" in answer.text and TOKEN not in answer.text
    assert "utilities/spare-pump" in answer.text  # named as left out, in a comment
    config = _load_agent_config(answer.text, tmp_path)

    assert config.agent.site == "site-a"
    (output,) = config.outputs
    assert output.type == "cloud" and output.token == TOKEN  # type: ignore[union-attr]
    assert output.url == "http://testserver"  # type: ignore[union-attr]
    # One device per connection: the press and the compressor share an OPC UA endpoint,
    # the pump and the meter one Modbus unit.
    assert len(config.devices) == 2
    opcua = next(d for d in config.devices if d.protocol == "opcua")
    modbus = next(d for d in config.devices if d.protocol == "modbus")
    assert opcua.interval == modbus.interval == 2.0
    assert {t.asset for t in opcua.tags} == {"press-secret-a", "compressor-1"}
    assert {t.asset for t in modbus.tags} == {"P-1", "meter-1"}
    press_state = next(t for t in opcua.tags if t.asset == "press-secret-a" and t.name == "state")
    assert press_state.node == "ns=2;s=press-secret-a.State"  # type: ignore[union-attr]
    comp_state = next(t for t in opcua.tags if t.asset == "compressor-1" and t.name == "state")
    assert comp_state.path == "Objects/3:Compressor1/3:State"  # type: ignore[union-attr]
    flow = next(t for t in modbus.tags if t.name == "flow")
    assert (flow.table, flow.address, flow.type) == ("input", 40, "float32")  # type: ignore[union-attr]
    pressure = next(t for t in modbus.tags if t.name == "discharge_pressure")
    assert (pressure.address, pressure.scale) == (42, 0.01)  # type: ignore[union-attr]
    energy = next(t for t in modbus.tags if t.name == "energy_kwh")
    assert (energy.address, energy.order) == (2, "CDAB")  # type: ignore[union-attr]


@pytest.mark.parametrize("protocol", ["opcua", "modbus"])
def test_every_template_yields_a_valid_agent_config(
    world: World, tmp_path: Path, protocol: str
) -> None:
    admin = world.auth("admin")
    address = (
        {"protocol": "opcua", "endpoint": "opc.tcp://plc:4840", "node_prefix": "ns=2;s=M."}
        if protocol == "opcua"
        else {"protocol": "modbus", "host": "plc"}
    )
    for i, key in enumerate(sorted(SHIPPED)):
        # Each on its own Modbus unit, so the registers of two templates never overlap.
        if protocol == "modbus":
            address = {**address, "unit_id": i + 1}
        body = {"site": "all", "line": "l", "asset": key, "template": key, "address": address}
        made = world.client.post("/api/tenants/tenant-a/assets", json=body, headers=admin)
        assert made.status_code == 201, made.text
    text = world.client.get("/api/tenants/tenant-a/sites/all/agent-config", headers=admin).text
    config = _load_agent_config(text, tmp_path)
    count = sum(len(t.tags) for t in shipped_templates().values())
    assert sum(len(d.tags) for d in config.devices) == count


def test_agent_config_refusals_say_why(world: World) -> None:
    c, admin = world.client, world.auth("admin")
    for path in (  # keys no model can hold (PostgreSQL cannot even compare a NUL): 404
        f"{A}/assets/%00/l/a",
        f"{A}/sites/%00/agent-config",
        "/api/tenants/%00/assets",
        "/api/tenants/%00/settings",
    ):
        assert c.get(path, headers=admin).status_code == 404, path
    assert c.get(f"{A}/assets", params={"site": "\x00"}, headers=admin).json() == []
    missing = c.get("/api/tenants/tenant-a/sites/nowhere/agent-config", headers=admin)
    assert missing.status_code == 404 and "no site 'nowhere'" in missing.json()["detail"]
    body = _press("bare", "p", address=None)
    assert c.post("/api/tenants/tenant-a/assets", json=body, headers=admin).status_code == 201
    empty = c.get("/api/tenants/tenant-a/sites/bare/agent-config", headers=admin)
    assert empty.status_code == 409 and "no asset with an address" in empty.json()["detail"]
    for params, loc in (
        ({"interval": "soon"}, ["query", "interval"]),
        ({"cloud_url": "ftp://x"}, ["query", "cloud_url"]),
    ):
        bad = c.get("/api/tenants/tenant-a/sites/site-a/agent-config", params=params, headers=admin)
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == loc


# --- the demo's plants -----------------------------------------------------------------


def _tag_rows(config: AgentConfig) -> set[tuple]:
    rows = set()
    for device in config.devices:
        for t in device.tags:
            if isinstance(t, OpcUaTagConfig):
                where: tuple = (t.node, t.path)
            else:
                where = (t.table, t.address, t.type, t.order, t.scale, t.offset, t.bit, t.length)
            place = (t.line or device.line, t.asset or device.asset, t.name)
            rows.add((*place, t.unit or None, where))
    return rows


def test_the_demo_plants_are_modelled_by_the_templates(world: World, tmp_path: Path) -> None:
    """The demo's seed onboards each plant through onboard_asset; the agent config the
    cloud generates from that model reads exactly what the demo's agents read."""
    industries = ("mold", "appliance", "petrochem")
    plants = {i: (PLANTS[i].site, PLANTS[i].display_name) for i in industries}
    ports = {i: ("127.0.0.1", 4840 + n) for n, i in enumerate(industries)}
    with world.session() as session:
        seed(session, plants, ports)
        session.commit()
    with world.session() as session:  # a restart on other ports: only the address moves
        seed(session, plants, {i: (h, p + 100) for i, (h, p) in ports.items()})
        session.commit()
    admin = world.auth("admin")
    for industry in industries:
        plant = PLANTS[industry]
        host, port = ports[industry]
        text = world.client.get(
            f"/api/tenants/{plant.site}/sites/{plant.site}/agent-config", headers=admin
        ).text
        generated = _load_agent_config(text, tmp_path, f"{industry}.yaml")
        expected = plant.agent_config(host, port + 100)
        expected["outputs"] = [{"type": "cloud", "url": "http://x", "token": TOKEN}]
        demo = AgentConfig.model_validate(expected)
        assert _tag_rows(generated) == _tag_rows(demo), industry
        (device,) = generated.devices
        assert device.protocol == plant.protocol
        with world.session() as session:
            tenant = session.scalar(select(Tenant).where(Tenant.key == plant.site))
            assert tenant is not None
            keys = [SeriesKey(plant.site, p.line, p.asset, p.tag) for p in plant.points]
            assert unknown_series(session, tenant.id, keys) == []
            stray = SeriesKey(plant.site, "assembly-9", "ST-99", "state")
            assert unknown_series(session, tenant.id, [*keys, stray]) == [stray]
            updates = session.scalars(
                select(AuditEvent).where(
                    AuditEvent.tenant_id == tenant.id, AuditEvent.action == "asset.update"
                )
            ).all()
        assert len(updates) == len({p.asset for p in plant.points})  # each address moved once
    # Each demo plant has one onboarding request per machine.
    assert [r.asset for r in plant_onboardings(PLANTS["petrochem"], "h", 1)] == [
        "P-101",
        "P-102",
        "P-103",
        "meter-main",
    ]


# --- who may do what -------------------------------------------------------------------

READERS = {"admin", "tenant_admin:tenant-a", "plant_manager:tenant-a", "service_engineer:tenant-a"}
MANAGERS = {"admin", "tenant_admin:tenant-a"}
OUTSIDERS = {
    "tenant_admin:tenant-b",
    "plant_manager:tenant-b",
    "service_engineer:tenant-b",
    "operator",  # tenant-a is in its cloud but has not granted it its dashboards
    "bureau",
}
AGENTS = {"agent:tenant-a", "agent:tenant-b"}
A = "/api/tenants/tenant-a"
ENDPOINTS = [
    # name, method, path, what it needs, status when allowed
    ("templates", "get", f"{A}/templates", "read", 200),
    ("template", "get", f"{A}/templates/mould", "read", 200),
    ("tree", "get", f"{A}/assets", "read", 200),
    ("asset", "get", f"{A}/assets/site-a/line-1/press-secret-a", "read", 200),
    ("agent-config", "get", f"{A}/sites/site-a/agent-config", "read", 200),
    ("onboard", "post", f"{A}/assets", "manage", 201),
    ("patch", "patch", f"{A}/assets/site-a/line-1/press-secret-a", "manage", 200),
    ("delete", "delete", f"{A}/assets/site-a/line-1/victim-{{n}}", "manage", 204),
    ("settings", "get", f"{A}/settings", "manage", 200),
    ("settings-patch", "patch", f"{A}/settings", "manage", 200),
]


def _expected(who: str | None, needs: str, allowed: int) -> int:
    if who is None:
        return 401
    if who in AGENTS:
        return 403
    if who in OUTSIDERS:
        return 404
    if needs == "read" or who in MANAGERS:
        return allowed
    return 403  # a reader of the tenant asking to change it


def test_every_endpoint_refuses_whoever_may_not(world: World) -> None:
    c = world.client
    wrong: list[str] = []
    callers = [*sorted(READERS | OUTSIDERS | AGENTS), None]
    for n, who in enumerate(callers):
        for name, method, path, needs, allowed in ENDPOINTS:
            kwargs: dict[str, Any] = {"headers": world.auth(who)}
            if name == "delete":  # a fresh asset to delete, made by the platform admin
                victim = _press("site-a", f"victim-{n}", address=None)
                made = c.post(f"{A}/assets", json=victim, headers=world.auth("admin"))
                assert made.status_code == 201
                path = path.format(n=n)
            if name == "onboard":
                kwargs["json"] = _press("site-a", f"probe-{n}")
            elif name == "patch":
                kwargs["json"] = {"attributes": {"cavities": n + 1}}
            elif name == "settings-patch":
                kwargs["json"] = {"unknown_tags": "accept"}
            response = getattr(c, method)(path, **kwargs)
            want = _expected(who, needs, allowed)
            if response.status_code != want:
                wrong.append(f"{who} {name}: {response.status_code} not {want}: {response.text}")
            if response.status_code >= 400 and "press-secret-a" in response.text:
                wrong.append(f"{who} {name}: a refusal shows tenant-a's data")
            if "press-secret-b" in response.text or "site-b" in response.text:
                wrong.append(f"{who} {name}: tenant-b's data in tenant-a's answer")
    assert wrong == []
    # Each tenant's own people see their own model, and only it.
    own = c.get("/api/tenants/tenant-b/assets", headers=world.auth("plant_manager:tenant-b"))
    assert own.status_code == 200 and "press-secret-b" in own.text
    assert "press-secret-a" not in own.text


def test_settings_are_the_tenant_admins_and_the_grant_opens_the_model(world: World) -> None:
    c = world.client
    admin_a, operator = world.auth("tenant_admin:tenant-a"), world.auth("operator")
    assert c.get(f"{A}/assets", headers=operator).status_code == 404
    before = c.get(f"{A}/settings", headers=admin_a).json()
    assert before == {"unknown_tags": "accept", "grants_operator_dashboards": False}
    changed = c.patch(
        f"{A}/settings",
        json={"unknown_tags": "reject", "grants_operator_dashboards": True},
        headers=admin_a,
    )
    assert changed.status_code == 200
    assert changed.json() == {"unknown_tags": "reject", "grants_operator_dashboards": True}
    with world.session() as session:
        tenant = session.scalar(select(Tenant).where(Tenant.key == "tenant-a"))
        assert tenant is not None and tenant.unknown_tags == "reject"
        event_ = session.scalar(select(AuditEvent).where(AuditEvent.action == "tenant.settings"))
        assert event_ is not None and event_.detail["unknown_tags"] == {
            "from": "accept",
            "to": "reject",
        }
    # The operator of tenant-a's cloud now reads its model, and still may not change it.
    assert c.get(f"{A}/assets", headers=operator).status_code == 200
    assert c.patch(f"{A}/settings", json={}, headers=operator).status_code == 403
    assert c.post(f"{A}/assets", json=_press("x", "y"), headers=operator).status_code == 403
    for body, loc in (
        ({"unknown_tags": "maybe"}, ["body", "unknown_tags"]),
        ({"grants_operator_dashboards": None}, ["body", "grants_operator_dashboards"]),
        ({"colour": "red"}, ["body", "colour"]),
    ):
        bad = c.patch(f"{A}/settings", json=body, headers=admin_a)
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == loc


# --- names and bad requests ------------------------------------------------------------

HOSTILE_SITE = 'Ningbo "Plant", No.1'
HOSTILE_LINE = "x=1 y=2, line"
HOSTILE_ASSET = "注塑机 #1 = 50% ?"
HOSTILE_TAGS = ("SELECT * FROM telemetry; DROP DATABASE x", 'a "quoted", tag = 1', "温度/摄氏 ")


def test_hostile_names_round_trip(world: World, tmp_path: Path) -> None:
    c, admin = world.client, world.auth("admin")
    extra = [
        {"key": key, "kind": "float", "opcua": {"node": f"ns=2;s=X{i}"}}
        for i, key in enumerate(HOSTILE_TAGS)
    ]
    body = _press(HOSTILE_SITE, HOSTILE_ASSET, line=HOSTILE_LINE, extra_tags=extra)
    made = c.post(f"{A}/assets", json=body, headers=admin)
    assert made.status_code == 201, made.text
    keys = {t["key"] for t in made.json()["tags"]}
    assert set(HOSTILE_TAGS) <= keys

    tree = c.get(f"{A}/assets", params={"site": HOSTILE_SITE}, headers=admin).json()
    (site,) = tree
    assert site["key"] == HOSTILE_SITE and site["lines"][0]["key"] == HOSTILE_LINE
    assert site["lines"][0]["assets"][0]["key"] == HOSTILE_ASSET

    segments = "/".join(quote(x, safe="") for x in (HOSTILE_SITE, HOSTILE_LINE, HOSTILE_ASSET))
    one = c.get(f"{A}/assets/{segments}", headers=admin)
    assert one.status_code == 200 and one.json()["key"] == HOSTILE_ASSET

    text = c.get(f"{A}/sites/{quote(HOSTILE_SITE, safe='')}/agent-config", headers=admin).text
    config = _load_agent_config(text, tmp_path)
    assert config.agent.site == HOSTILE_SITE
    placed = {(t.line, t.asset, t.name) for d in config.devices for t in d.tags}
    assert {(HOSTILE_LINE, HOSTILE_ASSET, tag) for tag in HOSTILE_TAGS} <= placed

    # The same names survive line protocol and are known to the model.
    series = [SeriesKey(HOSTILE_SITE, HOSTILE_LINE, HOSTILE_ASSET, tag) for tag in HOSTILE_TAGS]
    wire = encode_points([Point(k, 1, 1.0) for k in series])
    assert [p.key for p in parse_line_protocol(wire)] == series
    with world.session() as session:
        tenant_id = session.scalar(select(Tenant.id).where(Tenant.key == "tenant-a"))
        assert unknown_series(session, tenant_id, series) == []


BAD_NAMES = [
    # field, value, what the refusal says
    ("site", "", "must not be empty"),
    ("site", "   ", "must not be empty"),
    ("line", "two\nlines", "line break"),
    ("asset", "tab\there", "control character"),
    ("asset", "para\u2028graph", "line break"),
    ("asset", "ends\\", "backslash"),
    ("line", "${HOME}", "environment variable"),
    ("asset", "a/b", "URL path segment"),
    ("site", "..", "URL path segment"),
    ("asset", "x" * 201, "at most 200"),
]


def test_names_that_cannot_be_a_series_key_are_refused(world: World) -> None:
    wrong = []
    for i, (field, value, says) in enumerate(BAD_NAMES):
        body = _press("site-a", f"fine-{i}")
        body[field] = value
        refused = world.client.post(f"{A}/assets", json=body, headers=world.auth("admin"))
        detail = refused.json()["detail"]
        if refused.status_code != 422 or detail[0]["loc"] != ["body", field]:
            wrong.append(f"{field}={value!r}: {refused.status_code} {detail}")
        elif says not in detail[0]["msg"]:
            wrong.append(f"{field}={value!r}: {detail[0]['msg']!r} does not say {says!r}")
        extra = {"key": value, "kind": "int", "opcua": {"node": "ns=2;s=X"}}
        tag = _press("site-a", f"fine-{i}", extra_tags=[extra])
        answer = world.client.post(f"{A}/assets", json=tag, headers=world.auth("admin"))
        if "URL path" in says:  # a tag is no path segment: '/' and '..' are fine there
            if answer.status_code != 201:
                wrong.append(f"tag {value!r}: {answer.status_code} {answer.text}")
        elif answer.status_code != 422 or answer.json()["detail"][0]["loc"] != [
            "body",
            "extra_tags",
            0,
            "key",
        ]:
            wrong.append(f"tag {value!r}: {answer.status_code} {answer.text}")
    assert wrong == []


BAD_ONBOARDINGS = [
    # what the request changes, the field the refusal names, what it says
    ({"template": "toaster"}, ["body", "template"], "no template 'toaster'"),
    ({"tags": ["state", "colour"]}, ["body", "tags", 1], "has no tag 'colour'"),
    ({"limits": {"melt_temp": {"low": 300}}}, ["body", "limits", "melt_temp"], "above high"),
    ({"limits": {"nope": {"low": 1}}}, ["body", "limits", "nope"], "no tag 'nope'"),
    (
        {"extra_tags": [{"key": "state", "kind": "int"}]},
        ["body", "extra_tags", 0, "key"],
        "there already",
    ),
    (
        {"extra_tags": [{"key": "x", "kind": "complex"}]},
        ["body", "extra_tags", 0, "kind"],
        "float",
    ),
    (
        {"attributes": {"ideal_cycle_time_s": 0}},
        ["body", "attributes", "ideal_cycle_time_s"],
        "above 0",
    ),
    (
        {"attributes": {"cavities": "four"}},
        ["body", "attributes", "cavities"],
        "expected a number",
    ),
    (
        {"address": {"protocol": "opcua", "endpoint": "http://plc"}},
        ["body", "address", "opcua", "endpoint"],
        "opc.tcp://",
    ),
    (
        {"address": {"protocol": "opcua", "endpoint": "opc.tcp://plc:4840"}},
        ["body", "address"],
        "set node_prefix",
    ),
    (
        {"address": {"protocol": "modbus", "host": "plc", "base_register": 65530}},
        ["body", "address"],
        "past register 65535",
    ),
    (
        {"address": {"protocol": "modbus", "host": "plc", "unit_id": 300}},
        ["body", "address", "modbus", "unit_id"],
        "less than or equal",
    ),
    ({"address": {"protocol": "s7"}}, ["body", "address"], "opcua"),
    ({"colour": "red"}, ["body", "colour"], "Extra inputs"),
    ({"name": "nul\x00name"}, ["body", "name"], "NUL"),
    (
        {"limits": {"melt_temp": {"low": float("nan")}}},
        ["body", "limits", "melt_temp", "low"],
        "finite",
    ),
    ({"attributes": {"weight_t": [1, float("inf")]}}, ["body", "attributes", "weight_t"], "finite"),
]


def test_a_bad_onboarding_names_the_field_and_writes_nothing(world: World) -> None:
    wrong = []
    for change, loc, says in BAD_ONBOARDINGS:
        # json.dumps writes NaN and Infinity as JavaScript does: what a sloppy client sends.
        body = json.dumps({**_press("new-site", "IMM-9"), **change})
        headers = {**world.auth("admin"), "Content-Type": "application/json"}
        refused = world.client.post(f"{A}/assets", content=body, headers=headers)
        error = refused.json()["detail"][0] if refused.status_code == 422 else refused.text
        if refused.status_code != 422 or error["loc"] != loc or says not in error["msg"]:
            wrong.append(f"{change}: {refused.status_code} {error}")
    assert wrong == []
    tree = world.client.get(f"{A}/assets", headers=world.auth("admin")).json()
    assert [s["key"] for s in tree] == ["site-a"]  # no site, line or asset was made
    assert [a["key"] for a in tree[0]["lines"][0]["assets"]] == ["press-secret-a"]


BAD_PATCHES = [
    # the patch, the field the refusal names, what it says
    ({"tags": {"nope": {"low": 1}}}, ["body", "tags", "nope"], "no tag 'nope'"),
    ({"tags": {"melt_temp": {"low": 999}}}, ["body", "tags", "melt_temp"], "above high"),
    ({"tags": {"melt_temp": {"unit": None}}}, ["body", "tags", "melt_temp", "unit"], "null"),
    ({"attributes": {"rated_power_kw": -1}}, ["body", "attributes", "rated_power_kw"], "above"),
    ({"name": None}, ["body", "name"], "keeps a name"),
    ({"digital_control": "sometimes"}, ["body", "digital_control"], "boolean"),
    (
        {"address": {"protocol": "opcua", "endpoint": "opc.tcp://x"}},
        ["body", "address"],
        "set node_prefix",
    ),
]


def test_a_bad_patch_names_the_field_and_changes_nothing(world: World) -> None:
    path = f"{A}/assets/site-a/line-1/press-secret-a"
    before = world.client.get(path, headers=world.auth("admin")).json()
    wrong = []
    for patch, loc, says in BAD_PATCHES:
        refused = world.client.patch(path, json=patch, headers=world.auth("admin"))
        error = refused.json()["detail"][0] if refused.status_code == 422 else refused.text
        if refused.status_code != 422 or error["loc"] != loc or says not in error["msg"]:
            wrong.append(f"{patch}: {refused.status_code} {error}")
    assert wrong == []
    assert world.client.get(path, headers=world.auth("admin")).json() == before


# --- unknown_series ----------------------------------------------------------------------


@pytest.fixture
def session(metadata_url: str) -> Iterator[Session]:
    engine = make_engine(metadata_url)
    with session_factory(engine)() as s:
        from tenants.onboarding import ensure_default_plans

        ensure_default_plans(s)
        yield s
    engine.dispose()


def _model(session: Session, tenant: Tenant, sites: int, lines: int, assets: int, tags: int):
    for s in range(sites):
        site = Site(tenant_id=tenant.id, key=f"s-{s}", name=f"s-{s}")
        for li in range(lines):
            line = Line(site=site, key=f"l-{li}", name=f"l-{li}")
            for a in range(assets):
                line.assets.append(
                    Asset(
                        key=f"a-{a}",
                        name=f"a-{a}",
                        asset_type="power_meter",
                        attributes={},
                        tags=[TagDef(key=f"t-{t}", kind="float", source={}) for t in range(tags)],
                    )
                )
        session.add(site)
    session.flush()


def test_unknown_series_answers_thousands_of_keys_in_one_query(session: Session) -> None:
    a = create_tenant(session, "tenant-a", "A", "enterprise", "test")
    b = create_tenant(session, "tenant-b", "B", "enterprise", "test")
    _model(session, a, sites=2, lines=5, assets=20, tags=15)  # 3,000 tags
    _model(session, b, sites=3, lines=1, assets=20, tags=16)  # in another tenant
    session.commit()
    known = [
        SeriesKey(f"s-{s}", f"l-{li}", f"a-{x}", f"t-{t}")
        for s in range(2)
        for li in range(5)
        for x in range(20)
        for t in range(15)
    ]
    unknown = [
        *(SeriesKey("s-0", "l-0", f"a-{x}", "t-15") for x in range(20)),  # tenant-b's tag
        *(SeriesKey("s-2", "l-0", "a-1", f"t-{t}") for t in range(15)),  # tenant-b's site
        *(SeriesKey("s-1", "l-9", "a-1", f"t-{t}") for t in range(15)),  # no such line
        *(SeriesKey("s-1", "l-1", "a-99", f"t-{t}") for t in range(15)),  # no such asset
        *(SeriesKey("s-1", "l-1", "a-1", f"T-{t}") for t in range(15)),  # case matters
        SeriesKey("s-0", "l-0", "a-0", "t-0 "),  # a trailing space is another tag
    ]
    keys = [*known, *unknown]
    keys = keys[::2] + keys[1::2] + keys[:100]  # shuffled, and with repeats
    engine = session.get_bind()
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        answer = unknown_series(session, a.id, keys)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 1
    assert sorted(answer) == sorted(unknown)
    assert len(answer) == len(set(answer))  # each key once
    first_seen = list(dict.fromkeys(k for k in keys if k in set(unknown)))
    assert answer == first_seen
    assert unknown_series(session, a.id, []) == []
    in_b = [k for k in known if k.line == "l-0"]
    assert unknown_series(session, b.id, in_b) == []  # tenant-b has these too …
    assert len(unknown_series(session, b.id, known)) == len(known) - len(in_b)  # … only these


def test_the_migration_builds_exactly_the_asset_tables(metadata_url: str) -> None:
    engine = make_engine(metadata_url)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    mine = {"sites", "production_lines", "assets", "tag_defs"}
    # Only these tables: other parts of the platform answer for theirs (test_tenants.py).
    ours = [d for d in diff if any(f"'{table}'" in repr(d) for table in mine)]
    assert ours == [], ours
    assert mine <= set(Base.metadata.tables)


def test_a_nan_in_any_body_gets_a_422_not_a_500(tmp_path) -> None:
    """Python's JSON parser takes NaN; the 422 that echoes it must still be sendable."""
    from fastapi.testclient import TestClient

    from cloud.platform_app import create_platform_app
    from cloud.platform_settings import PlatformSettings

    settings = PlatformSettings(f"sqlite:///{tmp_path / 'm.db'}", f"sqlite:{tmp_path / 's'}")
    with TestClient(create_platform_app(settings)) as client:
        answer = client.post(
            "/api/auth/login",
            content=b'{"email": NaN, "password": Infinity}',
            headers={"Content-Type": "application/json"},
        )
        assert answer.status_code == 422
        assert {e["input"] for e in answer.json()["detail"]} <= {"nan", "inf"}
        surrogate = client.post(
            "/api/auth/login",
            content=b'{"email": "\\ud800"}',  # password missing: the body is echoed
            headers={"Content-Type": "application/json"},
        )
    assert surrogate.status_code == 422, surrogate.text


def test_a_nul_character_in_a_path_is_not_found_not_a_500(world: World) -> None:
    """PostgreSQL refuses NUL in text: a key in a path with one never reaches a query."""
    c, admin = world.client, world.auth("tenant_admin:tenant-a")
    for path in ("/t/a%00b/", "/api/tenants/a%00b/series", "/api/tenants/a%00b/agents"):
        assert c.get(path, headers=admin).status_code == 404, path


def test_unknown_tags_are_reported_or_refused_per_tenant_setting(world: World) -> None:
    from historian import Point, SeriesKey
    from historian.line_protocol import encode_points

    c, admin = world.client, world.auth("tenant_admin:tenant-a")
    site = "site-a"  # the agent token's site
    made = c.post("/api/tenants/tenant-a/assets", json=_press(site, "IMM-01"), headers=admin)
    assert made.status_code == 201, made.text
    agent = world.auth("agent:tenant-a")

    def send(tag: str, asset: str = "IMM-01"):
        key = SeriesKey(site, "line-1", asset, tag)
        body = encode_points([Point(key, 1_700_000_000_000_000_000, 1.5)])
        return c.post("/api/ingest", content=body, headers=agent)

    modelled = send("melt_temp")
    assert modelled.status_code == 204 and "X-Unknown-Series" not in modelled.headers
    stray = send("spindle_speed", asset="CNC-9")  # accepted by default, and reported
    assert stray.status_code == 204
    assert stray.headers["X-Unknown-Series"].startswith("1; first ")
    listed = c.get("/api/tenants/tenant-a/unknown-series", headers=admin).json()
    assert [(u["asset"], u["tag"]) for u in listed] == [("CNC-9", "spindle_speed")]
    settings = {"unknown_tags": "reject"}
    assert c.patch("/api/tenants/tenant-a/settings", json=settings, headers=admin).is_success
    refused = send("coolant_flow", asset="CNC-9")
    assert refused.status_code == 422
    assert "is not in the asset model" in refused.json()["detail"]
    assert "line 1" in refused.json()["detail"]
    assert send("melt_temp").status_code == 204  # modelled series flow on
    # Another tenant's people never see the list.
    other = world.auth("tenant_admin:tenant-b")
    assert c.get("/api/tenants/tenant-a/unknown-series", headers=other).status_code == 404
