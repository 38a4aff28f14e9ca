"""Ingest without building points: the line-protocol validator, the historian's
``write_line_protocol`` of a validated body on both stores, /api/ingest on both stores
(every refusal, hostile names), and the series quota, in memory and in Redis shared by
two real API processes."""

from __future__ import annotations

import gzip
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import select

from cloud.platform_app import create_platform_app
from cloud.platform_settings import PlatformSettings
from cloud.rate_limits import TenantRateLimiter
from historian import (
    Historian,
    InfluxV1Historian,
    LineProtocolError,
    Point,
    SeriesKey,
    SqliteHistorian,
    encode_point,
    encode_points,
    parse_line_protocol,
)
from historian.line_protocol import validate_line_protocol
from tenants.db import make_engine, session_factory
from tenants.models import Plan, Tenant
from tests.conftest import free_port
from tests.fixtures_influxd import run_influxd
from tests.fixtures_metadata import _fresh_schema
from tests.platform_process import ADMIN, start_replica, stop_replica
from tests.test_line_protocol import HOSTILE_NAMES

T0 = 1_790_000_000_000_000_000
S = 1_000_000_000
NOW = 1_790_000_123_000_000_000
REDIS_URL = "redis://127.0.0.1:6379/0"
OK = "telemetry,asset=a,line=l,site=s,tag=t float=1 1"


def key(tag: str, site: str = "site-a") -> SeriesKey:
    return SeriesKey(site, "line-1", "IMM-01", tag)


def batch(site: str = "site-a", tags: int = 5, seconds: int = 4, start: int = T0) -> bytes:
    """What an agent sends: every tag once a second, in our encoder's form."""
    points = [
        Point(key(f"tag-{t}", site), start + s * S, 20.0 + s * 0.25 + t)
        for s in range(seconds)
        for t in range(tags)
    ]
    return encode_points(points).encode()


def mixed_body() -> bytes:
    """Lines in the encoder's form and lines that need the full parser, interleaved."""
    # One kind per series (a series holding two kinds reads back as one of them).
    hostile = [
        encode_point(Point(SeriesKey("site-a", name, name, f"{name} {i}"), T0 + n, value))
        for n, name in enumerate(HOSTILE_NAMES)
        for i, value in enumerate((1.5, -3, True, f'say "{name}" \\ now\nnext line'))
    ]
    lines = [
        "# a comment",
        "telemetry,asset=a,line=l,site=site-a,tag=plain float=20.5 1790000000000000000",
        "",
        "   telemetry,asset=a,line=l,site=site-a,tag=lead float=1 5",  # leading spaces
        "telemetry,asset=a,line=l,site=site-a,tag=crlf int=7i 6\r",  # CRLF
        "telemetry,tag=unsorted,site=site-a,line=l,asset=a bool=true 7",
        "telemetry,asset=a,line=l,site=site-a,tag=spell bool=T 8",
        "telemetry,asset=a,line=l,site=site-a,tag=plus int=+5i 9",
        "telemetry,asset=a,line=l,site=site-a,tag=dot float=.5 10",
        "telemetry,asset=a,line=l,site=site-a,tag=big float=1e+300 11",
        "telemetry,asset=a,line=l,site=site-a,tag=tiny float=2.5e-320 12",
        "telemetry,asset=a,line=l,site=site-a,tag=now float=3",  # no timestamp
        'telemetry,asset=a,line=l,site=site-a,tag=str string="running fine, ok" 13',
        "telemetry,asset=a,line=l,site=site-a,tag=wide   float=4 \t 14",
        "telemetry,asset=a,line=l,site=site-a,tag=late float=5 9000000000000000000",
        "telemetry,asset=a,line=l,site=site-a,tag=neg int=-9223372036854775808i -15",
        "telemetry,asset=a,line=l,site=site-a,tag=tab\there float=6 16",
        "telemetry,asset=a,line=l,site=site-a,tag=中文 float=7 17",
        *hostile,
        "telemetry,asset=a,line=l,site=site-a,tag=last float=8 18",
        "",
    ]
    return "\n".join(lines).encode()


