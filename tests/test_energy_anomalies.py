"""Energy anomalies and their cost, on series small enough to work out by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from analytics.energy.anomalies import (
    above_baseline,
    idle_waste,
    low_power_factor_hours,
    pf_adjustment_share,
    power_factor_months,
    residual_threshold,
)
from analytics.energy.tariff import Tariff

# Day 08-20 at 1.0 a kWh, night at 0.5; no demand charge, so a bill is its energy cost.
TARIFF = Tariff.from_mapping(
    {
        "periods": {
            "day": {"price": 1.0, "hours": ["08:00-20:00"]},
            "night": {"price": 0.5, "hours": ["20:00-08:00"]},
        }
    }
)


def _hours(start: str, values: list[float], skip: int | None = None) -> pd.Series:
    index = pd.date_range(start, periods=len(values) + (skip is not None), freq="h")
    if skip is not None:
        index = index.delete(skip)
    return pd.Series(values, index=index, dtype=float)


def test_hours_above_the_baseline_form_priced_episodes() -> None:
    actual = _hours("2024-04-01 00:00", [10, 10, 15, 16, 10, 30])
    expected = pd.Series(10.0, index=actual.index)
    found = above_baseline(actual, expected, TARIFF, threshold_kwh=3)
    # Hours 2-3: 5 + 6 = 11 kWh at night (0.5) = 5.5; hour 5: 20 kWh = 10.0.
    assert [(e.start.hour, e.end.hour, e.excess_kwh, e.cost) for e in found] == [
        (2, 4, 11.0, 5.5),
        (5, 6, 20.0, 10.0),
    ]
    assert [e.start.hour for e in above_baseline(actual, expected, TARIFF, 3, min_hours=2)] == [2]


def test_a_missing_hour_splits_an_episode() -> None:
    actual = _hours("2024-04-01 09:00", [10, 20, 20, 20], skip=2)  # 11:00 missing
    expected = pd.Series(10.0, index=actual.index)
    found = above_baseline(actual, expected, TARIFF, threshold_kwh=3)
    # 10:00 alone (10 kWh by day = 10.0), then 12:00-13:00 (20 kWh = 20.0).
    assert [(e.start.hour, e.end.hour, e.cost) for e in found] == [(10, 11, 10.0), (12, 14, 20.0)]


def test_the_threshold_is_z_standard_deviations_of_training_residuals() -> None:
    actual = _hours("2024-04-01", [11, 9, 11, 9])
    expected = pd.Series(10.0, index=actual.index)
    # Residuals +1 -1 +1 -1: sample standard deviation sqrt(4/3) = 1.1547.
    assert residual_threshold(actual, expected, z=2) == pytest.approx(2 * (4 / 3) ** 0.5)


def test_idle_waste_is_the_energy_above_standby_while_not_producing() -> None:
    index = pd.date_range("2024-04-01 09:00", periods=30, freq="min")
    power = pd.Series(12.0, index=index)
    producing = pd.Series(
        [True, False, True],
        index=pd.DatetimeIndex(["2024-04-01 09:00", "2024-04-01 09:05", "2024-04-01 09:20"]),
    )
    (episode,) = idle_waste(power, producing, standby_kw=2.0, tariff=TARIFF, asset="IMM-01")
    # 15 idle minutes x (12 - 2) kW = 2.5 kWh, by day at 1.0.
    assert episode.excess_kwh == pytest.approx(2.5) and episode.cost == pytest.approx(2.5)
    assert (episode.start, episode.end) == (index[5], index[20])
    assert "IMM-01 idle" in episode.detail
    assert idle_waste(power, producing, 2.0, TARIFF, min_minutes=20) == []
    assert idle_waste(power, producing, standby_kw=12.0, tariff=TARIFF) == []


@pytest.mark.parametrize(
    ("pf", "share"),
    [
        (0.97, -0.0075), (0.95, -0.0075), (0.92, -0.003), (0.90, 0.0), (0.89, 0.005),
        (0.85, 0.025), (0.70, 0.10), (0.68, 0.12), (0.65, 0.15), (0.60, 0.25),
    ],
)  # fmt: skip
def test_power_factor_adjustment_table(pf: float, share: float) -> None:
    assert pf_adjustment_share(pf) == pytest.approx(share)


def test_a_month_with_a_poor_power_factor_pays_more() -> None:
    index = pd.date_range("2024-04-01 08:00", periods=4, freq="15min")
    frame = pd.DataFrame({"kwh": [25.0] * 4, "kvarh": [25.0] * 4}, index=index)
    (month,) = power_factor_months(frame, TARIFF)
    # PF = 100 / hypot(100, 100) = 0.7071 -> 0.71 on the bill -> +9.5 % of 100 (day price).
    assert month.month == "2024-04" and month.power_factor == pytest.approx(0.70711, abs=1e-5)
    assert month.adjustment_share == pytest.approx(0.095)
    assert month.bill_before == pytest.approx(100.0) and month.adjustment == pytest.approx(9.5)
    (hours,) = low_power_factor_hours(frame, min_hours=1)
    # The hour's 100 kvarh against the 48.4 kvarh a PF of 0.90 allows for 100 kWh.
    assert "PF 0.71" in hours.detail and "52 kvarh above" in hours.detail
    with pytest.raises(ValueError, match="kvarh"):
        power_factor_months(frame[["kwh"]], TARIFF)
