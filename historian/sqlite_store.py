"""The embedded historian: SQLite from the standard library, so the platform needs no server.

One writer connection behind a lock (SQLite allows one writer at a time anyway) and one
reader connection per thread, because WAL mode lets readers run beside the writer and a
sqlite3 connection must not be used by two threads at once.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from datetime import timedelta
from pathlib import Path

from historian import sqlite_multi_series
from historian.base import (
    HistorianBase,
    aggregate_result,
    as_kind,
    check_aggregate,
    check_read_arguments,
)
from historian.model import (
    Aggregate,
    HistorianError,
    Point,
    SeriesInfo,
    SeriesKey,
    SeriesRows,
    ValueKind,
    kind_of,
)
from protocols.sample import Value

_SCHEMA = """
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY,
    site TEXT NOT NULL, line TEXT NOT NULL, asset TEXT NOT NULL, tag TEXT NOT NULL,
    kind TEXT NOT NULL,
    UNIQUE (site, line, asset, tag, kind)
);
-- value has no declared type, so SQLite keeps each value's own storage class (REAL 3.0
-- stays REAL, INTEGER stays INTEGER).
CREATE TABLE IF NOT EXISTS points (
    series_id INTEGER NOT NULL REFERENCES series(id),
    ts INTEGER NOT NULL,
    value,
    PRIMARY KEY (series_id, ts)
) WITHOUT ROWID;
"""

# ts - floor-mod(ts, w): the epoch-aligned window start, right for negative ts as well.
_BUCKET = "(ts - (((ts % :w) + :w) % :w))"
_AGGREGATE_SQL = {
    Aggregate.MEAN: "avg(value)",
    Aggregate.MIN: "min(value)",
    Aggregate.MAX: "max(value)",
    Aggregate.SUM: "sum(value)",
    Aggregate.COUNT: "count(value)",
}


class SqliteHistorian(HistorianBase):
    """A historian in one SQLite file; safe to share between threads."""

    name = "sqlite"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._write_lock = threading.Lock()
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._closed = False
        self._writer = self._connect()
        with self._write_lock:
            self._writer.executescript(_SCHEMA)
        self._series_ids: dict[tuple[str, str, str, str, str], int] = {}

    def _connect(self) -> sqlite3.Connection:
        if self._closed:
            raise HistorianError(f"historian {self.path} is closed")
        # check_same_thread=False only so close() may close every thread's connection;
        # each connection is still used by one thread at a time.
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=10000")
        with self._connections_lock:
            self._connections.append(conn)
        return conn

    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn

    # --- writes ------------------------------------------------------------------------

    def write(self, points: Iterable[Point]) -> int:
        batch = list(points)
        if not batch:
            return 0
        with self._write_lock:
            conn = self._writer
            conn.execute("BEGIN IMMEDIATE")
            try:
                rows = [
                    (self._series_id(conn, p.key, kind_of(p.value)), p.timestamp_ns, p.value)
                    for p in batch
                ]
                conn.executemany("INSERT OR REPLACE INTO points VALUES (?, ?, ?)", rows)
            except BaseException:
                conn.execute("ROLLBACK")
                # Ids cached inside the rolled-back transaction may not exist any more.
                self._series_ids.clear()
                raise
            conn.execute("COMMIT")
        return len(batch)

    def enforce_retention(self, keep: timedelta, now_ns: int | None = None) -> int:
        """Delete the points older than ``keep``; returns how many. One series at a time
        (a seek on its primary key each), so writers wait for one series, not the file."""
        cutoff = (time.time_ns() if now_ns is None else now_ns) - int(keep.total_seconds() * 1e9)
        ids = [row[0] for row in self._reader().execute("SELECT id FROM series").fetchall()]
        deleted = 0
        for series_id in ids:
            with self._write_lock:
                cursor = self._writer.execute(
                    "DELETE FROM points WHERE series_id = ? AND ts < ?", (series_id, cutoff)
                )
                deleted += cursor.rowcount
        return deleted

    def _series_id(self, conn: sqlite3.Connection, key: SeriesKey, kind: ValueKind) -> int:
        ident = (key.site, key.line, key.asset, key.tag, kind.value)
        series_id = self._series_ids.get(ident)
        if series_id is None:
            conn.execute(
                "INSERT OR IGNORE INTO series (site, line, asset, tag, kind) VALUES (?,?,?,?,?)",
                ident,
            )
            (series_id,) = conn.execute(
                "SELECT id FROM series WHERE site=? AND line=? AND asset=? AND tag=? AND kind=?",
                ident,
            ).fetchone()
            self._series_ids[ident] = series_id
        return series_id

    # --- reads -------------------------------------------------------------------------

    def list_series(self) -> list[SeriesInfo]:
        # The correlated max(ts) is one seek on the (series_id, ts) primary key per series.
        rows = (
            self._reader()
            .execute(
                """
            SELECT s.site, s.line, s.asset, s.tag, s.kind, p.ts, p.value
            FROM series s
            JOIN points p ON p.series_id = s.id
             AND p.ts = (SELECT max(ts) FROM points WHERE series_id = s.id)
            ORDER BY s.site, s.line, s.asset, s.tag, s.kind
            """
            )
            .fetchall()
        )
        result = []
        for site, line, asset, tag, kind_text, ts, value in rows:
            kind = ValueKind(kind_text)
            result.append(
                SeriesInfo(SeriesKey(site, line, asset, tag), kind, ts, as_kind(kind, value))
            )
        return result

    def _find_series(self, key: SeriesKey) -> tuple[int, ValueKind] | None:
        """The series of a key; if its kind ever changed, the kind written most recently."""
        row = (
            self._reader()
            .execute(
                """
                SELECT s.id, s.kind FROM series s
                WHERE s.site=? AND s.line=? AND s.asset=? AND s.tag=?
                ORDER BY (SELECT max(ts) FROM points WHERE series_id = s.id) DESC
                LIMIT 1
                """,
                (key.site, key.line, key.asset, key.tag),
            )
            .fetchone()
        )
        return None if row is None else (row[0], ValueKind(row[1]))

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
        found = self._find_series(key)
        if found is None or start_ns >= end_ns or limit == 0:
            return []
        series_id, kind = found
        params = {"id": series_id, "start": start_ns, "end": end_ns, "limit": limit or -1}
        if window_ns is None:
            rows = self._reader().execute(
                "SELECT ts, value FROM points WHERE series_id = :id AND ts >= :start"
                " AND ts < :end ORDER BY ts LIMIT :limit",
                params,
            )
            return [(ts, as_kind(kind, value)) for ts, value in rows]
        check_aggregate(key, kind, aggregate)
        params["w"] = window_ns
        if aggregate is Aggregate.LAST:
            # SQLite documents that with max(), bare columns come from the row holding
            # the maximum: here the value with the greatest ts in the window.
            select = f"SELECT {_BUCKET} AS bucket, value, max(ts)"
        else:
            select = f"SELECT {_BUCKET} AS bucket, {_AGGREGATE_SQL[aggregate]}"
        rows = self._reader().execute(
            f"{select} FROM points WHERE series_id = :id AND ts >= :start AND ts < :end"
            " GROUP BY bucket ORDER BY bucket LIMIT :limit",
            params,
        )
        return [(row[0], aggregate_result(kind, aggregate, row[1])) for row in rows]

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
        return sqlite_multi_series.read_many(
            self._reader(), keys, start_ns, end_ns, window_ns, aggregate, limit, fallback_aggregate
        )

    def exceeding(
        self, keys: Sequence[SeriesKey], start_ns: int, end_ns: int, count: int
    ) -> list[SeriesKey]:
        return sqlite_multi_series.exceeding(self._reader(), keys, start_ns, end_ns, count)

    def latest(
        self, site: str, line: str | None = None, asset: str | None = None
    ) -> list[SeriesInfo]:
        return sqlite_multi_series.latest(self._reader(), site, line, asset)

    def close(self) -> None:
        with self._connections_lock:
            self._closed = True
            connections, self._connections = self._connections, []
        with self._write_lock:
            for conn in connections:
                conn.close()
        self._local = threading.local()
