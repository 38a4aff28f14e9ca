"""One site's energy analysis over a range, as the ``energy_analysis`` job stores it.

Everything is read from the tenant's historian through the site's asset model (the same
meter, machines and rules as the plant manager's energy page, ``cloud.plant_energy``):

- **KPIs**: kWh, 15-minute and 1-hour peak demand and when, load factor, CO2, power
  factor (where the main meter has a reactive-energy counter: a tag whose unit is kvarh),
  specific energy consumption (kWh per unit of the site's good output, from
  ``analytics.production``), and the time-of-use bill: kWh and cost per tariff period,
  the demand charge on each month's peak.
- **Baseline goodness**: a time-of-week mean baseline fitted on the ``baseline_days``
  before the range, scored per ASHRAE Guideline 14 on its training hours (p = number of
  hour-of-week means) and on the range (p = 0), with the guideline's hourly criteria
  (CV(RMSE) ≤ 30 %, |NMBE| ≤ 10 %).
- **Anomalies with their cost**: hours above the baseline, idle waste of every machine
  with power, state and a standby allowance, and each month's power-factor adjustment.
- **Advice for the next day** from ``load_advice`` (only loads someone configured).

The result is plain JSON (numbers rounded for people), times in the site's local clock.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pandas as pd

from analytics.energy.analysis_params import AnalysisSettings
from analytics.energy.anomalies import (
    Episode,
    above_baseline,
    low_power_factor_hours,
    power_factor_months,
    residual_threshold,
)
from analytics.energy.baseline import TimeOfWeekBaseline, hourly_kwh
from analytics.energy.goodness import goodness
from analytics.energy.historian_source import energy_from_counter
from analytics.energy.kpis import DEFAULT_GRID_FACTOR_KG_PER_KWH, demand_series, power_factor
from analytics.energy.load_advice import next_day_advice
from analytics.energy.tariff import Tariff, bill
from analytics.production import production_report
from cloud.plant_energy import INTERVAL, idle_waste_episodes, site_frame
from cloud.plant_model_view import PlantMeter, PlantSite, power_meters, site_calendar, site_spec
from historian import Historian, SeriesKey

NS_PER_S = 1_000_000_000
DAY_NS = 86_400 * NS_PER_S
# ASHRAE Guideline 14-2014, calibration criteria for hourly data.
ASHRAE14_HOURLY_CV_RMSE = 30.0
ASHRAE14_HOURLY_NMBE = 10.0
# Fewer training hours than three weeks make a time-of-week mean of a few samples each.
BASELINE_MIN_HOURS = 3 * 168
STEPS_PER_SITE = 6

Step = Callable[[str], None]


def _r(value: float | None, digits: int = 3) -> float | None:
    """Rounded, and None for what JSON cannot hold (NaN, infinity)."""
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits)


def _local(ns: int, timezone: str) -> pd.Timestamp:
    return pd.Timestamp(ns, unit="ns", tz="UTC").tz_convert(timezone).tz_localize(None)


def _reactive_counter(meter: PlantMeter) -> SeriesKey | None:
    """The meter's reactive-energy counter: by convention the tag whose unit is kvarh
    (the asset model has no role for it; add it as an extra tag when onboarding)."""
    for tag in meter.asset.tags:
        if tag.numeric and tag.unit.replace(" ", "").lower() == "kvarh":
            return meter.asset.series(tag.key)
    return None


def _kpis(frame: pd.DataFrame, end_ns: int, timezone: str, grid_factor: float) -> dict:
    kwh = float(frame["kwh"].sum()) if len(frame) else 0.0
    kpis: dict = {
        "kwh": _r(kwh, 3),
        "intervals": len(frame),
        "peak_kw": None,
        "peak_at": None,
        "peak_kw_1h": None,
        "load_factor": None,
        "carbon_kg": _r(kwh * grid_factor, 3),
        "grid_factor_kg_per_kwh": grid_factor,
    }
    # Demand from whole intervals only: a running quarter hour's energy so far is not its
    # average power (the page does the same).
    whole = frame[frame.index + pd.Timedelta(INTERVAL) <= _local(end_ns, timezone)]
    if len(whole) >= 2:
        demand = demand_series(whole, INTERVAL).dropna()
        if not demand.empty and demand.max() > 0:
            kpis["peak_kw"] = _r(demand.max(), 3)
            kpis["peak_at"] = demand.idxmax().isoformat()
            kpis["peak_kw_1h"] = _r(demand_series(whole, "1h").max(), 3)
            hours = len(whole) * pd.Timedelta(INTERVAL) / pd.Timedelta(hours=1)
            kpis["load_factor"] = _r(float(whole["kwh"].sum()) / hours / demand.max(), 4)
    return kpis


def _cost(frame: pd.DataFrame, tariff: Tariff) -> dict:
    priced = bill(frame, tariff)
    return {
        "tariff": tariff.name,
        "currency": tariff.currency,
        "by_period": {
            period: {
                "kwh": _r(priced.energy_kwh[period], 3),
                "price": tariff.prices[period],
                "cost": _r(priced.energy_cost[period], 2),
            }
            for period in tariff.prices
        },
        "energy_cost": _r(sum(priced.energy_cost.values()), 2),
        "demand_charge_per_kw_month": tariff.demand_charge_per_kw_month,
        "monthly_peak_kw": {m: _r(kw, 3) for m, kw in priced.monthly_peak_kw.items()},
        "demand_cost": _r(priced.demand_cost, 2),
        "total": _r(priced.total, 2),
    }


def _scores(actual: pd.Series, expected: pd.Series, parameters: int) -> dict:
    scores = goodness(actual, expected, parameters) if len(actual) > parameters else {}
    return {
        "hours": len(actual),
        "cv_rmse": _r(scores.get("cv_rmse"), 2),
        "nmbe": _r(scores.get("nmbe"), 2),
        "r2": _r(scores.get("r2"), 4),
    }


def _baseline(
    historian: Historian,
    site: PlantSite,
    frame: pd.DataFrame,
    start_ns: int,
    timezone: str,
    tariff: Tariff,
    settings: AnalysisSettings,
) -> tuple[dict, list[Episode]]:
    train_start = start_ns - settings.baseline_days * DAY_NS
    train_frame, _, _ = site_frame(historian, site, train_start, start_ns, timezone, "1h")
    train = hourly_kwh(train_frame) if not train_frame.empty else pd.Series(dtype=float)
    out: dict = {
        "model": "time-of-week mean kWh",
        "trained_from": _local(train_start, timezone).isoformat(),
        "trained_until": _local(start_ns, timezone).isoformat(),
        "training_hours": len(train),
        "used": False,
        "training": None,
        "range": None,
        "threshold_kwh": None,
        "meets_ashrae14_hourly": None,
        "criteria": {"cv_rmse_max": ASHRAE14_HOURLY_CV_RMSE, "nmbe_abs_max": ASHRAE14_HOURLY_NMBE},
    }
    if len(train) < BASELINE_MIN_HOURS:
        out["note"] = (
            f"the {settings.baseline_days} days before the range hold {len(train)} metered"
            f" hours; a baseline needs {BASELINE_MIN_HOURS} (3 weeks)"
        )
        return out, []
    model = TimeOfWeekBaseline().fit(train)
    fitted = model.predict(pd.DatetimeIndex(train.index))
    out["used"] = True
    out["training"] = _scores(train, fitted, parameters=len(model.means))
    threshold = residual_threshold(train, fitted, z=settings.z)
    out["threshold_kwh"] = _r(threshold, 3)
    actual = hourly_kwh(frame) if not frame.empty else pd.Series(dtype=float)
    if actual.empty:
        out["note"] = "no metered hour in the range to compare with the baseline"
        return out, []
    expected = model.predict(pd.DatetimeIndex(actual.index))
    scored = _scores(actual, expected, parameters=0)
    out["range"] = scored
    if scored["cv_rmse"] is not None and scored["nmbe"] is not None:
        out["meets_ashrae14_hourly"] = bool(
            scored["cv_rmse"] <= ASHRAE14_HOURLY_CV_RMSE
            and abs(scored["nmbe"]) <= ASHRAE14_HOURLY_NMBE
        )
    return out, above_baseline(actual, expected, tariff, threshold)


def _power_factor(
    historian: Historian,
    meter: PlantMeter | None,
    frame: pd.DataFrame,
    start_ns: int,
    end_ns: int,
    timezone: str,
    tariff: Tariff,
) -> tuple[dict, list[Episode], float | None]:
    """PF of the range, each month's bill adjustment (as anomalies) and low-PF hours."""
    counter = _reactive_counter(meter) if meter is not None else None
    if counter is None:
        note = "no reactive-energy counter (a meter tag with unit kvarh): power factor unknown"
        return {"available": False, "note": note}, [], None
    kvarh = energy_from_counter(historian, counter, start_ns, end_ns, INTERVAL, timezone)
    joined = frame.join(kvarh.rename("kvarh"), how="inner").dropna()
    if joined.empty or joined["kwh"].sum() <= 0:
        note = "the reactive-energy counter has no reading in the range"
        return {"available": False, "note": note}, [], None
    pf = float(power_factor(joined["kwh"].sum(), joined["kvarh"].sum()))
    months = power_factor_months(joined, tariff)
    episodes = []
    for month in months:
        if month.adjustment <= 0:
            continue
        first = max(pd.Period(month.month, "M").start_time, joined.index[0])
        last = min(pd.Period(month.month, "M").end_time, joined.index[-1] + pd.Timedelta(INTERVAL))
        episodes.append(
            Episode(
                "power_factor",
                first,
                last.ceil("min"),
                0.0,
                month.adjustment,
                f"PF {month.power_factor:.2f} in {month.month}: +{month.adjustment_share:.1%}"
                f" of that month's bill (standard 0.90)",
            )
        )
    low = low_power_factor_hours(joined)
    summary = {
        "available": True,
        "power_factor": _r(pf, 4),
        "kvarh": _r(float(joined["kvarh"].sum()), 3),
        "adjustment": _r(sum(m.adjustment for m in months), 2),
        "months": [m.as_json() for m in months],
        "low_hours": [e.as_json() for e in low[:20]],
        "low_hour_runs": len(low),
    }
    return summary, episodes, pf


