"""A synthetic region for tests and the demo: 35 enterprises in 5 districts and the 3
industry clouds, month by month, as ``EnterpriseFacts``.

SYNTHETIC DATA. No real enterprise is described. The machines are the simulated plants'
machine types (protocols/simulators/plants.py): injection moulding machines for the
mold cloud, assembly stations for the appliance cloud, pumps for the petrochemical
cloud, with the tags each reports in the simulators and a main meter per 15 machines.
Each enterprise draws, from a seed, a fleet size, a starting digital maturity and how
fast it grows; every count of a month follows from those (more machines connected,
more modules, higher OEE and lower energy per unit as maturity grows), with a little
month-to-month noise. The district and industry mix is fixed (mold in Beilun and
Yuyao, petrochemicals in Zhenhai and Beilun, appliances in Cixi and Yuyao, and a small
district, Yinzhou, with 4 enterprises) so that privacy merging is exercised.
"""

from __future__ import annotations

import calendar
import random
from dataclasses import dataclass
from functools import cache

from analytics.bureau.facts import EnterpriseFacts, Module, previous_periods
from protocols.simulators.machines import AssemblyStation, InjectionMouldingMachine, Pump
from protocols.simulators.plants import APPLIANCE, MOLD, PETROCHEM, Plant

# industry (plant key) -> industry cloud key, as the demo's tenants use (mingzhou/demo_tenants.py)
INDUSTRY_CLOUDS = {
    "mold": "mold-cloud",
    "appliance": "appliance-cloud",
    "petrochem": "petrochem-cloud",
}
# (district, industry, enterprises)
LAYOUT: tuple[tuple[str, str, int], ...] = (
    ("Beilun", "mold", 7),
    ("Beilun", "petrochem", 2),
    ("Yuyao", "mold", 5),
    ("Yuyao", "appliance", 3),
    ("Cixi", "appliance", 8),
    ("Zhenhai", "petrochem", 6),
    ("Yinzhou", "mold", 2),
    ("Yinzhou", "appliance", 2),
)
DEFAULT_SEED = 2026


@dataclass(frozen=True)
class _Industry:
    plant: Plant
    machines: tuple[int, int]  # fleet size range
    machine_kw: float  # mean electrical power of a running machine
    base_load_kw: float  # per 10 machines: lighting, compressed air, HVAC
    output_per_machine_hour: float
    output_unit: str
    yuan_per_unit: float
    # Share of the fleet under closed-loop/NC/DCS control at maturity 0 and 1. The
    # templates flag moulding machines and stations digital_control and pumps not
    # (unless a DCS runs them); older fleets hold machines without it.
    digital_share: tuple[float, float]
    has_oee: bool  # a pump station's throughput is not an OEE process


_INDUSTRIES = {
    "mold": _Industry(MOLD, (6, 30), 22.0, 12.0, 3600 / 24.0, "part", 1.8, (0.45, 1.0), True),
    # six stations make one line, a line turns out a unit per 30 s takt: 20 units/machine-h
    "appliance": _Industry(APPLIANCE, (8, 36), 2.5, 20.0, 20.0, "unit", 950.0, (0.5, 1.0), True),
    "petrochem": _Industry(PETROCHEM, (10, 48), 45.0, 30.0, 12.0, "t", 4200.0, (0.15, 0.9), False),
}  # fmt: skip


@cache
def _tags_per_machine(plant: Plant) -> tuple[int, int]:
    """(tags of one machine, tags of the main meter), counted from the simulated plant."""
    model = plant.model(1)
    machine_types = (InjectionMouldingMachine, AssemblyStation, Pump)
    machine = next(n for n, a in model.assets.items() if isinstance(a, machine_types))
    per_machine = sum(1 for p in plant.points if p.asset == machine)
    per_meter = sum(1 for p in plant.points if p.asset == model.meter.name)
    return per_machine, per_meter


@dataclass(frozen=True)
class _Profile:
    key: str
    district: str
    industry: str
    machines: int
    maturity: float  # 0..1 in the first month
    growth: float  # maturity gained per month
    reports_output: bool
    reports_value: bool


def _profiles(seed: int) -> list[_Profile]:
    out = []
    serial: dict[str, int] = {}
    for district, industry, count in LAYOUT:
        spec = _INDUSTRIES[industry]
        for _ in range(count):
            serial[industry] = serial.get(industry, 0) + 1
            key = f"synthetic-{industry}-{serial[industry]:02d}"
            rng = random.Random(f"{seed}:{key}")
            out.append(
                _Profile(
                    key=key,
                    district=district,
                    industry=industry,
                    machines=rng.randint(*spec.machines),
                    maturity=rng.uniform(0.02, 0.72),
                    growth=rng.uniform(0.0, 0.02),
                    reports_output=rng.random() < 0.8,
                    reports_value=rng.random() < 0.75,
                )
            )
    return out