# --- the validator ------------------------------------------------------------------------


def test_a_body_in_the_encoders_form_is_passed_on_as_it_came() -> None:
    body = batch(tags=50, seconds=100)
    validated = validate_line_protocol(body)
    assert validated.body is body  # not rebuilt: the request's own bytes
    assert validated.point_count == 5000
    assert validated.series_keys == {key(f"tag-{t}") for t in range(50)}
    assert validated.first_line(key("tag-0")) == 1
    assert validated.first_line(key("tag-49")) == 50
    assert validate_line_protocol(body + b"\n\n").body == body + b"\n\n"  # trailing newlines


@pytest.mark.parametrize(
    "body",
    [batch(), mixed_body(), mixed_body().replace(b"\n", b"\r\n"), b"", b"\n\n# only\n"],
    ids=["fast", "mixed", "crlf", "empty", "comments"],
)
def test_the_validated_body_holds_the_same_points(body: bytes) -> None:
    expected = parse_line_protocol(body.decode(), now_ns=NOW)
    validated = validate_line_protocol(body, now_ns=NOW)
    assert parse_line_protocol(validated.body.decode()) == expected
    assert validated.point_count == len(expected)
    assert validated.series_keys == {p.key for p in expected}


def test_lines_needing_the_full_parser_are_rewritten_canonically() -> None:
    validated = validate_line_protocol(mixed_body(), now_ns=NOW)
    lines = validated.body.decode()
    assert "telemetry,asset=a,line=l,site=site-a,tag=spell bool=true 8" in lines
    assert "tag=plus int=5i 9" in lines and "tag=dot float=0.5 10" in lines
    assert f"tag=now float=3.0 {NOW}" in lines  # stamped once, by the validator
    assert "\r" not in lines and not [x for x in lines.splitlines() if x.startswith("#")]
    # Lines already in the encoder's form are kept byte for byte, unsorted tags included.
    assert "telemetry,tag=unsorted,site=site-a,line=l,asset=a bool=true 7" in lines
    assert validated.first_line(SeriesKey("site-a", "l", "a", "last")) == len(
        mixed_body().decode().splitlines()
    )


MALFORMED = [
    ("telemetry,asset=a,line=l,site=s float=1 1", "missing tag 'tag'"),
    ("telemetry,line=l,site=s,tag=t float=1 1", "missing tag 'asset'"),
    ("telemetry,asset=a,line=l,site=s,tag=t,x=y float=1 1", "unexpected tag 'x'"),
    ("telemetry,asset=a,asset=b,line=l,site=s,tag=t float=1 1", "appears twice"),
    ("telemetry,asset=,line=l,site=s,tag=t float=1 1", "empty value"),
    ("telemetry,asset,line=l,site=s,tag=t float=1 1", "not key=value"),
    ("cpu,asset=a,line=l,site=s,tag=t float=1 1", "measurement must be 'telemetry'"),
    ("telemetry,asset=a,line=l,site=s,tag=t", "missing fields"),
    ("telemetry,asset=a,line=l,site=s,tag=t value=1 1", "field 'value' is not one of"),
    ("telemetry,asset=a,line=l,site=s,tag=t float=1,int=2i 1", "only one field"),
    ("telemetry,asset=a,line=l,site=s,tag=t float=abc 1", "field 'float' needs a number"),
    ("telemetry,asset=a,line=l,site=s,tag=t float=nan 1", "field 'float' needs a number"),
    ("telemetry,asset=a,line=l,site=s,tag=t int=3 1", "needs an integer like 3i"),
    ("telemetry,asset=a,line=l,site=s,tag=t bool=yes 1", "needs true or false"),
    ("telemetry,asset=a,line=l,site=s,tag=t string=abc 1", "needs a quoted value"),
    ('telemetry,asset=a,line=l,site=s,tag=t string="abc 1', "no closing double quote"),
    ("telemetry,asset=a,line=l,site=s,tag=t float=1 12a", "timestamp '12a'"),
    ("telemetry,asset=a,line=l,site=s,tag=t float=1 1 2", "unexpected text"),
    ("telemetry,asset=a,line=l,site=s,tag=t int=9223372036854775808i 1", "64 bits"),
    # What the full parser reads but InfluxDB would refuse: caught before it is sent.
    ("telemetry,asset=a,line=l,site=s,tag=t float=1e999 1", "cannot carry the float inf"),
    (
        "telemetry,asset=a,line=l,site=s,tag=t float=1 9223372036854775807",
        "outside InfluxDB's time range",
    ),
]


