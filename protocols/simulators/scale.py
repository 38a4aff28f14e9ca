"""A synthetic plant of N tags for benchmarks: OPC UA variables in folders of 1,000, or
Modbus holding registers, every value changing once a second."""

from __future__ import annotations

import math

from protocols.sample import Value
from protocols.simulators.machines import PowerMeter, SimulatedAsset
from protocols.simulators.plants import Plant, PlantModel, Point, Protocol

# asyncua adds a child in time linear in its siblings (10,000 under one parent took 56 s,
# DESIGN.md), so each block of this many tags is its own folder.
TAGS_PER_FOLDER = 1000
MAX_MODBUS_TAGS = 65536  # one uint16 register each, protocol addresses 0..65535


class SignalBlock(SimulatedAsset):
    """``count`` sine signals, each with its own phase, changing at whole seconds.

    Values are computed from the clock rather than integrated, so stepping is free
    whatever the count; integers so they fit a uint16 register and a Double alike.
    """

    def __init__(self, name: str, first: int, count: int, period_s: float = 60.0) -> None:
        super().__init__(name, seed=first)
        self.first = first
        self.count = count
        self.period_s = period_s

    def step(self, t_seconds: float) -> None:
        if t_seconds < self.t - 1e-9:
            raise ValueError(f"{self.name}: time went backwards ({t_seconds} < {self.t})")
        self.t = t_seconds

    def values(self) -> dict[str, Value]:
        second = math.floor(self.t)
        w = 2 * math.pi / self.period_s
        return {
            scale_tag_name(i): 1000 + round(500 * math.sin(w * (second + i)))
            for i in range(self.first, self.first + self.count)
        }


def scale_tag_name(index: int) -> str:
    return f"t{index:05d}"


def _folder(index: int) -> str:
    return f"B{index // TAGS_PER_FOLDER:02d}"


def scale_plant(tags: int, protocol: Protocol = "opcua") -> Plant:
    """The benchmark plant with ``tags`` tags served over ``protocol``."""
    if tags < 1:
        raise ValueError("a scale plant needs at least one tag")
    if protocol == "modbus" and tags > MAX_MODBUS_TAGS:
        raise ValueError(f"Modbus addresses stop at 65535: at most {MAX_MODBUS_TAGS} tags")
    points = []
    for i in range(tags):
        name, folder = scale_tag_name(i), _folder(i)
        if protocol == "opcua":
            point = Point(name, folder, "scale", "", "Double", "synthetic sine, 60 s period",
                          node_id=f"ns=2;s={folder}.{name}")  # fmt: skip
        else:
            point = Point(name, folder, "scale", "", "uint16", "synthetic sine, 60 s period",
                          table="holding", address=i)  # fmt: skip
        points.append(point)

    def build(seed: int) -> PlantModel:
        blocks = [
            SignalBlock(_folder(first), first, min(TAGS_PER_FOLDER, tags - first))
            for first in range(0, tags, TAGS_PER_FOLDER)
        ]
        meter = PowerMeter("meter-main", [], base_load_kw=0.0, seed=seed)
        return PlantModel({b.name: b for b in blocks}, meter)

    return Plant(
        key="scale",
        site="scale-bench",
        display_name=f"Scale benchmark ({tags} tags)",
        protocol=protocol,
        points=tuple(points),
        build=build,
        update_interval_s=1.0,
    )
