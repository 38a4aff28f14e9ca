"""Remaining-useful-life regression for cycle-by-cycle run data: regimes, per-regime
normalisation, a few denoised health signals, per-unit history features of those signals,
and boosted trees averaged with extremely randomised trees."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.ensemble import ExtraTreesRegressor, HistGradientBoostingRegressor
from sklearn.linear_model import Ridge

from maintenance.cmapss_data import RUL_CAP, SENSORS, SETTINGS, rul_target
from maintenance.regimes import OperatingRegimes, RegimeNormaliser
from maintenance.unit_history_features import unit_history_features

# The keys that are not boosted-tree settings.
COMPONENTS = "components"
FOREST_WEIGHT = "forest_weight"
BOOSTED_PARAMS: dict[str, Any] = {
    "max_iter": 300,
    "learning_rate": 0.05,
    "max_leaf_nodes": 15,
    "min_samples_leaf": 100,
}
# The fast default for tests and quick runs: no cross-validation, an even blend.
DEFAULT_PARAMS: dict[str, Any] = {COMPONENTS: 2, FOREST_WEIGHT: 0.5, **BOOSTED_PARAMS}
# Grouped CV chooses among these, and for each among FOREST_WEIGHTS (the blend costs no refit).
# One wear mode (FD001) needs two principal components beside the health index, two modes
# (FD003) three; the boosted-tree settings mattered little once the inputs were denoised.
FULL_GRID: tuple[dict[str, Any], ...] = (
    DEFAULT_PARAMS,
    {**DEFAULT_PARAMS, COMPONENTS: 3},
)
FOREST_WEIGHTS: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
# Leaves of ten rows and half the features per split: on FD001 the forest alone beat the
# boosted trees in grouped CV, on FD003 it lost; averaging the two beat both on FD001.
FOREST_PARAMS: dict[str, Any] = {
    "n_estimators": 100,
    "min_samples_leaf": 10,
    "max_features": 0.5,
    "n_jobs": 1,
}


def rul_regressor(params: dict[str, Any] | None = None, seed: int = 0):
    """The gradient-boosted trees behind :class:`RulModel` (``params`` may carry the
    model-level keys too; they are ignored here)."""
    # No built-in early stopping: its validation split is by row, which leaks units; the
    # number of trees is fixed and the rest is chosen by grouped CV instead.
    model = HistGradientBoostingRegressor(
        l2_regularization=1.0, early_stopping=False, random_state=seed
    )
    boosted = {k: v for k, v in (params or BOOSTED_PARAMS).items() if k in BOOSTED_PARAMS}
    return model.set_params(**boosted)


def rul_forest(seed: int = 0) -> ExtraTreesRegressor:
    """The extremely randomised trees averaged with the boosted ones."""
    return ExtraTreesRegressor(random_state=seed, **FOREST_PARAMS)


@dataclass
class CycleFeatures:
    """Learns operating regimes, per-regime sensor statistics and a few health signals from
    training runs, then turns any run file (train or test) into per-row history features.

    Single sensors are noisy; trees cannot add them up, so fed fourteen of them they split on
    noise. Two kinds of combination carry the wear instead: a ridge fit of the capped life on
    the normalised sensors (a health index) and the leading principal components (which also
    follow wear modes the index averages away). Grouped CV on FD001 and FD003 preferred these
    few signals to all sensors, or to all sensors plus the signals."""

    components: int = 2
    settings: Sequence[str] = tuple(SETTINGS)
    sensors: Sequence[str] = tuple(SENSORS)
    seed: int = 0
    regimes: OperatingRegimes = field(default_factory=OperatingRegimes)
    normaliser: RegimeNormaliser = field(default_factory=RegimeNormaliser)

    def fit(self, cycles: pd.DataFrame, target: pd.Series | np.ndarray) -> CycleFeatures:
        """Learn from training runs; ``target`` (the capped life of each row) fits the health
        index, so in cross-validation this must be refitted on each fold's training units."""
        self.regimes.seed = self.seed
        self.regimes.fit(cycles[list(self.settings)])
        labels = self.regimes.predict(cycles[list(self.settings)])
        self.normaliser.fit(cycles[list(self.sensors)], labels)
        if not self.normaliser.kept:
            raise ValueError("every sensor is constant: there is nothing to learn wear from")
        normalised = self.normaliser.transform(cycles[list(self.sensors)], labels).to_numpy()
        n_components = min(self.components, normalised.shape[1])
        self._pca = PCA(n_components, random_state=self.seed).fit(normalised)
        self._health = Ridge(alpha=1.0).fit(normalised, np.asarray(target, dtype=float))
        return self

    def signals(self, cycles: pd.DataFrame) -> pd.DataFrame:
        """The health index and the principal components of every row."""
        labels = self.regimes.predict(cycles[list(self.settings)])
        normalised = self.normaliser.transform(cycles[list(self.sensors)], labels).to_numpy()
        components = self._pca.transform(normalised)
        columns = {"health": self._health.predict(normalised)}
        columns.update({f"pc{k + 1}": components[:, k] for k in range(components.shape[1])})
        return pd.DataFrame(columns, index=cycles.index)

    def transform(self, cycles: pd.DataFrame) -> pd.DataFrame:
        return unit_history_features(self.signals(cycles), cycles["unit"], cycles["cycle"])


@dataclass
class RulModel:
    """Fit on run-to-failure data; predict the capped RUL of every row of any run."""

    params: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_PARAMS))
    cap: float = RUL_CAP
    seed: int = 0
    features: CycleFeatures = field(init=False)

    def fit(self, cycles: pd.DataFrame, both_members: bool = False) -> RulModel:
        """``both_members`` fits the boosted trees and the forest whatever the blend weight,
        so that cross-validation can score every weight from one fit."""
        weight = self.forest_weight  # refuse a bad weight before any fitting
        target = rul_target(cycles, self.cap)
        components = int(self.params.get(COMPONENTS, DEFAULT_PARAMS[COMPONENTS]))
        self.features = CycleFeatures(components=components, seed=self.seed)
        table = self.features.fit(cycles, target).transform(cycles)
        self._boosted = self._forest = None
        if both_members or weight < 1:
            self._boosted = rul_regressor(self.params, self.seed).fit(table, target)
        if both_members or weight > 0:
            self._forest = rul_forest(self.seed).fit(table, target)
        return self

    @property
    def forest_weight(self) -> float:
        weight = float(self.params.get(FOREST_WEIGHT, DEFAULT_PARAMS[FOREST_WEIGHT]))
        if not 0 <= weight <= 1:
            raise ValueError(f"{FOREST_WEIGHT} must be between 0 and 1, not {weight}")
        return weight

    def member_predictions(self, cycles: pd.DataFrame) -> dict[str, np.ndarray]:
        """Each fitted member's prediction for every row, unclipped."""
        table = self.features.transform(cycles)
        members = {"boosted": self._boosted, "forest": self._forest}
        return {n: m.predict(table) for n, m in members.items() if m is not None}

    def predict(self, cycles: pd.DataFrame) -> np.ndarray:
        return blend(self.member_predictions(cycles), self.forest_weight, self.cap)


def blend(members: dict[str, np.ndarray], forest_weight: float, cap: float) -> np.ndarray:
    """The weighted average of the members, clipped to [0, cap]."""
    parts = {"boosted": 1 - forest_weight, "forest": forest_weight}
    predicted = sum(members[name] * share for name, share in parts.items() if share > 0)
    # Life is never negative and the model was never taught beyond the cap.
    return np.clip(predicted, 0.0, cap)
