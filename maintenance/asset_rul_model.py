"""Remaining useful life of an asset type, with an interval, learnt from the failures its
work orders recorded.

Each failure (a finished work order with a found cause) gives a run-to-failure history:
the windows before it, each labelled with the hours left until it. The inputs are what
the anomaly model sees (each feature's deviation from healthy, within its regime) plus
how fast each deviation is growing. Three quantile regressions (10 %, 50 %, 90 %) give
the estimate and its interval, widened until held-out histories fall inside it as often
as it claims. Parameters are chosen, and intervals checked, by cross-validation grouped
by failure history, never by row: the windows of one run are near-copies of each other.
Far from failure the signals carry no news of it, so life is capped (a week by
default), as the C-MAPSS protocol caps it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

from maintenance.asset_anomaly_model import AssetAnomalyModel, ScoredWindows
from maintenance.grouped_cv import choose_by_grouped_cv, grouped_folds

HOUR_NS = 3_600_000_000_000
QUANTILES = (0.1, 0.5, 0.9)
GRID: tuple[dict[str, Any], ...] = (
    {"max_iter": 200, "learning_rate": 0.05, "max_leaf_nodes": 15, "min_samples_leaf": 20},
    {"max_iter": 300, "learning_rate": 0.05, "max_leaf_nodes": 7, "min_samples_leaf": 40},
)
MIN_HISTORIES = 3


@dataclass(frozen=True)
class RulConfig:
    cap_hours: float = 168.0
    history_hours: float = 14 * 24.0  # how far before each failure to learn from
    trend_windows: int = 12  # growth of each deviation over this many windows
    folds: int = 3
    seed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RunToFailure:
    """One history: its scored windows and when the failure came (ns)."""

    name: str
    scored: ScoredWindows
    failed_at_ns: int


@dataclass
class AssetRulModel:
    """Carries the anomaly model it was built on, so its inputs never change under it."""

    anomaly: AssetAnomalyModel
    config: RulConfig = field(default_factory=RulConfig)
    params: dict[str, Any] = field(init=False, default_factory=dict)
    columns: list[str] = field(init=False, default_factory=list)
    interval_margin: float = field(init=False, default=0.0)

    def inputs(self, scored: ScoredWindows) -> pd.DataFrame:
        """Deviation of every feature, its growth per window, and the largest excess."""
        deviations = scored.deviations
        k = self.config.trend_windows
        growth = (deviations - deviations.shift(k)).fillna(0.0) / k
        frame = pd.concat(
            [deviations, growth.add_suffix(":growth"), scored.scores[["excess"]]], axis=1
        )
        return frame.astype(float)

    def fit(self, histories: Sequence[RunToFailure]) -> dict[str, Any]:
        if len(histories) < MIN_HISTORIES:
            raise ValueError(
                f"{len(histories)} recorded failure(s) with data; a remaining-life model "
                f"needs at least {MIN_HISTORIES}"
            )
        frames, targets, groups = [], [], []
        window_ns = round(self.anomaly.config.window_s * 1e9)
        for i, history in enumerate(histories):
            x = self.inputs(history.scored)
            ends = x.index.to_numpy() + window_ns
            hours = (history.failed_at_ns - ends) / HOUR_NS
            keep = hours >= 0
            frames.append(x[keep])
            targets.append(np.minimum(hours[keep], self.config.cap_hours))
            groups.append(np.full(int(keep.sum()), i))
        x = pd.concat(frames, ignore_index=True)
        y, g = np.concatenate(targets), np.concatenate(groups)
        self.columns = list(x.columns)
        folds = min(self.config.folds, len(histories))
        # One OpenMP thread per fit: a job worker shares its machine, and boosted trees'
        # threads fighting over busy cores run many times slower than one alone.
        with threadpool_limits(limits=1, user_api="openmp"):
            chosen = choose_by_grouped_cv(
                self._regressor(0.5, GRID[0]), GRID, x, y, g, _mae, n_splits=folds
            )
            self.params = chosen.best_params
            low, mid, high = self._out_of_fold(x, y, g, folds)
            self._models = {q: self._regressor(q, self.params).fit(x, y) for q in QUANTILES}
        # Quantile trees fitted on few histories give intervals too narrow for a history
        # they have not seen. Widen them by what the held-out histories needed
        # (conformalised quantile regression): the margin that makes the out-of-fold
        # intervals hold the truth as often as they claim to.
        nominal = QUANTILES[-1] - QUANTILES[0]
        misses = np.maximum(low - y, y - high)
        level = min(1.0, nominal * (1 + 1 / len(y)))
        self.interval_margin = max(0.0, float(np.quantile(misses, level)))
        near = y <= 24
        return {
            "histories": len(histories),
            "windows": len(x),
            "cv_mae_hours": round(_mae(y, mid), 2),
            "cv_mae_hours_last_day": round(_mae(y[near], mid[near]), 2) if near.any() else None,
            "cv_interval_coverage_raw": round(_coverage(y, low, high, 0.0), 3),
            "cv_interval_coverage": round(_coverage(y, low, high, self.interval_margin), 3),
            "interval_margin_hours": round(self.interval_margin, 2),
            "interval_nominal": nominal,
            # Life longer than the longest history was never seen: estimates stay below it.
            "longest_history_hours": round(float(y.max()), 1),
            "cap_hours": self.config.cap_hours,
            "params": self.params,
        }

    def _regressor(self, quantile: float, params: dict[str, Any]) -> HistGradientBoostingRegressor:
        # No built-in early stopping: its validation split is by row, which leaks histories.
        return HistGradientBoostingRegressor(
            loss="quantile", quantile=quantile, early_stopping=False,
            random_state=self.config.seed, **params,
        )  # fmt: skip

    def _out_of_fold(
        self, x: pd.DataFrame, y: np.ndarray, g: np.ndarray, folds: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each quantile predicted for every row by models that never saw its history."""
        low, mid, high = (np.empty(len(y)) for _ in QUANTILES)
        for train, held in grouped_folds(g, folds):
            for out, q in zip((low, mid, high), QUANTILES, strict=True):
                model = self._regressor(q, self.params).fit(x.iloc[train], y[train])
                out[held] = model.predict(x.iloc[held])
        return np.minimum(low, high), mid, np.maximum(low, high)

    def predict(self, scored: ScoredWindows) -> tuple[float, float, float]:
        """(estimate, low, high) hours of life left after the last scored window."""
        x = self.inputs(scored)[self.columns].iloc[[-1]]
        low, mid, high = (float(self._models[q].predict(x)[0]) for q in QUANTILES)
        cap = self.config.cap_hours
        low, high = low - self.interval_margin, high + self.interval_margin
        low, mid, high = (min(max(v, 0.0), cap) for v in (low, mid, high))
        # Separately fitted quantiles can cross; the interval must still contain the estimate.
        return mid, min(low, mid), max(high, mid)


def _coverage(y: np.ndarray, low: np.ndarray, high: np.ndarray, margin: float) -> float:
    return float(np.mean((y >= low - margin) & (y <= high + margin)))


def _mae(truth: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.mean(np.abs(np.asarray(predicted) - np.asarray(truth))))
