"""The C-MAPSS protocol: fit on the training runs, score the last cycle of each test unit."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from maintenance.cmapss_data import (
    RUL_CAP,
    last_cycle_rows,
    read_cycles,
    read_true_rul,
    rul_target,
)
from maintenance.grouped_cv import choose_by_grouped_cv
from maintenance.metrics import phm_score, rmse
from maintenance.rul_model import DEFAULT_PARAMS, CycleFeatures, RulModel, rul_regressor

Progress = Callable[[str], None]


def evaluate_cmapss(
    train_path: Path,
    test_path: Path,
    rul_path: Path,
    grid: Sequence[dict[str, Any]] = (DEFAULT_PARAMS,),
    n_splits: int = 5,
    train_units: int | None = None,
    progress: Progress = lambda message: None,
) -> dict[str, Any]:
    """Choose parameters by grouped CV on the training file, refit, and score the test units'
    last cycles against the RUL file. Test data is touched only for that final score."""
    started = time.perf_counter()
    train = read_cycles(train_path)
    if train_units is not None:
        train = train[train["unit"].isin(np.sort(train["unit"].unique())[:train_units])]
    test = read_cycles(test_path)
    true_rul = read_true_rul(rul_path)
    n_units = test["unit"].nunique()
    if n_units != len(true_rul):
        raise ValueError(f"{test_path} has {n_units} units but {rul_path} {len(true_rul)} RULs")
    progress(f"read {train['unit'].nunique()} training units, {n_units} test units")

    result: dict[str, Any] = {}
    params = dict(grid[0])
    if len(grid) > 1:
        # Regimes and sensor statistics come from the whole training file before the folds
        # are cut: they use no target, and refitting them per fold changes nothing material
        # but costs a feature pass per fold.
        features = CycleFeatures().fit(train)
        table = features.transform(train)
        progress(f"{table.shape[1]} features; choosing among {len(grid)} parameter sets")
        chosen = choose_by_grouped_cv(
            rul_regressor(),
            grid,
            table,
            rul_target(train, RUL_CAP),
            train["unit"],
            rmse,
            n_splits,
            progress,
        )
        params = chosen.best_params
        result["cv_rmse"] = round(chosen.best_score, 3)
    progress(f"fitting on all training units with {params}")
    model = RulModel(params=params).fit(train)
    scored = test[last_cycle_rows(test).to_numpy()]
    predicted = model.predict(test)[last_cycle_rows(test).to_numpy()]
    progress(f"scored {len(scored)} test units")
    capped_true = np.minimum(true_rul, RUL_CAP)
    result = {
        "rmse": round(rmse(true_rul, predicted), 3),
        "phm_score": round(phm_score(true_rul, predicted), 2),
        "n_units": int(n_units),
        # Many papers also cap the test truth at 125; report that too so figures compare.
        "rmse_true_rul_capped": round(rmse(capped_true, predicted), 3),
        "phm_score_true_rul_capped": round(phm_score(capped_true, predicted), 2),
        "n_regimes": model.features.regimes.n_regimes,
        "sensors_used": len(model.features.normaliser.kept),
        "params": params,
        **result,
        "seconds": round(time.perf_counter() - started, 1),
    }
    return result
