"""Operating regimes learned from operating settings, and per-regime standardisation.

A sensor's level depends on how the machine is run (altitude, load, speed) far more than
on its wear; standardising each signal within its regime leaves mostly the wear.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score

# Settings scattered around one operating point still split into "clusters" with a
# silhouette of about 0.3-0.5; distinct operating points score near 1. Only accept a
# clustering that is clearly better than splitting noise.
MIN_SILHOUETTE = 0.75
# A signal whose within-regime spread is this small carries no information (a constant
# sensor, or one that only encodes the regime itself).
MIN_STD = 1e-8


@dataclass
class OperatingRegimes:
    """KMeans on standardised operating settings, with the number of regimes chosen by
    silhouette (one regime when no clustering clearly beats noise)."""

    max_regimes: int = 8
    sample_size: int = 3000
    seed: int = 0
    n_regimes: int = field(init=False, default=1)
    _center: np.ndarray = field(init=False, repr=False)
    _scale: np.ndarray = field(init=False, repr=False)
    _kmeans: KMeans | None = field(init=False, default=None, repr=False)

    def fit(self, settings: pd.DataFrame | np.ndarray) -> OperatingRegimes:
        values = np.asarray(settings, dtype=float)
        self._center = values.mean(axis=0)
        spread = values.std(axis=0)
        self._scale = np.where(spread > MIN_STD, spread, 1.0)
        scaled = self._standardise(values)
        rng = np.random.default_rng(self.seed)
        take = min(self.sample_size, len(scaled))
        sample = scaled[rng.choice(len(scaled), size=take, replace=False)]
        best_k, best_score, best_model = 1, MIN_SILHOUETTE, None
        for k in range(2, self.max_regimes + 1):
            if k >= len(np.unique(sample, axis=0)):
                break
            # Fitting on the sample keeps this quick on long histories; regimes are few and
            # well populated, so a few thousand rows place every centre.
            model = KMeans(n_clusters=k, n_init=3, random_state=self.seed).fit(sample)
            score = silhouette_score(sample, model.predict(sample))
            if score > best_score:
                best_k, best_score, best_model = k, score, model
        self.n_regimes, self._kmeans = best_k, best_model
        return self

    def predict(self, settings: pd.DataFrame | np.ndarray) -> np.ndarray:
        values = np.asarray(settings, dtype=float)
        if self._kmeans is None:
            return np.zeros(len(values), dtype=int)
        return self._kmeans.predict(self._standardise(values))

    def _standardise(self, values: np.ndarray) -> np.ndarray:
        return (values - self._center) / self._scale


@dataclass
class RegimeNormaliser:
    """Standardises each signal to zero mean and unit spread within each regime, using the
    statistics of the data it was fitted on; drops signals that are constant in every
    regime."""

    means: pd.DataFrame = field(init=False, repr=False)
    stds: pd.DataFrame = field(init=False, repr=False)
    kept: list[str] = field(init=False, default_factory=list)

    def fit(self, signals: pd.DataFrame, regimes: np.ndarray) -> RegimeNormaliser:
        grouped = signals.groupby(np.asarray(regimes))
        self.means = grouped.mean()
        self.stds = grouped.std(ddof=0)
        informative = (self.stds > MIN_STD).any(axis=0)
        self.kept = [column for column in signals.columns if informative[column]]
        return self

    def transform(self, signals: pd.DataFrame, regimes: np.ndarray) -> pd.DataFrame:
        regimes = np.asarray(regimes)
        unknown = set(np.unique(regimes).tolist()) - set(self.means.index.tolist())
        if unknown:
            raise ValueError(f"regimes {sorted(unknown)} were not seen when fitting")
        means = self.means.loc[regimes, self.kept].to_numpy()
        stds = self.stds.loc[regimes, self.kept].to_numpy()
        # A signal constant within one regime but not another: centre it there, don't blow
        # it up by dividing by zero.
        stds = np.where(stds > MIN_STD, stds, 1.0)
        values = (signals[self.kept].to_numpy(dtype=float) - means) / stds
        return pd.DataFrame(values, index=signals.index, columns=self.kept)
