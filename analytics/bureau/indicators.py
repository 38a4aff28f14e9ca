"""The bureau's indicators of one enterprise and month, each computed from
``EnterpriseFacts`` alone, with its definition, unit and source.

An indicator is None, never 0, when an input is missing (no machines registered, no
agent, OEE module not in use, output value not reported), and ``missing_reason`` says
which. A zero means the platform measured zero.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from analytics.bureau.facts import EnterpriseFacts, Module


class Indicator(StrEnum):
    EQUIPMENT_NETWORKING_RATE = "equipment_networking_rate"
    DATA_COLLECTION_COVERAGE = "data_collection_coverage"
    COLLECTION_AVAILABILITY = "collection_availability"
    DIGITAL_CONTROL_RATE = "digital_control_rate"
    CLOUD_ADOPTION = "cloud_adoption"
    OEE_LEVEL = "oee_level"
    ENERGY_PER_UNIT = "energy_per_unit"
    ENERGY_PER_10K_YUAN = "energy_per_10k_yuan"
    PREDICTIVE_MAINTENANCE_COVERAGE = "predictive_maintenance_coverage"
    PREDICTION_ACTION_RATE = "prediction_action_rate"


@dataclass(frozen=True)
class IndicatorDefinition:
    key: Indicator
    name: str
    name_zh: str
    definition: str
    unit: str
    source: str
    # False for energy intensities: lower is better, and the composite index leaves them out.
    higher_is_better: bool = True
    # True when the value is only comparable between enterprises with the same output unit.
    per_output_unit: bool = False


DEFINITIONS: Mapping[Indicator, IndicatorDefinition] = {
    d.key: d
    for d in (
        IndicatorDefinition(
            Indicator.EQUIPMENT_NETWORKING_RATE,
            "Equipment networking rate",
            "设备联网率",
            "machines that reported data in the period ÷ machines in the asset register × 100",
            "%",
            "machines_connected (historian), machines_registered (asset model)",
        ),
        IndicatorDefinition(
            Indicator.DATA_COLLECTION_COVERAGE,
            "Data collection coverage",
            "数据采集覆盖率",
            "tags that reported data in the period ÷ tags configured in the asset model × 100",
            "%",
            "tags_reporting (historian), tags_configured (asset model)",
        ),
        IndicatorDefinition(
            Indicator.COLLECTION_AVAILABILITY,
            "Collection availability",
            "数据采集可用率",
            "share of the period the enterprise's edge agents were reporting × 100",
            "%",
            "agent_uptime (agent registry heartbeats)",
        ),
        IndicatorDefinition(
            Indicator.DIGITAL_CONTROL_RATE,
            "Key-process digital control rate",
            "关键工序数控化率",
            "machines flagged digital_control (closed-loop, NC or DCS) ÷ machines in the"
            " asset register × 100; every registered machine counts as a key process, since"
            " the asset model has no key-process flag",
            "%",
            "digital_control_machines, machines_registered (asset model)",
        ),
        IndicatorDefinition(
            Indicator.CLOUD_ADOPTION,
            "Cloud adoption",
            "业务上云率",
            "platform modules in use (monitoring, OEE, energy, maintenance) ÷ 4 × 100",
            "%",
            "modules_in_use (platform usage)",
        ),
        IndicatorDefinition(
            Indicator.OEE_LEVEL,
            "OEE level",
            "设备综合效率",
            "OEE per ISO 22400-2 (availability × effectiveness × quality) × 100",
            "%",
            "oee (analytics/production)",
        ),
        IndicatorDefinition(
            Indicator.ENERGY_PER_UNIT,
            "Energy per unit of output",
            "单位产品能耗",
            "electrical energy ÷ output in the period",
            "kWh/unit",
            "energy_kwh (energy meters), output_units and output_unit (production counters"
            " or enterprise report)",
            higher_is_better=False,
            per_output_unit=True,
        ),
        IndicatorDefinition(
            Indicator.ENERGY_PER_10K_YUAN,
            "Energy per 10,000 yuan of output value",
            "万元产值电耗",
            "electrical energy ÷ gross output value in 10,000 yuan",
            "kWh/10⁴ yuan",
            "energy_kwh (energy meters), output_value_10k_yuan (enterprise report)",
            higher_is_better=False,
        ),
        IndicatorDefinition(
            Indicator.PREDICTIVE_MAINTENANCE_COVERAGE,
            "Predictive-maintenance coverage",
            "预测性维护覆盖率",
            "machines scored by an active predictive-maintenance model ÷ machines in the"
            " asset register × 100",
            "%",
            "machines_under_model (maintenance registry), machines_registered (asset model)",
        ),
        IndicatorDefinition(
            Indicator.PREDICTION_ACTION_RATE,
            "Predictions acted on",
            "预警处置率",
            "predictions with a work order opened ÷ predictions raised in the period × 100",
            "%",
            "predictions_acted_on (work orders), predictions_raised (maintenance predictions)",
        ),
    )
}


@dataclass(frozen=True)
class IndicatorValue:
    value: float | None
    # Why ``value`` is None (which input is missing); None when there is a value.
    missing_reason: str | None = None


@dataclass(frozen=True)
class EnterpriseIndicators:
    """Every indicator of one enterprise and month. Carries no enterprise key: whoever
    holds the facts keeps the pairing."""

    period: str
    values: Mapping[Indicator, IndicatorValue]
    # Copied from the facts so energy per unit can be averaged over one unit only.
    output_unit: str | None = None

    def value(self, key: Indicator | str) -> float | None:
        return self.values[Indicator(key)].value


def _percent(part: int, whole: int, empty: str) -> IndicatorValue:
    if whole == 0:
        return IndicatorValue(None, empty)
    return IndicatorValue(100.0 * part / whole)


def equipment_networking_rate(f: EnterpriseFacts) -> IndicatorValue:
    return _percent(f.machines_connected, f.machines_registered, "no machine in the asset register")


def data_collection_coverage(f: EnterpriseFacts) -> IndicatorValue:
    return _percent(f.tags_reporting, f.tags_configured, "no tag configured in the asset model")


def collection_availability(f: EnterpriseFacts) -> IndicatorValue:
    if f.agent_uptime is None:
        return IndicatorValue(None, "no edge agent registered")
    return IndicatorValue(100.0 * f.agent_uptime)


def digital_control_rate(f: EnterpriseFacts) -> IndicatorValue:
    return _percent(
        f.digital_control_machines, f.machines_registered, "no machine in the asset register"
    )


def cloud_adoption(f: EnterpriseFacts) -> IndicatorValue:
    return IndicatorValue(100.0 * len(f.modules_in_use) / len(Module))


def oee_level(f: EnterpriseFacts) -> IndicatorValue:
    if f.oee is None:
        return IndicatorValue(None, "no OEE for the period (OEE module not in use or undefined)")
    if f.oee > 1:
        # ISO 22400 OEE cannot exceed 1; above it the ideal cycle time is misconfigured,
        # and a bureau average must not reward that.
        return IndicatorValue(None, f"OEE {f.oee:.3f} is above 1: ideal cycle time misconfigured")
    return IndicatorValue(100.0 * f.oee)


def energy_per_unit(f: EnterpriseFacts) -> IndicatorValue:
    if f.energy_kwh is None:
        return IndicatorValue(None, "no energy metered")
    if f.output_units is None or f.output_unit is None:
        return IndicatorValue(None, "output (with its unit) not known")
    if f.output_units == 0:
        return IndicatorValue(None, "no output in the period")
    return IndicatorValue(f.energy_kwh / f.output_units)


def energy_per_10k_yuan(f: EnterpriseFacts) -> IndicatorValue:
    if f.energy_kwh is None:
        return IndicatorValue(None, "no energy metered")
    if f.output_value_10k_yuan is None:
        return IndicatorValue(None, "output value not reported by the enterprise")
    if f.output_value_10k_yuan == 0:
        return IndicatorValue(None, "output value reported as 0")
    return IndicatorValue(f.energy_kwh / f.output_value_10k_yuan)


def predictive_maintenance_coverage(f: EnterpriseFacts) -> IndicatorValue:
    return _percent(
        f.machines_under_model, f.machines_registered, "no machine in the asset register"
    )


def prediction_action_rate(f: EnterpriseFacts) -> IndicatorValue:
    return _percent(
        f.predictions_acted_on, f.predictions_raised, "no prediction raised in the period"
    )


COMPUTE: Mapping[Indicator, Callable[[EnterpriseFacts], IndicatorValue]] = {
    Indicator.EQUIPMENT_NETWORKING_RATE: equipment_networking_rate,
    Indicator.DATA_COLLECTION_COVERAGE: data_collection_coverage,
    Indicator.COLLECTION_AVAILABILITY: collection_availability,
    Indicator.DIGITAL_CONTROL_RATE: digital_control_rate,
    Indicator.CLOUD_ADOPTION: cloud_adoption,
    Indicator.OEE_LEVEL: oee_level,
    Indicator.ENERGY_PER_UNIT: energy_per_unit,
    Indicator.ENERGY_PER_10K_YUAN: energy_per_10k_yuan,
    Indicator.PREDICTIVE_MAINTENANCE_COVERAGE: predictive_maintenance_coverage,
    Indicator.PREDICTION_ACTION_RATE: prediction_action_rate,
}


def compute_indicators(facts: EnterpriseFacts) -> EnterpriseIndicators:
    """Every indicator of ``facts``, in ``Indicator`` order."""
    return EnterpriseIndicators(
        period=facts.period,
        values={key: COMPUTE[key](facts) for key in Indicator},
        output_unit=facts.output_unit,
    )
