"""Creating a database and setting how long it keeps data: the InfluxDB operations that
differ between versions.

1.x takes ``CREATE DATABASE`` and ``ALTER RETENTION POLICY`` on ``/query``; 2.x needs a
bucket (with its retention) plus a DBRP mapping and 3 Core its own API. Only 1.x is
implemented (Debian ships 1.6, so nothing else could be tested here); the others go here
when they are needed.
"""

from __future__ import annotations

from datetime import timedelta

import httpx

from historian.influxql import quote_ident
from historian.model import HistorianError, HistorianUnavailable


def create_database_v1(client: httpx.Client, database: str) -> None:
    """``CREATE DATABASE`` (a no-op when it exists); raises HistorianError on refusal."""
    try:
        response = client.post("/query", data={"q": f"CREATE DATABASE {quote_ident(database)}"})
    except httpx.HTTPError as exc:
        raise HistorianUnavailable(f"cannot reach InfluxDB at {client.base_url}: {exc}") from exc
    if response.status_code >= 400:
        raise HistorianError(
            f"InfluxDB refused to create database {database!r}: {response.text.strip()}"
        )
    for result in response.json().get("results", []):
        if "error" in result:
            raise HistorianError(
                f"InfluxDB refused to create database {database!r}: {result['error']}"
            )


def _query(client: httpx.Client, statement: str, what: str) -> list[dict]:
    try:
        response = client.post("/query", data={"q": statement})
    except httpx.HTTPError as exc:
        raise HistorianUnavailable(f"cannot reach InfluxDB at {client.base_url}: {exc}") from exc
    if response.status_code >= 400:
        raise HistorianError(f"InfluxDB refused to {what}: {response.text.strip()}")
    results = response.json().get("results", [])
    for result in results:
        if "error" in result:
            raise HistorianError(f"InfluxDB refused to {what}: {result['error']}")
    return results


def shard_hours(retention_hours: int) -> int:
    """InfluxDB's own default shard-group length for a retention: data leaves a database
    a whole shard group at a time, so a day's retention in week-long groups would keep a
    week."""
    if retention_hours <= 48:
        return 1
    if retention_hours <= 180 * 24:
        return 24
    return 7 * 24


def set_retention_v1(client: httpx.Client, database: str, keep: timedelta) -> bool:
    """Make the database's default retention policy keep ``keep`` (whole hours, at least
    one: InfluxDB's minimum); True when it had to be changed. The rollups and their state
    live in the same policy and leave with the raw points."""
    hours = max(1, int(keep.total_seconds() // 3600))
    what = f"set the retention of {database!r} to {hours} h"
    (result,) = _query(client, f"SHOW RETENTION POLICIES ON {quote_ident(database)}", what)
    columns = result["series"][0]["columns"]
    policies = [dict(zip(columns, row, strict=True)) for row in result["series"][0]["values"]]
    default = next((p for p in policies if p.get("default")), None)
    if default is None:
        raise HistorianError(f"InfluxDB database {database!r} has no default retention policy")
    duration, shard = f"{hours}h0m0s", f"{shard_hours(hours)}h0m0s"
    if default["duration"] == duration and default["shardGroupDuration"] == shard:
        return False
    _query(
        client,
        f"ALTER RETENTION POLICY {quote_ident(default['name'])} ON {quote_ident(database)}"
        f" DURATION {hours}h SHARD DURATION {shard_hours(hours)}h DEFAULT",
        what,
    )
    return True
