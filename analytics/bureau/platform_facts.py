"""Each enterprise's ``EnterpriseFacts`` of one month, gathered from the platform: the
metadata store (asset model, agent registry, maintenance registry, alerts and work
orders, reported output) and the enterprise's own historian.

How each fact is read (the README's table "Facts from the platform" says the same):

- A **machine** is an asset of the register whose template is production equipment:
  power meters measure others and moulds are passive tooling (``NOT_MACHINES``).
- A series **reports** when it holds at least one point in the month; a machine is
  **connected** when any series of it reports (tags outside the model included). Tags
  configured are every tag of every asset in the model.
- **Modules in use** in the month: monitoring when any series reports; OEE when a machine
  with a state map and a part counter (``state`` and ``count_total`` roles) reports its
  state; energy when a power meter reports power or energy; maintenance when a
  predictive model was promoted at the end of the month.
- **OEE** is the plant pages' own (``analytics.production`` through
  ``cloud.plant_model_view``: the same shift calendar, line outputs and gap rules), over
  the machines that count OEE and reported their state in the month, per line, the lines
  weighted by planned busy time. **Output** is those lines' good output; its unit comes
  from the output machines' templates (parts of a moulding machine, units of an
  assembly line), or the asset attribute ``output_unit``.
- **Energy** is each site's main meter (the plant pages' choice: ``main_meter`` or the
  first meter), from its energy counter or else its power, summed over sites.
- **Output value** (and output in tonnes where no counter counts it) is what the
  enterprise reported for the month (``analytics.bureau.reported_output``).
- **Agent uptime** is ``tenants.agent_contact_days``: the share of the month its agents
  were reporting, each from its registration.
- **Maintenance**: machines in the asset list of a model version that was promoted at
  the end of the month; alerts raised in the month (a prediction over a service
  contract's threshold), and of those, the ones a work order was opened for within
  ``ACTION_WINDOW`` of the alert.

Months are calendar months in ``BUREAU_TIMEZONE``; the current month ends now.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from analytics.bureau.facts import EnterpriseFacts, Module, check_period
from analytics.bureau.reported_output import reported_output
from analytics.energy.historian_source import meter_frame
from analytics.production import production_report
from cloud.plant_model_view import (
    DEFAULT_TIMEZONE,
    PlantAsset,
    PlantSite,
    load_sites,
    output_asset,
    power_meters,
    site_calendar,
    site_spec,
)
from historian import Historian, HistorianError, SeriesKey
from maintenance.alert_models import Alert
from maintenance.registry_models import ModelVersion
from maintenance.work_order_models import WorkOrder
from tenants.agent_contact_days import tenant_agent_uptime
from tenants.asset_model import Asset, Line, Site
from tenants.models import Tenant

# The platform's local time: the plant pages' calendar and the bureau's months.
BUREAU_TIMEZONE = DEFAULT_TIMEZONE
# Asset templates that are not production equipment: meters measure other machines,
# moulds are tooling run by a machine. Neither counts as a machine.
NOT_MACHINES = frozenset({"power_meter", "mould"})
# What one unit of output is, by the template of the machine counting it.
OUTPUT_UNITS = {
    "injection_moulding_machine": "part",
    "mould": "part",
    "assembly_station": "unit",
    "end_of_line_tester": "unit",
}
# An alert counts as acted on when a work order follows within a week: a service team
# that answers later is not acting on the prediction but on the failure.
ACTION_WINDOW = timedelta(days=7)
ENERGY_INTERVAL = "1h"

Progress = Callable[[int, int, str], None]


class HistorianSource(Protocol):
    """Anything that opens a tenant's historian by its database name (TenantStorage)."""

    def historian(self, database: str) -> Historian: ...


@dataclass(frozen=True)
class MonthRange:
    """A calendar month in the bureau's time zone, as aware UTC instants [start, end)."""

    period: str
    start: datetime
    end: datetime
    complete: bool  # False for the current month, which ends now

    @property
    def start_ns(self) -> int:
        return _ns(self.start)

    @property
    def end_ns(self) -> int:
        return _ns(self.end)


def _ns(moment: datetime) -> int:
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def month_range(period: str, now: datetime | None = None) -> MonthRange:
    """The month ``period`` (``YYYY-MM``); a month that has not begun is a ValueError."""
    check_period(period)
    now = (now or datetime.now(UTC)).astimezone(UTC)
    zone = ZoneInfo(BUREAU_TIMEZONE)
    year, month = int(period[:4]), int(period[5:])
    start = datetime(year, month, 1, tzinfo=zone).astimezone(UTC)
    days = calendar.monthrange(year, month)[1]
    end = (datetime(year, month, days, tzinfo=zone) + timedelta(days=1)).astimezone(UTC)
    if now <= start:
        raise ValueError(f"period {period} has not begun yet ({BUREAU_TIMEZONE})")
    if now < end:
        return MonthRange(period, start, now, complete=False)
    return MonthRange(period, start, end, complete=True)


