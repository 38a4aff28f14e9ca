"""Energy anomalies, each with what it cost: consumption above the baseline, idle-time
waste, and a power factor below what the utility asks for.

Every finding is an :class:`Episode` (kind, start, end, excess kWh, cost and a sentence),
so the three kinds rank together by money, which is what a plant manager acts on.

- **Above baseline.** Hours whose metered kWh exceed the baseline's expectation by more
  than a threshold (``z`` standard deviations of the baseline's residuals on its training
  period, so a noisy plant is not flagged every hour); consecutive flagged hours form one
  episode. Its excess is everything above the expectation in those hours, priced at the
  time-of-use price of each hour.
- **Idle waste.** Intervals where an asset is not producing (its state says so) but
  draws more than its standby allowance; the energy above the allowance is waste, priced
  the same way. Episodes shorter than ``min_minutes`` are ignored: a machine coasting
  down after a cycle is not waste.
- **Power factor.** China's power-factor adjustment (功率因数调整电费办法, (83)水电财字
  第215号), for the 0.90 standard of large industrial users: a month's PF (from active and
  reactive energy, rounded to two decimals as the bill is) below 0.90 adds a share to that
  month's bill, above 0.90 takes a small share off. The table is in
  :func:`pf_adjustment_share`. Hours with a PF below the standard are also reported as
  episodes (without cost: the penalty is monthly) so one sees *when* it happens.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics.energy.tariff import Tariff, bill

PF_STANDARD = 0.90


@dataclass(frozen=True)
class Episode:
    kind: str  # "above_baseline", "idle_waste", "low_power_factor"
    start: pd.Timestamp
    end: pd.Timestamp  # exclusive
    excess_kwh: float
    cost: float
    detail: str

    def as_json(self) -> dict:
        return {
            "kind": self.kind,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "excess_kwh": round(self.excess_kwh, 3),
            "cost": round(self.cost, 2),
            "detail": self.detail,
        }


def residual_threshold(actual: pd.Series, expected: pd.Series, z: float = 2.0) -> float:
    """``z`` standard deviations of a baseline's hourly residuals on its training period."""
    residuals = (actual - expected.reindex(actual.index)).dropna()
    if len(residuals) < 2:
        raise ValueError("need at least two hours of residuals to set a threshold")
    return float(z * residuals.std(ddof=1))


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """(first, last + 1) of each run of True."""
    padded = np.concatenate([[False], flags, [False]]).astype(int)
    changes = np.flatnonzero(np.diff(padded))
    return list(zip(changes[::2], changes[1::2], strict=True))


def above_baseline(
    actual: pd.Series,
    expected: pd.Series,
    tariff: Tariff,
    threshold_kwh: float,
    min_hours: int = 1,
) -> list[Episode]:
    """Runs of hours above ``expected + threshold_kwh``; cost of everything above expected.

    ``actual`` and ``expected`` are kWh per clock hour (index: hour starts). A gap in the
    hours ends a run, so an episode never spans hours nobody metered.
    """
    expected = expected.reindex(actual.index)
    excess = (actual - expected).to_numpy(dtype=float)
    flags = np.nan_to_num(excess, nan=-np.inf) > threshold_kwh
    prices = tariff.prices_at(pd.DatetimeIndex(actual.index))
    hour = pd.Timedelta(hours=1)
    contiguous = np.concatenate([[True], (actual.index[1:] - actual.index[:-1]) == hour])
    episodes = []
    for first, stop in _runs(flags):
        # Split a run where hours are missing in between.
        cuts = [first, *[i for i in range(first + 1, stop) if not contiguous[i]], stop]
        for a, b in itertools.pairwise(cuts):
            if b - a < min_hours:
                continue
            kwh = float(excess[a:b].sum())
            cost = float((excess[a:b] * prices[a:b]).sum())
            mean_share = kwh / float(expected.iloc[a:b].sum()) if expected.iloc[a:b].sum() else 0
            episodes.append(
                Episode(
                    "above_baseline",
                    actual.index[a],
                    actual.index[b - 1] + hour,
                    kwh,
                    cost,
                    f"{b - a} h at {mean_share:.0%} above the baseline's expectation",
                )
            )
    return episodes


