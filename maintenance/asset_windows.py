"""An asset's samples cut into fixed time windows, each turned into features.

Windows are aligned to the Unix epoch like the historian's aggregates, so the window
a live score looks at is the same window training saw. Every continuous signal gets the
features of :mod:`maintenance.features` (level, spread, slope, RMS, kurtosis, crest
factor, rate of change, and band energies where asked for); a binary tag (running,
on/off) is an operating setting and only its level is kept, to find the regime, as for
a setpoint named by the user (a speed or load setting); a counter (shots, kWh) is
turned into its rate first, since its level only grows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from maintenance import features as f

SIGNAL_FEATURES = ("level", "spread", "slope", "rms", "kurtosis", "crest_factor", "rate_of_change")
# A tag is taken for a counter when nearly every step goes up or stays: resets and wraps
# are rare, while a real measurement falls about as often as it rises.
COUNTER_RISING_SHARE = 0.99
MIN_SAMPLES_TO_CLASSIFY = 20


@dataclass(frozen=True)
class TagRoles:
    """How each tag enters the features; fixed at training so scoring matches it."""

    signals: tuple[str, ...]
    settings: tuple[str, ...] = ()  # binary: on/off patterns are the regimes
    counters: tuple[str, ...] = ()
    # tag -> [(low_hz, high_hz)]: spectral band shares for vibration-like tags.
    bands: Mapping[str, Sequence[tuple[float, float]]] = field(default_factory=dict)
    setpoints: tuple[str, ...] = ()  # continuous settings: regimes learnt by clustering

    @property
    def tags(self) -> tuple[str, ...]:
        return (*self.signals, *self.counters, *self.settings, *self.setpoints)

    def feature_columns(self) -> list[str]:
        columns = []
        for tag in (*self.signals, *self.counters):
            columns += [f"{tag}.{name}" for name in SIGNAL_FEATURES]
            columns += [f"{tag}.{_band_name(band)}" for band in self.bands.get(tag, ())]
        return columns

    def setting_columns(self) -> list[str]:
        return [f"{tag}.level" for tag in (*self.settings, *self.setpoints)]

    def binary_columns(self) -> list[str]:
        return [f"{tag}.level" for tag in self.settings]


def classify_tags(
    samples: Mapping[str, pd.Series],
    counters: Sequence[str] | None = None,
    bands: Mapping[str, Sequence[tuple[float, float]]] | None = None,
    setpoints: Sequence[str] = (),
) -> TagRoles:
    """Binary tags become settings and ``setpoints`` are taken as given; counters are
    those named, or else detected as tags that (almost) never fall; everything else is a
    signal. Tags without samples are left out."""
    signals, settings, found_counters, found_setpoints = [], [], [], []
    for tag, series in samples.items():
        values = series.dropna().to_numpy()
        if values.size == 0:
            continue
        if tag in setpoints:
            found_setpoints.append(tag)
        elif np.isin(values, (0.0, 1.0)).all():
            settings.append(tag)
        elif (counters is not None and tag in counters) or (
            counters is None and _looks_like_counter(values)
        ):
            found_counters.append(tag)
        else:
            signals.append(tag)
    return TagRoles(
        signals=tuple(signals),
        settings=tuple(settings),
        counters=tuple(found_counters),
        bands=dict(bands or {}),
        setpoints=tuple(found_setpoints),
    )


def _looks_like_counter(values: np.ndarray) -> bool:
    if values.size < MIN_SAMPLES_TO_CLASSIFY:
        return False
    steps = np.diff(values)
    moving = steps[steps != 0]
    return moving.size > 0 and float(np.mean(moving > 0)) >= COUNTER_RISING_SHARE


def window_table(
    samples: Mapping[str, pd.Series],
    roles: TagRoles,
    start_ns: int,
    end_ns: int,
    window_s: float,
    min_samples: int = 5,
) -> pd.DataFrame:
    """One row per whole window inside [start, end), indexed by the window's start (ns);
    a tag with fewer than ``min_samples`` samples in a window leaves its features NaN.
    Partial windows at either end are left out: their features would not be comparable."""
    window_ns = round(window_s * 1e9)
    first = -(-start_ns // window_ns) * window_ns  # the first aligned start at or after start
    starts = np.arange(first, end_ns - window_ns + 1, window_ns, dtype=np.int64)
    columns: dict[str, np.ndarray] = {}
    for tag in (*roles.settings, *roles.setpoints):
        columns[f"{tag}.level"] = _per_window(
            samples.get(tag), starts, window_ns, min_samples, lambda v, p: {"level": f.level(v)}
        )["level"]
    for tag in (*roles.signals, *roles.counters):
        series = samples.get(tag)
        if tag in roles.counters and series is not None:
            series = counter_rate(series)
        bands = list(roles.bands.get(tag, ()))
        computed = _per_window(
            series, starts, window_ns, min_samples, lambda v, p, b=bands: _signal_features(v, p, b)
        )
        for name, values in computed.items():
            columns[f"{tag}.{name}"] = values
    table = pd.DataFrame(columns, index=pd.Index(starts, name="window_start_ns"))
    return table[[*roles.setting_columns(), *roles.feature_columns()]]


def counter_rate(series: pd.Series) -> pd.Series:
    """Increase per second between consecutive samples; a reset or wrap (a fall) is
    dropped rather than read as a huge negative rate."""
    values = series.to_numpy(dtype=float)
    times = np.asarray(series.index, dtype=np.int64)
    if values.size < 2:
        return pd.Series(np.zeros(0), index=np.zeros(0, dtype=np.int64))
    rise = np.diff(values)
    seconds = np.diff(times) / 1e9
    keep = (rise >= 0) & (seconds > 0)
    return pd.Series(rise[keep] / seconds[keep], index=times[1:][keep])


def _signal_features(
    values: np.ndarray, period_s: float, bands: Sequence[tuple[float, float]]
) -> dict[str, float]:
    row = {
        "level": f.level(values),
        "spread": f.spread(values),
        "slope": f.slope(values, period_s),
        "rms": f.rms(values),
        "kurtosis": f.kurtosis(values),
        "crest_factor": f.crest_factor(values),
        "rate_of_change": f.rate_of_change(values, period_s),
    }
    if bands:
        shares = f.band_energy(values, 1.0 / period_s, bands)
        row.update({_band_name(band): share for band, share in zip(bands, shares, strict=True)})
    return row


def _per_window(series, starts, window_ns, min_samples, compute) -> dict[str, np.ndarray]:  # type: ignore[no-untyped-def]
    """``compute(values, sample_period_s)`` for each window's samples, NaN where too few."""
    out: dict[str, np.ndarray] = {}
    if series is None or series.empty:
        return _nan_columns(compute, len(starts))
    series = series.dropna()
    times = np.asarray(series.index, dtype=np.int64)
    values = series.to_numpy(dtype=float)
    lows = np.searchsorted(times, starts, side="left")
    highs = np.searchsorted(times, starts + window_ns, side="left")
    for i, (low, high) in enumerate(zip(lows, highs, strict=True)):
        if high - low < max(min_samples, 2):
            continue
        chunk = values[low:high]
        # The samples' own spacing, so slopes are per second whatever the poll interval.
        period = float(np.median(np.diff(times[low:high]))) / 1e9 or 1.0
        for name, value in compute(chunk, period).items():
            out.setdefault(name, np.full(len(starts), np.nan))[i] = value
    return out or _nan_columns(compute, len(starts))


def _nan_columns(compute, n: int) -> dict[str, np.ndarray]:  # type: ignore[no-untyped-def]
    names = compute(np.array([0.0, 1.0]), 1.0).keys()
    return {name: np.full(n, np.nan) for name in names}


def _band_name(band: tuple[float, float]) -> str:
    return f"band_{band[0]:g}_{band[1]:g}hz"