def _output(
    historian: Historian, site: PlantSite, start_ns: int, end_ns: int
) -> tuple[float | None, str | None]:
    spec = site_spec(site)
    if spec is None:
        return None, "no machine with a state tag counts the site's output"
    report = production_report(
        historian, spec, site_calendar(site), start_ns, end_ns, hours=False, shifts=False
    )
    return float(report.whole.site.output_quantity), None


def _anomalies(episodes: list[Episode], top: int) -> dict:
    ranked = sorted(episodes, key=lambda e: e.cost, reverse=True)
    by_kind: dict[str, dict] = {}
    for kind in ("above_baseline", "idle_waste", "power_factor"):
        chosen = [e for e in ranked if e.kind == kind]
        by_kind[kind] = {
            "count": len(chosen),
            "excess_kwh": _r(sum(e.excess_kwh for e in chosen), 3),
            "cost": _r(sum(e.cost for e in chosen), 2),
        }
    return {
        "count": len(ranked),
        "excess_kwh": _r(sum(e.excess_kwh for e in ranked), 3),
        "cost": _r(sum(e.cost for e in ranked), 2),
        "by_kind": by_kind,
        "episodes": [e.as_json() for e in ranked[:top]],
        "left_out": max(0, len(ranked) - top),
    }


def analyse_site(
    historian: Historian,
    site: PlantSite,
    start_ns: int,
    end_ns: int,
    tariff: Tariff,
    settings: AnalysisSettings,
    step: Step = lambda message: None,
) -> dict:
    """The site's analysis over [start_ns, end_ns); ``step`` is called STEPS_PER_SITE times,
    before each part, so a job reports progress (and notices a cancel) as it goes."""
    timezone = site_calendar(site).timezone
    step(f"{site.key}: reading the meter")
    frame, source, meter_name = site_frame(historian, site, start_ns, end_ns, timezone)
    meters = power_meters(site)
    main = next((m for m in meters if m.asset.name == meter_name), None)
    result: dict = {
        "site": site.key,
        "site_name": site.name,
        "timezone": timezone,
        "start": _local(start_ns, timezone).isoformat(),
        "end": _local(end_ns, timezone).isoformat(),
        "source": source,
        "meter": meter_name,
    }
    grid_factor = settings.grid_factor or DEFAULT_GRID_FACTOR_KG_PER_KWH
    kpis = _kpis(frame, end_ns, timezone, grid_factor)
    result["cost"] = _cost(frame, tariff) if len(frame) else None
    step(f"{site.key}: baseline")
    result["baseline"], above = _baseline(
        historian, site, frame, start_ns, timezone, tariff, settings
    )
    step(f"{site.key}: idle waste")
    idle = idle_waste_episodes(historian, site, start_ns, end_ns, timezone, tariff)
    step(f"{site.key}: power factor")
    result["power_factor"], pf_episodes, pf = _power_factor(
        historian, main, frame, start_ns, end_ns, timezone, tariff
    )
    kpis["power_factor"] = _r(pf, 4)
    step(f"{site.key}: output")
    output, why = _output(historian, site, start_ns, end_ns)
    kpis["output"] = _r(output, 3)
    kpis["sec_kwh_per_unit"] = None
    if output is not None and output > 0 and len(frame):
        kpis["sec_kwh_per_unit"] = _r(float(frame["kwh"].sum()) / output, 4)
    elif why is None:
        why = "no good output counted in the range"
    kpis["sec_note"] = why
    result["kpis"] = kpis
    result["anomalies"] = _anomalies(above + idle + pf_episodes, settings.top)
    step(f"{site.key}: advice for the next day")
    result["advice"] = next_day_advice(
        historian, site, frame, end_ns, timezone, tariff,
        baseline_days=settings.baseline_days, time_limit_s=settings.optimise_time_limit_s,
    )  # fmt: skip
    return result
