"""Per-unit history features for cycle-by-cycle run data (C-MAPSS style).

Each row sees only its own unit's past (rolling windows end at the row), so the same
features can be computed on a unit that is still running.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

MEAN_WINDOWS = (5, 10, 20, 30)
# Short slopes follow the recent trend; the long ones (up to a whole C-MAPSS life) measure how
# fast this unit has been wearing, which grouped CV on FD001 and FD003 found the most telling.
SLOPE_WINDOWS = (10, 20, 50, 100, 200)
EWM_SPANS = (10, 40)
SPREAD_WINDOW = 10
# Engines start with different degrees of initial wear; the level of a unit's first cycles is
# its own healthy reference, and drift from it is a cleaner wear signal than the level alone.
BASELINE_CYCLES = 15


def unit_history_features(
    signals: pd.DataFrame,
    units: pd.Series,
    cycles: pd.Series,
    mean_windows: Sequence[int] = MEAN_WINDOWS,
    slope_windows: Sequence[int] = SLOPE_WINDOWS,
    ewm_spans: Sequence[int] = EWM_SPANS,
) -> pd.DataFrame:
    """Rolling level, spread, slope, exponentially weighted level and drift from the unit's
    early baseline for every signal column, plus the cycle count. Rows must be sorted by unit
    then cycle."""
    units = pd.Series(np.asarray(units), index=signals.index, name="unit")
    order_ok = (units.diff().fillna(0) >= 0).all()
    if not order_ok:
        raise ValueError("rows must be sorted by unit, then cycle")
    grouped = signals.groupby(units)
    parts: dict[str, pd.DataFrame] = {"": signals}
    for window in mean_windows:
        parts[f"_mean{window}"] = _rolling(grouped, window, "mean")
    parts[f"_std{SPREAD_WINDOW}"] = _rolling(grouped, SPREAD_WINDOW, "std")
    for span in ewm_spans:
        parts[f"_ewm{span}"] = grouped.transform(lambda s, span=span: s.ewm(span=span).mean())
    position = grouped.cumcount().astype(float)
    for window in slope_windows:
        parts[f"_slope{window}"] = _rolling_slope(signals, units, position, window)
    early = signals.where(position < BASELINE_CYCLES)
    baseline = early.groupby(units).transform(lambda s: s.expanding().mean().ffill())
    parts["_drift"] = parts[f"_mean{max(mean_windows)}"] - baseline
    frames = [frame.add_suffix(suffix) for suffix, frame in parts.items()]
    features = pd.concat(frames, axis=1)
    features["cycle"] = np.asarray(cycles, dtype=float)
    return features


def _rolling(grouped, window: int, how: str) -> pd.DataFrame:
    rolled = getattr(grouped.rolling(window, min_periods=1), how)()
    return rolled.reset_index(level=0, drop=True).sort_index()


def _rolling_slope(
    signals: pd.DataFrame, units: pd.Series, position: pd.Series, window: int
) -> pd.DataFrame:
    """Least-squares slope per cycle over the last ``window`` rows of each unit, from rolling
    sums (one pass, no per-window fit)."""
    x = position.to_numpy()[:, None]
    y = signals.to_numpy(dtype=float)
    columns = list(signals.columns)
    stacked = pd.DataFrame(
        np.hstack([y, x * y, np.broadcast_to(x, y.shape), np.broadcast_to(x * x, y.shape)]),
        index=signals.index,
    )
    means = _rolling(stacked.groupby(units), window, "mean").to_numpy()
    k = len(columns)
    mean_y, mean_xy, mean_x, mean_xx = (means[:, i * k : (i + 1) * k] for i in range(4))
    var_x = mean_xx - mean_x**2
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = np.where(var_x > 1e-12, (mean_xy - mean_x * mean_y) / var_x, np.nan)
    return pd.DataFrame(slope, index=signals.index, columns=columns)
