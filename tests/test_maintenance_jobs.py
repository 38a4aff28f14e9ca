"""Predictive maintenance through the jobs API: train on a tenant's history, score, and
handle alerts, as the schedule and the service team's buttons do."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloud.timeparams import format_instant
from historian.sqlite_store import SqliteHistorian
from protocols.simulators import PLANTS
from tenants.roles import Role
from tests.maintenance_sim_data import RecordedPlant
from tests.test_jobs import jobs_world, settings_for

# The session's recorded histories: imported as a fixture here, the moulding history was a
# second fixture of its own and was recorded twice in a run.
pytest_plugins = ["tests.fixtures_maintenance"]
HOUR_NS = 3600 * 10**9


def _copy_history(recorded: RecordedPlant, target) -> None:
    source = SqliteHistorian(recorded.path)
    try:
        for info in source.list_series():
            points = source.read(info.key, 0, 2**62)
            from historian import Point

            target.write(Point(info.key, t, v) for t, v in points)
    finally:
        source.close()


@pytest.mark.timeout(300)
def test_train_score_and_alert_jobs_on_a_tenants_history(
    moulding_history: RecordedPlant,
    tmp_path: Path,
) -> None:
    settings = settings_for(f"sqlite:///{tmp_path / 'meta.db'}", tmp_path)
    with jobs_world(settings, tmp_path) as world:
        world.add_person(Role.SERVICE_ENGINEER, "tenant-a")
        app = world.client.app
        _copy_history(moulding_history, app.state.storage.historian("mz_tenant_a"))
        plant = PLANTS["mold"]
        machines = [
            {"site": plant.site, "line": "moulding-hall-1", "asset": a}
            for a in ("IMM-01", "IMM-02")
        ]
        healthy_until = moulding_history.healthy_until_ns
        train = {
            "asset_type": "injection_moulding_machine",
            "assets": machines,
            "since": format_instant(healthy_until - 6 * HOUR_NS),
            "until": format_instant(healthy_until),
            "promote": True,
        }
        # Models are the service team's and the tenant admin's business.
        refused = world.client.post(
            "/api/tenants/tenant-a/jobs",
            json={"kind": "maintenance_train", "params": train},
            headers=world.auth("plant_manager:tenant-a"),
        )
        assert refused.status_code == 403, refused.text
        engineer = "service_engineer:tenant-a"
        trained = world.start("maintenance_train", train, who=engineer)
        done = world.wait(trained["id"], lambda j: j["state"] in ("succeeded", "failed"), 240)
        assert done["state"] == "succeeded", done
        assert done["result"]["version"] == 1 and done["result"]["state"] == "promoted"
        scored = world.start(
            "maintenance_score",
            {"until": format_instant(moulding_history.failed_at_ns), "lookback_hours": 1},
            who=engineer,
        )
        done = world.wait(scored["id"], lambda j: j["state"] in ("succeeded", "failed"), 120)
        assert done["state"] == "succeeded", done
        highest = done["result"]["highest"]
        assert highest[0]["asset"].endswith("/IMM-01") and highest[0]["risk"] > 0.8, highest
        assert highest[1]["risk"] < 0.5, highest  # IMM-02 is healthy
        alerts = world.start("maintenance_alerts", {}, who=engineer)
        done = world.wait(alerts["id"], lambda j: j["state"] in ("succeeded", "failed"), 60)
        assert done["state"] == "succeeded" and set(done["result"]) == {
            "escalated", "sent", "retrying", "failed"
        }  # fmt: skip
        # A history that is not there is one clear line, not a traceback.
        empty = {**train, "assets": [{"site": "nowhere", "line": "l", "asset": "a"}]}
        failed = world.start("maintenance_train", empty, who=engineer)
        done = world.wait(failed["id"], lambda j: j["state"] in ("succeeded", "failed"), 60)
        assert done["state"] == "failed" and "\n" not in done["error"], done
