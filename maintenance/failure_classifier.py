"""Failure classification: calibrated probabilities, imbalance handled by class weights, and
a decision threshold chosen on out-of-fold predictions of the training data."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import precision_recall_curve
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from maintenance.ai4i_data import refuse_forbidden_inputs

Progress = Callable[[str], None]

# Small leaves: failure modes are sharp thresholds met by a few dozen rows each.
DEFAULT_PARAMS: dict[str, Any] = {
    "max_iter": 200,
    "learning_rate": 0.1,
    "max_leaf_nodes": 7,
    "min_samples_leaf": 5,
}
FULL_GRID: tuple[dict[str, Any], ...] = (
    DEFAULT_PARAMS,
    {"max_iter": 300, "learning_rate": 0.05, "max_leaf_nodes": 15, "min_samples_leaf": 5},
    {"max_iter": 200, "learning_rate": 0.1, "max_leaf_nodes": 15, "min_samples_leaf": 20},
)


def best_f1_threshold(labels: ArrayLike, probabilities: ArrayLike) -> tuple[float, float]:
    """The probability threshold that maximises F1, and that F1."""
    precision, recall, thresholds = precision_recall_curve(labels, probabilities)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0)
    # The last precision/recall pair has no threshold (it is the "predict nothing" end).
    best = int(np.argmax(f1[:-1]))
    return float(thresholds[best]), float(f1[best])


def calibrated_classifier(params: dict[str, Any], seed: int = 0) -> CalibratedClassifierCV:
    """Boosted trees weighted for the rare class, then sigmoid-calibrated so that the
    probabilities mean what they say despite the weighting."""
    trees = HistGradientBoostingClassifier(
        class_weight="balanced", early_stopping=False, random_state=seed, **params
    )
    # Sigmoid rather than isotonic: a few hundred failures are too few for a step function.
    # ensemble=False keeps one model fitted on all rows; averaging three fitted on two
    # thirds each lost several points of F1.
    return CalibratedClassifierCV(trees, method="sigmoid", cv=3, ensemble=False)


@dataclass
class FailureClassifier:
    """Chooses parameters and threshold by stratified out-of-fold F1 on the training data."""

    grid: Sequence[dict[str, Any]] = (DEFAULT_PARAMS,)
    n_splits: int = 5
    seed: int = 0
    params: dict[str, Any] = field(init=False, default_factory=dict)
    threshold: float = field(init=False, default=0.5)
    cv_f1: float = field(init=False, default=float("nan"))

    def fit(
        self, features: pd.DataFrame, labels: ArrayLike, progress: Progress | None = None
    ) -> FailureClassifier:
        refuse_forbidden_inputs(features.columns)
        labels = np.asarray(labels, dtype=int)
        # Each AI4I row is a different product, so rows are the independent units here;
        # stratified folds keep the few failures spread over every fold.
        folds = StratifiedKFold(self.n_splits, shuffle=True, random_state=self.seed)
        best: tuple[float, float, dict[str, Any]] | None = None
        for params in self.grid:
            out_of_fold = cross_val_predict(
                calibrated_classifier(params, self.seed),
                features,
                labels,
                cv=folds,
                method="predict_proba",
            )[:, 1]
            threshold, f1 = best_f1_threshold(labels, out_of_fold)
            if progress is not None:
                progress(f"out-of-fold F1 {f1:.3f} at threshold {threshold:.3f} with {params}")
            if best is None or f1 > best[1]:
                best = (threshold, f1, dict(params))
        assert best is not None, "the parameter grid is empty"
        self.threshold, self.cv_f1, self.params = best
        self._model = calibrated_classifier(self.params, self.seed).fit(features, labels)
        self._columns = list(features.columns)
        return self

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of failure for each row."""
        return self._model.predict_proba(features[self._columns])[:, 1]

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(features) >= self.threshold).astype(int)
