"""What the platform knows about one enterprise over one month: the only input of the
bureau's indicators.

``EnterpriseFacts`` is plain counts and totals, gathered from the metadata store (asset
register, agent registry, modules, maintenance) and the enterprise's historian. The
gatherer that reads the platform lives elsewhere; ``analytics.bureau.region`` builds
synthetic facts for tests and the demo. Validation here refuses impossible facts (more
machines connected than registered, an uptime of 1.3) so an indicator never silently
exceeds 100 %.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from typing import Any

_PERIOD = re.compile(r"^(\d{4})-(\d{2})$")


class Module(StrEnum):
    """Platform modules an enterprise can use; cloud adoption counts them."""

    MONITORING = "monitoring"  # live dashboards and the historian (data reaches the cloud)
    OEE = "oee"  # ISO 22400 OEE and production KPIs (analytics/production)
    ENERGY = "energy"  # energy KPIs, baselines and savings (analytics/energy)
    MAINTENANCE = "maintenance"  # predictive maintenance: models, predictions, work orders


class FactsError(ValueError):
    """Facts that cannot be true; the message names the enterprise, period and field."""


def check_period(period: str) -> str:
    """``period`` if it is a month written ``YYYY-MM``; else ValueError saying why."""
    match = _PERIOD.match(period) if isinstance(period, str) else None
    if match is None or not 1 <= int(match.group(2)) <= 12:
        raise ValueError(f"period {period!r} is not a month written YYYY-MM (e.g. 2026-10)")
    return period


def previous_periods(period: str, months: int) -> list[str]:
    """The ``months`` months ending with ``period``, oldest first."""
    check_period(period)
    if months < 1:
        raise ValueError(f"months must be at least 1, not {months}")
    year, month = int(period[:4]), int(period[5:])
    index = year * 12 + month - 1
    return [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in range(index - months + 1, index + 1)]


@dataclass(frozen=True)
class EnterpriseFacts:
    """One enterprise over one calendar month.

    Counts are whole numbers ≥ 0; an optional quantity is None when the platform does not
    know it (then every indicator built on it is None, never 0). "Machine" means a piece
    of production equipment in the asset register: meters and passive tooling (moulds)
    are assets but not machines, and the gatherer leaves them out of every machine count.
    """

    # Opaque key of the enterprise (the tenant key). Used only to tell enterprises apart
    # inside the package (one set of facts per enterprise and month); no bureau output
    # type has a field for it.
    enterprise_key: str
    # The month the facts cover, ``YYYY-MM`` (calendar month, platform time zone).
    period: str
    # District of the enterprise (tenants.district); None when not set.
    district: str | None
    # Key of the industry cloud the tenant belongs to (industry_clouds.key), e.g.
    # ``mold-cloud``; None for an enterprise outside every industry cloud.
    industry_cloud: str | None
    # Machines in the asset register at the end of the period (asset model, assets whose
    # template is production equipment). Unit: machines.
    machines_registered: int
    # Of those, machines with at least one point stored in the period (historian: any
    # series whose asset is the machine). Unit: machines. ≤ machines_registered.
    machines_connected: int
    # Tags configured in the asset model at the end of the period, on every asset
    # (machines, meters, tooling). Unit: tags.
    tags_configured: int
    # Of those, tags with at least one point stored in the period (historian). Unit: tags.
    tags_reporting: int
    # Fraction of the period (0–1) during which the enterprise's edge agents reported in
    # (agent registry: heartbeat intervals), averaged over its agents weighted by the
    # time each was expected to run. None when the enterprise has no agent.
    agent_uptime: float | None
    # Registered machines flagged ``digital_control`` in the asset model (closed-loop or
    # numerical control, or run by a DCS). Unit: machines. ≤ machines_registered.
    digital_control_machines: int
    # Platform modules the enterprise used in the period (at least one page view, job or
    # configured object of the module; the gatherer decides and documents it).
    modules_in_use: frozenset[Module]
    # OEE over the period per ISO 22400-2 (availability × effectiveness × quality), a
    # fraction, from analytics/production for the enterprise's lines weighted by planned
    # busy time. None when the OEE module is not in use or OEE is undefined.
    oee: float | None
    # Electrical energy used in the period, kWh (energy module: main meters' energy
    # counters, resets handled). None when no meter reports.
    energy_kwh: float | None
    # Output in the period, in ``output_unit`` (production counters: good parts or units
    # for discrete plants; tonnes reported by the enterprise for process plants). None when
    # unknown.
    output_units: float | None
    # What one output unit is ("part", "unit", "t"); energy per unit is averaged only over
    # enterprises that count output in the same unit.
    output_unit: str | None
    # Gross output value in the period, in 10,000 yuan (万元), reported by the enterprise
    # (optional; the platform cannot measure it). None when not reported.
    output_value_10k_yuan: float | None
    # Registered machines scored by at least one active predictive-maintenance model at
    # the end of the period (maintenance registry). Unit: machines. ≤ machines_registered.
    machines_under_model: int
    # Predictions (alerts of a failure or anomaly) raised in the period (maintenance).
    predictions_raised: int
    # Of those, predictions a work order was opened for (maintenance work orders).
    # ≤ predictions_raised.
    predictions_acted_on: int

    def __post_init__(self) -> None:
        where = f"facts of {self.enterprise_key!r} for {self.period!r}"

        def fail(name: str, why: str) -> FactsError:
            return FactsError(f"{where}: {name}: {why}")

        if not isinstance(self.enterprise_key, str) or not self.enterprise_key.strip():
            raise fail("enterprise_key", "must be a non-empty string")
        try:
            check_period(self.period)
        except ValueError as exc:
            raise fail("period", str(exc)) from None
        for name in ("district", "industry_cloud", "output_unit"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise fail(name, "must be a non-empty string or None")
        for name in _COUNT_FIELDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise fail(name, f"must be a whole number ≥ 0, not {value!r}")
        for part, whole in _PARTS_OF:
            if getattr(self, part) > getattr(self, whole):
                raise fail(
                    part,
                    f"{getattr(self, part)} is more than {whole} ({getattr(self, whole)});"
                    " it counts a subset of them",
                )
        for name in ("agent_uptime", "oee", "energy_kwh", "output_units", "output_value_10k_yuan"):
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise fail(name, f"must be a number or None, not {value!r}")
            if not math.isfinite(value) or value < 0:
                raise fail(name, f"must be a finite number ≥ 0, not {value!r}")
        if self.agent_uptime is not None and self.agent_uptime > 1:
            raise fail(
                "agent_uptime", f"is a fraction of the period (0–1), not {self.agent_uptime}"
            )
        modules = self.modules_in_use
        if isinstance(modules, str) or not isinstance(modules, Iterable):
            raise fail("modules_in_use", f"must be a set of modules, not {modules!r}")
        try:
            object.__setattr__(self, "modules_in_use", frozenset(Module(m) for m in modules))
        except ValueError:
            known = ", ".join(m.value for m in Module)
            raise fail("modules_in_use", f"{sorted(map(str, modules))} holds an unknown module;"
                       f" known: {known}") from None  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (modules as a sorted list), e.g. to pass facts to a job."""
        out = asdict(self)
        out["modules_in_use"] = sorted(m.value for m in self.modules_in_use)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EnterpriseFacts:
        """The inverse of ``to_dict``; unknown or missing fields are a FactsError."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise FactsError(f"facts: unknown field(s) {unknown}; known: {sorted(names)}")
        missing = sorted(names - set(data))
        if missing:
            raise FactsError(f"facts: missing field(s) {missing}")
        return cls(**dict(data))


_COUNT_FIELDS = (
    "machines_registered",
    "machines_connected",
    "tags_configured",
    "tags_reporting",
    "digital_control_machines",
    "machines_under_model",
    "predictions_raised",
    "predictions_acted_on",
)
_PARTS_OF = (
    ("machines_connected", "machines_registered"),
    ("tags_reporting", "tags_configured"),
    ("digital_control_machines", "machines_registered"),
    ("machines_under_model", "machines_registered"),
    ("predictions_acted_on", "predictions_raised"),
)
