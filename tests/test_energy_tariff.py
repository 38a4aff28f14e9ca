"""Time-of-use billing: period split, boundaries, the demand charge and tariff validation."""

from __future__ import annotations

import pandas as pd
import pytest

from analytics.energy.tariff import Tariff, bill, default_tariff

THREE_PERIODS = {
    "name": "test",
    "demand_charge_per_kw_month": 30.0,
    "periods": {
        "peak": {"price": 1.0, "hours": ["08:00-12:00", "17:00-21:00"]},
        "flat": {"price": 0.6, "hours": ["12:00-17:00", "21:00-23:00"]},
        "valley": {"price": 0.3, "hours": ["23:00-08:00"]},
    },
}


def constant_load(start: str, hours: float, kwh_per_quarter: float) -> pd.DataFrame:
    index = pd.date_range(start, periods=int(hours * 4), freq="15min")
    return pd.DataFrame({"kwh": kwh_per_quarter}, index=index)


def test_a_whole_day_splits_by_period_hours() -> None:
    tariff = Tariff.from_mapping(THREE_PERIODS)
    result = bill(constant_load("2024-05-06", 24, 1.0), tariff)
    # 4 kWh an hour: peak 8 h, flat 7 h, valley 9 h.
    assert result.energy_kwh == {"peak": 32.0, "flat": 28.0, "valley": 36.0}
    assert result.energy_cost["peak"] == pytest.approx(32.0)
    assert result.energy_cost["flat"] == pytest.approx(16.8)
    assert result.energy_cost["valley"] == pytest.approx(10.8)
    # 1 kWh a quarter = 4 kW peak demand, 30 CNY/kW.
    assert result.demand_cost == pytest.approx(120.0)
    assert result.total == pytest.approx(32.0 + 16.8 + 10.8 + 120.0)


def test_a_run_crossing_boundaries_and_midnight() -> None:
    tariff = Tariff.from_mapping(THREE_PERIODS)
    # 22:30 to 08:30 next day: flat 22:30-23:00, valley 23:00-08:00, peak 08:00-08:30.
    result = bill(constant_load("2024-05-06 22:30", 10, 2.0), tariff)
    assert result.energy_kwh == {"peak": 4.0, "flat": 4.0, "valley": 72.0}
    assert result.energy_cost["valley"] == pytest.approx(72 * 0.3)


def test_demand_charge_on_each_months_peak() -> None:
    tariff = Tariff.from_mapping(THREE_PERIODS)
    january = constant_load("2024-01-31 23:00", 1, 1.0)
    january.iloc[2] = 5.0  # 20 kW for one quarter hour
    february = constant_load("2024-02-01 00:00", 1, 2.0)  # 8 kW
    result = bill(pd.concat([january, february]), tariff)
    assert result.monthly_peak_kw == {"2024-01": 20.0, "2024-02": 8.0}
    assert result.demand_cost == pytest.approx((20 + 8) * 30.0)


def test_overlapping_or_missing_hours_are_refused() -> None:
    overlapping = {
        "periods": {
            "a": {"price": 1, "hours": ["00:00-13:00"]},
            "b": {"price": 1, "hours": ["12:00-24:00"]},
        }
    }
    with pytest.raises(ValueError, match="overlaps"):
        Tariff.from_mapping(overlapping)
    gap = {"periods": {"a": {"price": 1, "hours": ["00:00-12:00", "12:30-24:00"]}}}
    with pytest.raises(ValueError, match="no period covers 12:00"):
        Tariff.from_mapping(gap)


def test_default_zhejiang_example_covers_the_day_with_its_midday_valley() -> None:
    tariff = default_tariff()
    starts = pd.DatetimeIndex(["2024-07-01 10:00", "2024-07-01 11:30", "2024-07-01 03:00"])
    assert list(tariff.periods_at(starts)) == ["sharp", "valley", "valley"]
    assert tariff.prices["sharp"] > tariff.prices["peak"] > tariff.prices["valley"]
    assert tariff.demand_charge_per_kw_month > 0


def test_seasons_change_the_periods_of_their_months_only() -> None:
    tariff = default_tariff()
    ten_am = pd.DatetimeIndex(["2024-07-01 10:00", "2024-04-01 10:00", "2024-12-31 16:00"])
    assert list(tariff.periods_at(ten_am)) == ["sharp", "peak", "sharp"]
    assert list(tariff.prices_at(ten_am)) == [1.28, 1.02, 1.28]
    with pytest.raises(ValueError, match="two prices"):
        Tariff.from_mapping(
            {
                "periods": {"a": {"price": 1, "hours": ["00:00-24:00"]}},
                "seasons": [
                    {"months": [7], "periods": {"a": {"price": 2, "hours": ["00:00-24:00"]}}}
                ],
            }
        )
    with pytest.raises(ValueError, match="month 7 is in two seasons"):
        day = {"a": {"price": 1, "hours": ["00:00-24:00"]}}
        Tariff.from_mapping({"periods": day, "seasons": [{"months": [7], "periods": day}] * 2})
