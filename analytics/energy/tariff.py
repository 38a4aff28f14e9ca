"""Time-of-use tariffs with a monthly demand charge, and the bill they put on a meter frame.

A tariff is data (a YAML file, see ``tariffs/``), so a site changes prices without code.
Periods are given as local clock ranges; every minute of the day belongs to exactly one
period, which ``Tariff`` checks on load, because a gap or overlap would silently drop or
double-bill energy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

MINUTES_PER_DAY = 24 * 60
DEFAULT_TARIFF_PATH = Path(__file__).parent / "tariffs" / "zhejiang_industrial.yaml"


def _minute_of_day(text: str) -> int:
    hours, minutes = text.strip().split(":")
    value = int(hours) * 60 + int(minutes)
    if not 0 <= value <= MINUTES_PER_DAY:
        raise ValueError(f"time {text!r} is outside 00:00-24:00")
    return value


def _minute_map(name: str, periods: Mapping, prices: dict[str, float]) -> tuple[str, ...]:
    """Which period owns each minute of the day; every minute exactly once."""
    owner: list[str | None] = [None] * MINUTES_PER_DAY
    for period, spec in periods.items():
        price = float(spec["price"])
        if prices.setdefault(period, price) != price:
            raise ValueError(
                f"tariff {name}: period {period} has two prices ({prices[period]} and {price});"
                " give a season's period a name of its own"
            )
        for span in spec["hours"]:
            start_text, end_text = span.split("-")
            start, end = _minute_of_day(start_text), _minute_of_day(end_text)
            # "22:00-08:00" wraps past midnight.
            minutes = (
                range(start, end)
                if start < end
                else [*range(start, MINUTES_PER_DAY), *range(0, end)]
            )
            for minute in minutes:
                if owner[minute] is not None:
                    raise ValueError(f"tariff {name}: {period} {span} overlaps {owner[minute]}")
                owner[minute] = period
    gaps = [m for m, p in enumerate(owner) if p is None]
    if gaps:
        first = f"{gaps[0] // 60:02d}:{gaps[0] % 60:02d}"
        raise ValueError(f"tariff {name}: no period covers {first}")
    return tuple(owner)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Tariff:
    """Named periods with a price each, a per-minute period map and a demand charge.

    ``seasons`` maps a month (1-12) to a period map of its own: provinces move or add
    periods in some months (a sharp peak only in summer and winter, say); months without
    a season use ``period_of_minute``.
    """

    name: str
    currency: str
    prices: Mapping[str, float]
    period_of_minute: tuple[str, ...]  # 1440 entries, the period of each minute of the day
    demand_charge_per_kw_month: float = 0.0
    demand_window: str = "15min"
    seasons: Mapping[int, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, data: Mapping) -> Tariff:
        """Build from the YAML structure (see tariffs/zhejiang_industrial.yaml)."""
        name = str(data.get("name", "tariff"))
        prices: dict[str, float] = {}
        default = _minute_map(name, data["periods"], prices)
        seasons: dict[int, tuple[str, ...]] = {}
        for season in data.get("seasons") or []:
            label = f"{name} season {season.get('name', '?')}"
            minutes = _minute_map(label, season["periods"], prices)
            for month in season["months"]:
                if not 1 <= int(month) <= 12:
                    raise ValueError(f"tariff {label}: month {month} is not 1-12")
                if int(month) in seasons:
                    raise ValueError(f"tariff {label}: month {month} is in two seasons")
                seasons[int(month)] = minutes
        return cls(
            name=name,
            currency=str(data.get("currency", "CNY")),
            prices=prices,
            period_of_minute=default,
            demand_charge_per_kw_month=float(data.get("demand_charge_per_kw_month", 0.0)),
            demand_window=str(data.get("demand_window", "15min")),
            seasons=seasons,
        )

    @classmethod
    def from_yaml(cls, path: str | Path = DEFAULT_TARIFF_PATH) -> Tariff:
        with open(path, encoding="utf-8") as handle:
            return cls.from_mapping(yaml.safe_load(handle))

    def periods_at(self, starts: pd.DatetimeIndex) -> np.ndarray:
        """Period name of each interval, decided by the minute the interval starts in."""
        minutes = np.asarray(starts.hour * 60 + starts.minute)
        out = np.asarray(self.period_of_minute, dtype=object)[minutes]
        if self.seasons:
            months = np.asarray(starts.month)
            for month, owner in self.seasons.items():
                chosen = months == month
                out[chosen] = np.asarray(owner, dtype=object)[minutes[chosen]]
        return out

    def prices_at(self, starts: pd.DatetimeIndex) -> np.ndarray:
        """Energy price of each interval."""
        return np.array([self.prices[p] for p in self.periods_at(starts)], dtype=float)


def default_tariff() -> Tariff:
    """The Zhejiang-style example shipped with the package (illustrative prices)."""
    return Tariff.from_yaml(DEFAULT_TARIFF_PATH)


@dataclass(frozen=True)
class Bill:
    """Energy cost per period, demand charge per month, and their total."""

    energy_kwh: dict[str, float]
    energy_cost: dict[str, float]
    monthly_peak_kw: dict[str, float]
    demand_cost: float
    total: float


def bill(frame: pd.DataFrame, tariff: Tariff) -> Bill:
    """Price a meter frame: ToU energy charges plus the demand charge on each month's peak.

    A metering interval is priced wholly in the period it starts in; with 15-minute data
    and tariff boundaries on the quarter hour that is exact. The demand charge bills each
    calendar month's highest clock-aligned ``demand_window`` average, even for a partial
    month, because that is what a utility bills for a partial month too.
    """
    periods = tariff.periods_at(frame.index)
    kwh = frame["kwh"].groupby(periods).sum()
    energy_kwh = {p: float(kwh.get(p, 0.0)) for p in tariff.prices}
    energy_cost = {p: energy_kwh[p] * tariff.prices[p] for p in tariff.prices}
    window_hours = pd.Timedelta(tariff.demand_window) / pd.Timedelta(hours=1)
    demand = frame["kwh"].resample(tariff.demand_window).sum() / window_hours
    peaks = demand.resample("MS").max().dropna()
    monthly_peak_kw = {month.strftime("%Y-%m"): float(kw) for month, kw in peaks.items()}
    demand_cost = sum(monthly_peak_kw.values()) * tariff.demand_charge_per_kw_month
    return Bill(
        energy_kwh=energy_kwh,
        energy_cost=energy_cost,
        monthly_peak_kw=monthly_peak_kw,
        demand_cost=demand_cost,
        total=sum(energy_cost.values()) + demand_cost,
    )
