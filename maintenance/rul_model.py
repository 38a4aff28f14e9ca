"""Remaining-useful-life regression for cycle-by-cycle run data: regimes, per-regime
normalisation, per-unit history features and gradient-boosted trees."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor

from maintenance.cmapss_data import RUL_CAP, SENSORS, SETTINGS, rul_target
from maintenance.regimes import OperatingRegimes, RegimeNormaliser
from maintenance.unit_history_features import unit_history_features

# Chosen among by grouped CV; the first is the fast default for tests and quick runs.
DEFAULT_PARAMS: dict[str, Any] = {
    "max_iter": 300,
    "learning_rate": 0.05,
    "max_leaf_nodes": 15,
    "min_samples_leaf": 100,
}
FULL_GRID: tuple[dict[str, Any], ...] = (
    DEFAULT_PARAMS,
    {"max_iter": 600, "learning_rate": 0.03, "max_leaf_nodes": 15, "min_samples_leaf": 200},
    {"max_iter": 400, "learning_rate": 0.05, "max_leaf_nodes": 31, "min_samples_leaf": 200},
)


def rul_regressor(params: dict[str, Any] | None = None, seed: int = 0):
    """The gradient-boosted trees behind :class:`RulModel`."""
    # No built-in early stopping: its validation split is by row, which leaks units; the
    # number of trees is chosen by grouped CV instead.
    model = HistGradientBoostingRegressor(
        l2_regularization=1.0, early_stopping=False, random_state=seed
    )
    return model.set_params(**(params or DEFAULT_PARAMS))


@dataclass
class CycleFeatures:
    """Learns operating regimes and per-regime sensor statistics from training runs, then
    turns any run file (train or test) into per-row history features."""

    settings: Sequence[str] = tuple(SETTINGS)
    sensors: Sequence[str] = tuple(SENSORS)
    regimes: OperatingRegimes = field(default_factory=OperatingRegimes)
    normaliser: RegimeNormaliser = field(default_factory=RegimeNormaliser)

    def fit(self, cycles: pd.DataFrame) -> CycleFeatures:
        self.regimes.fit(cycles[list(self.settings)])
        labels = self.regimes.predict(cycles[list(self.settings)])
        self.normaliser.fit(cycles[list(self.sensors)], labels)
        return self

    def transform(self, cycles: pd.DataFrame) -> pd.DataFrame:
        labels = self.regimes.predict(cycles[list(self.settings)])
        normalised = self.normaliser.transform(cycles[list(self.sensors)], labels)
        return unit_history_features(normalised, cycles["unit"], cycles["cycle"])


@dataclass
class RulModel:
    """Fit on run-to-failure data; predict the capped RUL of every row of any run."""

    params: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_PARAMS))
    cap: float = RUL_CAP
    seed: int = 0
    features: CycleFeatures = field(default_factory=CycleFeatures)

    def fit(self, cycles: pd.DataFrame) -> RulModel:
        self.features.fit(cycles)
        self._regressor = rul_regressor(self.params, self.seed)
        self._regressor.fit(self.features.transform(cycles), rul_target(cycles, self.cap))
        return self

    def predict(self, cycles: pd.DataFrame) -> np.ndarray:
        predicted = self._regressor.predict(self.features.transform(cycles))
        # Life is never negative and the model was never taught beyond the cap.
        return np.clip(predicted, 0.0, self.cap)
