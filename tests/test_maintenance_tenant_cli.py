"""``mingzhou maintenance train`` and ``score`` on a historian recorded from the pump
station simulator with bearing wear injected, against a real metadata store and a real
webhook receiver."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from maintenance.asset_history import ns_instant
from mingzhou.cli import app
from tenants.db import make_engine, session_factory, upgrade
from tests.alert_receivers import allow_loopback_webhooks, webhook_receiver  # noqa: F401
from tests.maintenance_records import contract, tenants
from tests.maintenance_sim_data import HOUR_NS, T0, RecordedPlant

pytest_plugins = ["tests.fixtures_maintenance"]
runner = CliRunner()
TENANT = "zhenhai-petrochem"
SECRET = "cli-test-webhook-secret"
pytestmark = pytest.mark.usefixtures("allow_loopback_webhooks")  # the receiver's 127.0.0.1


@pytest.fixture
def metadata(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'meta.db'}"
    upgrade(url)
    engine = make_engine(url)
    with session_factory(engine)() as session:
        tenants(session, TENANT)
        session.commit()
    engine.dispose()
    return url


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["maintenance", *args])
    return result.exit_code, result.stdout, result.stderr


def test_train_then_score_a_tenants_pumps_from_the_command_line(
    metadata: str, pump_history: RecordedPlant
) -> None:
    common = [
        "--historian",
        f"sqlite:{pump_history.path}",
        "--tenant",
        TENANT,
        "--metadata",
        metadata,
    ]
    code, out, err = run(
        "train", *common, "--site", "zhenhai-petrochem", "--line", "pump-station-1",
        "--asset", "P-101", "--asset", "P-102", "--asset", "P-103", "--asset-type", "pump",
        "--since", ns_instant(T0).isoformat(), "--until", ns_instant(pump_history.healthy_until_ns).isoformat(),
        "--promote",
    )  # fmt: skip
    assert code == 0, err
    trained = json.loads(out)
    assert (trained["asset_type"], trained["version"], trained["state"]) == ("pump", 1, "promoted")
    assert trained["metrics"]["steady_windows"] > 500 and "vibration_rms" in trained["tags"]
    assert "training pump" in err and "100%" in err  # the progress bar, on stderr

    engine = make_engine(metadata)
    with webhook_receiver(SECRET) as hook:
        with session_factory(engine)() as session:
            ids = tenants(session, TENANT)
            contract(session, ids[TENANT], webhook_url=hook.url, webhook_secret=SECRET)
            session.commit()
        until = ns_instant(pump_history.failed_at_ns - 12 * HOUR_NS).isoformat()
        code, out, err = run("score", *common, "--until", until, "--lookback", "12h")
        assert code == 0, err
        scored = json.loads(out)
        assert hook.requests and hook.requests[0].signature_ok
    engine.dispose()
    ranked = sorted(scored["predictions"], key=lambda p: -p["risk"])
    assert ranked[0]["asset"] == "P-101" and ranked[0]["evidence"][0]["signal"] == "vibration_rms"
    assert all(p["risk"] < 0.5 for p in ranked[1:])
    assert scored["alerts"] == [{"id": 1, "asset": "P-101", "change": "raised"}]
    assert scored["deliveries"] == {"sent": 1, "retrying": 0, "failed": 0}


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["train", "--tenant", "nobody", "--site", "s", "--line", "l", "--asset", "a",
          "--since", "now-1d"], "no tenant 'nobody'"),
        (["train", "--tenant", TENANT, "--site", "s", "--line", "l", "--asset", "a",
          "--since", "yesterday"], "expected an ISO 8601 time"),
        (["train", "--tenant", TENANT, "--site", "s", "--line", "l"], "at least one --asset"),
        (["train", "--tenant", TENANT, "--site", "s", "--line", "l", "--asset", "a", "--asset", "b"],
         "--asset-type"),
        (["train", "--tenant", TENANT, "--site", "s", "--line", "l", "--asset", "a",
          "--since", "now-1d"], "has no numeric series"),
        (["score", "--tenant", TENANT, "--asset", "a"], "--asset needs --site and --line"),
        (["score", "--tenant", TENANT, "--asset-type", "pump"], "no anomaly model is promoted"),
        (["score", "--tenant", TENANT, "--lookback", "soon"], "expected a duration"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_2(
    metadata: str, tmp_path: Path, args: list[str], says: str
) -> None:
    store = f"sqlite:{tmp_path / 'empty.db'}"
    code, out, err = run(*args, "--historian", store, "--metadata", metadata)
    assert code == 2, (out, err)
    assert says in err and "Traceback" not in err and out == ""
