"""Operating regimes are found when they exist, and normalising within them centres each."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from maintenance.regimes import OperatingRegimes, RegimeNormaliser


def two_regime_data(rows: int = 2000) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(7)
    regime = rng.integers(0, 2, size=rows)
    settings = pd.DataFrame(
        {
            "altitude": np.where(regime == 0, 0.0, 35.0) + rng.normal(0, 0.01, rows),
            "mach": np.where(regime == 0, 0.0, 0.84) + rng.normal(0, 0.001, rows),
        }
    )
    signals = pd.DataFrame(
        {
            "temperature": np.where(regime == 0, 640.0, 550.0) + rng.normal(0, 2.0, rows),
            "pressure": np.where(regime == 0, 21.6, 8.4) + rng.normal(0, 0.1, rows),
            "fan_speed_demand": np.full(rows, 100.0),
        }
    )
    return settings, signals, regime


def test_two_operating_points_give_two_regimes_matching_the_truth() -> None:
    settings, _, truth = two_regime_data()
    regimes = OperatingRegimes().fit(settings)
    assert regimes.n_regimes == 2
    found = regimes.predict(settings)
    # Cluster numbers are arbitrary: the partition must match, up to relabelling.
    agreement = max(np.mean(found == truth), np.mean(found != truth))
    assert agreement == 1.0


def test_settings_scattered_around_one_point_are_one_regime() -> None:
    rng = np.random.default_rng(1)
    settings = pd.DataFrame({"a": rng.normal(0, 0.002, 3000), "b": rng.normal(0, 3e-4, 3000)})
    regimes = OperatingRegimes().fit(settings)
    assert regimes.n_regimes == 1
    assert set(regimes.predict(settings)) == {0}


def test_normalising_within_regimes_gives_zero_mean_unit_spread_in_each() -> None:
    settings, signals, _ = two_regime_data()
    labels = OperatingRegimes().fit(settings).predict(settings)
    normaliser = RegimeNormaliser().fit(signals, labels)
    normalised = normaliser.transform(signals, labels)
    assert normaliser.kept == ["temperature", "pressure"]  # the constant signal is dropped
    for regime in (0, 1):
        part = normalised[labels == regime]
        assert part.mean().abs().max() < 1e-9
        assert part.std(ddof=0).to_numpy() == pytest.approx([1.0, 1.0])
    # Without regimes the regime gap dominates: a global standardisation would not centre them.
    raw_gap = abs(signals["temperature"][labels == 0].mean() - signals["temperature"].mean())
    assert raw_gap > 40


def test_an_unseen_regime_is_refused() -> None:
    signals = pd.DataFrame({"s": [1.0, 2.0, 3.0]})
    normaliser = RegimeNormaliser().fit(signals, np.array([0, 0, 0]))
    with pytest.raises(ValueError, match=r"regimes \[1\] were not seen"):
        normaliser.transform(signals, np.array([0, 1, 0]))
