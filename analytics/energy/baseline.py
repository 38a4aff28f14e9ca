"""Hourly energy baselines (ISO 50001 EnPI models) and their evaluation on a later period.

Two models:

- ``TimeOfWeekBaseline``: the mean kWh of each of the 168 hours of the week. The plain
  reference every other model has to beat.
- ``LaggedBaseline``: gradient-boosted trees on calendar inputs (hour, day of week, public
  holiday) and on consumption already metered when the hour starts. With ``lead="hour"``
  that includes the last hours (a one-hour-ahead expectation, what an alarm compares a
  running hour against); with ``lead="day"`` only what was known at the previous midnight
  (yesterday's same hour and total, last week's same hour, the last seven days' mean).

Inputs never include a quantity measured *during* the hour: not its reactive power, power
factor or CO2 (all computed from the same meter reading), and not the steel file's
Load_Type, which is a label derived from the interval's own load (Light/Medium/Maximum),
so it is not known in advance even though it looks like a schedule. Production counts and
weather, where a site has them, enter as extra columns known for the hour (``exogenous``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

from analytics.energy.goodness import cv_rmse, goodness
from analytics.energy.holiday_calendars import is_holiday


def hourly_kwh(frame: pd.DataFrame) -> pd.Series:
    """Meter frame to kWh per clock hour (hours with no data dropped, not zero-filled)."""
    counts = frame["kwh"].resample("h").count()
    return frame["kwh"].resample("h").sum()[counts > 0]


def hour_of_week(index: pd.DatetimeIndex) -> np.ndarray:
    return np.asarray(index.day_of_week * 24 + index.hour)


@dataclass
class TimeOfWeekBaseline:
    """Mean (or median) kWh for each hour of the week; unseen hours get the overall value."""

    statistic: str = "mean"
    means: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))
    overall: float = float("nan")

    def fit(self, hourly: pd.Series) -> TimeOfWeekBaseline:
        self.means = hourly.groupby(hour_of_week(hourly.index)).agg(self.statistic)
        self.overall = float(hourly.agg(self.statistic))
        return self

    def predict(self, index: pd.DatetimeIndex) -> pd.Series:
        values = pd.Series(hour_of_week(index)).map(self.means).fillna(self.overall)
        return pd.Series(values.to_numpy(), index=index)


def lagged_features(
    history: pd.Series,
    lead: str,
    holidays: frozenset[pd.Timestamp],
    exogenous: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Features for every hour of ``history``'s index, using only earlier consumption.

    ``history`` must be hourly and gap-free for the lags to mean what they say; it is
    reindexed onto a full hourly range so a missing hour becomes NaN, not a shift.
    """
    full = history.reindex(pd.date_range(history.index[0], history.index[-1], freq="h"))
    index = full.index
    day = index.normalize()
    daily = full.resample("D").sum(min_count=24)
    features = pd.DataFrame(
        {
            "hour": index.hour,
            "day_of_week": index.day_of_week,
            "holiday": is_holiday(index, holidays).to_numpy(),
            "same_hour_yesterday": full.shift(24).to_numpy(),
            "same_hour_last_week": full.shift(168).to_numpy(),
            "yesterday_total": daily.shift(1).reindex(day).to_numpy(),
            "same_day_last_week_total": daily.shift(7).reindex(day).to_numpy(),
            "last_7_days_mean": daily.rolling(7).mean().shift(1).reindex(day).to_numpy(),
        },
        index=index,
    )
    if lead == "hour":
        features["last_hour"] = full.shift(1).to_numpy()
        features["hour_before_last"] = full.shift(2).to_numpy()
        features["last_3_hours_mean"] = full.rolling(3).mean().shift(1).to_numpy()
    elif lead != "day":
        raise ValueError(f"lead must be 'hour' or 'day', not {lead!r}")
    if exogenous is not None:
        features = features.join(exogenous.reindex(index))
    return features.loc[history.index]


