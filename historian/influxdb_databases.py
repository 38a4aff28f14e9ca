"""Creating a database: the one InfluxDB operation that differs between versions.

1.x takes ``CREATE DATABASE`` on ``/query``; 2.x needs a bucket plus a DBRP mapping and
3 Core its own API. Only 1.x is implemented; the others go here when they are needed.
"""

from __future__ import annotations

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
