"""The energy page's numbers for one site and range, from ``analytics.energy``.

- Energy per 15 minutes from the site's main power meter (its counter, else its power),
  or, without a meter, from the machines' power.
- KPIs (kWh, 15-minute peak demand and when, load factor, CO2), the load profile, and the
  time-of-use bill (energy cost per tariff period).
- Anomalies with their cost: idle-time waste of every machine with a power tag (above its
  standby allowance while not producing, from 5-minute means and states), and meter
  hours above a time-of-week baseline fitted on the 4 weeks before the range (when at
  least 3 weeks of data are there).

Reads go through the historian given; the pages pass a ``DayCachedHistorian`` so closed
days' aggregates are read once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analytics.energy.anomalies import Episode, above_baseline, idle_waste, residual_threshold
from analytics.energy.baseline import TimeOfWeekBaseline, hourly_kwh
from analytics.energy.historian_source import energy_from_power, meter_frame
from analytics.energy.kpis import (
    DEFAULT_GRID_FACTOR_KG_PER_KWH,
    demand_series,
    load_factor,
    load_profile,
)
from analytics.energy.tariff import Bill, Tariff, bill, default_tariff
from analytics.production.signals import state_key
from cloud.closed_period_cache import ClosedPeriodCache
from cloud.plant_model_view import PlantAsset, PlantSite, machine_power, power_meters
from historian import Aggregate, Historian

NS_PER_S = 1_000_000_000
DAY_NS = 86_400 * NS_PER_S
INTERVAL = "15min"
IDLE_WINDOW_NS = 300 * NS_PER_S  # idle waste from 5-minute means: a month is 8,640 rows
BASELINE_DAYS = 28
BASELINE_MIN_HOURS = 3 * 168
# Without a standby_kw attribute, a machine may draw this share of its rated power while
# idle (controls, lighting, a warm standby) before the rest counts as waste.
STANDBY_SHARE = 0.10


@dataclass
class EnergyReport:
    source: str  # "counter", "power", "machines" or "none"
    meter_name: str | None
    frame: pd.DataFrame  # kWh per 15 minutes, index: local interval starts (naive)
    tariff: Tariff
    kwh: float = 0.0
    peak_kw: float | None = None
    peak_at: pd.Timestamp | None = None
    load_factor: float | None = None
    carbon_kg: float = 0.0
    bill: Bill | None = None
    profile: pd.DataFrame | None = None
    demand: pd.Series | None = None
    anomalies: list[Episode] = field(default_factory=list)
    baseline_hours: int = 0
    baseline_used: bool = False


def _empty_frame() -> pd.DataFrame:
    return pd.DataFrame({"kwh": pd.Series(dtype=float)}, index=pd.DatetimeIndex([], name="start"))


def site_frame(
    historian: Historian,
    site: PlantSite,
    start_ns: int,
    end_ns: int,
    timezone: str,
    interval: str = INTERVAL,
) -> tuple[pd.DataFrame, str, str | None]:
    """(kWh per interval, source, meter name) for the site."""
    for meter in power_meters(site):
        if meter.counter is None and meter.power is None:
            continue
        frame = meter_frame(
            historian,
            start_ns,
            end_ns,
            counter=meter.counter,
            power=meter.power,
            interval=interval,
            timezone=timezone,
        )
        if frame.empty and meter.counter is not None and meter.power is not None:
            # A counter that never reported (or a meter without one wired): try power.
            frame = meter_frame(
                historian, start_ns, end_ns, power=meter.power, interval=interval, timezone=timezone
            )
            return frame, "power", meter.asset.name
        return frame, "counter" if meter.counter is not None else "power", meter.asset.name
    series = [
        energy_from_power(historian, key, start_ns, end_ns, interval, timezone)
        for asset in site.machines
        if (key := machine_power(asset)) is not None
    ]
    series = [s for s in series if not s.empty]
    if not series:
        has_power = any(machine_power(a) is not None for a in site.machines)
        return _empty_frame(), "machines" if has_power else "none", None
    total = pd.concat(series, axis=1).sum(axis=1, min_count=1).dropna()
    return total.rename("kwh").to_frame(), "machines", None


def _standby_kw(asset: PlantAsset) -> float | None:
    for name, share in (("standby_kw", 1.0), ("rated_power_kw", STANDBY_SHARE)):
        value = asset.attributes.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
            return float(value) * share
    return None


def _local_series(rows: list, timezone: str) -> pd.Series:
    index = pd.to_datetime([t for t, _ in rows], unit="ns", utc=True)
    return pd.Series([v for _, v in rows], index=index.tz_convert(timezone).tz_localize(None))


def _machine_idle_waste(
    historian: Historian,
    asset: PlantAsset,
    standby_kw: float,
    start_ns: int,
    end_ns: int,
    timezone: str,
    tariff: Tariff,
) -> list[Episode]:
    power_key, state = machine_power(asset), asset.state_tag
    assert power_key is not None and state is not None
    power_rows = historian.read(power_key, start_ns, end_ns, IDLE_WINDOW_NS, Aggregate.MEAN)
    # From one window earlier: the state in force when the first power window starts.
    state_rows = historian.read(
        asset.series(state.key), start_ns - IDLE_WINDOW_NS, end_ns, IDLE_WINDOW_NS, Aggregate.LAST
    )
    if not power_rows or not state_rows:
        return []
    states = state.states or {}
    # Look each distinct raw value up once, not each of a month's rows.
    producing_of = {
        raw: (states.get(state_key(raw)) or {}).get("category") == "producing"
        for raw in {v for _, v in state_rows}
    }
    producing = _local_series([(t, producing_of[v]) for t, v in state_rows], timezone)
    power = _local_series(power_rows, timezone).astype(float)
    return idle_waste(power, producing, standby_kw, tariff, asset=asset.name)


def idle_waste_episodes(
    historian: Historian,
    site: PlantSite,
    start_ns: int,
    end_ns: int,
    timezone: str,
    tariff: Tariff,
    cache: ClosedPeriodCache | None = None,
    namespace: str = "",
    now_ns: int | None = None,
) -> list[Episode]:
    """Idle-time waste of every machine with power, state and a standby allowance.

    With a cache, each closed UTC day's episodes are kept (a month has thousands of idle
    stretches, and scoring each is pandas work): an episode across midnight then counts
    as two, with the same kWh and cost."""
    now_ns = now_ns if now_ns is not None else end_ns
    episodes: list[Episode] = []
    for asset in site.machines:
        standby = _standby_kw(asset)
        if machine_power(asset) is None or asset.state_tag is None or standby is None:
            continue
        for lo, hi, whole_day in _day_pieces(start_ns, end_ns):
            key = (
                "idle-waste",
                namespace,
                asset.site,
                asset.line,
                asset.key,
                standby,
                tariff.name,
                timezone,
                lo,
            )
            if cache is not None and whole_day and cache.cacheable(hi, now_ns):
                found = cache.get(key, now_ns)
                if found is None:
                    found = _machine_idle_waste(historian, asset, standby, lo, hi, timezone, tariff)
                    cache.put(key, found, hi, now_ns)
                episodes += found
            elif cache is None:
                episodes += _machine_idle_waste(
                    historian, asset, standby, start_ns, end_ns, timezone, tariff
                )
                break
            else:
                episodes += _machine_idle_waste(historian, asset, standby, lo, hi, timezone, tariff)
    return episodes


def _day_pieces(start_ns: int, end_ns: int) -> list[tuple[int, int, bool]]:
    """[start, end) cut at UTC midnights: (lo, hi, whether it is a whole day)."""
    pieces = []
    lo = start_ns
    while lo < end_ns:
        hi = min((lo // DAY_NS + 1) * DAY_NS, end_ns)
        pieces.append((lo, hi, lo % DAY_NS == 0 and hi - lo == DAY_NS))
        lo = hi
    return pieces


def baseline_episodes(
    historian: Historian,
    site: PlantSite,
    frame: pd.DataFrame,
    start_ns: int,
    timezone: str,
    tariff: Tariff,
) -> tuple[list[Episode], int]:
    """Hours of the range above a time-of-week baseline of the 4 weeks before it, and how
    many hours that training period had."""
    train_start = start_ns - BASELINE_DAYS * 86_400 * NS_PER_S
    train_frame, _, _ = site_frame(historian, site, train_start, start_ns, timezone, "1h")
    train = hourly_kwh(train_frame) if not train_frame.empty else pd.Series(dtype=float)
    if len(train) < BASELINE_MIN_HOURS or frame.empty:
        return [], len(train)
    model = TimeOfWeekBaseline().fit(train)
    threshold = residual_threshold(train, model.predict(pd.DatetimeIndex(train.index)), z=3.0)
    actual = hourly_kwh(frame)
    expected = model.predict(pd.DatetimeIndex(actual.index))
    return above_baseline(actual, expected, tariff, threshold), len(train)


def _within(frame: pd.DataFrame, timezone: str, spans: list[tuple[int, int]]) -> np.ndarray:
    """Which intervals of the frame start inside one of the UTC ns spans."""
    index = pd.DatetimeIndex(frame.index).tz_localize(timezone).tz_convert("UTC")
    starts = np.asarray(index.as_unit("ns").asi8, dtype="int64")
    inside = np.zeros(len(starts), dtype=bool)
    for lo, hi in spans:
        inside |= (starts >= lo) & (starts < hi)
    return inside


def energy_report(
    historian: Historian,
    site: PlantSite,
    start_ns: int,
    end_ns: int,
    timezone: str,
    tariff: Tariff | None = None,
    keep: list[tuple[int, int]] | None = None,
    cache: ClosedPeriodCache | None = None,
    namespace: str = "",
    now_ns: int | None = None,
    with_anomalies: bool = True,
) -> EnergyReport:
    """The site's energy over [start_ns, end_ns); ``keep`` (UTC ns spans) restricts the
    KPIs, profile and bill to those spans (one shift's hours). ``with_anomalies=False``
    skips idle waste and the baseline (the page shows the energy job's stored ones)."""
    tariff = tariff or default_tariff()
    frame, source, meter_name = site_frame(historian, site, start_ns, end_ns, timezone)
    if keep is not None and not frame.empty:
        frame = frame[_within(frame, timezone, keep)]
    report = EnergyReport(source, meter_name, frame, tariff)
    if len(frame) >= 2:
        report.kwh = float(frame["kwh"].sum())
        report.carbon_kg = report.kwh * DEFAULT_GRID_FACTOR_KG_PER_KWH
        report.bill = bill(frame, tariff)
        # Demand and the profile from whole intervals only: the running quarter hour's
        # energy so far is not its average power.
        end_local = pd.Timestamp(end_ns, unit="ns", tz="UTC").tz_convert(timezone).tz_localize(None)
        whole = frame[frame.index + pd.Timedelta(INTERVAL) <= end_local]
        if len(whole) >= 2:
            report.demand = demand_series(whole, INTERVAL)
            if not report.demand.dropna().empty:
                report.peak_at = report.demand.idxmax()
                report.peak_kw = float(report.demand.max())
            report.load_factor = load_factor(whole, INTERVAL) if report.peak_kw else None
            report.profile = load_profile(whole)
    if not with_anomalies:
        return report
    anomalies = idle_waste_episodes(
        historian, site, start_ns, end_ns, timezone, tariff, cache, namespace, now_ns
    )
    above, hours = baseline_episodes(historian, site, frame, start_ns, timezone, tariff)
    report.baseline_hours = hours
    report.baseline_used = hours >= BASELINE_MIN_HOURS
    report.anomalies = sorted(anomalies + above, key=lambda e: e.cost, reverse=True)
    return report