def previous_month(now: datetime) -> str:
    """The last complete month before ``now`` in the bureau's time zone."""
    local = now.astimezone(ZoneInfo(BUREAU_TIMEZONE))
    year, month = (local.year, local.month - 1) if local.month > 1 else (local.year - 1, 12)
    return f"{year:04d}-{month:02d}"


def _assets(sites: Iterable[PlantSite]) -> list[PlantAsset]:
    return [a for site in sites for line in site.lines for a in line.assets]


def _where(asset: PlantAsset) -> tuple[str, str, str]:
    return (asset.site, asset.line, asset.key)


def reporting_series(historian: Historian, start_ns: int, end_ns: int) -> set[SeriesKey]:
    """Every series of the historian with at least one point in [start_ns, end_ns)."""
    candidates = [
        info.key for info in historian.list_series() if info.last_timestamp_ns >= start_ns
    ]
    if not candidates:
        return set()
    # One point per series is enough to know it reported: one round trip for all.
    answers = historian.read_many(sorted(set(candidates)), start_ns, end_ns, limit=1)
    return {answer.key for answer in answers if answer.rows}


def _digital_control(session: Session, tenant_id: int) -> dict[tuple[str, str, str], bool]:
    rows = session.execute(
        select(Site.key, Line.key, Asset.key, Asset.digital_control)
        .join(Line, Line.site_id == Site.id)
        .join(Asset, Asset.line_id == Line.id)
        .where(Site.tenant_id == tenant_id)
    ).all()
    return {(s, ln, a): bool(dc) for s, ln, a, dc in rows}


def _counts_oee(asset: PlantAsset) -> bool:
    return asset.produces and asset.role_tag("count_total") is not None


def _output_unit(asset: PlantAsset) -> str | None:
    declared = asset.attributes.get("output_unit")
    if isinstance(declared, str) and declared.strip():
        return declared.strip()
    return OUTPUT_UNITS.get(asset.asset_type)


@dataclass(frozen=True)
class _Production:
    oee: float | None
    output: float | None
    unit: str | None


def _production(
    historian: Historian, sites: list[PlantSite], reporting: set[SeriesKey], month: MonthRange
) -> _Production:
    """OEE (lines weighted by planned busy time) and good output of the machines that
    count OEE and reported their state in the month."""
    weighted, busy = 0.0, 0.0
    output, units = 0.0, set()
    any_line = False
    for site in sites:
        lines = []
        for line in site.lines:
            kept = tuple(
                a
                for a in line.assets
                if not a.produces or (_counts_oee(a) and a.series(a.state_tag.key) in reporting)  # type: ignore[union-attr]
            )
            lines.append(replace(line, assets=kept))
        counted = replace(site, lines=tuple(lines))
        spec = site_spec(counted)
        if spec is None:
            continue
        report = production_report(
            historian,
            spec,
            site_calendar(site),
            month.start_ns,
            month.end_ns,
            hours=False,
            shifts=False,
        )
        for plant_line in counted.production_lines:
            kpis = report.whole.lines[plant_line.key]
            any_line = True
            if kpis.oee is not None and kpis.pbt_s > 0:
                weighted += kpis.oee * kpis.pbt_s
                busy += kpis.pbt_s
            out = output_asset(plant_line)
            counting = (out,) if out is not None else plant_line.machines
            units |= {_output_unit(a) for a in counting}
            output += kpis.output_quantity
    if not any_line:
        return _Production(None, None, None)
    oee = weighted / busy if busy > 0 else None
    # Parts and units cannot be added up; neither can output of an unknown unit.
    if len(units) != 1 or None in units:
        return _Production(oee, None, None)
    return _Production(oee, output, units.pop())


def _energy(
    historian: Historian, sites: list[PlantSite], reporting: set[SeriesKey], month: MonthRange
) -> float | None:
    total, metered = 0.0, False
    for site in sites:
        meters = power_meters(site)  # the main one first
        if not meters:
            continue
        main = meters[0]
        counter = main.counter if main.counter in reporting else None
        power = main.power if main.power in reporting else None
        if counter is None and power is None:
            continue
        frame = meter_frame(
            historian,
            month.start_ns,
            month.end_ns,
            counter=counter,
            power=None if counter is not None else power,
            interval=ENERGY_INTERVAL,
            timezone=BUREAU_TIMEZONE,
        )
        if len(frame):
            total += float(frame["kwh"].sum())
            metered = True
    return total if metered else None


@dataclass(frozen=True)
class _Maintenance:
    in_use: bool
    machines_under_model: int
    raised: int
    acted_on: int


