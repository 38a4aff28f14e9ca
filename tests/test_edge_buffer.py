"""The durable buffer: per-output cursors, deletion only after every output, bounds that
drop the oldest with a count, and everything still there after the process goes away."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from edge_agent.buffer import StoreAndForwardBuffer
from edge_agent.config import Deadband
from edge_agent.exception_filter import ExceptionFilter
from protocols.sample import Quality


def rows(buffer: StoreAndForwardBuffer) -> int:
    return buffer._scalar("SELECT count(*) FROM batches")


def fill(buffer: StoreAndForwardBuffer, count: int, points: int = 10) -> None:
    for i in range(count):
        buffer.append("\n".join(f"cycle{i} line{j}" for j in range(points)), points)


def test_each_output_reads_from_its_own_cursor(tmp_path: Path) -> None:
    buffer = StoreAndForwardBuffer(tmp_path / "b.db", ["fast", "slow"])
    fill(buffer, 5)
    batch = buffer.read("fast", max_points=25)
    assert batch is not None and batch.points == 20 and batch.body.startswith("cycle0 line0")
    buffer.acknowledge("fast", batch)
    assert rows(buffer) == 5  # "slow" has not sent anything: nothing may leave the disk
    rest = buffer.read("fast", max_points=100)
    assert rest is not None and rest.body.startswith("cycle2 line0") and rest.points == 30
    buffer.acknowledge("fast", rest)
    assert buffer.read("fast", 100) is None
    assert buffer.backlog("fast").points == 0 and buffer.backlog("slow").points == 50
    slow = buffer.read("slow", max_points=1)  # a row is never split: at least one whole row
    assert slow is not None and slow.points == 10
    buffer.acknowledge("slow", slow)
    assert rows(buffer) == 4


def test_everything_survives_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    buffer = StoreAndForwardBuffer(path, ["influx", "local"])
    fill(buffer, 3)
    batch = buffer.read("local", 100)
    assert batch is not None
    buffer.acknowledge("local", batch)
    del buffer  # no close(): as after a crash, WAL recovery must do
    again = StoreAndForwardBuffer(path, ["influx", "local"])
    assert again.backlog("influx").points == 30 and again.backlog("local").points == 0
    assert again.size_bytes > 0
    again.close()


def test_outputs_added_start_at_the_tail_and_removed_ones_release_rows(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    buffer = StoreAndForwardBuffer(path, ["a", "b"])
    fill(buffer, 3)
    buffer.close()
    buffer = StoreAndForwardBuffer(path, ["a", "c"])  # b removed, c added
    assert buffer.backlog("c").points == 0  # a new output does not replay history
    assert buffer.backlog("a").points == 30
    batch = buffer.read("a", 100)
    assert batch is not None
    buffer.acknowledge("a", batch)
    assert rows(buffer) == 0  # b's old cursor no longer pins them


def test_over_size_drops_oldest_and_counts_per_output(tmp_path: Path) -> None:
    buffer = StoreAndForwardBuffer(tmp_path / "b.db", ["down", "up"], max_bytes=2000)
    for i in range(40):
        buffer.append(f"cycle{i:02d} " + "x" * 90, 1)  # ~100 bytes a row
        batch = buffer.read("up", 100)
        assert batch is not None
        buffer.acknowledge("up", batch)  # "up" keeps up; "down" sends nothing
    assert buffer.size_bytes <= 2000
    backlog = buffer.backlog("down")
    assert backlog.dropped == 40 - backlog.points > 0
    assert buffer.backlog("up").dropped == 0  # it had sent them all: it lost nothing
    oldest = buffer.read("down", 1)
    assert oldest is not None and oldest.body.startswith(f"cycle{40 - backlog.points:02d}")


def test_over_age_drops_oldest(tmp_path: Path) -> None:
    buffer = StoreAndForwardBuffer(tmp_path / "b.db", ["out"], max_age_s=0.2)
    fill(buffer, 2)
    time.sleep(0.3)
    fill(buffer, 1)
    assert buffer.enforce_limits() == 20
    assert buffer.backlog("out").points == 10 and buffer.backlog("out").dropped == 20


@pytest.mark.parametrize(
    ("deadband", "values", "sent"),
    [
        (None, [1.0, 1.0, 1.0], [True, True, True]),
        (
            Deadband(0.5, percent=False),
            [10.0, 10.4, 10.6, 10.2, 10.0],
            [True, False, True, False, True],
        ),
        (
            Deadband(10, percent=True),
            [100.0, 109.0, 111.0, 100.0, 99.0],
            [True, False, True, False, True],
        ),
        (Deadband(1, percent=False), ["run", "run", "idle"], [True, False, True]),
    ],
)
def test_deadband(deadband: Deadband | None, values: list, sent: list[bool]) -> None:
    report = ExceptionFilter({"t": deadband}, heartbeat_s=3600)
    results = [
        report.should_send("t", v, Quality.GOOD, i * 1_000_000_000) for i, v in enumerate(values)
    ]
    assert results == sent


def test_heartbeat_and_quality_changes_always_send() -> None:
    report = ExceptionFilter({"t": Deadband(5, percent=False)}, heartbeat_s=10)
    second = 1_000_000_000
    assert report.should_send("t", 1.0, Quality.GOOD, 0)
    assert not report.should_send("t", 1.0, Quality.GOOD, 9 * second)
    assert report.should_send("t", 1.0, Quality.GOOD, 10 * second)  # heartbeat
    assert report.should_send("t", 1.0, Quality.UNCERTAIN, 11 * second)  # quality change
    assert not report.should_send("t", 1.1, Quality.UNCERTAIN, 12 * second)
