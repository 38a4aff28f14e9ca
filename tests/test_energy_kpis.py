"""Energy KPIs against values worked out by hand on small synthetic meter frames."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from analytics.energy.kpis import (
    carbon_kg,
    consumption,
    kpi_summary,
    kpis_by_group,
    load_factor,
    load_profile,
    monthly_peak_demand,
    peak_demand,
    period_power_factor,
    power_factor,
    specific_energy,
)


def quarter_hours(kwh: list[float], start: str = "2024-03-04 00:00", **columns) -> pd.DataFrame:
    index = pd.date_range(start, periods=len(kwh), freq="15min", name="start")
    return pd.DataFrame({"kwh": kwh, **columns}, index=index)


def test_peak_15min_is_higher_than_peak_1h_for_a_short_spike() -> None:
    # One hour: 10, 10, 50, 10 kWh per quarter -> 40, 40, 200, 40 kW.
    frame = quarter_hours([10, 10, 50, 10, 5, 5, 5, 5])
    assert peak_demand(frame, "15min") == pytest.approx(200.0)
    # First clock hour: 80 kWh over 1 h = 80 kW; second: 20 kW.
    assert peak_demand(frame, "1h") == pytest.approx(80.0)


def test_demand_window_shorter_than_metering_interval_is_refused() -> None:
    index = pd.date_range("2024-03-04", periods=3, freq="1h")
    with pytest.raises(ValueError, match="shorter than the metering interval"):
        peak_demand(pd.DataFrame({"kwh": [1.0, 2.0, 3.0]}, index=index), "15min")


def test_load_factor_is_average_over_peak() -> None:
    frame = quarter_hours([10, 10, 50, 10, 5, 5, 5, 5])
    # 100 kWh over 2 h = 50 kW average, peak 200 kW.
    assert load_factor(frame) == pytest.approx(0.25)
    assert load_factor(frame, "1h") == pytest.approx(50 / 80)


def test_flat_load_has_load_factor_one() -> None:
    assert load_factor(quarter_hours([7.0] * 96)) == pytest.approx(1.0)


def test_power_factor_from_kwh_and_kvarh() -> None:
    assert power_factor(3.0, 4.0) == pytest.approx(0.6)
    frame = quarter_hours([30, 10, 20, 20], kvarh=[0, 40, 0, 0])
    # 80 kWh and 40 kVArh over the period: 80 / sqrt(6400 + 1600).
    assert period_power_factor(frame, "D").iloc[0] == pytest.approx(80 / math.sqrt(8000))


def test_consumption_per_period_and_monthly_peaks() -> None:
    frame = quarter_hours([1.0] * 4 * 48 + [3.0], start="2024-01-30 00:00")
    daily = consumption(frame, "D")
    assert daily.loc["2024-01-30"] == pytest.approx(96.0)
    assert daily.loc["2024-02-01"] == pytest.approx(3.0)
    peaks = monthly_peak_demand(frame)
    assert peaks.loc["2024-01-01"] == pytest.approx(4.0)
    assert peaks.loc["2024-02-01"] == pytest.approx(12.0)


def test_specific_energy_per_unit_and_nan_without_output() -> None:
    frame = quarter_hours([10.0] * 96 * 2, output=[1.0] * 96 + [0.0] * 96)
    sec = specific_energy(frame)
    assert sec.iloc[0] == pytest.approx(960 / 96)
    assert math.isnan(sec.iloc[1])


def test_carbon_uses_the_configured_factor() -> None:
    assert carbon_kg(1000.0, 0.5) == pytest.approx(500.0)
    assert carbon_kg(1000.0) == pytest.approx(570.3)


def test_load_profile_separates_weekday_and_weekend() -> None:
    # Monday 2024-03-04 at 4 kWh a quarter, Saturday 2024-03-09 at 1 kWh a quarter.
    weekday = quarter_hours([4.0] * 96, start="2024-03-04")
    weekend = quarter_hours([1.0] * 96, start="2024-03-09")
    profile = load_profile(pd.concat([weekday, weekend]))
    assert profile.loc["10:15", "weekday"] == pytest.approx(16.0)
    assert profile.loc["10:15", "weekend"] == pytest.approx(4.0)


def test_summary_per_asset() -> None:
    frames = {
        "press-1": quarter_hours([10, 10, 50, 10], kvarh=[0, 0, 0, 70]),
        "press-2": quarter_hours([1, 1, 1, 1], output=[1, 1, 0, 0]),
    }
    table = kpis_by_group(frames, grid_factor=1.0)
    assert table.loc["press-1", "kwh"] == pytest.approx(80.0)
    assert table.loc["press-1", "power_factor"] == pytest.approx(80 / math.sqrt(80**2 + 70**2))
    assert table.loc["press-2", "kwh_per_unit"] == pytest.approx(2.0)
    assert kpi_summary(frames["press-2"])["peak_kw_1h"] == pytest.approx(4.0)
