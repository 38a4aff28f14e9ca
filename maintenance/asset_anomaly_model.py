"""The anomaly model of one asset type: window features, normalised within operating
regimes, scored two ways against healthy operation, turned into a risk from 0 to 1 and
explained signal by signal.

An IsolationForest catches unusual combinations of features, but its score saturates
outside the range it was trained on: a vibration 40 standard deviations high isolates
no faster than the most extreme healthy window did, and with dozens of features one
drifting signal barely moves it. So each feature's deviation is also compared with the
largest deviation that feature showed in healthy training; the risk is the larger of
the two. That ratio is also what ranks the evidence and dates the drift.

A window whose operating settings change inside it (the pump stopped halfway through)
is a transition: it is neither learnt from nor scored, since its features mix two
regimes. The risk scale is set on out-of-fold scores of the healthy training windows
(folds are blocks of time, never rows: neighbouring windows are near-copies), so it
describes how new healthy data scores rather than how the training rows score.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import IsolationForest

from maintenance.asset_windows import TagRoles
from maintenance.regimes import OperatingRegimes, RegimeNormaliser

MIN_TRAINING_WINDOWS = 50
# A feature that never strayed far in training (a smooth periodic signal peaks at 1.4
# standard deviations every cycle) must still stray three before it counts as extreme.
MIN_EXTREME = 3.0


@dataclass(frozen=True)
class AnomalyConfig:
    window_s: float = 300.0  # features are computed over windows this long
    min_samples: int = 5  # a tag with fewer samples in a window leaves the window out
    smoothing_windows: int = 3  # risk and drift use the median of the last N windows
    # A feature drifts while its deviation exceeds this multiple of its healthy extreme.
    drift_threshold: float = 1.0
    top_signals: int = 3
    n_estimators: int = 200
    calibration_blocks: int = 3
    seed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class TrainingDataError(ValueError):
    """Too little or unusable training data; the message says what was found."""


@dataclass
class ScoredWindows:
    """Per scored window (index: window start ns): raw and smoothed score, risk, and the
    smoothed within-regime deviation of every feature."""

    scores: pd.DataFrame  # columns score, smoothed, excess, risk
    deviations: pd.DataFrame  # smoothed within-regime z of each feature
    excess: pd.DataFrame  # |deviations| over each feature's healthy extreme


@dataclass
class AssetAnomalyModel:
    config: AnomalyConfig
    roles: TagRoles
    features: list[str] = field(init=False, default_factory=list)
    center: float = field(init=False, default=0.0)
    worst_healthy: float = field(init=False, default=1.0)
    healthy_extremes: dict[str, float] = field(init=False, default_factory=dict)
    typical_excess: float = field(init=False, default=0.5)

    # --- training ------------------------------------------------------------------------

    def fit(self, tables: Mapping[str, pd.DataFrame]) -> dict[str, Any]:
        """Fit on the healthy window tables of one or more assets; returns metrics."""
        steady = {name: self._steady(table) for name, table in tables.items()}
        rows = pd.concat(
            [t.assign(_asset=name) for name, t in steady.items() if not t.empty],
            ignore_index=False,
        )
        total = sum(len(t) for t in tables.values())
        if len(rows) < MIN_TRAINING_WINDOWS:
            raise TrainingDataError(
                f"only {len(rows)} complete steady windows of {self.config.window_s:g} s "
                f"(of {total}) in the training range; at least {MIN_TRAINING_WINDOWS} are "
                "needed: train over a longer range"
            )
        settings = rows[self.roles.setting_columns()]
        self._fit_regimes(settings)
        regimes = self._regimes(settings)
        self._normaliser = RegimeNormaliser().fit(rows[self.roles.feature_columns()], regimes)
        self.features = list(self._normaliser.kept)
        z = self._normaliser.transform(rows[self.roles.feature_columns()], regimes)
        assets = rows["_asset"].to_numpy()
        blocks = _time_blocks(rows.index.to_numpy(), assets, self.config.calibration_blocks)
        out_of_fold = np.empty(len(z))
        for block in np.unique(blocks):
            held = blocks == block
            forest = self._forest().fit(z[~held].to_numpy())
            out_of_fold[held] = -forest.score_samples(z[held].to_numpy())
        smoothed = _smooth_per_asset(out_of_fold[:, None], rows.index, assets, self.config)[:, 0]
        self.center = float(np.median(smoothed))
        self.worst_healthy = float(np.max(smoothed))
        self._forest_model = self._forest().fit(z.to_numpy())
        smoothed_z = _smooth_per_asset(z.to_numpy(), rows.index, assets, self.config)
        extremes = np.maximum(np.abs(smoothed_z).max(axis=0), MIN_EXTREME)
        self.healthy_extremes = dict(zip(self.features, extremes.tolist(), strict=True))
        healthy_excess = (np.abs(smoothed_z) / extremes).max(axis=1)
        self.typical_excess = float(np.median(healthy_excess))
        healthy_risk = np.maximum(self.risk(smoothed), self.excess_risk(healthy_excess))
        return {
            "windows": int(total),
            "steady_windows": len(rows),
            "assets": len(steady),
            "regimes": len(np.unique(regimes)),
            "features": len(self.features),
            "healthy_score_median": round(self.center, 4),
            "healthy_score_worst": round(self.worst_healthy, 4),
            "healthy_risk_p99": round(float(np.quantile(healthy_risk, 0.99)), 4),
        }

    def _forest(self) -> IsolationForest:
        return IsolationForest(n_estimators=self.config.n_estimators, random_state=self.config.seed)

    def _fit_regimes(self, settings: pd.DataFrame) -> None:
        # Binary settings are their own regimes (on/off patterns); with setpoints, KMeans
        # learns the operating points (one regime if no clustering beats noise).
        self._kmeans = (
            OperatingRegimes(seed=self.config.seed).fit(settings) if self.roles.setpoints else None
        )

    def _regimes(self, settings: pd.DataFrame) -> np.ndarray:
        if settings.shape[1] == 0:
            return np.zeros(len(settings), dtype=int)
        if self._kmeans is not None:
            return self._kmeans.predict(settings)
        weights = 2 ** np.arange(settings.shape[1])
        return (settings.to_numpy() @ weights).astype(int)

    def _steady(self, table: pd.DataFrame) -> pd.DataFrame:
        """Windows with every feature present and no setting changing inside them."""
        complete = table.dropna()
        binary = complete[self.roles.binary_columns()]
        if binary.shape[1] == 0:
            return complete
        return complete[binary.isin((0.0, 1.0)).all(axis=1)]

    # --- scoring -------------------------------------------------------------------------

    def risk(self, smoothed: np.ndarray | pd.Series | float) -> np.ndarray:
        """IsolationForest risk: 0 at the median healthy window, 0.5 at the worst healthy
        window of the out-of-fold scores (see :func:`_scale`)."""
        return _scale(smoothed, self.center, self.worst_healthy)

    def excess_risk(self, excess: np.ndarray | pd.Series | float) -> np.ndarray:
        """Deviation risk on the same scale: 0 at a typical healthy window, 0.5 where a
        feature reaches its healthy extreme."""
        return _scale(excess, self.typical_excess, 1.0)

    def score(self, table: pd.DataFrame) -> ScoredWindows:
        """Scores of the steady windows of ``table`` whose regime training has seen."""
        steady = self._steady(table)
        if not steady.empty:
            regimes = self._regimes(steady[self.roles.setting_columns()])
            known = np.isin(regimes, self._normaliser.means.index.to_numpy())
            steady, regimes = steady[known], regimes[known]
        if steady.empty:
            empty = pd.DataFrame(columns=["score", "smoothed", "excess", "risk"], dtype=float)
            features = pd.DataFrame(columns=self.features, dtype=float)
            return ScoredWindows(empty, features, features.copy())
        z = self._normaliser.transform(steady[self.roles.feature_columns()], regimes)
        raw = pd.Series(-self._forest_model.score_samples(z.to_numpy()), index=steady.index)
        k = self.config.smoothing_windows
        smoothed = raw.rolling(k, min_periods=1).median()
        deviations = z.rolling(k, min_periods=1).median()
        extremes = pd.Series(self.healthy_extremes)[deviations.columns]
        excess = deviations.abs() / extremes
        worst = excess.max(axis=1)
        risk = np.maximum(self.risk(smoothed), self.excess_risk(worst.to_numpy()))
        scores = pd.DataFrame(
            {"score": raw, "smoothed": smoothed, "excess": worst, "risk": risk},
            index=steady.index,
        )
        return ScoredWindows(scores, deviations, excess)

    def evidence(self, scored: ScoredWindows) -> list[dict[str, Any]]:
        """The signals deviating most at the last window, largest first. For each: the
        feature that deviates most against its own healthy extreme, the deviation
        (signed, in within-regime standard deviations), that ratio, the signal's share
        of the total excess, and since when the feature has stayed beyond the drift
        threshold (None when it is within it now)."""
        if scored.excess.empty:
            return []
        last = scored.excess.iloc[-1]
        by_signal: dict[str, tuple[str, float]] = {}
        for column, ratio in last.items():
            signal, _, feature = str(column).rpartition(".")
            if signal not in by_signal or ratio > by_signal[signal][1]:
                by_signal[signal] = (feature, float(ratio))
        total = sum(ratio for _, ratio in by_signal.values()) or 1.0
        ranked = sorted(by_signal.items(), key=lambda item: -item[1][1])
        window_ns = round(self.config.window_s * 1e9)
        evidence = []
        for signal, (feature, ratio) in ranked[: self.config.top_signals]:
            column = f"{signal}.{feature}"
            since = _drifting_since(scored.excess[column], self.config.drift_threshold)
            evidence.append(
                {
                    "signal": signal,
                    "feature": feature,
                    "deviation": round(float(scored.deviations[column].iloc[-1]), 2),
                    "healthy_extreme_ratio": round(ratio, 2),
                    "share": round(ratio / total, 3),
                    "drifting_since_ns": since,
                    "window_ns": window_ns,
                }
            )
        return evidence


def _scale(value: np.ndarray | pd.Series | float, typical: float, extreme: float) -> np.ndarray:
    """0 up to the typical healthy value, 0.5 at the healthy extreme, and every further
    step of the same size halves what is left: 0.75, 0.875, ... A signal just past its
    healthy extreme is worth a look; one four steps out is nearly certain trouble."""
    span = max(extreme - typical, 1e-9)
    steps = np.maximum(np.asarray(value, dtype=float) - typical, 0.0) / span
    return 1.0 - np.power(0.5, steps)


def _drifting_since(excess: pd.Series, threshold: float) -> int | None:
    """Start (ns) of the run of windows, ending at the last, where excess > threshold."""
    over = (excess > threshold).to_numpy()
    if not over.size or not over[-1]:
        return None
    run_start = over.size - 1
    while run_start > 0 and over[run_start - 1]:
        run_start -= 1
    return int(excess.index[run_start])


def _time_blocks(times: np.ndarray, assets: np.ndarray, n_blocks: int) -> np.ndarray:
    """Each asset's windows cut into ``n_blocks`` consecutive stretches of time."""
    blocks = np.zeros(len(times), dtype=int)
    for asset in np.unique(assets):
        rows = np.flatnonzero(assets == asset)
        order = rows[np.argsort(times[rows], kind="stable")]
        for block, part in enumerate(np.array_split(order, n_blocks)):
            blocks[part] = block
    return blocks


def _smooth_per_asset(
    values: np.ndarray, times: pd.Index, assets: np.ndarray, config: AnomalyConfig
) -> np.ndarray:
    """Rolling median down each column, within each asset in time order (as scoring does)."""
    smoothed = np.empty(values.shape)
    stamps = times.to_numpy()
    for asset in np.unique(assets):
        rows = np.flatnonzero(assets == asset)
        order = rows[np.argsort(stamps[rows], kind="stable")]
        part = pd.DataFrame(values[order])
        smoothed[order] = part.rolling(config.smoothing_windows, min_periods=1).median()
    return smoothed