def _clamp(x: float, low: float = 0.0, high: float = 1.0) -> float:
    return min(max(x, low), high)


def _month(profile: _Profile, period: str, step: int, seed: int) -> EnterpriseFacts:
    spec = _INDUSTRIES[profile.industry]
    rng = random.Random(f"{seed}:{profile.key}:{period}")
    m = min(profile.maturity + profile.growth * step, 0.97)
    n = profile.machines
    connected = round(n * _clamp(1.1 * m + rng.gauss(0.0, 0.03)))
    # Some machines are set up in the asset model before their PLC is wired.
    configured = min(n, connected + round(n * 0.1 * (1.0 - m)))
    per_machine, per_meter = _tags_per_machine(spec.plant)
    meters = 1 + n // 15
    tags_configured = configured * per_machine + (meters * per_meter if configured else 0)
    reporting_share = _clamp(0.6 + 0.38 * m + rng.gauss(0.0, 0.02))
    tags_reporting = round(connected * per_machine * reporting_share)
    tags_reporting += meters * per_meter if connected else 0
    uptime = None if connected == 0 else _clamp(0.75 + 0.24 * m + rng.gauss(0.0, 0.01))
    low, high = spec.digital_share
    digital = round(n * _clamp(low + (high - low) * m + rng.gauss(0.0, 0.02)))

    modules = set()
    if connected:
        modules.add(Module.MONITORING)
    if m > 0.25:
        modules.add(Module.ENERGY)
    if m > 0.4 and spec.has_oee:
        modules.add(Module.OEE)
    if m > 0.5:
        modules.add(Module.MAINTENANCE)

    days = calendar.monthrange(int(period[:4]), int(period[5:]))[1]
    hours = 24.0 * days
    running_hours = hours * _clamp(0.5 + 0.3 * m + rng.gauss(0.0, 0.02))
    oee = None
    if Module.OEE in modules:
        oee = _clamp(0.42 + 0.4 * m + rng.gauss(0.0, 0.03), 0.05, 0.95)
    energy = None
    if Module.ENERGY in modules:
        # Better-run plants waste less: idle machines switched off, leaks fixed.
        efficiency = 1.15 - 0.2 * m
        energy = (
            n * spec.machine_kw * running_hours + spec.base_load_kw * n / 10 * hours
        ) * efficiency
    output = n * running_hours * spec.output_per_machine_hour * rng.uniform(0.95, 1.05)
    output_known = Module.OEE in modules or profile.reports_output
    value = output * spec.yuan_per_unit * rng.uniform(0.9, 1.1) / 10_000.0
    under_model = round(connected * _clamp((m - 0.5) * 2.0)) if Module.MAINTENANCE in modules else 0
    raised = round(under_model * rng.uniform(0.05, 0.25))
    acted = sum(1 for _ in range(raised) if rng.random() < 0.45 + 0.5 * m)
    return EnterpriseFacts(
        enterprise_key=profile.key,
        period=period,
        district=profile.district,
        industry_cloud=INDUSTRY_CLOUDS[profile.industry],
        machines_registered=n,
        machines_connected=connected,
        tags_configured=tags_configured,
        tags_reporting=min(tags_reporting, tags_configured),
        agent_uptime=uptime,
        digital_control_machines=digital,
        modules_in_use=frozenset(modules),
        oee=oee,
        energy_kwh=round(energy, 1) if energy is not None else None,
        output_units=round(output) if output_known else None,
        output_unit=spec.output_unit if output_known else None,
        output_value_10k_yuan=round(value, 2) if profile.reports_value else None,
        machines_under_model=under_model,
        predictions_raised=raised,
        predictions_acted_on=acted,
    )


def build_region(
    period: str, *, months: int = 12, seed: int = DEFAULT_SEED
) -> list[EnterpriseFacts]:
    """Facts of every synthetic enterprise for the ``months`` months ending at ``period``.

    The same seed gives the same region; the enterprises do not depend on ``period``,
    only the months they are shown for.
    """
    periods = previous_periods(period, months)
    return [
        _month(profile, p, step, seed)
        for profile in _profiles(seed)
        for step, p in enumerate(periods)
    ]
