"""The AI4I protocol: fit on a training file, report failure F1 and friends on a test file."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score
from threadpoolctl import threadpool_limits

from maintenance.ai4i_data import (
    LABEL,
    failure_mode_flags,
    physics_features,
    without_failure_modes,
)
from maintenance.failure_classifier import DEFAULT_PARAMS, FailureClassifier

Progress = Callable[[str], None]


def evaluate_ai4i(
    train: pd.DataFrame,
    test: pd.DataFrame,
    grid: Sequence[dict[str, Any]] = (DEFAULT_PARAMS,),
    n_splits: int = 5,
    seed: int = 0,
    progress: Progress = lambda message: None,
) -> dict[str, Any]:
    """Train on ``train`` (parameters, targets and threshold by out-of-fold F1), score
    ``test`` once. The training file's failure-mode flags may serve as targets; no file's
    flags are ever inputs, and the test file's are never read."""
    started = time.perf_counter()
    # Drop the test rows' flags before anything else looks at them: they describe the very
    # failures being predicted.
    test = without_failure_modes(test)
    progress(f"{len(train)} training rows ({int(train[LABEL].sum())} failures)")
    # One OpenMP thread per fit: on a shared machine more threads ran slower, not faster.
    with threadpool_limits(limits=1, user_api="openmp"):
        classifier = FailureClassifier(grid=grid, n_splits=n_splits, seed=seed).fit(
            physics_features(train), train[LABEL], failure_mode_flags(train), progress
        )
        probabilities = classifier.predict_proba(physics_features(test))
    predicted = (probabilities >= classifier.threshold).astype(int)
    truth = test[LABEL].to_numpy(dtype=int)
    progress(f"scored {len(test)} test rows ({int(truth.sum())} failures)")
    return {
        "f1": round(float(f1_score(truth, predicted)), 4),
        "precision": round(float(precision_score(truth, predicted, zero_division=0)), 4),
        "recall": round(float(recall_score(truth, predicted)), 4),
        "roc_auc": round(float(roc_auc_score(truth, probabilities)), 4),
        "threshold": round(classifier.threshold, 4),
        "cv_f1": round(classifier.cv_f1, 4),
        "params": classifier.params,
        "targets": classifier.targets,
        "seed": seed,
        "n_train": len(train),
        "n_test": len(test),
        "seconds": round(time.perf_counter() - started, 1),
    }
