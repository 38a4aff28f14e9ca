"""Goodness-of-fit of a baseline per ASHRAE Guideline 14, and its savings uncertainty."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats


def _residuals(actual, predicted) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(actual, dtype=float)
    return y, y - np.asarray(predicted, dtype=float)


def cv_rmse(actual, predicted, parameters: int = 0) -> float:
    """CV(RMSE) in percent: sqrt(Σ(y−ŷ)² / (n−p)) / ȳ × 100.

    ``parameters`` is p, the model's parameter count, for in-sample fits; a later period the
    model never saw takes p = 0, since no parameter was estimated on it.
    """
    y, r = _residuals(actual, predicted)
    return float(math.sqrt(np.sum(r**2) / (len(y) - parameters)) / np.mean(y) * 100)


def nmbe(actual, predicted, parameters: int = 0) -> float:
    """NMBE in percent: Σ(y−ŷ) / ((n−p) · ȳ) × 100; negative when the model over-predicts."""
    y, r = _residuals(actual, predicted)
    return float(np.sum(r) / ((len(y) - parameters) * np.mean(y)) * 100)


def r_squared(actual, predicted) -> float:
    """1 − SS_res / SS_tot (can be negative on a later period)."""
    y, r = _residuals(actual, predicted)
    return float(1 - np.sum(r**2) / np.sum((y - np.mean(y)) ** 2))


def goodness(actual, predicted, parameters: int = 0) -> dict[str, float]:
    return {
        "cv_rmse": cv_rmse(actual, predicted, parameters),
        "nmbe": nmbe(actual, predicted, parameters),
        "r2": r_squared(actual, predicted),
    }


def lag1_autocorrelation(residuals) -> float:
    r = np.asarray(residuals, dtype=float)
    r = r - r.mean()
    return float(np.sum(r[1:] * r[:-1]) / np.sum(r**2))


def fractional_savings_uncertainty(
    cv: float,
    savings_fraction: float,
    baseline_points: int,
    reporting_points: int,
    autocorrelation: float = 0.0,
    confidence: float = 0.90,
) -> float:
    """ASHRAE Guideline 14-2014 (Annex B) fractional savings uncertainty ΔE_save / E_save.

    U = t · 1.26 · CV · sqrt((n/n′)(1 + 2/n′)(1/m)) / F, with CV as a fraction, n baseline
    points, n′ = n(1−ρ)/(1+ρ) the points left after lag-1 autocorrelation ρ, m reporting
    points and F the savings as a fraction of the baseline. The 1.26 is the Reddy–Claridge
    correction for a model of this kind; t is Student's, two-sided, with n′ − 1 degrees of
    freedom. Multiply by the savings to get the absolute band.
    """
    rho = min(max(autocorrelation, 0.0), 0.99)
    effective = baseline_points * (1 - rho) / (1 + rho)
    t = stats.t.ppf(0.5 + confidence / 2, max(effective - 1, 1))
    spread = math.sqrt((baseline_points / effective) * (1 + 2 / effective) * (1 / reporting_points))
    return float(t * 1.26 * (cv / 100) * spread / abs(savings_fraction))
