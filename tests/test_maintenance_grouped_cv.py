"""Grouped cross-validation keeps every unit whole and picks the better parameters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.tree import DecisionTreeRegressor

from maintenance.grouped_cv import choose_by_grouped_cv, grouped_folds
from maintenance.metrics import rmse


def test_no_unit_is_in_two_folds_and_every_row_is_validated_once() -> None:
    rng = np.random.default_rng(3)
    units = np.repeat(np.arange(23), rng.integers(5, 40, size=23))
    folds = grouped_folds(units, n_splits=5)
    assert len(folds) == 5
    seen: dict[int, int] = {}
    for fold, (train_rows, valid_rows) in enumerate(folds):
        assert not set(units[train_rows]) & set(units[valid_rows])
        for unit in set(units[valid_rows]):
            assert unit not in seen, f"unit {unit} validated in folds {seen[unit]} and {fold}"
            seen[unit] = fold
    assert sorted(seen) == list(range(23))
    all_valid = np.concatenate([valid for _, valid in folds])
    assert sorted(all_valid) == list(range(len(units)))


def test_too_few_units_for_the_folds_is_refused() -> None:
    with pytest.raises(ValueError, match="3 units cannot fill 5 folds"):
        grouped_folds([1, 1, 2, 3], n_splits=5)


def test_grid_choice_prefers_the_tree_deep_enough_for_the_signal() -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(-3, 3, size=600)
    features = pd.DataFrame({"x": x})
    target = np.sin(2 * x) * 10 + rng.normal(0, 0.5, size=600)
    units = np.repeat(np.arange(30), 20)
    result = choose_by_grouped_cv(
        DecisionTreeRegressor(random_state=0),
        [{"max_depth": 1}, {"max_depth": 6}],
        features,
        target,
        units,
        rmse,
        n_splits=5,
    )
    assert result.best_params == {"max_depth": 6}
    scores = dict((params["max_depth"], score) for params, score in result.scores)
    assert scores[6] < scores[1] / 2
