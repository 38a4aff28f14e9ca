"""The causes a service engineer can record when closing a work order, per asset type.

A fixed list per type (rather than free text) is what lets the causes become training
labels: "bearing_wear" on ten pumps is a class, ten spellings of it are not.
``no_fault_found`` marks a false alarm, which tells the next training that the asset
was healthy then.
"""

from __future__ import annotations

NO_FAULT_FOUND = "no_fault_found"

CAUSES: dict[str, tuple[str, ...]] = {
    "pump": (
        "bearing_wear",
        "seal_leak",
        "impeller_damage",
        "cavitation",
        "misalignment",
        "motor_fault",
        "blocked_suction",
        "sensor_fault",
        NO_FAULT_FOUND,
    ),
    "injection_moulding_machine": (
        "heater_failure",
        "thermocouple_fault",
        "hydraulic_leak",
        "screw_or_barrel_wear",
        "check_ring_wear",
        "mould_cooling_blocked",
        "sensor_fault",
        NO_FAULT_FOUND,
    ),
    "assembly_station": (
        "screwdriver_fault",
        "conveyor_jam",
        "motor_fault",
        "leak_tester_fault",
        "sensor_fault",
        NO_FAULT_FOUND,
    ),
}
# Any other asset type: causes broad enough to label every machine.
GENERIC_CAUSES: tuple[str, ...] = (
    "mechanical_wear",
    "electrical_fault",
    "hydraulic_or_pneumatic_fault",
    "overheating",
    "process_upset",
    "sensor_fault",
    "other",
    NO_FAULT_FOUND,
)


def causes_for(asset_type: str) -> tuple[str, ...]:
    return CAUSES.get(asset_type, GENERIC_CAUSES)
