"""Failure classification: boosted trees weighted for the rare class, one per failure mode
the training records name, their probabilities combined, Platt-calibrated on out-of-fold
predictions, and a decision threshold chosen on those same out-of-fold predictions.

Failure-mode flags are training *targets* here, never inputs: each mode follows its own
physics (a power band, a strain limit, a heat-dissipation margin), and a model per mode
learns a rule that a model of "any failure" blurs. At prediction time only the measurements
are seen. Cross-validation chooses between per-mode targets and the failure label alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import precision_recall_curve
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline

from maintenance.ai4i_data import refuse_forbidden_inputs
from maintenance.tail_features import TailExcess

Progress = Callable[[str], None]

TARGETS = "targets"
PER_MODE = "modes"  # one model per failure mode flag (falls back to the label without flags)
LABEL_ONLY = "label"  # one model of the failure label
BOOSTED_KEYS = ("max_iter", "learning_rate", "max_leaf_nodes", "min_samples_leaf")
# Small leaves: failure modes are sharp thresholds met by a few dozen rows each.
DEFAULT_PARAMS: dict[str, Any] = {
    TARGETS: PER_MODE,
    "max_iter": 200,
    "learning_rate": 0.1,
    "max_leaf_nodes": 7,
    "min_samples_leaf": 5,
}
_SLOWER = {"max_iter": 300, "learning_rate": 0.05, "max_leaf_nodes": 15, "min_samples_leaf": 5}
FULL_GRID: tuple[dict[str, Any], ...] = (
    DEFAULT_PARAMS,
    {TARGETS: PER_MODE, **_SLOWER},
    {**DEFAULT_PARAMS, TARGETS: LABEL_ONLY},
    {TARGETS: LABEL_ONLY, **_SLOWER},
)
# A mode with fewer failures than this joins the "unflagged" target; that target is dropped
# when it has fewer still (a handful of unexplained failures teach a model only noise).
MIN_TARGET_FAILURES = 10
UNFLAGGED = "unflagged"
FAILURE = "failure"
# Probabilities this close to 0 or 1 carry no more ranking information; clipping keeps the
# log-odds finite.
_EPSILON = 1e-12


def best_f1_threshold(labels: ArrayLike, probabilities: ArrayLike) -> tuple[float, float]:
    """The probability threshold that maximises F1, and that F1."""
    precision, recall, thresholds = precision_recall_curve(labels, probabilities)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0)
    # The last precision/recall pair has no threshold (it is the "predict nothing" end).
    best = int(np.argmax(f1[:-1]))
    return float(thresholds[best]), float(f1[best])


def failure_targets(
    labels: ArrayLike,
    modes: pd.DataFrame | None = None,
    min_failures: int = MIN_TARGET_FAILURES,
) -> dict[str, np.ndarray]:
    """The binary targets to learn: one per failure-mode column with at least
    ``min_failures`` failures, plus the failures no such mode explains; the label alone when
    there are no mode columns (or none with enough failures)."""
    labels = np.asarray(labels, dtype=int)
    if modes is None or modes.shape[1] == 0:
        return {FAILURE: labels}
    if len(modes) != len(labels):
        raise ValueError(f"{len(modes)} rows of failure modes for {len(labels)} labels")
    targets: dict[str, np.ndarray] = {}
    for column in modes.columns:
        flags = modes[column].to_numpy()
        if not np.isin(flags, (0, 1)).all():
            raise ValueError(f"failure-mode column {column!r} holds values other than 0 and 1")
        # A flag on a row that did not fail is not a failure of that mode (AI4I's RNF quirk).
        target = ((flags == 1) & (labels == 1)).astype(int)
        if target.sum() >= min_failures:
            targets[str(column)] = target
    covered = np.zeros(len(labels), dtype=bool)
    for target in targets.values():
        covered |= target == 1
    unflagged = ((labels == 1) & ~covered).astype(int)
    if unflagged.sum() >= min_failures:
        targets[UNFLAGGED] = unflagged
    return targets or {FAILURE: labels}


def mode_classifier(params: dict[str, Any], seed: int = 0) -> Pipeline:
    """Tail features, then boosted trees weighted so the rare class counts as much as the
    common one (``params`` may carry the model-level keys; only the boosted ones are used)."""
    boosted = {k: params[k] for k in BOOSTED_KEYS if k in params}
    trees = HistGradientBoostingClassifier(
        class_weight="balanced", early_stopping=False, random_state=seed, **boosted
    )
    return make_pipeline(TailExcess(), trees)


def combine(probabilities: Sequence[np.ndarray]) -> np.ndarray:
    """Log-odds that any of the modes fails, taking them as independent."""
    survive = np.ones_like(np.asarray(probabilities[0], dtype=float))
    for p in probabilities:
        survive *= 1 - np.clip(p, _EPSILON, 1 - _EPSILON)
    fails = np.clip(1 - survive, _EPSILON, 1 - _EPSILON)
    return np.log(fails) - np.log1p(-fails)


@dataclass
class FailureClassifier:
    """Chooses parameters, targets and threshold by stratified out-of-fold F1 on the
    training data."""

    grid: Sequence[dict[str, Any]] = (DEFAULT_PARAMS,)
    n_splits: int = 5
    seed: int = 0
    params: dict[str, Any] = field(init=False, default_factory=dict)
    targets: list[str] = field(init=False, default_factory=list)
    threshold: float = field(init=False, default=0.5)
    cv_f1: float = field(init=False, default=float("nan"))

    def fit(
        self,
        features: pd.DataFrame,
        labels: ArrayLike,
        modes: pd.DataFrame | None = None,
        progress: Progress | None = None,
    ) -> FailureClassifier:
        """``modes`` (optional failure-mode flags, one column a mode) are used as training
        targets only; ``features`` must not contain them."""
        refuse_forbidden_inputs(features.columns)
        if not self.grid:
            raise ValueError("the parameter grid is empty")
        labels = np.asarray(labels, dtype=int)
        # Each AI4I row is a different product, so rows are the independent units here;
        # stratified folds keep the few failures spread over every fold.
        folds = list(
            StratifiedKFold(self.n_splits, shuffle=True, random_state=self.seed).split(
                features, labels
            )
        )
        best: tuple[float, float, dict[str, Any], dict, LogisticRegression] | None = None
        tried: set[tuple] = set()
        for candidate in self.grid:
            use_modes = candidate.get(TARGETS, PER_MODE) == PER_MODE
            targets = failure_targets(labels, modes if use_modes else None)
            key = (tuple(targets), tuple(candidate.get(k) for k in BOOSTED_KEYS))
            if key in tried:  # per-mode without mode columns is the label model again
                continue
            tried.add(key)
            log_odds = self._out_of_fold(features, targets, candidate, folds)
            calibrator = LogisticRegression().fit(log_odds[:, None], labels)
            calibrated = calibrator.predict_proba(log_odds[:, None])[:, 1]
            threshold, f1 = best_f1_threshold(labels, calibrated)
            if progress is not None:
                progress(
                    f"out-of-fold F1 {f1:.3f} at threshold {threshold:.3f} with {candidate}, "
                    f"targets {list(targets)}"
                )
            if best is None or f1 > best[1]:
                best = (threshold, f1, dict(candidate), targets, calibrator)
        assert best is not None
        self.threshold, self.cv_f1, self.params, targets, self._calibrator = best
        self.targets = list(targets)
        self._models = [
            mode_classifier(self.params, self.seed).fit(features, target)
            for target in targets.values()
        ]
        self._columns = list(features.columns)
        return self

    def _out_of_fold(
        self,
        features: pd.DataFrame,
        targets: dict[str, np.ndarray],
        params: dict[str, Any],
        folds: list[tuple[np.ndarray, np.ndarray]],
    ) -> np.ndarray:
        log_odds = np.zeros(len(features))
        for train_rows, valid_rows in folds:
            probabilities = []
            for target in targets.values():
                if target[train_rows].sum() == 0:
                    # No failure of this mode to learn from in this fold: it adds nothing.
                    probabilities.append(np.zeros(len(valid_rows)))
                    continue
                model = mode_classifier(params, self.seed)
                model.fit(features.iloc[train_rows], target[train_rows])
                probabilities.append(model.predict_proba(features.iloc[valid_rows])[:, 1])
            log_odds[valid_rows] = combine(probabilities)
        return log_odds

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of failure for each row."""
        rows = features[self._columns]
        log_odds = combine([model.predict_proba(rows)[:, 1] for model in self._models])
        return self._calibrator.predict_proba(log_odds[:, None])[:, 1]

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(features) >= self.threshold).astype(int)
