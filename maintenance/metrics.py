"""Scores for remaining-useful-life predictions: RMSE and the PHM08 challenge score."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

# PHM08 penalises late predictions (the engine fails before we said) harder than early ones:
# an early miss wastes some life, a late one risks the aircraft.
EARLY_SCALE = 13.0
LATE_SCALE = 10.0


def rmse(true_rul: ArrayLike, predicted_rul: ArrayLike) -> float:
    """Root mean squared error between true and predicted RUL."""
    true, predicted = _pair(true_rul, predicted_rul)
    return float(np.sqrt(np.mean((predicted - true) ** 2)))


def phm_score(true_rul: ArrayLike, predicted_rul: ArrayLike) -> float:
    """PHM08 score: sum of exp(-d/13)-1 for d<0 and exp(d/10)-1 for d>=0, d = predicted - true."""
    true, predicted = _pair(true_rul, predicted_rul)
    d = predicted - true
    penalties = np.where(d < 0, np.expm1(-d / EARLY_SCALE), np.expm1(d / LATE_SCALE))
    return float(np.sum(penalties))


def _pair(true_rul: ArrayLike, predicted_rul: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    true = np.asarray(true_rul, dtype=float).ravel()
    predicted = np.asarray(predicted_rul, dtype=float).ravel()
    if true.shape != predicted.shape:
        raise ValueError(f"{true.size} true values but {predicted.size} predictions")
    if true.size == 0:
        raise ValueError("no values to score")
    return true, predicted