def idle_waste(
    power_kw: pd.Series,
    producing: pd.Series,
    standby_kw: float,
    tariff: Tariff,
    min_minutes: float = 10.0,
    asset: str = "asset",
) -> list[Episode]:
    """Energy drawn above ``standby_kw`` while not producing, in runs of ``min_minutes``+.

    ``power_kw`` is sampled at regular intervals (its index: sample times); ``producing``
    says per time whether the asset makes parts, and holds until its next change, so a
    state tag reported by exception can be passed as it is.
    """
    if power_kw.empty:
        return []
    if not power_kw.index.is_monotonic_increasing:
        raise ValueError("power samples are not in time order")
    step = pd.Series(power_kw.index[1:] - power_kw.index[:-1]).mode()
    dt = step.iloc[0] if len(step) else pd.Timedelta(minutes=1)
    state = producing.astype(bool).reindex(power_kw.index, method="ffill").fillna(True)
    above = (power_kw - standby_kw).clip(lower=0).to_numpy(dtype=float)
    idle = (~state.to_numpy(dtype=bool)) & (above > 0)
    hours = dt / pd.Timedelta(hours=1)
    prices = tariff.prices_at(pd.DatetimeIndex(power_kw.index))
    episodes = []
    for first, stop in _runs(idle):
        if (stop - first) * dt < pd.Timedelta(minutes=min_minutes):
            continue
        kwh = float(above[first:stop].sum() * hours)
        cost = float((above[first:stop] * prices[first:stop]).sum() * hours)
        mean_kw = float(power_kw.iloc[first:stop].mean())
        episodes.append(
            Episode(
                "idle_waste",
                power_kw.index[first],
                power_kw.index[stop - 1] + dt,
                kwh,
                cost,
                f"{asset} idle for {(stop - first) * dt} drawing {mean_kw:.1f} kW"
                f" (standby allowance {standby_kw:g} kW)",
            )
        )
    return episodes


def pf_adjustment_share(pf: float) -> float:
    """Share added to (positive) or taken off (negative) a month's bill, 0.90 standard.

    From the national table: 0.91 → -0.15 %, down to -0.75 % from 0.95 up; 0.89 → +0.5 %
    and +0.5 % per 0.01 down to 0.70 (+10 %); +1 % per 0.01 from 0.69 to 0.65 (+15 %);
    +2 % per 0.01 below 0.65.
    """
    hundredths = round(pf * 100)
    if hundredths >= 95:
        return -0.0075
    if hundredths >= 90:
        return -0.0015 * (hundredths - 90)
    if hundredths >= 70:
        return 0.005 * (90 - hundredths)
    if hundredths >= 65:
        return 0.10 + 0.01 * (70 - hundredths)
    return 0.15 + 0.02 * (65 - hundredths)


@dataclass(frozen=True)
class PowerFactorMonth:
    month: str
    power_factor: float
    adjustment_share: float
    bill_before: float
    adjustment: float  # money added (negative: credited)

    def as_json(self) -> dict:
        return {
            "month": self.month,
            "power_factor": round(self.power_factor, 4),
            "adjustment_share": self.adjustment_share,
            "bill_before": round(self.bill_before, 2),
            "adjustment": round(self.adjustment, 2),
        }


def power_factor_months(frame: pd.DataFrame, tariff: Tariff) -> list[PowerFactorMonth]:
    """Each calendar month's PF and its adjustment to that month's bill."""
    if "kvarh" not in frame:
        raise ValueError("power factor needs reactive energy (a kvarh column)")
    out = []
    for month, part in frame.groupby(frame.index.to_period("M")):
        kwh, kvarh = float(part["kwh"].sum()), float(part["kvarh"].sum())
        if kwh <= 0:
            continue
        pf = kwh / float(np.hypot(kwh, kvarh))
        share = pf_adjustment_share(pf)
        before = bill(part, tariff).total
        out.append(PowerFactorMonth(str(month), pf, share, before, share * before))
    return out


