"""The read planner: fewest requests within the gap and size limits."""

from __future__ import annotations

import pytest

from protocols.modbus_driver import ModbusTag
from protocols.modbus_plan import plan_reads


def _tag(name: str, address: int, data_type: str = "uint16", table: str = "holding") -> ModbusTag:
    return ModbusTag(name, table, address, data_type)  # type: ignore[arg-type]


def _shape(tags: list[ModbusTag], **kw: int) -> list[tuple[str, int, int, list[str]]]:
    return [(r.table, r.address, r.count, [t.name for t in r.tags]) for r in plan_reads(tags, **kw)]


def test_adjacent_tags_merge_in_address_order() -> None:
    tags = [_tag("c", 3, "float32"), _tag("a", 0, "float32"), _tag("b", 2)]
    assert _shape(tags) == [("holding", 0, 5, ["a", "b", "c"])]


def test_gap_splits_unless_within_max_gap() -> None:
    tags = [_tag("a", 0, "float32"), _tag("b", 5)]  # registers 2..4 unused
    assert _shape(tags) == [("holding", 0, 2, ["a"]), ("holding", 5, 1, ["b"])]
    assert _shape(tags, max_gap=2) == [("holding", 0, 2, ["a"]), ("holding", 5, 1, ["b"])]
    assert _shape(tags, max_gap=3) == [("holding", 0, 6, ["a", "b"])]


def test_tables_are_planned_separately() -> None:
    tags = [_tag("h", 0), _tag("i", 1, table="input"), _tag("i0", 0, table="input")]
    assert _shape(tags) == [("holding", 0, 1, ["h"]), ("input", 0, 2, ["i0", "i"])]


def test_max_registers_caps_a_request() -> None:
    tags = [_tag(f"t{i}", 2 * i, "float32") for i in range(100)]  # 200 registers
    plan = plan_reads(tags)
    assert [(r.address, r.count) for r in plan] == [(0, 124), (124, 76)]
    small = plan_reads(tags, max_registers=10)
    assert len(small) == 20 and all(r.count == 10 for r in small)
    # a float32 never straddles two requests
    assert sum(len(r.tags) for r in small) == 100


def test_overlapping_and_duplicate_tags_share_a_request() -> None:
    tags = [_tag("pair", 10, "uint32"), _tag("low_word", 11), _tag("again", 10, "uint32")]
    plan = plan_reads(tags)
    assert [(r.address, r.count) for r in plan] == [(10, 2)]
    assert len(plan[0].tags) == 3


def test_invalid_limits() -> None:
    with pytest.raises(ValueError):
        plan_reads([_tag("a", 0)], max_registers=126)
    with pytest.raises(ValueError):
        plan_reads([_tag("a", 0)], max_gap=-1)
    assert plan_reads([]) == []
