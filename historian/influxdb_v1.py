"""The historian on InfluxDB's v1 HTTP API: line protocol on /write, InfluxQL on /query.

1.x serves this API natively and 2.x / 3.x through their v1 compatibility endpoints, so
this one read path works with every InfluxDB a factory runs.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from contextlib import suppress
from datetime import timedelta
from itertools import islice
from typing import Any

import httpx

from historian import influxdb_multi_series, influxdb_rollups, influxql
from historian.base import (
    HistorianBase,
    aggregate_result,
    as_kind,
    check_aggregate,
    check_read_arguments,
)
from historian.influxdb_databases import create_database_v1, set_retention_v1
from historian.influxdb_line_writer import LineProtocolWriter
from historian.influxdb_minute_cache import (
    CachedMinutes,
    MinuteRowCache,
    PlannedRead,
    proven_exceeding,
    shared_cache,
)
from historian.influxql import quote_ident
from historian.line_protocol import ValidatedBody, encode_points, validate_line_protocol
from historian.model import (
    MEASUREMENT,
    Aggregate,
    HistorianError,
    HistorianUnavailable,
    Point,
    SeriesInfo,
    SeriesKey,
    SeriesRows,
    ValueKind,
)
from historian.multi_series import check_count, distinct_keys
from protocols.sample import Value

# InfluxDB's own advice for write batches; larger bodies gain little and time out sooner.
WRITE_BATCH_LINES = 5000


def _parse_json_int(text: str) -> int | float:
    # Go writes the float -0.0 as "-0"; keep its sign instead of turning it into int 0.
    return -0.0 if text == "-0" else int(text)


class _DatabaseMissing(HistorianError):
    """The database does not exist (yet); for reads that means no data."""


class InfluxV1Historian(HistorianBase):
    """A historian in one InfluxDB database, spoken to over HTTP (sync httpx client)."""

    name = "influxdb-v1"

    def __init__(
        self,
        url: str,
        database: str,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
        create_database: bool = True,
        rollups: bool = True,
        minute_cache: MinuteRowCache | None = None,
    ) -> None:
        if not database:
            raise ValueError("InfluxDB historian needs a database name")
        self.url = url.rstrip("/")
        self.database = database
        auth = httpx.BasicAuth(username, password or "") if username else None
        self._client = httpx.Client(base_url=self.url, auth=auth, timeout=timeout)
        # Bodies for /write go through http.client: far less CPU per large body.
        self._writer = LineProtocolWriter(self.url, database, username, password, timeout)
        # Created on the first write, not here: a reader (the cloud) must start and answer
        # 503 while InfluxDB is away, and has no reason to create anything.
        self._create_database = create_database
        # Minute/hour rollups (historian.influxdb_rollups): writes always mark the hours
        # they touch; reads use rolled hours only when this is on.
        self.rollups = rollups
        self._keep_ns = 0  # the retention this process set (enforce_retention), if any
        # Closed hours' minute rows kept in this process (historian.influxdb_minute_cache):
        # the one shared by every historian of the process unless one is given.
        cache = minute_cache if minute_cache is not None else shared_cache()
        self._minutes = (
            CachedMinutes(cache, self._query_many, self.url, database)
            if rollups and cache is not None
            else None
        )

    def ensure_database(self) -> None:
        create_database_v1(self._client, self.database)
        self._create_database = False

    def enforce_retention(self, keep: timedelta) -> int:
        """Have InfluxDB keep ``keep`` of data (its retention policy deletes the rest, a
        shard group at a time); returns 0, the points it deletes are not counted."""
        self.ensure_database()
        set_retention_v1(self._client, self.database, keep)
        self._keep_ns = int(keep.total_seconds()) * 1_000_000_000
        return 0

    # --- HTTP --------------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise HistorianUnavailable(f"cannot reach InfluxDB at {self.url}: {exc}") from exc
        if response.status_code >= 400:
            # 5xx is the server's trouble and may pass; 4xx is this request's fault.
            error = HistorianUnavailable if response.status_code >= 500 else HistorianError
            raise error(f"InfluxDB {path} answered {response.status_code}: {_error_text(response)}")
        return response

    def _query(self, query: str, post: bool = False) -> list[dict[str, Any]]:
        """The results of each statement; raises HistorianError on any statement's error.

        ``post`` sends the query in a form body: a query naming hundreds of series may be
        longer than a server accepts in a URL, and every InfluxDB's /query takes POST.
        """
        params = {"db": self.database, "epoch": "ns"}
        if post:
            response = self._request("POST", "/query", params=params, data={"q": query})
        else:
            response = self._request("GET", "/query", params={**params, "q": query})
        payload = json.loads(response.text, parse_int=_parse_json_int)
        if "error" in payload:
            raise HistorianError(f"InfluxDB query failed: {payload['error']}")
        results = payload.get("results", [])
        errors = [result["error"] for result in results if "error" in result]
        if any("database not found" in error for error in errors):
            raise _DatabaseMissing(f"InfluxDB has no database {self.database!r}")
        if errors == ["not executed"] and ";" in query:
            # InfluxDB 1.x answers a multi-statement query on a missing database with
            # only "not executed"; a single statement names the real cause.
            self._query(f"SELECT last(*) FROM {quote_ident(MEASUREMENT)}")
        if errors:
            raise HistorianError(f"InfluxDB query failed: {errors[0]}")
        return results

    # --- writes ------------------------------------------------------------------------

    def write(self, points: Iterable[Point]) -> int:
        """Writes in batches; a failed batch raises, and the batches before it stay written."""
        if self._create_database:
            self.ensure_database()
        written = 0
        iterator = iter(points)
        while batch := list(islice(iterator, WRITE_BATCH_LINES)):
            hours = influxdb_rollups.hours_of_timestamps(p.timestamp_ns for p in batch)
            body = encode_points(batch).encode() + influxdb_rollups.mark_lines(hours)
            written += len(batch) - self._expired(self._writer.write(body), hours, len(batch))
        return written

    def write_line_protocol(self, body: str | bytes | ValidatedBody) -> int:
        """Forward a validated body to /write as it is, in one request.

        Any other body is validated first (validate_line_protocol), so a malformed line is
        refused before InfluxDB, which would store the valid lines of a partly bad body,
        sees any of it.
        """
        if not isinstance(body, ValidatedBody):
            body = validate_line_protocol(body.encode("utf-8") if isinstance(body, str) else body)
        if body.point_count == 0:
            return 0
        if self._create_database:
            self.ensure_database()
        hours = influxdb_rollups.hours_of_stamps(body.timestamps)
        raw = body.body.rstrip(b"\n") + influxdb_rollups.mark_lines(hours)
        return body.point_count - self._expired(self._writer.write(raw), hours, body.point_count)

    def _expired(self, dropped: int, hours: set[int], point_count: int) -> int:
        """Points InfluxDB dropped as older than the retention (it stored the rest): its
        count includes the marks of hours before the cutoff, which went with them."""
        if not dropped:
            return 0
        cutoff = time.time_ns() - self._keep_ns if self._keep_ns else None
        old_marks = sum(hour < cutoff for hour in hours) if cutoff is not None else 0
        return min(point_count, max(0, dropped - old_marks))

    # --- rollups -----------------------------------------------------------------------

    def roll_up_pending(self, now_ns: int | None = None, max_hours: int | None = None) -> int:
        """Roll the hours written since their last roll that have settled; returns how
        many were rolled. Safe to run from several processes at once (idempotent)."""
        now_ns = time.time_ns() if now_ns is None else now_ns
        try:
            hours = influxdb_rollups.pending_hours(self._query_many, now_ns)
        except influxdb_multi_series.MissingDatabase:
            return 0
        for hour in hours[:max_hours]:
            influxdb_rollups.roll_hour(self._query_many, self._writer.write, hour)
        return len(hours[:max_hours])

    def mark_written(self, start_ns: int, end_ns: int) -> None:
        """Mark the hours of [start_ns, end_ns) as changed, for points written past this
        historian (a backfill straight into InfluxDB): their rollups are read raw until
        rolled again."""
        first = start_ns - start_ns % influxdb_rollups.HOUR_NS
        hours = range(first, end_ns, influxdb_rollups.HOUR_NS)
        if hours:
            self._writer.write(influxdb_rollups.mark_lines(hours, 0).lstrip(b"\n"))

    def _plan(self, start_ns: int, end_ns: int, window_ns: int) -> list[influxdb_rollups.Segment]:
        if not influxdb_rollups.plannable(window_ns):
            return [influxdb_rollups.Segment(start_ns, end_ns, None)]
        clean = influxdb_rollups.clean_hours(self._query_many, start_ns, end_ns)
        return influxdb_rollups.plan(start_ns, end_ns, window_ns, clean)

    # --- reads -------------------------------------------------------------------------

    def _latest(self, key: SeriesKey | None) -> list[SeriesInfo]:
        try:
            results = self._query(influxql.latest_per_series(key))
        except _DatabaseMissing:
            return []  # nothing written yet: no series, as in an empty SQLite store
        found = []
        for kind, result in zip(ValueKind, results, strict=True):
            for series in result.get("series", []):
                tags = series.get("tags", {})
                if not all(tags.get(name) for name in ("site", "line", "asset", "tag")):
                    continue  # written outside this schema; not a series we can name
                ts, value = series["values"][0][:2]
                series_key = SeriesKey(tags["site"], tags["line"], tags["asset"], tags["tag"])
                found.append(SeriesInfo(series_key, kind, ts, as_kind(kind, value)))
        return found

    def list_series(self) -> list[SeriesInfo]:
        return sorted(self._latest(None), key=lambda info: (info.key, info.kind.value))

    def _find_kind(self, key: SeriesKey) -> ValueKind | None:
        """The kind of a key's series; if it ever changed, the kind written most recently."""
        found = [info for info in self._latest(key) if info.key == key]
        if not found:
            return None
        return max(found, key=lambda info: info.last_timestamp_ns).kind

    def read(
        self,
        key: SeriesKey,
        start_ns: int,
        end_ns: int,
        window_ns: int | None = None,
        aggregate: Aggregate = Aggregate.MEAN,
        limit: int | None = None,
    ) -> list[tuple[int, Value]]:
        aggregate = Aggregate(aggregate)
        check_read_arguments(start_ns, end_ns, window_ns, limit)
        if start_ns >= end_ns or limit == 0:
            return []
        kind = self._find_kind(key)
        if kind is None:
            return []
        if window_ns is None:
            query = influxql.select_raw(key, kind, start_ns, end_ns, limit)
            return [(ts, as_kind(kind, value)) for ts, value in self._rows(query)]
        check_aggregate(key, kind, aggregate)
        if self.rollups and limit is None and influxdb_rollups.plannable(window_ns):
            # The multi-series path reads rolled hours from the rollups.
            (entry,) = self.read_many([key], start_ns, end_ns, window_ns, aggregate)
            return entry.rows
        query = influxql.select_windowed(key, kind, start_ns, end_ns, window_ns, aggregate, limit)
        return [
            (ts, aggregate_result(kind, aggregate, value))
            for ts, value in self._rows(query)
            if value is not None
        ]

    def _query_many(self, query: str) -> list[dict[str, Any]]:
        try:
            return self._query(query, post=True)
        except _DatabaseMissing as exc:
            raise influxdb_multi_series.MissingDatabase(str(exc)) from None

    def read_many(
        self,
        keys: Sequence[SeriesKey],
        start_ns: int,
        end_ns: int,
        window_ns: int | None = None,
        aggregate: Aggregate = Aggregate.MEAN,
        limit: int | None = None,
        fallback_aggregate: Aggregate | None = None,
    ) -> list[SeriesRows]:
        planned = PlannedRead(self._query_many, self._minutes) if self.rollups else None
        return influxdb_multi_series.read_many(
            self._query_many,
            keys,
            start_ns,
            end_ns,
            window_ns,
            aggregate,
            limit,
            fallback_aggregate,
            planned.plan if planned else None,
            planned.minutes if planned and self._minutes else None,
        )

    def exceeding(
        self, keys: Sequence[SeriesKey], start_ns: int, end_ns: int, count: int
    ) -> list[SeriesKey]:
        check_count(count)
        unique = distinct_keys(keys)
        proven: set[SeriesKey] = set()
        if self._minutes is not None and end_ns - start_ns >= influxdb_rollups.HOUR_NS and unique:
            # A dense day is over a chart's budget by its cached hours alone: no raw count.
            with suppress(influxdb_multi_series.MissingDatabase):
                proven = proven_exceeding(
                    self._query_many, self._minutes, unique, start_ns, end_ns, count
                )
        rest = [key for key in unique if key not in proven]
        over = set(
            influxdb_multi_series.exceeding(self._query_many, rest, start_ns, end_ns, count)
            if rest
            else ()
        )
        return [key for key in unique if key in proven or key in over]

    def latest(
        self, site: str, line: str | None = None, asset: str | None = None
    ) -> list[SeriesInfo]:
        return influxdb_multi_series.latest(self._query_many, site, line, asset)

    def _rows(self, query: str) -> list[list[Any]]:
        (result,) = self._query(query)
        rows: list[list[Any]] = []
        for series in result.get("series", []):
            rows.extend(series["values"])
        return rows

    def close(self) -> None:
        self._writer.close()
        self._client.close()


def _error_text(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", response.text)).strip()
    except ValueError:
        return response.text.strip()
