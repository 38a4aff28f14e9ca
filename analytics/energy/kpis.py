"""Energy KPIs of one meter frame (see ``meter_data`` for its shape).

Every function takes interval energy, not power readings, because energy is what a
revenue meter counts and what a bill is computed from; average power over a window is
derived as energy / window length.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

# China's national average grid emission factor for 2022, 0.5703 tCO2/MWh, published by
# the Ministry of Ecology and Environment in 2024. Sites pass their own (provincial or
# market-based) factor; this is only the default.
DEFAULT_GRID_FACTOR_KG_PER_KWH = 0.5703


def interval_hours(frame: pd.DataFrame) -> float:
    """Length of one metering interval in hours, from the index's most common step."""
    if len(frame.index) < 2:
        raise ValueError("need at least two intervals to know the metering interval")
    steps = pd.Series(frame.index[1:] - frame.index[:-1])
    return steps.mode().iloc[0] / pd.Timedelta(hours=1)


def consumption(frame: pd.DataFrame, period: str = "D") -> pd.Series:
    """kWh per calendar period (pandas offset alias: "h", "D", "W", "MS")."""
    return frame["kwh"].resample(period).sum()


def load_profile(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean kW by time of day, one column per day type (weekday / weekend)."""
    kw = frame["kwh"] / interval_hours(frame)
    day_type = np.where(frame.index.day_of_week < 5, "weekday", "weekend")
    time_of_day = frame.index.strftime("%H:%M")
    return kw.groupby([time_of_day, day_type]).mean().unstack()


def demand_series(frame: pd.DataFrame, window: str = "15min") -> pd.Series:
    """Average kW in each clock-aligned demand window ("15min", "1h").

    Clock-aligned blocks, as a demand meter integrates them; a window shorter than the
    metering interval cannot be measured and is refused.
    """
    window_hours = pd.Timedelta(window) / pd.Timedelta(hours=1)
    if window_hours < interval_hours(frame) - 1e-9:
        raise ValueError(f"demand window {window} is shorter than the metering interval")
    return frame["kwh"].resample(window).sum() / window_hours


def peak_demand(frame: pd.DataFrame, window: str = "15min") -> float:
    """Highest average kW over any one demand window."""
    return float(demand_series(frame, window).max())


def monthly_peak_demand(frame: pd.DataFrame, window: str = "15min") -> pd.Series:
    """Highest window-average kW in each calendar month: what a demand charge bills."""
    return demand_series(frame, window).resample("MS").max()


def load_factor(frame: pd.DataFrame, window: str = "15min") -> float:
    """Average kW over the whole frame divided by its peak window demand (0..1]."""
    hours = len(frame) * interval_hours(frame)
    average_kw = frame["kwh"].sum() / hours
    return float(average_kw / peak_demand(frame, window))


def power_factor(kwh: float | pd.Series, kvarh: float | pd.Series) -> float | pd.Series:
    """Energy-weighted power factor kWh / sqrt(kWh² + kVArh²), as the bill assesses it."""
    apparent = np.sqrt(np.square(kwh) + np.square(kvarh))
    return kwh / apparent


def period_power_factor(frame: pd.DataFrame, period: str = "MS") -> pd.Series:
    """Power factor of each period from its summed kWh and kVArh."""
    sums = frame[["kwh", "kvarh"]].resample(period).sum()
    return power_factor(sums["kwh"], sums["kvarh"])


def specific_energy(frame: pd.DataFrame, period: str = "D") -> pd.Series:
    """kWh per unit of output in each period; NaN where nothing was produced."""
    sums = frame[["kwh", "output"]].resample(period).sum()
    return sums["kwh"] / sums["output"].where(sums["output"] > 0)


def carbon_kg(kwh: float | pd.Series, grid_factor: float = DEFAULT_GRID_FACTOR_KG_PER_KWH):
    """kg CO2 for the given energy at a grid factor in kg/kWh (location-based, scope 2)."""
    return kwh * grid_factor


def kpi_summary(
    frame: pd.DataFrame, grid_factor: float = DEFAULT_GRID_FACTOR_KG_PER_KWH
) -> dict[str, float]:
    """The headline KPIs of one asset, line or site over the frame's whole span."""
    summary = {
        "kwh": float(frame["kwh"].sum()),
        "peak_kw_15min": peak_demand(frame, "15min"),
        "peak_kw_1h": peak_demand(frame, "1h"),
        "load_factor": load_factor(frame),
        "carbon_kg": float(carbon_kg(frame["kwh"].sum(), grid_factor)),
    }
    if "kvarh" in frame:
        summary["power_factor"] = float(power_factor(frame["kwh"].sum(), frame["kvarh"].sum()))
    if "output" in frame and frame["output"].sum() > 0:
        summary["kwh_per_unit"] = float(frame["kwh"].sum() / frame["output"].sum())
    return summary


def kpis_by_group(
    frames: Mapping[str, pd.DataFrame], grid_factor: float = DEFAULT_GRID_FACTOR_KG_PER_KWH
) -> pd.DataFrame:
    """One row of ``kpi_summary`` per asset, line or site name."""
    return pd.DataFrame({name: kpi_summary(f, grid_factor) for name, f in frames.items()}).T
