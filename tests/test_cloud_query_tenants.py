"""The chart query API in the multi-tenant cloud: ``/api/tenants/{key}/query`` and
``/latest`` answer only people who may see that enterprise's raw data, from its own store
(SQLite files or a real influxd, metadata on SQLite and PostgreSQL), never another's."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cloud.platform_app import create_platform_app
from cloud.platform_settings import PlatformSettings
from historian import Historian, Point, SeriesKey
from tenants.onboarding import create_user
from tenants.roles import Role
from tests.fixtures_influxd import run_influxd
from tests.test_cloud_platform import ADMIN, login

T0 = 1_790_035_200_000_000_000
SECOND = 1_000_000_000
# The same names in both enterprises: only the values tell whose data came back.
KEYS = [SeriesKey("site-1", "line-1", "IMM-01", tag) for tag in ("melt_temp", "pressure")]
VALUES = {"tenant-a": 1234.5, "tenant-b": 98765.25}
# tenant-b's values as they would appear in a JSON answer.
FOREIGN = [repr(98765.25 + n * 10 + i) for n in range(2) for i in range(5)]


@dataclass
class Enterprises:
    client: TestClient
    tokens: dict[str, str]

    def auth(self, who: str | None) -> dict[str, str]:
        if who is None:
            return {}
        value = self.tokens[who]
        return {"Authorization": ("Token " if value.startswith("mzat_") else "Bearer ") + value}

    def store(self, tenant: str) -> Historian:
        return self.client.app.state.storage.historian(f"mz_{tenant.replace('-', '_')}")


@pytest.fixture(params=["sqlite-files", "influxdb"])
def enterprises(
    request: pytest.FixtureRequest, metadata_url: str, tmp_path: Path
) -> Iterator[Enterprises]:
    with ExitStack() as stack:
        if request.param == "sqlite-files":
            storage = f"sqlite:{tmp_path / 'series'}"
        else:
            # A server of its own: tenant databases are named after tenant keys.
            (tmp_path / "influxd").mkdir()
            influxd = stack.enter_context(run_influxd(tmp_path / "influxd"))
            storage = "influxdb://" + influxd.url.removeprefix("http://")
        settings = PlatformSettings(
            metadata_url=metadata_url,
            storage=storage,
            admin_email=ADMIN[0],
            admin_password=ADMIN[1],
        )
        client = stack.enter_context(TestClient(create_platform_app(settings)))
        tokens = {"admin": login(client, *ADMIN)}
        admin = {"Authorization": f"Bearer {tokens['admin']}"}
        for tenant in VALUES:
            made = client.post("/api/tenants", json={"key": tenant, "name": tenant}, headers=admin)
            assert made.status_code == 201, made.text
            email = f"plant_manager@{tenant}.cn"
            body = {"email": email, "password": "password-1", "role": "plant_manager"}
            added = client.post(f"/api/tenants/{tenant}/users", json=body, headers=admin)
            assert added.status_code == 201, added.text
            tokens[f"plant_manager:{tenant}"] = login(client, email, "password-1")
            issued = client.post(
                f"/api/tenants/{tenant}/agent-tokens",
                json={"site": "site-1", "name": "edge-1"},
                headers=admin,
            )
            assert issued.status_code == 201, issued.text
            tokens[f"agent:{tenant}"] = issued.json()["token"]
        with client.app.state.sessions() as session:
            create_user(session, "analyst@bureau.cn", "password-1", Role.BUREAU_ANALYST, "test")
            session.commit()
        tokens["bureau"] = login(client, "analyst@bureau.cn", "password-1")
        world = Enterprises(client, tokens)
        for tenant, base in VALUES.items():
            world.store(tenant).write(
                Point(key, T0 + i * SECOND, base + n * 10 + i)
                for n, key in enumerate(KEYS)
                for i in range(5)
            )
        yield world


def _query_body(max_points: int = 1000) -> dict:
    return {
        "series": [{"site": k.site, "line": k.line, "asset": k.asset, "tag": k.tag} for k in KEYS],
        "start": "2026-09-22T00:00:00Z",
        "end": "2026-09-23T00:00:00Z",
        "max_points": max_points,
    }


def _requests(world: Enterprises, tenant: str, who: str | None):
    """The new endpoints of ``tenant`` as ``who``: raw, downsampled, latest."""
    auth = world.auth(who)
    base = f"/api/tenants/{tenant}"
    yield "raw", world.client.post(f"{base}/query", json=_query_body(), headers=auth)
    yield "windowed", world.client.post(f"{base}/query", json=_query_body(2), headers=auth)
    yield "latest", world.client.get(f"{base}/latest", params={"site": "site-1"}, headers=auth)


CALLERS = [
    ("admin", 200),
    ("plant_manager:tenant-a", 200),
    ("plant_manager:tenant-b", 404),  # another enterprise's people
    ("agent:tenant-a", 404),  # agents only send data
    ("bureau", 404),  # the bureau sees aggregates, never raw series
    (None, 401),
]


def test_only_people_of_the_enterprise_read_it(enterprises: Enterprises) -> None:
    # Every caller against one world: building it (sign-ins, stores) is the slow part.
    for who, status in CALLERS:
        _check_answers(enterprises, who, status)


def _check_answers(enterprises: Enterprises, who: str | None, status: int) -> None:
    for what, response in _requests(enterprises, "tenant-a", who):
        assert response.status_code == status, (who, what, response.text)
        text = response.text
        assert not [value for value in FOREIGN if value in text]  # never tenant-b's values
        if status != 200:
            assert "melt_temp" not in text and "1234" not in text, (what, text)
            continue
        if what == "latest":
            assert [(e["tag"], e["value"]) for e in response.json()] == [
                ("melt_temp", 1238.5),
                ("pressure", 1248.5),
            ]
            continue
        answer = response.json()
        values = [series["values"] for series in answer["series"]]
        if what == "raw":
            assert answer["window"] is None
            assert values == [[1234.5 + i for i in range(5)], [1244.5 + i for i in range(5)]]
        else:  # two points a series over a day: 12 h windows, one of them holding data
            assert (answer["window"], answer["downsampled"]) == ("12h", True)
            assert values == [[1236.5], [1246.5]]


def test_each_enterprise_reads_its_own_store(enterprises: Enterprises) -> None:
    for tenant, base in VALUES.items():
        who = f"plant_manager:{tenant}"
        responses = dict(_requests(enterprises, tenant, who))
        assert responses["raw"].json()["series"][0]["values"][0] == base
        assert responses["latest"].json()[0]["value"] == base + 4
    # A series only tenant-b has is, to tenant-a, a series that does not exist.
    enterprises.store("tenant-b").write([Point(SeriesKey("site-1", "l", "a", "secret"), T0, 7.0)])
    body = _query_body()
    body["series"] = [{"site": "site-1", "line": "l", "asset": "a", "tag": "secret"}]
    answer = enterprises.client.post(
        "/api/tenants/tenant-a/query", json=body, headers=enterprises.auth("plant_manager:tenant-a")
    ).json()
    assert answer["series"][0]["kind"] is None and answer["series"][0]["values"] == []
    assert "/api/tenants/{key}/query" in enterprises.client.get("/openapi.json").json()["paths"]
    # A tenant that does not exist gets the answer another enterprise's tenant gets.
    for what, response in _requests(enterprises, "tenant-z", "plant_manager:tenant-a"):
        assert response.status_code == 404, what
        assert response.json()["detail"] == "no tenant 'tenant-z' whose data you may see"


def test_the_store_away_is_503_with_retry_after(tmp_path: Path) -> None:
    # The series store, not the metadata, goes away: one metadata engine is enough.
    metadata_url = f"sqlite:///{tmp_path / 'meta.db'}"
    with ExitStack() as stack, ExitStack() as server:
        (tmp_path / "influxd").mkdir()
        influxd = server.enter_context(run_influxd(tmp_path / "influxd"))
        settings = PlatformSettings(
            metadata_url=metadata_url,
            storage="influxdb://" + influxd.url.removeprefix("http://"),
            admin_email=ADMIN[0],
            admin_password=ADMIN[1],
        )
        client = stack.enter_context(TestClient(create_platform_app(settings)))
        admin = {"Authorization": f"Bearer {login(client, *ADMIN)}"}
        assert (
            client.post(
                "/api/tenants", json={"key": "tenant-c", "name": "C"}, headers=admin
            ).status_code
            == 201
        )
        assert (
            client.get("/api/tenants/tenant-c/latest", params={"site": "s"}, headers=admin).json()
            == []
        )
        server.close()  # influxd stops
        for response in (
            client.post("/api/tenants/tenant-c/query", json=_query_body(), headers=admin),
            client.get("/api/tenants/tenant-c/latest", params={"site": "s"}, headers=admin),
        ):
            assert response.status_code == 503, response.text
            assert response.headers["Retry-After"] == "5"
            assert "the time-series store is unavailable" in response.json()["detail"]
