"""Sliding-window signal features against values worked by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from maintenance.features import (
    band_energy,
    crest_factor,
    kurtosis,
    level,
    rate_of_change,
    rms,
    slope,
    spread,
    window_features,
)

RATE = 1000.0  # Hz
TIME = np.arange(1000) / RATE  # one second: whole periods of every tone below


def sine(frequency: float, amplitude: float = 1.0) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * frequency * TIME)


def test_rms_of_a_sine_is_amplitude_over_root_two() -> None:
    assert rms(sine(50, 3.0)) == pytest.approx(3.0 / math.sqrt(2), rel=1e-9)


def test_crest_factor_of_a_sine_is_root_two_and_of_a_square_wave_one() -> None:
    assert crest_factor(sine(50)) == pytest.approx(math.sqrt(2), rel=1e-6)
    assert crest_factor(np.where(sine(50) >= 0, 1.0, -1.0)) == pytest.approx(1.0)


def test_kurtosis_of_a_sine_is_one_and_a_half_and_an_impact_raises_it() -> None:
    assert kurtosis(sine(50)) == pytest.approx(1.5, rel=1e-6)
    impacted = sine(50).copy()
    impacted[::100] += 8.0
    assert kurtosis(impacted) > 5


def test_level_spread_slope_and_rate_of_change_of_a_small_series() -> None:
    window = [1.0, 3.0, 5.0, 7.0]
    assert level(window) == 4.0
    assert spread(window) == pytest.approx(math.sqrt(5))  # deviations ±1, ±3
    assert slope(window) == pytest.approx(2.0)
    assert slope(window, sample_period=0.5) == pytest.approx(4.0)
    assert rate_of_change([2.0, 9.0, 4.0, 8.0], sample_period=2.0) == pytest.approx(1.0)


def test_band_energy_of_a_pure_tone_falls_in_its_band() -> None:
    bands = [(0, 50), (50, 150), (150, 500)]
    shares = band_energy(sine(120) + 5.0, RATE, bands)  # offset is removed first
    assert shares[1] == pytest.approx(1.0, abs=1e-9)
    assert shares[0] == pytest.approx(0.0, abs=1e-9) and shares[2] == pytest.approx(0, abs=1e-9)
    two_tones = band_energy(sine(20) + sine(300, 2.0), RATE, bands)
    assert two_tones[0] == pytest.approx(0.2) and two_tones[2] == pytest.approx(0.8)


def test_window_features_slide_and_label_each_window_by_its_last_sample() -> None:
    signal = pd.Series(np.arange(10, dtype=float), index=pd.RangeIndex(10, name="t"))
    table = window_features(signal, window=4, step=3, bands=[(0.0, 0.5)])
    assert list(table.index) == [3, 6, 9]
    assert table["level"].tolist() == [1.5, 4.5, 7.5]
    assert table["slope"].tolist() == pytest.approx([1.0, 1.0, 1.0])
    assert "band_0_0.5hz" in table.columns


def test_empty_windows_are_refused() -> None:
    with pytest.raises(ValueError, match="empty window"):
        rms([])
