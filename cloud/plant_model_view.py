"""A tenant's asset model as the plant manager's pages need it: read-only, plain data.

The pages never touch the ORM classes of ``tenants.asset_model`` directly: this adapter
reads a site's lines, assets and tags once and turns them into

- ``analytics.production`` inputs (``AssetSignals`` per machine with a state tag,
  ``LineSpec`` with its output asset and plan, ``SiteSpec``),
- the site's shift calendar (a default until sites carry one),
- the power meters whose counter or power feeds the energy page,

so a change of the asset model's shape touches this module only.

Conventions read from the model (all optional asset attributes, settable through
``PATCH /api/tenants/{key}/assets/...``):

- ``ideal_cycle_time_s``: ISO 22400's planned run time per item (templates set it);
- ``planned_output_per_hour``: the plan of the line's output asset(s); without it the
  plan is ``DEFAULT_PLAN_SHARE`` of the capacity at the ideal cycle time, marked so;
- ``line_output: true``: this asset's good parts are the line's output (a serial line's
  last station). Without it an end-of-line tester is, else the last of a line made only
  of assembly stations, else the line's output is the sum of its machines';
- ``counter_modulus``: where the part counters wrap (default 2**32 for integer counters);
- ``main_meter: true``: the site's main power meter (default: the first power meter).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from analytics.production import (
    AssetSignals,
    LineSpec,
    ProductionPlan,
    Shift,
    ShiftCalendar,
    SiteSpec,
)
from historian import SeriesKey
from tenants.asset_model import Asset, Line, Site

# A plan nobody set is a target of 85 % of what the line makes at its ideal cycle time:
# the usual world-class OEE, so "on plan" means "running like a good plant".
DEFAULT_PLAN_SHARE = 0.85
DEFAULT_TIMEZONE = "Asia/Shanghai"
# Three 8-hour shifts from 08:00 local time, every day (configurable per site later).
DEFAULT_SHIFTS = (
    Shift("A", time(8), time(16)),
    Shift("B", time(16), time(0)),
    Shift("C", time(0), time(8)),
)
# The edge agent resends unchanged values every 60 s: three heartbeats of silence is a gap.
MAX_GAP_S = 180.0
UINT32 = 2**32
PRODUCTION_ROLES = ("state", "count_total", "count_scrap", "cycle_time", "power_kw", "energy_kwh")


@dataclass(frozen=True)
class PlantTag:
    key: str
    unit: str
    kind: str
    low: float | None
    high: float | None
    meaning: str
    role: str | None
    states: dict[str, dict[str, str]] | None

    @property
    def numeric(self) -> bool:
        return self.kind in ("float", "int")


@dataclass(frozen=True)
class PlantAsset:
    site: str
    line: str
    key: str
    name: str
    asset_type: str
    attributes: dict[str, Any]
    tags: tuple[PlantTag, ...]

    def tag(self, key: str) -> PlantTag | None:
        return next((t for t in self.tags if t.key == key), None)

    def role_tag(self, role: str) -> PlantTag | None:
        """The first tag playing ``role`` (a template gives each production role once)."""
        return next((t for t in self.tags if t.role == role), None)

    def series(self, tag: str) -> SeriesKey:
        return SeriesKey(self.site, self.line, self.key, tag)

    @property
    def state_tag(self) -> PlantTag | None:
        tag = self.role_tag("state")
        return tag if tag is not None and tag.states else None

    @property
    def produces(self) -> bool:
        """Has a state tag with a state map: its time can be classified for OEE."""
        return self.state_tag is not None

    @property
    def ideal_cycle_time_s(self) -> float | None:
        value = self.attributes.get("ideal_cycle_time_s")
        ok = isinstance(value, int | float) and not isinstance(value, bool) and value > 0
        return float(value) if ok else None

    @property
    def is_meter(self) -> bool:
        """A meter measures others: it has power or energy but no state of its own."""
        has_energy = self.role_tag("energy_kwh") or self.role_tag("power_kw")
        return bool(has_energy) and not self.produces and self.asset_type == "power_meter"


@dataclass(frozen=True)
class PlantLine:
    site: str
    key: str
    name: str
    assets: tuple[PlantAsset, ...]

    @property
    def machines(self) -> tuple[PlantAsset, ...]:
        return tuple(a for a in self.assets if a.produces)


@dataclass(frozen=True)
class PlantMeter:
    """A power meter: its energy counter and/or its power series."""

    asset: PlantAsset
    counter: SeriesKey | None
    power: SeriesKey | None


@dataclass(frozen=True)
class PlanSource:
    """Where a line's plan comes from, so the page can say whether someone set it."""

    plan: ProductionPlan | None
    per_hour: float | None
    set_by_attribute: bool


@dataclass(frozen=True)
class PlantSite:
    key: str
    name: str
    district: str | None
    lines: tuple[PlantLine, ...]

    def line(self, key: str) -> PlantLine | None:
        return next((line for line in self.lines if line.key == key), None)

    def asset(self, line: str, asset: str) -> PlantAsset | None:
        found = self.line(line)
        return None if found is None else next((a for a in found.assets if a.key == asset), None)

    @property
    def machines(self) -> tuple[PlantAsset, ...]:
        return tuple(a for line in self.lines for a in line.machines)

    @property
    def production_lines(self) -> tuple[PlantLine, ...]:
        return tuple(line for line in self.lines if line.machines)


def _tag(row: Any) -> PlantTag:
    return PlantTag(
        key=row.key,
        unit=row.unit or "",
        kind=row.kind,
        low=row.low,
        high=row.high,
        meaning=row.meaning or "",
        role=row.role,
        states=dict(row.states) if row.states else None,
    )