def low_power_factor_hours(
    frame: pd.DataFrame, standard: float = PF_STANDARD, min_hours: int = 2
) -> list[Episode]:
    """Runs of clock hours whose PF is below ``standard`` (where the penalty comes from)."""
    hourly = frame[["kwh", "kvarh"]].resample("h").sum()
    hourly = hourly[hourly["kwh"] > 0]
    pf = hourly["kwh"] / np.hypot(hourly["kwh"], hourly["kvarh"])
    flags = (pf < standard).to_numpy()
    # The reactive energy beyond what the standard allows, for scale (kvarh, not kWh).
    allowed = hourly["kwh"] * np.tan(np.arccos(standard))
    surplus = (hourly["kvarh"] - allowed).clip(lower=0).to_numpy()
    hour = pd.Timedelta(hours=1)
    episodes = []
    for first, stop in _runs(flags):
        if stop - first < min_hours:
            continue
        episodes.append(
            Episode(
                "low_power_factor",
                hourly.index[first],
                hourly.index[stop - 1] + hour,
                0.0,
                0.0,
                f"{stop - first} h at PF {float(pf.iloc[first:stop].mean()):.2f}"
                f" (standard {standard:.2f}); {float(surplus[first:stop].sum()):.0f} kvarh"
                " above what it allows",
            )
        )
    return episodes


@dataclass(frozen=True)
class MeterAnomalies:
    """What one meter's later period shows against a baseline fitted on an earlier one."""

    threshold_kwh: float
    above_baseline: list[Episode]
    power_factor: list[PowerFactorMonth]
    low_power_factor: list[Episode]

    def as_json(self, top: int = 10) -> dict:
        ranked = sorted(self.above_baseline, key=lambda e: e.cost, reverse=True)
        return {
            "threshold_kwh": round(self.threshold_kwh, 3),
            "above_baseline": {
                "episodes": len(ranked),
                "excess_kwh": round(sum(e.excess_kwh for e in ranked), 1),
                "cost": round(sum(e.cost for e in ranked), 2),
                "top": [e.as_json() for e in ranked[:top]],
            },
            "power_factor": {
                "adjustment": round(sum(m.adjustment for m in self.power_factor), 2),
                "months": [m.as_json() for m in self.power_factor],
            },
            "low_power_factor": {
                "episodes": len(self.low_power_factor),
                "hours": sum(
                    int((e.end - e.start) / pd.Timedelta(hours=1)) for e in self.low_power_factor
                ),
                "first": [e.as_json() for e in self.low_power_factor[:top]],
            },
        }


def meter_anomalies(
    train: pd.DataFrame,
    test: pd.DataFrame,
    tariff: Tariff,
    holidays: frozenset[pd.Timestamp] = frozenset(),
    z: float = 3.0,
    min_hours: int = 2,
) -> MeterAnomalies:
    """Anomalies of ``test`` (a later period) against a baseline fitted on ``train``.

    The expectation is the day-ahead baseline (only what was known at the previous
    midnight): an hour-ahead model would take a sustained excess for the new normal
    within an hour. The threshold is ``z`` standard deviations of its residuals on the
    training period.
    """
    from analytics.energy.baseline import LaggedBaseline, hourly_kwh

    train_hourly, test_hourly = hourly_kwh(train), hourly_kwh(test)
    if len(train_hourly) < 3 * 168:
        raise ValueError(f"the training period has {len(train_hourly)} hours; give 3 weeks or more")
    if test_hourly.empty:
        raise ValueError("the period to examine has no metered hours")
    if test_hourly.index[0] <= train_hourly.index[-1]:
        raise ValueError("the period to examine must start after the training period ends")
    model = LaggedBaseline("day", holidays).fit(train_hourly)
    history = pd.concat([train_hourly, test_hourly])
    known = train_hourly.index[168:]  # the first week has no lags to predict from
    threshold = residual_threshold(train_hourly.loc[known], model.predict(history, known), z)
    expected = model.predict(history, test_hourly.index)
    has_kvarh = "kvarh" in test
    return MeterAnomalies(
        threshold,
        above_baseline(test_hourly, expected, tariff, threshold, min_hours),
        power_factor_months(test, tariff) if has_kvarh else [],
        low_power_factor_hours(test) if has_kvarh else [],
    )