@pytest.mark.parametrize(("line", "message"), MALFORMED)
@pytest.mark.parametrize("before", [OK, "telemetry,asset=a,line=l,site=s,tag=a\\ b float=1 1"])
def test_every_malformed_line_is_named(line: str, message: str, before: str) -> None:
    # Line 3 is bad, after a good line in the fast form or one with an escape.
    body = f"{before}\n\n{line}\n{OK}".encode()
    with pytest.raises(LineProtocolError, match=f"^line 3: .*{message}"):
        validate_line_protocol(body)


def test_the_earliest_bad_series_prefix_is_named() -> None:
    body = "\n".join([OK, OK, "telemetry,asset=a,site=s float=1 1", "cpu,a=b float=1 1"])
    with pytest.raises(LineProtocolError, match=r"^line 3: missing tag 'line'"):
        validate_line_protocol(body.encode())
    # A bad prefix is not remembered as good by the cache of parsed prefixes.
    with pytest.raises(LineProtocolError, match=r"^line 1: missing tag 'line'"):
        validate_line_protocol(b"telemetry,asset=a,site=s float=1 1")


def test_a_body_that_is_not_utf8_names_line_and_byte() -> None:
    at = len(OK) + 1 + len("telemetry,asset=")  # the bad byte, counted from the body's start
    with pytest.raises(LineProtocolError, match=rf"^line 2: body is not UTF-8 at byte {at}$"):
        validate_line_protocol(OK.encode() + b"\ntelemetry,asset=\xff")


# --- the historian contract: write_line_protocol(validated body) --------------------------


