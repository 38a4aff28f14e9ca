"""Cross-validation grouped by asset: every row of one unit lands in the same fold.

Rows of one engine are near-copies of each other; a row-wise split would let the model
meet the validation engine in training and choose parameters that memorise engines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.base import clone
from sklearn.model_selection import GroupKFold

Score = Callable[[np.ndarray, np.ndarray], float]
Progress = Callable[[str], None]


def grouped_folds(groups: ArrayLike, n_splits: int = 5) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, validation) row indices for GroupKFold on ``groups``; refuses fewer groups than
    folds rather than silently making fewer folds."""
    groups = np.asarray(groups)
    n_groups = len(np.unique(groups))
    if n_groups < n_splits:
        raise ValueError(f"{n_groups} units cannot fill {n_splits} folds")
    splitter = GroupKFold(n_splits=n_splits)
    return list(splitter.split(np.zeros(len(groups)), groups=groups))


@dataclass(frozen=True)
class GridResult:
    """The parameters that scored best (lowest) across the folds, and every candidate's score."""

    best_params: dict[str, Any]
    best_score: float
    scores: list[tuple[dict[str, Any], float]]


def choose_by_grouped_cv(
    estimator: Any,
    grid: Sequence[Mapping[str, Any]],
    features: pd.DataFrame,
    target: ArrayLike,
    groups: ArrayLike,
    score: Score,
    n_splits: int = 5,
    progress: Progress | None = None,
) -> GridResult:
    """Mean validation ``score`` (lower is better) of each parameter set over grouped folds."""
    target = np.asarray(target, dtype=float)
    folds = grouped_folds(groups, n_splits)
    scores: list[tuple[dict[str, Any], float]] = []
    for params in _as_dicts(grid):
        fold_scores = []
        for train_rows, valid_rows in folds:
            model = clone(estimator).set_params(**params)
            model.fit(features.iloc[train_rows], target[train_rows])
            fold_scores.append(score(target[valid_rows], model.predict(features.iloc[valid_rows])))
        mean = float(np.mean(fold_scores))
        scores.append((params, mean))
        if progress is not None:
            progress(f"grouped {n_splits}-fold CV {params}: {mean:.3f}")
    best_params, best_score = min(scores, key=lambda pair: pair[1])
    return GridResult(best_params, best_score, scores)


def _as_dicts(grid: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    candidates = [dict(params) for params in grid]
    if not candidates:
        raise ValueError("the parameter grid is empty")
    return candidates
