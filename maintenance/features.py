"""Sliding-window features of a streaming signal (vibration, current, temperature).

Each function takes one window of samples, oldest first; :func:`window_features` slides a
window over a series and computes them all, so a live tag and a stored one get the same
numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike


def level(window: ArrayLike) -> float:
    """Mean value."""
    return float(np.mean(_samples(window)))


def slope(window: ArrayLike, sample_period: float = 1.0) -> float:
    """Least-squares trend in units per second (or per ``sample_period`` unit)."""
    values = _samples(window)
    if values.size < 2:
        return 0.0
    times = np.arange(values.size) * sample_period
    return float(np.polyfit(times, values, 1)[0])


def spread(window: ArrayLike) -> float:
    """Population standard deviation."""
    return float(np.std(_samples(window)))


def rms(window: ArrayLike) -> float:
    """Root mean square: the energy of a vibration signal, offset included."""
    values = _samples(window)
    return float(np.sqrt(np.mean(values**2)))


def kurtosis(window: ArrayLike) -> float:
    """Pearson kurtosis (3 for Gaussian noise, 1.5 for a sine): impacts of a damaged bearing
    make it jump long before the RMS moves."""
    values = _samples(window)
    centred = values - values.mean()
    variance = np.mean(centred**2)
    if variance == 0:
        return 0.0
    return float(np.mean(centred**4) / variance**2)


def crest_factor(window: ArrayLike) -> float:
    """Peak over RMS (√2 for a sine): rises with spiky faults."""
    values = _samples(window)
    root = rms(values)
    return float(np.max(np.abs(values)) / root) if root > 0 else 0.0


def rate_of_change(window: ArrayLike, sample_period: float = 1.0) -> float:
    """Last minus first sample over the window's duration."""
    values = _samples(window)
    if values.size < 2:
        return 0.0
    return float((values[-1] - values[0]) / ((values.size - 1) * sample_period))


def band_energy(
    window: ArrayLike, sample_rate: float, bands: Sequence[tuple[float, float]]
) -> list[float]:
    """Share of the window's (mean-removed) spectral energy in each [low, high) Hz band.

    Shares rather than absolute energy, so a band's figure does not move with overall load.
    """
    values = _samples(window)
    spectrum = np.abs(np.fft.rfft(values - values.mean())) ** 2
    frequencies = np.fft.rfftfreq(values.size, d=1.0 / sample_rate)
    total = spectrum.sum()
    if total == 0:
        return [0.0 for _ in bands]
    return [
        float(spectrum[(frequencies >= low) & (frequencies < high)].sum() / total)
        for low, high in bands
    ]


def window_features(
    signal: pd.Series,
    window: int,
    step: int,
    sample_rate: float = 1.0,
    bands: Sequence[tuple[float, float]] = (),
) -> pd.DataFrame:
    """Every feature above over windows of ``window`` samples taken every ``step`` samples;
    each row is labelled with the index of the window's last sample (when it is known)."""
    if window < 2 or step < 1:
        raise ValueError("a window needs at least 2 samples and a step of at least 1")
    values = signal.to_numpy(dtype=float)
    period = 1.0 / sample_rate
    rows, labels = [], []
    for end in range(window, values.size + 1, step):
        chunk = values[end - window : end]
        row = {
            "level": level(chunk),
            "slope": slope(chunk, period),
            "spread": spread(chunk),
            "rms": rms(chunk),
            "kurtosis": kurtosis(chunk),
            "crest_factor": crest_factor(chunk),
            "rate_of_change": rate_of_change(chunk, period),
        }
        for (low, high), share in zip(bands, band_energy(chunk, sample_rate, bands), strict=True):
            row[f"band_{low:g}_{high:g}hz"] = share
        rows.append(row)
        labels.append(signal.index[end - 1])
    return pd.DataFrame(rows, index=pd.Index(labels, name=signal.index.name))


def _samples(window: ArrayLike) -> np.ndarray:
    values = np.asarray(window, dtype=float).ravel()
    if values.size == 0:
        raise ValueError("an empty window has no features")
    return values