@pytest.fixture(params=["sqlite", "influxdb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Historian]:
    historian: Historian
    if request.param == "sqlite":
        historian = SqliteHistorian(tmp_path / "store.db")
    else:
        influxd = request.getfixturevalue("influxd")
        historian = InfluxV1Historian(influxd.url, influxd.new_database())
    yield historian
    historian.close()


def contents(historian: Historian) -> dict[SeriesKey, list[tuple[int, object]]]:
    """Every stored value, by series, with its Python type."""
    return {
        info.key: [(ts, v, type(v)) for ts, v in historian.read(info.key, -(2**62), 2**63 - 2)]
        for info in historian.list_series()
    }


def expected_contents(body: bytes) -> dict[SeriesKey, list[tuple[int, object]]]:
    by_key: dict[SeriesKey, dict[int, object]] = {}
    for point in parse_line_protocol(body.decode(), now_ns=NOW):
        by_key.setdefault(point.key, {})[point.timestamp_ns] = point.value  # last one wins
    return {k: [(ts, v, type(v)) for ts, v in sorted(rows.items())] for k, rows in by_key.items()}


def test_a_validated_body_is_stored_as_the_parser_reads_it(store: Historian) -> None:
    body = mixed_body()
    validated = validate_line_protocol(body, now_ns=NOW)
    assert store.write_line_protocol(validated) == len(
        parse_line_protocol(body.decode(), now_ns=NOW)
    )
    assert contents(store) == expected_contents(body)


def test_both_stores_hold_the_same_data_from_the_same_body(tmp_path: Path, influxd) -> None:
    body = mixed_body() + b"\n" + batch(tags=20, seconds=30)
    validated = validate_line_protocol(body, now_ns=NOW)
    sqlite = SqliteHistorian(tmp_path / "same.db")
    influx = InfluxV1Historian(influxd.url, influxd.new_database())
    try:
        for historian in (sqlite, influx):
            historian.write_line_protocol(validated)
        assert contents(sqlite) == contents(influx) == expected_contents(body)
        assert sqlite.list_series() == influx.list_series()
    finally:
        sqlite.close()
        influx.close()


def test_an_unvalidated_body_is_checked_whole_before_anything_is_written(
    store: Historian,
) -> None:
    # InfluxDB alone would store the good lines of this body and refuse the last.
    body = batch() + b"\ntelemetry,asset=a,line=l,site=s float=1 1"
    with pytest.raises(LineProtocolError, match=r"^line 21: missing tag 'tag'"):
        store.write_line_protocol(body)
    assert store.list_series() == []
    assert store.write_line_protocol(batch()) == 20
    assert len(store.list_series()) == 5


# --- /api/ingest on both stores -----------------------------------------------------------


@dataclass
class Platform:
    client: TestClient
    tenant: str
    token: str
    storage: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.token}"}

    def historian(self) -> Historian:
        return self.client.app.state.storage.historian(f"mz_{self.tenant.replace('-', '_')}")

    def ingest(self, body: bytes | str, **headers: str) -> httpx.Response:
        return self.client.post("/api/ingest", content=body, headers={**self.auth, **headers})

    def use_plan(
        self, per_s: int = 200_000, max_series: int = 1_000_000, retention_days: int = 3650
    ) -> None:
        """Put the tenant on a plan of its own with these quotas (its retention applied
        at once, as the platform's next retention pass would)."""
        with self.client.app.state.sessions() as session:
            plan = Plan(
                key=f"plan-{uuid.uuid4().hex[:8]}",
                ingest_points_per_s=per_s,
                max_series=max_series,
                retention_days=retention_days,
                max_users=5,
                max_agents=5,
            )
            session.add(plan)
            tenant = session.scalar(select(Tenant).where(Tenant.key == self.tenant))
            tenant.plan = plan
            session.commit()
        self.client.app.state.retention.run_once()


def onboard(client: TestClient, tenant: str, plan: str = "enterprise") -> str:
    admin = client.post("/api/auth/login", json=ADMIN).json()["token"]
    bearer = {"Authorization": f"Bearer {admin}"}
    created = client.post("/api/tenants", json={"key": tenant, "name": tenant, "plan": plan},
                          headers=bearer)  # fmt: skip
    assert created.status_code == 201, created.text
    issued = client.post(f"/api/tenants/{tenant}/agent-tokens",
                         json={"site": "site-a", "name": "edge"}, headers=bearer)  # fmt: skip
    assert issued.status_code == 201, issued.text
    return issued.json()["token"]


def make_platform(tmp_path: Path, storage: str, rate_limits: str = "memory://") -> TestClient:
    settings = PlatformSettings(
        metadata_url=f"sqlite:///{tmp_path / 'meta.db'}",
        storage=storage,
        rate_limits=rate_limits,
        admin_email=ADMIN["email"],
        admin_password=ADMIN["password"],
        max_body_bytes=2_000_000,
    )
    return TestClient(create_platform_app(settings))


@pytest.fixture(params=["sqlite", "influxdb"])
def platform(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Platform]:
    if request.param == "sqlite":
        storage = f"sqlite:{tmp_path / 'series'}"
    else:
        storage = "influxdb://" + request.getfixturevalue("influxd").url.removeprefix("http://")
    with make_platform(tmp_path, storage) as client:
        tenant = f"t-{uuid.uuid4().hex[:10]}"  # a database of its own in the shared influxd
        yield Platform(client, tenant, onboard(client, tenant), request.param)


def test_batches_are_stored_as_sent(platform: Platform) -> None:
    body = batch(tags=50, seconds=100)
    sent = platform.ingest(body)
    assert sent.status_code == 204, sent.text
    assert sent.headers["X-Points-Written"] == "5000"
    zipped = platform.ingest(
        gzip.compress(batch(start=T0 + 10**12)), **{"Content-Encoding": "gzip"}
    )
    assert zipped.status_code == 204 and zipped.headers["X-Points-Written"] == "20"
    stored = contents(platform.historian())
    assert stored[key("tag-7")][:3] == [(T0, 27.0, float), (T0 + S, 27.25, float),
                                        (T0 + 2 * S, 27.5, float)]  # fmt: skip
    assert len(stored[key("tag-0")]) == 104 and len(stored) == 50


def test_hostile_names_round_trip_through_the_api(platform: Platform) -> None:
    names = [n for n in HOSTILE_NAMES if not n.endswith("\\")]
    points = [
        Point(SeriesKey("site-a", name, f"{name}-asset", name), T0 + n, value)
        for n, name in enumerate(names)
        for value in ([f'value of "{name}"'] if n % 2 else [float(n)])
    ]
    sent = platform.ingest(encode_points(points))
    assert sent.status_code == 204, sent.text
    stored = {(i.key, i.last_value) for i in platform.historian().list_series()}
    assert stored == {(p.key, p.value) for p in points}


def test_names_that_need_no_escape_pass_as_they_came_and_round_trip(platform: Platform) -> None:
    names = ['say"hi"', "中文标签", "SELECT", "DROP", "tab\there", "#not-a-comment", "it's", "ü"]
    points = [
        Point(SeriesKey("site-a", name, f"{name}.asset", name), T0 + n, float(n))
        for n, name in enumerate(names)
    ]
    body = encode_points(points).encode()
    assert validate_line_protocol(body).body is body  # the whole-body fast path
    sent = platform.ingest(body)
    assert sent.status_code == 204, sent.text
    stored = {
        (i.key, i.last_timestamp_ns, i.last_value) for i in platform.historian().list_series()
    }
    assert stored == {(p.key, p.timestamp_ns, p.value) for p in points}


def test_a_mixed_body_is_stored_like_the_parser_reads_it(platform: Platform) -> None:
    platform.use_plan(retention_days=40_000)  # its odd timestamps are in 1970
    # Without the line that has no timestamp: the API stamps its own now.
    body = b"\n".join(x for x in mixed_body().split(b"\n") if b"tag=now" not in x)
    sent = platform.ingest(body)
    assert sent.status_code == 204, sent.text
    assert contents(platform.historian()) == expected_contents(body)


def test_json_ingest_still_works_and_names_the_point(platform: Platform) -> None:
    good = [{"site": "site-a", "line": "l", "asset": "a b", "tag": 'say "x"',
             "time": T0, "value": 3}]  # fmt: skip
    sent = platform.client.post("/api/ingest/json", json=good, headers=platform.auth)
    assert sent.status_code == 204 and sent.headers["X-Points-Written"] == "1"
    assert contents(platform.historian()) == {
        SeriesKey("site-a", "l", "a b", 'say "x"'): [(T0, 3, int)]
    }
    for bad, says in [
        ({**good[0], "tag": "ends\\"}, "point 2: tag 'ends\\\\': InfluxDB 1.x cannot store"),
        ({**good[0], "time": 2**63 - 1}, "point 2: timestamp 9223372036854775807 is outside"),
        ({**good[0], "site": "site-b"}, "point 2: site 'site-b' is not the site"),
    ]:
        refused = platform.client.post(
            "/api/ingest/json", json=[good[0], bad], headers=platform.auth
        )
        assert refused.status_code in (400, 403) and says in refused.json()["detail"], refused.text


@pytest.mark.parametrize(
    ("body", "headers", "status", "says"),
    [
        (batch() + b"\ntelemetry,asset=a,line=l,site=site-a float=1 1", {}, 400,
         "line 21: missing tag 'tag'"),
        (batch() + b"\n" + batch(site="site-b"), {}, 403,
         "line 21: site 'site-b' is not the site of this agent token"),
        (batch() + b"\ntelemetry,asset=a,line=l,site=site-a,tag=x\\ y float=1 1\n"
         b"telemetry,asset=a,line=l,site=site-b,tag=y float=1 1", {}, 403,
         "line 22: site 'site-b'"),
        (batch() + b"\n\xff", {}, 400, "line 21: body is not UTF-8 at byte"),
        (batch(tags=100, seconds=250), {}, 413, "is over the limit of 2000000"),
        (b"not gzip", {"Content-Encoding": "gzip"}, 400, "not valid gzip"),
        (batch(), {"Authorization": "Token mzat_guessed"}, 401, "unknown or revoked"),
        (batch(), {"Authorization": ""}, 401, "sign in first"),
    ],
    ids=["bad-line", "foreign-site", "foreign-site-slow-path", "not-utf8", "too-large",
         "bad-gzip", "bad-token", "no-token"],
)  # fmt: skip
def test_every_refusal_says_why_and_writes_nothing(
    platform: Platform, body: bytes, headers: dict, status: int, says: str
) -> None:
    refused = platform.ingest(body, **headers)
    assert refused.status_code == status, refused.text
    assert says in refused.json()["detail"]
    assert platform.historian().list_series() == []


def test_gzip_is_inflated_only_for_a_known_token_and_only_up_to_the_limit(
    platform: Platform,
) -> None:
    bomb = gzip.compress(b"#" * 3_000_000)  # 3 MB of comment: over the 2 MB limit inflated
    stranger = platform.ingest(bomb, **{"Content-Encoding": "gzip", "Authorization": ""})
    assert stranger.status_code == 401  # refused before a byte of it was inflated
    too_big = platform.ingest(bomb, **{"Content-Encoding": "gzip"})
    assert too_big.status_code == 413
    assert "decompressed body is over the limit of 2000000" in too_big.json()["detail"]
    assert platform.historian().list_series() == []


def test_a_people_token_cannot_send(platform: Platform) -> None:
    admin = platform.client.post("/api/auth/login", json=ADMIN).json()["token"]
    refused = platform.ingest(batch(), Authorization=f"Bearer {admin}")
    assert refused.status_code == 403 and "only an edge agent" in refused.json()["detail"]


def test_the_plans_batch_size_and_rate_are_kept(platform: Platform) -> None:
    platform.use_plan(per_s=2)  # 20 points per 10-second window
    too_big = platform.ingest(batch(tags=7, seconds=3))
    assert too_big.status_code == 413
    assert "21 points in one request; your plan takes at most 20" in too_big.json()["detail"]
    assert platform.ingest(batch(tags=5, seconds=4)).status_code == 204
    over = platform.ingest(batch(tags=1, seconds=1, start=T0 + 10 * S))
    assert over.status_code == 429 and "over the plan's 2 points/s" in over.json()["detail"]
    assert 1 <= int(over.headers["Retry-After"]) <= 10
    assert sum(len(rows) for rows in contents(platform.historian()).values()) == 20


def test_a_store_that_is_away_answers_503(tmp_path: Path) -> None:
    root = tmp_path / "influxd"
    root.mkdir()
    port = free_port()
    storage = f"influxdb://127.0.0.1:{port}"
    with make_platform(tmp_path, storage) as client:
        with run_influxd(root, port):
            auth = {"Authorization": f"Token {onboard(client, 'away-co')}"}
            assert client.post("/api/ingest", content=batch(), headers=auth).status_code == 204
        # Its series are known here, so this is the write itself failing.
        away = client.post("/api/ingest", content=batch(), headers=auth)
        assert away.status_code == 503 and away.headers["Retry-After"] == "5"
        assert "the time-series store is unavailable" in away.json()["detail"]
    with make_platform(tmp_path, storage) as client:
        # A new replica first lists the tenant's series for the quota: that fails too.
        away = client.post("/api/ingest", content=batch(), headers=auth)
        assert away.status_code == 503 and away.headers["Retry-After"] == "5"
        with run_influxd(root, port):
            assert client.post("/api/ingest", content=batch(), headers=auth).status_code == 204
            assert len(client.app.state.storage.historian("mz_away_co").list_series()) == 5


# --- the series quota ----------------------------------------------------------------------


def test_new_series_past_the_quota_are_refused_and_known_ones_flow(platform: Platform) -> None:
    # Two series are in the store before this API process counted anything.
    platform.historian().write([Point(key(f"old-{n}"), T0, 1.0) for n in range(2)])
    platform.use_plan(max_series=5)
    assert platform.ingest(batch(tags=2)).status_code == 204  # 2 + 2 new
    refused = platform.ingest(batch(tags=4, start=T0 + 10 * S))  # tag-2, tag-3 are new
    assert refused.status_code == 403
    detail = refused.json()["detail"]
    assert detail.startswith("series quota of 5 reached; 2 new series refused")
    assert "4 are in use" in detail and "site-a/line-1/IMM-01/tag-2 (line 3)" in detail
    assert key("tag-2") not in contents(platform.historian())  # the body wrote nothing
    assert platform.ingest(batch(tags=3, start=T0 + 20 * S)).status_code == 204  # one fits
    again = platform.ingest(batch(tags=4, start=T0 + 30 * S))
    assert "series quota of 5 reached; 1 new series refused" in again.json()["detail"]
    for n in range(3):  # known series keep flowing
        assert platform.ingest(batch(tags=3, start=T0 + (40 + n) * S)).status_code == 204
    json_refused = platform.client.post(
        "/api/ingest/json",
        json=[{"site": "site-a", "line": "l", "asset": "a", "tag": "x", "time": T0, "value": 1}],
        headers=platform.auth,
    )
    assert json_refused.status_code == 403 and "(point 1)" in json_refused.json()["detail"]
    assert len(platform.historian().list_series()) == 5


def test_redis_away_answers_503(tmp_path: Path) -> None:
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    with make_platform(tmp_path, f"sqlite:{tmp_path / 'series'}", dead_redis) as client:
        token = onboard(client, "no-redis")
        away = client.post(
            "/api/ingest", content=batch(), headers={"Authorization": f"Token {token}"}
        )
        assert away.status_code == 503 and away.headers["Retry-After"] == "5"
        assert "cannot reach Redis for the series quota" in away.json()["detail"]
        assert client.app.state.storage.historian("mz_no_redis").list_series() == []


def test_redis_lost_after_the_series_are_known_answers_503(tmp_path: Path) -> None:
    """Known series never ask Redis, so the rate limit is the first to meet it away."""
    with make_platform(tmp_path, f"sqlite:{tmp_path / 'series'}", REDIS_URL) as client:
        tenant = f"lost-{uuid.uuid4().hex[:8]}"
        auth = {"Authorization": f"Token {onboard(client, tenant)}"}
        assert client.post("/api/ingest", content=batch(), headers=auth).status_code == 204
        store = client.app.state.storage.historian("mz_" + tenant.replace("-", "_"))
        stored = contents(store)
        assert len(stored) == 5
        # Redis gone: the limiter now talks to a port where nothing listens.
        client.app.state.rate_limiter = TenantRateLimiter(f"redis://127.0.0.1:{free_port()}/0")
        later = batch(start=T0 + 60 * S)
        away = client.post("/api/ingest", content=later, headers=auth)
        assert away.status_code == 503 and away.headers["Retry-After"] == "5"
        assert away.json()["detail"].startswith("cannot reach Redis for the rate limits")
        assert contents(store) == stored


def _plan_for(metadata: str, tenant: str, max_series: int) -> None:
    engine = make_engine(metadata)
    with session_factory(engine)() as session:
        plan = Plan(key=f"plan-{uuid.uuid4().hex[:8]}", ingest_points_per_s=200_000,
                    max_series=max_series, retention_days=3650, max_users=5, max_agents=5)  # fmt: skip
        session.add(plan)
        session.scalar(select(Tenant).where(Tenant.key == tenant)).plan = plan
        session.commit()
    engine.dispose()


def test_two_replicas_share_the_series_quota_in_redis(
    tmp_path: Path, postgres_database: str, influxd
) -> None:
    metadata = _fresh_schema(postgres_database)
    storage = "influxdb://" + influxd.url.removeprefix("http://")
    secret = uuid.uuid4().hex * 2
    replicas = [start_replica(tmp_path, metadata, storage, REDIS_URL, secret) for _ in range(2)]
    tenant = f"quota-{uuid.uuid4().hex[:8]}"
    store = redis.Redis.from_url(REDIS_URL)
    try:
        (_, first), (_, second) = replicas
        admin = httpx.post(f"{first}/api/auth/login", json=ADMIN).json()["token"]
        bearer = {"Authorization": f"Bearer {admin}"}
        assert httpx.post(f"{first}/api/tenants", json={"key": tenant, "name": tenant},
                          headers=bearer).status_code == 201  # fmt: skip
        token = httpx.post(f"{first}/api/tenants/{tenant}/agent-tokens",
                           json={"site": "site-a", "name": "e"}, headers=bearer).json()["token"]  # fmt: skip
        auth = {"Authorization": f"Token {token}"}
        _plan_for(metadata, tenant, max_series=6)

        def send(url: str, tags: range, start: int) -> httpx.Response:
            points = [Point(key(f"tag-{t}"), start, float(t)) for t in tags]
            return httpx.post(f"{url}/api/ingest", content=encode_points(points), headers=auth)

        assert send(first, range(0, 3), T0).status_code == 204
        # The second replica knows of the first one's three series through Redis.
        refused = send(second, range(0, 7), T0 + S)
        assert refused.status_code == 403
        assert refused.json()["detail"].startswith("series quota of 6 reached; 4 new series")
        assert send(second, range(0, 3), T0 + 2 * S).status_code == 204  # known: flowing
        # Six requests at once, each with one new series, over both replicas: three fit.
        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(
                lambda n: send((first, second)[n % 2], range(10 + n, 11 + n), T0 + 3 * S),
                range(6),
            ))  # fmt: skip
        assert sorted(a.status_code for a in answers) == [204] * 3 + [403] * 3
        refusals = [a.json()["detail"] for a in answers if a.status_code == 403]
        assert all(
            d.startswith("series quota of 6 reached; 1 new series refused") for d in refusals
        )
        (set_name,) = [k for k in store.scan_iter(f"mingzhou:series:{tenant}:*")
                       if not k.endswith(b":seeded")]  # fmt: skip
        assert store.scard(set_name) == 6
        listed = httpx.get(f"{first}/api/tenants/{tenant}/series", headers=bearer)
        assert len(listed.json()) == 6, listed.text
        for url in (first, second):  # every admitted series flows on either replica
            admitted = [
                t for t in range(20) if send(url, range(t, t + 1), T0 + 4 * S).status_code == 204
            ]
            assert len(admitted) == 6
    finally:
        for process, _ in replicas:
            stop_replica(process)
        for name in store.scan_iter(f"mingzhou:series:{tenant}:*"):
            store.delete(name)
        store.close()
