"""Historian writes and reads against the raw client of each store, same data, same run.

SQLite: SqliteHistorian against plain sqlite3 ``executemany`` into the same schema.
InfluxDB: InfluxV1Historian (encoding included) against posting prebuilt line protocol
with httpx, and its range reads against the same InfluxQL sent by hand.
"""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

import httpx

from bench.timing import best_of, report
from historian import Point, SeriesKey
from historian.influxdb_v1 import InfluxV1Historian
from historian.line_protocol import encode_points
from historian.sqlite_store import SqliteHistorian

SERIES = 50
POINTS_PER_SERIES = 4_000
DAY_POINTS = 86_400
START_NS = 1_790_000_000_000_000_000


def _points() -> list[Point]:
    keys = [
        SeriesKey("bench-site", "line-1", f"asset-{i // 10}", f"tag-{i}") for i in range(SERIES)
    ]
    return [
        Point(key, START_NS + n * 1_000_000_000, 20.0 + (n % 100) * 0.25 + i)
        for n in range(POINTS_PER_SERIES)
        for i, key in enumerate(keys)
    ]


def bench_sqlite(workdir: Path) -> None:
    points = _points()
    counter = iter(range(1_000_000))

    def ours() -> None:
        with SqliteHistorian(workdir / f"ours-{next(counter)}.db") as store:
            store.write(points)

    def raw() -> None:
        conn = sqlite3.connect(workdir / f"raw-{next(counter)}.db")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("CREATE TABLE series (id INTEGER PRIMARY KEY, site, line, asset, tag, kind)")
        conn.execute(
            "CREATE TABLE points (series_id, ts, value, PRIMARY KEY (series_id, ts)) WITHOUT ROWID"
        )
        ids: dict[SeriesKey, int] = {}
        for p in points[:SERIES]:
            cursor = conn.execute(
                "INSERT INTO series (site, line, asset, tag, kind) VALUES (?,?,?,?,?)",
                (p.key.site, p.key.line, p.key.asset, p.key.tag, "float"),
            )
            ids[p.key] = cursor.lastrowid
        conn.executemany(
            "INSERT OR REPLACE INTO points VALUES (?,?,?)",
            [(ids[p.key], p.timestamp_ns, p.value) for p in points],
        )
        conn.commit()
        conn.close()

    report(
        "SQLite write (historian vs raw executemany)",
        best_of(3, ours),
        best_of(3, raw),
        "points/s",
        len(points),
    )


def bench_influxdb(url: str) -> None:
    points = _points()
    historian = InfluxV1Historian(url, "bench")
    historian.ensure_database()
    bodies = [encode_points(points[i : i + 5000]).encode() for i in range(0, len(points), 5000)]
    client = httpx.Client(base_url=url, timeout=30)

    def raw_write() -> None:
        for body in bodies:
            client.post(
                "/write", params={"db": "bench", "precision": "ns"}, content=body
            ).raise_for_status()

    ours = best_of(3, lambda: historian.write(points))
    report(
        "InfluxDB write (historian vs prebuilt /write)",
        ours,
        best_of(3, raw_write),
        "points/s",
        len(points),
    )

    day = [
        Point(SeriesKey("bench-site", "day", "a", "t"), START_NS + n * 1_000_000_000, float(n))
        for n in range(DAY_POINTS)
    ]
    historian.write(day)
    key = day[0].key
    end = START_NS + DAY_POINTS * 1_000_000_000
    where = (
        "\"site\"='bench-site' AND \"line\"='day' AND \"asset\"='a' AND \"tag\"='t' "
        f"AND time >= {START_NS} AND time < {end}"
    )

    def raw_read(query: str) -> None:
        response = client.get("/query", params={"db": "bench", "q": query, "epoch": "ns"})
        response.raise_for_status()
        assert response.json()["results"][0]["series"]

    ours = best_of(3, lambda: historian.read(key, START_NS, end))
    baseline = best_of(3, lambda: raw_read(f'SELECT "float" FROM "telemetry" WHERE {where}'))
    report("InfluxDB 24 h raw read (historian vs InfluxQL)", ours, baseline, "points/s", DAY_POINTS)
    ours = best_of(5, lambda: historian.read(key, START_NS, end, window_ns=60_000_000_000))
    baseline = best_of(
        5,
        lambda: raw_read(
            f'SELECT mean("float") FROM "telemetry" WHERE {where} GROUP BY time(1m) fill(none)'
        ),
    )
    report(
        "InfluxDB 24 h 1-min means (historian vs InfluxQL)", ours, baseline, "points/s", DAY_POINTS
    )
    client.close()
    historian.close()


def main() -> None:
    from tests.fixtures_influxd import run_influxd

    print(f"historian: {SERIES} series x {POINTS_PER_SERIES} points; ratio = ours / baseline rate")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        bench_sqlite(workdir)
        (workdir / "influxd").mkdir()
        with run_influxd(workdir / "influxd") as server:
            bench_influxdb(server.url)
