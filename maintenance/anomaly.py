"""Unsupervised anomaly scores: an IsolationForest that has only seen healthy operation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.ensemble import IsolationForest


@dataclass
class HealthyBaselineAnomaly:
    """Fit on rows known to be healthy (e.g. each asset's early life); scores grow as a row
    looks less like any of them. Needs no failure labels, so it works from day one."""

    n_estimators: int = 200
    seed: int = 0

    def fit(self, healthy: pd.DataFrame) -> HealthyBaselineAnomaly:
        self._forest = IsolationForest(n_estimators=self.n_estimators, random_state=self.seed)
        self._forest.fit(healthy)
        self._columns = list(healthy.columns)
        return self

    def score(self, rows: pd.DataFrame) -> np.ndarray:
        """Anomaly score per row; higher is more anomalous (sign-flipped sklearn score)."""
        return -self._forest.score_samples(rows[self._columns])
