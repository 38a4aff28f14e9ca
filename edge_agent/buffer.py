"""The durable store-and-forward buffer: every accepted sample is on disk before the
poller goes on, and leaves only when every output has acknowledged it.

SQLite in WAL mode, one row per poll cycle holding that cycle's line protocol. Each
output keeps its own cursor (the last row it acknowledged), so a slow output never
holds back another; a row is deleted once every cursor has passed it. The buffer is
bounded by size and by age; beyond either, the oldest rows are dropped, counted per
output that had not yet sent them, and logged. Nothing else is ever dropped.

Telegraf keeps unsent metrics in memory and loses them on restart or overflow; a
plant that loses an hour of history in a network outage stops trusting the system.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_ns INTEGER NOT NULL,
    points INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS cursors (
    output TEXT PRIMARY KEY,
    acked_id INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS dropped (
    output TEXT PRIMARY KEY,
    points INTEGER NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class Batch:
    """Consecutive rows for one output: send ``body``, then acknowledge ``last_id``."""

    first_id: int
    last_id: int
    points: int
    body: str
    oldest_ns: int


@dataclass(frozen=True, slots=True)
class OutputBacklog:
    points: int
    rows: int
    oldest_age_s: float
    dropped: int


class StoreAndForwardBuffer:
    def __init__(
        self,
        path: Path,
        outputs: list[str],
        max_bytes: int = 1 << 30,
        max_age_s: float = 7 * 86400,
        sync: str = "normal",
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_bytes = max_bytes
        self.max_age_s = max_age_s
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL: a commit survives the process being killed; FULL also survives power loss,
        # at the cost of an fsync per poll cycle.
        self._db.execute(f"PRAGMA synchronous={'FULL' if sync == 'full' else 'NORMAL'}")
        self._db.executescript(_SCHEMA)
        self.outputs = list(outputs)
        self._attach_outputs()
        self._bytes = self._scalar("SELECT coalesce(sum(bytes), 0) FROM batches")

    # --- setup ----------------------------------------------------------------------------

    def _scalar(self, sql: str, *args: object) -> int:
        return int(self._db.execute(sql, args).fetchone()[0])

    def _attach_outputs(self) -> None:
        """Known outputs keep their place; new ones start at the tail; removed ones go,
        so they never pin rows on disk."""
        tail = self._scalar("SELECT coalesce(max(id), 0) FROM batches")
        with self._lock:
            self._db.execute("BEGIN")
            placeholders = ",".join("?" * len(self.outputs))
            self._db.execute(
                f"DELETE FROM cursors WHERE output NOT IN ({placeholders})", self.outputs
            )
            for output in self.outputs:
                self._db.execute(
                    "INSERT OR IGNORE INTO cursors (output, acked_id) VALUES (?, ?)", (output, tail)
                )
                self._db.execute(
                    "INSERT OR IGNORE INTO dropped (output, points) VALUES (?, 0)", (output,)
                )
            self._db.execute("COMMIT")
        self._delete_acknowledged()

    # --- the poller's side ---------------------------------------------------------------

    def append(self, body: str, points: int) -> None:
        """Store one poll cycle's lines; returns once SQLite has committed them."""
        size = len(body.encode("utf-8"))
        with self._lock:
            self._db.execute(
                "INSERT INTO batches (created_ns, points, bytes, body) VALUES (?, ?, ?, ?)",
                (time.time_ns(), points, size, body),
            )
            self._bytes += size
        if self._bytes > self.max_bytes:
            self.enforce_limits()

    # --- the forwarders' side -------------------------------------------------------------

    def read(self, output: str, max_points: int) -> Batch | None:
        """The oldest rows this output has not acknowledged, up to about ``max_points``
        (always at least one row, however large)."""
        taken: list[tuple[int, int, str, int]] = []
        points = 0
        with self._lock:
            rows = self._db.execute(
                "SELECT id, points, body, created_ns FROM batches WHERE id > ? ORDER BY id",
                (self._cursor(output),),
            )
            for row in rows:  # lazily: a backlog can hold gigabytes
                if taken and points + row[1] > max_points:
                    break
                taken.append(row)
                points += row[1]
            rows.close()
        if not taken:
            return None
        body = "\n".join(row[2] for row in taken)
        return Batch(taken[0][0], taken[-1][0], points, body, taken[0][3])

    def acknowledge(self, output: str, batch: Batch) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE cursors SET acked_id = max(acked_id, ?) WHERE output = ?",
                (batch.last_id, output),
            )
        self._delete_acknowledged()

    def _cursor(self, output: str) -> int:
        return self._scalar("SELECT acked_id FROM cursors WHERE output = ?", output)

    def _delete_acknowledged(self) -> None:
        with self._lock:
            floor = self._scalar("SELECT coalesce(min(acked_id), 0) FROM cursors")
            freed = self._scalar("SELECT coalesce(sum(bytes), 0) FROM batches WHERE id <= ?", floor)
            if freed:
                self._db.execute("DELETE FROM batches WHERE id <= ?", (floor,))
                self._bytes -= freed

    # --- bounds ---------------------------------------------------------------------------

    def enforce_limits(self) -> int:
        """Drop the oldest rows beyond the size or age bound; returns points dropped."""
        with self._lock:
            cutoff = time.time_ns() - int(self.max_age_s * 1e9)
            doomed: list[tuple[int, int, int]] = []
            excess = self._bytes - self.max_bytes
            for row_id, points, size, created in self._db.execute(
                "SELECT id, points, bytes, created_ns FROM batches ORDER BY id"
            ):
                if created >= cutoff and excess <= 0:
                    break
                doomed.append((row_id, points, size))
                excess -= size
            if not doomed:
                return 0
            last = doomed[-1][0]
            self._db.execute("BEGIN")
            lost: dict[str, int] = {}
            for output in self.outputs:
                acked = self._cursor(output)
                lost[output] = sum(points for row_id, points, _ in doomed if row_id > acked)
                self._db.execute(
                    "UPDATE dropped SET points = points + ? WHERE output = ?",
                    (lost[output], output),
                )
                self._db.execute(
                    "UPDATE cursors SET acked_id = max(acked_id, ?) WHERE output = ?",
                    (last, output),
                )
            self._db.execute("DELETE FROM batches WHERE id <= ?", (last,))
            self._db.execute("COMMIT")
            self._bytes -= sum(size for _, _, size in doomed)
        dropped = sum(points for _, points, _ in doomed)
        log.warning(
            "buffer %s over its bound (%d bytes, %.0f s): dropped the oldest %d points (%s)",
            self.path,
            self.max_bytes,
            self.max_age_s,
            dropped,
            ", ".join(f"{out}: {n} unsent" for out, n in lost.items()),
        )
        return dropped

    # --- what status and metrics show -----------------------------------------------------

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def backlog(self, output: str) -> OutputBacklog:
        with self._lock:
            acked = self._cursor(output)
            points, rows, oldest = self._db.execute(
                "SELECT coalesce(sum(points), 0), count(*), min(created_ns)"
                " FROM batches WHERE id > ?",
                (acked,),
            ).fetchone()
            dropped = self._scalar("SELECT points FROM dropped WHERE output = ?", output)
        age = (time.time_ns() - oldest) / 1e9 if oldest else 0.0
        return OutputBacklog(int(points), int(rows), age, dropped)

    def close(self) -> None:
        with self._lock:
            self._db.close()