@dataclass
class LaggedBaseline:
    """Gradient-boosted trees on calendar and lagged consumption (see the module doc)."""

    lead: str = "hour"
    holidays: frozenset[pd.Timestamp] = frozenset()
    model: HistGradientBoostingRegressor | None = None

    def _new_model(self) -> HistGradientBoostingRegressor:
        # Fixed, modest settings chosen before looking at any later period; early stopping
        # holds out the last 10 % of the training hours, so the fit never sees the test.
        return HistGradientBoostingRegressor(
            max_iter=400,
            learning_rate=0.05,
            min_samples_leaf=40,
            categorical_features=[0, 1],
            early_stopping=True,
            validation_fraction=0.1,
            random_state=0,
        )

    def fit(self, hourly: pd.Series, exogenous: pd.DataFrame | None = None) -> LaggedBaseline:
        features = lagged_features(hourly, self.lead, self.holidays, exogenous)
        known = features.notna().all(axis=1).to_numpy()
        # Thousands of hours: one thread is as fast, and OpenMP's spinning threads are
        # ten times slower when the platform's other threads hold the cores.
        with threadpool_limits(limits=1, user_api="openmp"):
            self.model = self._new_model().fit(features[known], hourly[known])
        return self

    def predict(self, history: pd.Series, index: pd.DatetimeIndex) -> pd.Series:
        """Expected kWh for the hours in ``index``; ``history`` holds every metered hour up
        to them (training and later), of which only hours before each target are used."""
        if self.model is None:
            raise RuntimeError("fit the baseline first")
        features = lagged_features(history, self.lead, self.holidays).loc[index]
        with threadpool_limits(limits=1, user_api="openmp"):
            predicted = self.model.predict(features)
        return pd.Series(predicted, index=index)


def _scores(actual: pd.Series, predicted: pd.Series) -> dict[str, float]:
    scores = goodness(actual, predicted)
    scores["cv_rmse_daily"] = cv_rmse(actual.resample("D").sum(), predicted.resample("D").sum())
    return {key: round(value, 4) for key, value in scores.items()}


@dataclass(frozen=True)
class BaselineEvaluation:
    """Scores of the lagged model, the naive model and the day-ahead variant, one run."""

    hourly: dict[str, float]
    naive: dict[str, float]
    day_ahead: dict[str, float]
    actual: pd.Series
    expected: pd.Series
    naive_expected: pd.Series

    def as_json(self) -> dict:
        improvement = 1 - self.hourly["cv_rmse"] / self.naive["cv_rmse"]
        return {
            **self.hourly,
            "naive": self.naive,
            "day_ahead": self.day_ahead,
            "cv_rmse_improvement_over_naive": round(improvement * 100, 2),
            "model": "lagged gradient-boosted trees, one hour ahead",
            "test_hours": len(self.actual),
            "test_start": str(self.actual.index[0]),
            "test_end": str(self.actual.index[-1]),
        }


def evaluate_baseline(
    train: pd.DataFrame, test: pd.DataFrame, holidays: frozenset[pd.Timestamp] = frozenset()
) -> BaselineEvaluation:
    """Fit on ``train`` only and score hourly on ``test`` (a later period)."""
    train_hourly, test_hourly = hourly_kwh(train), hourly_kwh(test)
    if test_hourly.index[0] <= train_hourly.index[-1]:
        raise ValueError("the test period must start after the training period ends")
    history = pd.concat([train_hourly, test_hourly])
    naive = TimeOfWeekBaseline().fit(train_hourly).predict(test_hourly.index)
    hour_ahead = LaggedBaseline("hour", holidays).fit(train_hourly)
    expected = hour_ahead.predict(history, test_hourly.index)
    day_ahead = LaggedBaseline("day", holidays).fit(train_hourly)
    day_expected = day_ahead.predict(history, test_hourly.index)
    return BaselineEvaluation(
        hourly=_scores(test_hourly, expected),
        naive=_scores(test_hourly, naive),
        day_ahead=_scores(test_hourly, day_expected),
        actual=test_hourly,
        expected=expected,
        naive_expected=naive,
    )