def _site(row: Site) -> PlantSite:
    lines = []
    for line in sorted(row.lines, key=lambda x: x.id):
        assets = tuple(
            PlantAsset(
                site=row.key,
                line=line.key,
                key=a.key,
                name=a.name or a.key,
                asset_type=a.asset_type,
                attributes=dict(a.attributes or {}),
                tags=tuple(_tag(t) for t in a.tags),
            )
            for a in sorted(line.assets, key=lambda a: a.id)
        )
        lines.append(PlantLine(row.key, line.key, line.name or line.key, assets))
    return PlantSite(row.key, row.name or row.key, row.district, tuple(lines))


def _query(tenant_id: int):  # type: ignore[no-untyped-def]
    return (
        select(Site)
        .where(Site.tenant_id == tenant_id)
        .order_by(Site.id)
        .options(selectinload(Site.lines).selectinload(Line.assets).selectinload(Asset.tags))
    )


def load_sites(session: Session, tenant_id: int) -> list[PlantSite]:
    """Every site of the tenant, with lines, assets and tags, in the order they were made."""
    return [_site(row) for row in session.scalars(_query(tenant_id))]


def load_site(session: Session, tenant_id: int, site_key: str) -> PlantSite | None:
    row = session.scalar(_query(tenant_id).where(Site.key == site_key))
    return None if row is None else _site(row)


# --- analytics.production inputs ------------------------------------------------------


def site_calendar(site: PlantSite) -> ShiftCalendar:
    """The site's shift calendar: for now the default three shifts in Asia/Shanghai."""
    return ShiftCalendar(DEFAULT_TIMEZONE, DEFAULT_SHIFTS)


def _counter_modulus(asset: PlantAsset, tag: PlantTag | None) -> int | None:
    value = asset.attributes.get("counter_modulus")
    if isinstance(value, int) and not isinstance(value, bool) and value >= 2:
        return value
    # PLC part counters are unsigned 32-bit almost everywhere; a decrease that is not
    # near the top of that range still reads as a reset, so the default is safe.
    return UINT32 if tag is not None and tag.kind == "int" else None


def asset_signals(asset: PlantAsset) -> AssetSignals | None:
    """The machine's production signals; None for an asset without a state map."""
    state = asset.state_tag
    if state is None:
        return None
    roles = {role: tag.key for role in PRODUCTION_ROLES if (tag := asset.role_tag(role))}
    return AssetSignals.from_roles(
        asset.site,
        asset.line,
        asset.key,
        roles=roles,
        states=state.states or {},
        ideal_cycle_time_s=asset.ideal_cycle_time_s,
        counter_modulus=_counter_modulus(asset, asset.role_tag("count_total")),
        max_gap_s=MAX_GAP_S,
        name=asset.name,
    )


def output_asset(line: PlantLine) -> PlantAsset | None:
    """The machine whose good parts are the line's output; None: the sum of all."""
    machines = line.machines
    marked = [a for a in machines if a.attributes.get("line_output") is True]
    if marked:
        return marked[0]
    testers = [a for a in machines if a.asset_type == "end_of_line_tester"]
    if testers:
        return testers[-1]
    if len(machines) > 1 and all(a.asset_type == "assembly_station" for a in machines):
        # Stations of one assembly line work in series: each counts the same part.
        return sorted(machines, key=lambda a: a.key)[-1]
    return None


def _positive(value: Any) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and value > 0
    return float(value) if ok else None


def line_plan(line: PlantLine) -> PlanSource:
    """The line's plan per planned production hour, from its output asset(s)."""
    out = output_asset(line)
    sources = (out,) if out is not None else line.machines
    set_values = [_positive(a.attributes.get("planned_output_per_hour")) for a in sources]
    if sources and all(v is not None for v in set_values):
        per_hour = sum(v for v in set_values if v is not None)
        return PlanSource(ProductionPlan(per_hour=per_hour), per_hour, True)
    ideals = [a.ideal_cycle_time_s for a in sources]
    if not sources or any(i is None for i in ideals):
        return PlanSource(None, None, False)
    per_hour = DEFAULT_PLAN_SHARE * sum(3600.0 / i for i in ideals if i)
    return PlanSource(ProductionPlan(per_hour=per_hour), per_hour, False)


def site_spec(site: PlantSite) -> SiteSpec | None:
    """The site's production lines as analytics.production sees them; None without any
    machine that has a state tag."""
    lines = []
    for line in site.production_lines:
        signals = tuple(s for a in line.machines if (s := asset_signals(a)) is not None)
        out = output_asset(line)
        lines.append(
            LineSpec(
                line.key,
                signals,
                output_asset=out.key if out is not None else None,
                plan=line_plan(line).plan,
                name=line.name,
            )
        )
    if not lines:
        return None
    return SiteSpec(site.key, tuple(lines), name=site.name)


# --- energy ---------------------------------------------------------------------------


def power_meters(site: PlantSite) -> list[PlantMeter]:
    """The site's power meters, the main one first."""
    meters = []
    for line in site.lines:
        for asset in line.assets:
            if not asset.is_meter:
                continue
            counter = asset.role_tag("energy_kwh")
            power = asset.role_tag("power_kw")
            meters.append(
                PlantMeter(
                    asset,
                    asset.series(counter.key) if counter else None,
                    asset.series(power.key) if power else None,
                )
            )
    meters.sort(key=lambda m: m.asset.attributes.get("main_meter") is not True)
    return meters


def machine_power(asset: PlantAsset) -> SeriesKey | None:
    """The power series of a machine, for idle-time waste."""
    tag = asset.role_tag("power_kw")
    return asset.series(tag.key) if tag is not None else None
