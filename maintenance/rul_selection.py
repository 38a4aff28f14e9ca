"""Choosing the remaining-life model's settings by cross-validation grouped by unit.

Every fold refits the whole model, features included: the health index learns from the
target, so fitting it once on all training units would let each fold peek at its own
validation units.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from maintenance.cmapss_data import RUL_CAP, rul_target
from maintenance.grouped_cv import GridResult, grouped_folds
from maintenance.metrics import rmse
from maintenance.rul_model import FOREST_WEIGHT, FOREST_WEIGHTS, RulModel, blend

Progress = Callable[[str], None]


def choose_rul_params(
    cycles: pd.DataFrame,
    grid: Sequence[dict[str, Any]],
    weights: Sequence[float] = FOREST_WEIGHTS,
    n_splits: int = 5,
    cap: float = RUL_CAP,
    seed: int = 0,
    progress: Progress | None = None,
) -> GridResult:
    """Mean validation RMSE against the capped target over grouped folds (every row of each
    validation unit scored), for every grid entry and blend weight; lowest wins (the best
    parameters carry their blend weight)."""
    if not grid:
        raise ValueError("the parameter grid is empty")
    if not weights:
        raise ValueError("no blend weights to choose among")
    folds = grouped_folds(cycles["unit"], n_splits)
    target = rul_target(cycles, cap).to_numpy()
    scores: list[tuple[dict[str, Any], float]] = []
    for candidate in grid:
        fold_members = []
        for train_rows, valid_rows in folds:
            model = RulModel(params=dict(candidate), cap=cap, seed=seed)
            model.fit(cycles.iloc[train_rows], both_members=True)
            fold_members.append(model.member_predictions(cycles.iloc[valid_rows]))
        for weight in weights:
            fold_scores = [
                rmse(target[valid_rows], blend(members, weight, cap))
                for (_, valid_rows), members in zip(folds, fold_members, strict=True)
            ]
            params = {**candidate, FOREST_WEIGHT: weight}
            scores.append((params, float(np.mean(fold_scores))))
            if progress is not None:
                progress(f"grouped {n_splits}-fold CV {params}: {scores[-1][1]:.3f}")
    best_params, best_score = min(scores, key=lambda pair: pair[1])
    return GridResult(best_params, best_score, scores)