def _maintenance(
    session: Session,
    tenant_id: int,
    machines: set[tuple[str, str, str]],
    month: MonthRange,
) -> _Maintenance:
    # Promoted at the end of the month: promoted by then, and not retired before it.
    versions = session.scalars(
        select(ModelVersion).where(
            ModelVersion.tenant_id == tenant_id,
            ModelVersion.promoted_at.is_not(None),
            ModelVersion.promoted_at <= month.end,
            or_(ModelVersion.retired_at.is_(None), ModelVersion.retired_at > month.end),
        )
    ).all()
    covered = {
        (a.get("site"), a.get("line"), a.get("asset")) for v in versions for a in (v.assets or [])
    }
    raised = session.scalars(
        select(Alert).where(
            Alert.tenant_id == tenant_id,
            Alert.raised_at >= month.start,
            Alert.raised_at < month.end,
        )
    ).all()
    acted = 0
    if raised:
        opened = dict(
            session.execute(
                select(WorkOrder.alert_id, func.min(WorkOrder.created_at))
                .where(WorkOrder.alert_id.in_([a.id for a in raised]))
                .group_by(WorkOrder.alert_id)
            ).all()
        )
        for alert in raised:
            at = opened.get(alert.id)
            if at is not None and _aware(at) <= _aware(alert.raised_at) + ACTION_WINDOW:
                acted += 1
    return _Maintenance(bool(versions), len(covered & machines), len(raised), acted)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def gather_enterprise_facts(
    session: Session,
    tenant: Tenant,
    historian: Historian,
    period: str,
    *,
    now: datetime | None = None,
) -> EnterpriseFacts:
    """The facts of ``tenant`` for ``period``, read from ``session`` and its historian."""
    month = month_range(period, now)
    sites = load_sites(session, tenant.id)
    assets = _assets(sites)
    machines = [a for a in assets if a.asset_type not in NOT_MACHINES]
    machine_places = {_where(a) for a in machines}
    control = _digital_control(session, tenant.id)
    reporting = reporting_series(historian, month.start_ns, month.end_ns)
    reporting_places = {(k.site, k.line, k.asset) for k in reporting}
    configured = {a.series(t.key) for a in assets for t in a.tags}

    modules: set[Module] = set()
    if reporting:
        modules.add(Module.MONITORING)
    if any(
        _counts_oee(a) and a.series(a.state_tag.key) in reporting  # type: ignore[union-attr]
        for a in machines
    ):
        modules.add(Module.OEE)
    if any(
        a.asset_type == "power_meter"
        and any(
            a.series(t.key) in reporting for t in a.tags if t.role in ("power_kw", "energy_kwh")
        )
        for a in assets
    ):
        modules.add(Module.ENERGY)
    maintenance = _maintenance(session, tenant.id, machine_places, month)
    if maintenance.in_use:
        modules.add(Module.MAINTENANCE)

    production = (
        _production(historian, sites, reporting, month)
        if Module.OEE in modules
        else _Production(None, None, None)
    )
    energy = _energy(historian, sites, reporting, month) if Module.ENERGY in modules else None
    output, unit = production.output, production.unit
    reported = reported_output(session, tenant.id, period)
    if output is None and reported is not None and reported.output_quantity is not None:
        output, unit = reported.output_quantity, reported.output_unit
    uptime = tenant_agent_uptime(session, tenant.id, month.start, month.end)
    return EnterpriseFacts(
        enterprise_key=tenant.key,
        period=period,
        district=tenant.district,
        industry_cloud=tenant.industry_cloud.key if tenant.industry_cloud else None,
        machines_registered=len(machines),
        machines_connected=len(machine_places & reporting_places),
        tags_configured=len(configured),
        tags_reporting=len(configured & reporting),
        agent_uptime=uptime.share,
        digital_control_machines=sum(1 for a in machines if control.get(_where(a))),
        modules_in_use=frozenset(modules),
        oee=production.oee,
        energy_kwh=energy,
        output_units=output,
        output_unit=unit if output is not None else None,
        output_value_10k_yuan=reported.output_value_10k_yuan if reported else None,
        machines_under_model=maintenance.machines_under_model,
        predictions_raised=maintenance.raised,
        predictions_acted_on=maintenance.acted_on,
    )


@dataclass(frozen=True)
class GatheredFacts:
    facts: list[EnterpriseFacts]
    failed: list[tuple[str, str]]  # (tenant key, why): for the platform's operators only


def gather_platform_facts(
    session: Session,
    storage: HistorianSource,
    period: str,
    *,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> GatheredFacts:
    """Every tenant's facts of ``period``. A tenant whose historian cannot be read (or
    whose data the analytics refuse) is left out and listed in ``failed``, so one
    enterprise cannot hold up the region's report; the others are still gathered."""
    month_range(period, now)  # a bad or future period fails before any tenant is read
    tenants = list(session.scalars(select(Tenant).order_by(Tenant.id)))
    facts, failed = [], []
    for i, tenant in enumerate(tenants):
        if progress is not None:
            progress(i, len(tenants), tenant.key)
        try:
            historian = storage.historian(tenant.storage_database)
            facts.append(gather_enterprise_facts(session, tenant, historian, period, now=now))
        except (HistorianError, ValueError) as exc:
            failed.append((tenant.key, str(exc)))
    if progress is not None:
        progress(len(tenants), len(tenants), "done")
    return GatheredFacts(facts, failed)
