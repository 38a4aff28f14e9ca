"""The three demo plants: their assets, their tag maps and the edge-agent config for each.

A plant is data (points with addresses and meanings) plus a factory for its live model,
so the simulators, the tests, the README and the agent config all read one source.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from protocols.modbus_driver import ModbusTag
from protocols.opcua_driver import OpcUaTag
from protocols.registers import register_count
from protocols.sample import Value
from protocols.simulators.machines import (
    AssemblyStation,
    InjectionMouldingMachine,
    PowerMeter,
    Pump,
    SimulatedAsset,
)

Protocol = Literal["opcua", "modbus"]
OPCUA_NAMESPACE_URI = "urn:mingzhou:simulator"


@dataclass(frozen=True)
class Point:
    """One tag of a plant: what it is, where it lives on the wire and what it means.

    OPC UA points set ``node_id`` and ``opcua_type`` (a VariantType name); Modbus points set
    ``table``, ``address`` and the register encoding.
    """

    tag: str
    asset: str
    line: str
    unit: str
    data_type: str
    meaning: str
    node_id: str | None = None
    table: Literal["holding", "input"] | None = None
    address: int | None = None
    word_order: Literal["big", "little"] = "big"
    scale: float = 1.0
    offset: float = 0.0

    @property
    def location(self) -> str:
        """Where to find it, for documentation: the NodeId or ``input 10``."""
        return self.node_id if self.node_id else f"{self.table} {self.address}"

    def doc_row(self) -> dict[str, str]:
        return {
            "tag": self.tag,
            "asset": self.asset,
            "address": self.location,
            "type": self.data_type,
            "unit": self.unit,
            "meaning": self.meaning,
        }


@dataclass
class PlantModel:
    """A running plant: its assets by name, all stepped through the plant meter.

    ``stuck`` holds sensors frozen by a fault: their readings keep the value they had
    while the process behind them goes on.
    """

    assets: dict[str, SimulatedAsset]
    meter: PowerMeter
    stuck: dict[tuple[str, str], Value] = field(default_factory=dict)

    def step(self, t_seconds: float) -> None:
        self.meter.step(t_seconds)  # the meter steps every load it measures
        for asset in self.assets.values():
            asset.step(t_seconds)  # a no-op for the loads, catches any unmetered asset

    def value(self, point: Point) -> Value:
        key = (point.asset, point.tag)
        if key in self.stuck:
            return self.stuck[key]
        return self.assets[point.asset].values()[point.tag]

    def snapshot(self) -> dict[tuple[str, str], Value]:
        """All current values keyed by (asset, tag), each asset sampled once."""
        out: dict[tuple[str, str], Value] = {}
        for name, asset in self.assets.items():
            for tag, value in asset.values().items():
                out[(name, tag)] = value
        out.update(self.stuck)
        return out

    def stick(self, asset: str, tag: str, value: Value | None = None) -> None:
        """Freeze one reading at ``value`` (default: what the sensor reads now)."""
        if asset not in self.assets or tag not in self.assets[asset].values():
            raise KeyError(f"{asset}.{tag}")
        self.stuck[(asset, tag)] = self.value_of(asset, tag) if value is None else value

    def value_of(self, asset: str, tag: str) -> Value:
        return self.stuck.get((asset, tag), self.assets[asset].values()[tag])


@dataclass(frozen=True)
class Plant:
    """A demo plant: site, protocol, point map and a factory for its model."""

    key: str
    site: str
    display_name: str
    protocol: Protocol
    points: tuple[Point, ...]
    build: Callable[[int], PlantModel] = field(repr=False)
    unit_id: int = 1
    # How often the server steps the model and republishes; large plants publish less often.
    update_interval_s: float = 0.25

    def model(self, seed: int = 1) -> PlantModel:
        """A fresh model of the plant; the same seed gives the same signals."""
        return self.build(seed)

    def doc_rows(self) -> list[dict[str, str]]:
        """The tag table for the README: tag, asset, address, type, unit, meaning."""
        return [p.doc_row() for p in self.points]

    def modbus_tags(self) -> list[ModbusTag]:
        """Driver tags in point order (names repeat across assets; match by position)."""
        if self.protocol != "modbus":
            raise ValueError(f"plant {self.key!r} speaks {self.protocol}, not modbus")
        return [
            ModbusTag(p.tag, p.table, p.address, p.data_type, p.word_order, p.scale, p.offset)  # type: ignore[arg-type]
            for p in self.points
        ]

    def opcua_tags(self) -> list[OpcUaTag]:
        """Driver tags in point order (names repeat across assets; match by position)."""
        if self.protocol != "opcua":
            raise ValueError(f"plant {self.key!r} speaks {self.protocol}, not opcua")
        return [OpcUaTag(p.tag, p.node_id) for p in self.points]  # type: ignore[arg-type]

    def table_size(self, table: str) -> int:
        """Registers a Modbus table spans from address 0 (0 when the table is unused)."""
        ends = [
            p.address + register_count(p.data_type)
            for p in self.points
            if p.table == table and p.address is not None
        ]
        return max(ends, default=0)

    def agent_config(self, host: str, port: int, interval: str = "1s") -> dict[str, Any]:
        """An edge-agent config (the agent's YAML schema) that reads this plant."""
        device: dict[str, Any] = {"name": f"{self.site}-plc", "protocol": self.protocol}
        if self.protocol == "opcua":
            device["endpoint"] = f"opc.tcp://{host}:{port}"
        else:
            # The register map has no holes (reserved registers read as 0), so reads may
            # span the few reserved registers between assets: 2 requests instead of 7.
            device.update(host=host, port=port, unit_id=self.unit_id, max_gap=8)
        device["interval"] = interval
        device["tags"] = [self._agent_tag(p) for p in self.points]
        return {
            "agent": {"name": f"{self.site}-edge", "site": self.site},
            "devices": [device],
            "outputs": [],
        }

    def _agent_tag(self, p: Point) -> dict[str, Any]:
        tag: dict[str, Any] = {"name": p.tag, "asset": p.asset, "line": p.line, "unit": p.unit}
        if self.protocol == "opcua":
            tag["node"] = p.node_id
        else:
            tag.update(
                table=p.table,
                address=p.address,
                type=p.data_type,
                word_order=p.word_order,
                scale=p.scale,
                offset=p.offset,
            )
        return tag


# --- mold: injection moulding, OPC UA --------------------------------------------------

_IMM_POINTS = (
    # tag, browse name, OPC UA type, unit, meaning
    ("cycle_time", "CycleTime", "Double", "s", "duration of the last completed shot cycle"),
    ("injection_pressure", "InjectionPressure", "Double", "bar", "hydraulic injection pressure"),
    ("melt_temp", "MeltTemp", "Double", "degC", "melt temperature at the nozzle"),
    ("mould_temp", "MouldTemp", "Double", "degC", "mould (tool) surface temperature"),
    ("shot_count", "ShotCount", "UInt32", "count", "shots completed since counter reset"),
    ("state", "State", "String", "", "machine state: running, idle or alarm"),
    ("power_kw", "PowerKw", "Double", "kW", "electrical power drawn by the machine"),
)
_METER_POINTS = (
    ("active_power_kw", "ActivePower", "kW", "plant active power (machines + base load)"),
    ("energy_kwh", "Energy", "kWh", "active energy import counter"),
)


def _mold_points() -> tuple[Point, ...]:
    points: list[Point] = []
    for asset in ("IMM-01", "IMM-02"):
        prefix = asset.replace("-", "")
        for tag, browse, ua_type, unit, meaning in _IMM_POINTS:
            points.append(
                Point(tag, asset, "moulding-hall-1", unit, ua_type, meaning,
                      node_id=f"ns=2;s={prefix}.{browse}")
            )  # fmt: skip
    for tag, browse, unit, meaning in _METER_POINTS:
        points.append(
            Point(tag, "meter-main", "utilities", unit, "Double", meaning,
                  node_id=f"ns=2;s=MeterMain.{browse}")
        )  # fmt: skip
    return tuple(points)


def _mold_model(seed: int) -> PlantModel:
    machines = [
        InjectionMouldingMachine("IMM-01", seed=seed * 100 + 1),
        InjectionMouldingMachine("IMM-02", seed=seed * 100 + 2, melt_setpoint_c=235.0),
    ]
    meter = PowerMeter("meter-main", machines, base_load_kw=18.0, seed=seed * 100 + 9,
                       initial_energy_kwh=152_300.0)  # fmt: skip
    return PlantModel({m.name: m for m in [*machines, meter]}, meter)


# --- appliance: assembly line, Modbus TCP ----------------------------------------------

STATION_STRIDE = 12  # registers per station; 7, 10 and 11 are reserved (read as zero)
_STATION_POINTS = (
    # tag, offset, type, unit, meaning
    ("cycle_count", 0, "uint32", "count", "cycles completed (good + bad)"),
    ("good_parts", 2, "uint32", "count", "parts that passed the end-of-station test"),
    ("bad_parts", 4, "uint32", "count", "parts rejected by the end-of-station test"),
    ("state", 6, "uint16", "", "0 stopped, 1 running, 2 blocked, 3 starved, 4 fault"),
    ("motor_current", 8, "float32", "A", "station drive motor current"),
)
_MODBUS_METER_POINTS = (
    ("active_power_kw", 0, "kW", "plant active power (stations + base load)"),
    ("energy_kwh", 2, "kWh", "active energy import counter"),
)


def _modbus_meter_points(line: str) -> list[Point]:
    # Many panel meters send float32 low word first (CDAB); that is what we simulate.
    return [
        Point(tag, "meter-main", line, unit, "float32", meaning,
              table="holding", address=address, word_order="little")
        for tag, address, unit, meaning in _MODBUS_METER_POINTS
    ]  # fmt: skip


def _appliance_points() -> tuple[Point, ...]:
    points: list[Point] = []
    for i, asset in enumerate(("ST-01", "ST-02", "ST-03")):
        base = i * STATION_STRIDE
        for tag, offset, data_type, unit, meaning in _STATION_POINTS:
            points.append(
                Point(tag, asset, "assembly-1", unit, data_type, meaning,
                      table="input", address=base + offset)
            )  # fmt: skip
    points.extend(_modbus_meter_points("utilities"))
    return tuple(points)


def _appliance_model(seed: int) -> PlantModel:
    stations = [
        AssemblyStation("ST-01", seed=seed * 100 + 1, takt_s=30.0),
        AssemblyStation("ST-02", seed=seed * 100 + 2, takt_s=30.0, scrap_rate=0.03),
        AssemblyStation("ST-03", seed=seed * 100 + 3, takt_s=30.0, scrap_rate=0.01),
    ]
    meter = PowerMeter("meter-main", stations, base_load_kw=35.0, seed=seed * 100 + 9,
                       initial_energy_kwh=48_750.0)  # fmt: skip
    return PlantModel({s.name: s for s in [*stations, meter]}, meter)


# --- petrochem: pump station, Modbus TCP -----------------------------------------------

PUMP_STRIDE = 10  # registers per pump; 8 and 9 are reserved (read as zero)
_PUMP_POINTS = (
    # tag, offset, type, scale, unit, meaning
    ("flow", 0, "float32", 1.0, "m3/h", "volumetric flow at the discharge"),
    ("discharge_pressure", 2, "int16", 0.01, "bar", "discharge pressure (gauge)"),
    ("bearing_temp", 3, "int16", 0.1, "degC", "drive-end bearing temperature"),
    ("vibration_rms", 4, "uint16", 0.01, "mm/s", "bearing housing vibration velocity, RMS"),
    ("running", 5, "uint16", 1.0, "", "1 when the motor runs, 0 when stopped"),
    ("motor_power", 6, "float32", 1.0, "kW", "motor electrical power"),
)


def _petrochem_points() -> tuple[Point, ...]:
    points: list[Point] = []
    for i, asset in enumerate(("P-101", "P-102", "P-103")):
        base = i * PUMP_STRIDE
        for tag, offset, data_type, scale, unit, meaning in _PUMP_POINTS:
            points.append(
                Point(tag, asset, "pump-station-1", unit, data_type, meaning,
                      table="input", address=base + offset, scale=scale)
            )  # fmt: skip
    points.extend(_modbus_meter_points("utilities"))
    return tuple(points)


def _petrochem_model(seed: int) -> PlantModel:
    pumps = [
        Pump("P-101", seed=seed * 100 + 1, phase_s=0.0),
        Pump("P-102", seed=seed * 100 + 2, phase_s=1800.0),
        Pump("P-103", seed=seed * 100 + 3, standby=True),
    ]
    meter = PowerMeter("meter-main", pumps, base_load_kw=12.0, seed=seed * 100 + 9,
                       initial_energy_kwh=906_400.0)  # fmt: skip
    return PlantModel({p.name: p for p in [*pumps, meter]}, meter)


MOLD = Plant(
    key="mold",
    site="ningbo-mold",
    display_name="Ningbo injection moulding plant",
    protocol="opcua",
    points=_mold_points(),
    build=_mold_model,
)
APPLIANCE = Plant(
    key="appliance",
    site="hefei-appliance",
    display_name="Hefei home-appliance assembly line",
    protocol="modbus",
    points=_appliance_points(),
    build=_appliance_model,
)
PETROCHEM = Plant(
    key="petrochem",
    site="zhenhai-petrochem",
    display_name="Zhenhai petrochemical pump station",
    protocol="modbus",
    points=_petrochem_points(),
    build=_petrochem_model,
)
