"""Tail-excess features: how far each measurement lies beyond its own upper and lower
quantiles.

Histogram gradient boosting bins every feature into at most 255 quantile bins, so in the
thin tails of a distribution one bin spans a wide range and the model cannot place a split
where failures actually begin (a power limit, a strain limit). A feature that is zero for
most rows and the excess beyond the quantile elsewhere gives the tail bins of its own.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, TransformerMixin

DEFAULT_QUANTILE = 0.05
# Boosted trees bin a feature with at most 255 distinct values one value a bin, i.e. split it
# exactly; a tail of at most this many rows (plus the zero) stays within that.
MAX_TAIL_ROWS = 250


class TailExcess(TransformerMixin, BaseEstimator):
    """Appends max(x - upper, 0) and max(lower - x, 0) for every column with more than two
    distinct values (flags and one-hot columns have no tails), the quantiles learnt in fit.

    Each tail is the ``quantile`` share of the rows, but at most ``max_tail_rows`` of them, so
    that the boosted trees split the tail exactly rather than in quantile bins again."""

    def __init__(
        self, quantile: float = DEFAULT_QUANTILE, max_tail_rows: int = MAX_TAIL_ROWS
    ) -> None:
        self.quantile = quantile
        self.max_tail_rows = max_tail_rows

    def fit(self, features: ArrayLike, labels: Any = None) -> TailExcess:
        if not 0 < self.quantile < 0.5:
            raise ValueError(f"the tail quantile must be in (0, 0.5), not {self.quantile}")
        values = np.asarray(features, dtype=float)
        if len(values) == 0:
            raise ValueError("no rows to learn the tails from")
        self.n_features_in_ = values.shape[1]
        self.tail_share_ = min(self.quantile, self.max_tail_rows / len(values))
        self.columns_ = np.array(
            [k for k in range(values.shape[1]) if len(np.unique(values[:, k])) > 2], dtype=int
        )
        picked = values[:, self.columns_]
        self.lower_ = np.quantile(picked, self.tail_share_, axis=0)
        self.upper_ = np.quantile(picked, 1 - self.tail_share_, axis=0)
        return self

    def transform(self, features: ArrayLike) -> np.ndarray:
        values = np.asarray(features, dtype=float)
        if values.shape[1] != self.n_features_in_:
            raise ValueError(f"fitted on {self.n_features_in_} columns, given {values.shape[1]}")
        picked = values[:, self.columns_]
        above = np.maximum(picked - self.upper_, 0.0)
        below = np.maximum(self.lower_ - picked, 0.0)
        return np.hstack([values, above, below])
