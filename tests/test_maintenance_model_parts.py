"""The parts behind the C-MAPSS and AI4I evaluations: tail-excess inputs, failure-mode
targets, the per-mode classifier, and the remaining-life choice by folds grouped by unit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from maintenance import rul_selection
from maintenance.ai4i_data import (
    FAILURE_MODES,
    LABEL,
    failure_mode_flags,
    physics_features,
    read_ai4i,
)
from maintenance.ai4i_evaluation import evaluate_ai4i
from maintenance.cmapss_data import SENSORS, SETTINGS
from maintenance.failure_classifier import (
    DEFAULT_PARAMS as AI4I_DEFAULT,
)
from maintenance.failure_classifier import (
    FAILURE,
    LABEL_ONLY,
    TARGETS,
    UNFLAGGED,
    FailureClassifier,
    combine,
    failure_targets,
)
from maintenance.rul_model import DEFAULT_PARAMS as RUL_DEFAULT
from maintenance.rul_model import FOREST_WEIGHT, RulModel, blend
from maintenance.rul_selection import choose_rul_params
from maintenance.tail_features import TailExcess

# --- tail excess ---------------------------------------------------------------------


def test_tail_excess_is_zero_inside_the_quantiles_and_the_excess_beyond() -> None:
    values = np.arange(100, dtype=float)[:, None]
    tails = TailExcess(quantile=0.1).fit(values)
    out = tails.transform(np.array([[50.0], [95.0], [2.0]]))
    assert out.shape == (3, 3)  # the column, its excess above, its excess below
    upper, lower = tails.upper_[0], tails.lower_[0]
    assert out[0].tolist() == [50.0, 0.0, 0.0]
    assert out[1].tolist() == pytest.approx([95.0, 95.0 - upper, 0.0])
    assert out[2].tolist() == pytest.approx([2.0, 0.0, lower - 2.0])


def test_tail_excess_skips_flags_and_caps_the_tail_at_max_rows() -> None:
    rng = np.random.default_rng(0)
    values = np.column_stack([rng.normal(size=10_000), rng.integers(0, 2, 10_000)])
    tails = TailExcess(quantile=0.05, max_tail_rows=100).fit(values)
    assert tails.columns_.tolist() == [0]  # the 0/1 column has no tails
    assert tails.tail_share_ == pytest.approx(0.01)
    out = tails.transform(values)
    assert out.shape == (10_000, 4)
    assert 90 <= (out[:, 2] > 0).sum() <= 110


def test_tail_excess_refuses_a_bad_quantile_and_a_different_width() -> None:
    with pytest.raises(ValueError, match="tail quantile"):
        TailExcess(quantile=0.5).fit(np.ones((10, 1)))
    tails = TailExcess().fit(np.arange(20.0).reshape(10, 2))
    with pytest.raises(ValueError, match="fitted on 2 columns, given 3"):
        tails.transform(np.ones((4, 3)))


# --- failure-mode targets ------------------------------------------------------------


def test_each_mode_with_enough_failures_is_a_target_and_the_rest_are_unflagged() -> None:
    labels = np.array([1] * 12 + [1] * 11 + [1] * 3 + [1] * 10 + [0] * 50)
    modes = pd.DataFrame(0, index=range(len(labels)), columns=["HDF", "PWF", "RNF"])
    modes.loc[0:11, "HDF"] = 1
    modes.loc[12:22, "PWF"] = 1
    modes.loc[23:25, "RNF"] = 1  # too few of its own: joins the unflagged failures
    modes.loc[40:45, "RNF"] = 1  # flagged on rows that did not fail: not a failure (AI4I's quirk)
    targets = failure_targets(labels, modes, min_failures=10)
    assert list(targets) == ["HDF", "PWF", UNFLAGGED]
    assert targets["HDF"].sum() == 12 and targets["PWF"].sum() == 11
    assert targets[UNFLAGGED].sum() == 13  # three RNF plus ten with no flag
    assert targets[UNFLAGGED][40:46].sum() == 0


def test_without_mode_columns_the_label_is_the_only_target() -> None:
    labels = np.array([0, 1, 0, 1])
    assert list(failure_targets(labels, None)) == [FAILURE]
    assert list(failure_targets(labels, pd.DataFrame(index=range(4)))) == [FAILURE]
    # Modes too rare to learn from fall back to the label too.
    few = pd.DataFrame({"TWF": [0, 1, 0, 0]})
    assert list(failure_targets(labels, few, min_failures=10)) == [FAILURE]


def test_bad_mode_columns_are_refused() -> None:
    labels = np.array([0, 1, 0])
    with pytest.raises(ValueError, match="2 rows of failure modes for 3 labels"):
        failure_targets(labels, pd.DataFrame({"TWF": [0, 1]}))
    with pytest.raises(ValueError, match="'TWF' holds values other than 0 and 1"):
        failure_targets(labels, pd.DataFrame({"TWF": [0, 2, 0]}))


def test_combined_log_odds_rise_with_any_mode() -> None:
    low = combine([np.array([0.1]), np.array([0.1])])
    high = combine([np.array([0.1]), np.array([0.9])])
    # P(any) = 1 - 0.9 * 0.9 = 0.19
    assert low[0] == pytest.approx(np.log(0.19 / 0.81))
    assert high[0] > low[0]
    assert np.isfinite(combine([np.array([0.0, 1.0])])).all()


# --- the AI4I classifier ----------------------------------------------------------------


def synthetic_ai4i(n: int = 1200, seed: int = 0, modes: bool = True) -> pd.DataFrame:
    """AI4I-shaped rows whose failures follow two sharp physical rules (power, strain)."""
    rng = np.random.default_rng(seed)
    torque = rng.normal(40, 10, n).clip(5, 80)
    speed = rng.normal(1500, 150, n).clip(1100, 2500)
    wear = rng.uniform(0, 240, n)
    power = torque * speed * 2 * np.pi / 60
    pwf = (power > np.quantile(power, 0.97)).astype(int)
    osf = (wear * torque > np.quantile(wear * torque, 0.97)).astype(int)
    frame = pd.DataFrame(
        {
            "UDI": np.arange(1, n + 1),
            "Product ID": [f"L{k}" for k in range(n)],
            "Type": rng.choice(["L", "M", "H"], n),
            "Air temperature [K]": rng.normal(300, 2, n),
            "Process temperature [K]": rng.normal(310, 1.5, n),
            "Rotational speed [rpm]": speed,
            "Torque [Nm]": torque,
            "Tool wear [min]": wear,
            LABEL: (pwf | osf).astype(int),
        }
    )
    if modes:
        frame["PWF"], frame["OSF"] = pwf, osf
        for mode in ("TWF", "HDF", "RNF"):
            frame[mode] = 0
    return frame


FAST = {**AI4I_DEFAULT, "max_iter": 40}


def test_the_classifier_learns_one_model_per_mode_from_training_flags() -> None:
    train = synthetic_ai4i()
    with threadpool_limits(1):
        classifier = FailureClassifier(grid=(FAST,), n_splits=3).fit(
            physics_features(train), train[LABEL], failure_mode_flags(train)
        )
    assert classifier.targets == ["PWF", "OSF"]
    assert classifier.cv_f1 > 0.8
    probabilities = classifier.predict_proba(physics_features(synthetic_ai4i(seed=1)))
    assert ((probabilities >= 0) & (probabilities <= 1)).all()


def test_a_file_without_mode_columns_trains_on_the_label(tmp_path: Path) -> None:
    path = tmp_path / "no_modes.csv"
    synthetic_ai4i(modes=False).to_csv(path, index=False)
    train = read_ai4i(path)
    assert failure_mode_flags(train) is None
    test = synthetic_ai4i(n=400, seed=1, modes=False)
    with threadpool_limits(1):
        result = evaluate_ai4i(train, test, grid=(FAST, {**FAST, TARGETS: LABEL_ONLY}), n_splits=3)
    assert result["targets"] == [FAILURE]
    assert result["f1"] > 0.7


def test_the_test_files_mode_flags_are_never_read() -> None:
    train = synthetic_ai4i()
    test = synthetic_ai4i(n=400, seed=1)
    # Flags that contradict the label and cannot even be parsed as numbers: reading them
    # anywhere would change the result or fail.
    scrambled = test.copy()
    for mode in FAILURE_MODES:
        scrambled[mode] = "not a flag"
    with threadpool_limits(1):
        plain = evaluate_ai4i(train, test, grid=(FAST,), n_splits=3)
        other = evaluate_ai4i(train, scrambled, grid=(FAST,), n_splits=3)
    for key in ("f1", "precision", "recall", "roc_auc", "threshold"):
        assert plain[key] == other[key]


def test_a_non_binary_flag_in_a_file_is_a_clear_error(tmp_path: Path) -> None:
    frame = synthetic_ai4i(n=50)
    frame.loc[3, "HDF"] = 7
    path = tmp_path / "bad.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(ValueError, match="column 'HDF' must hold only 0 and 1"):
        read_ai4i(path)
    # A test file is read without its flags: not even checked.
    test = read_ai4i(path, failure_modes=False)
    assert not set(FAILURE_MODES) & set(test.columns)
    assert len(test) == 50


# --- remaining life ------------------------------------------------------------------------


def synthetic_cycles(n_units: int = 10, seed: int = 0) -> pd.DataFrame:
    """C-MAPSS-shaped run-to-failure rows: one operating point, a few sensors that drift
    with wear, the rest constant."""
    rng = np.random.default_rng(seed)
    rows = []
    for unit in range(1, n_units + 1):
        life = int(rng.integers(60, 140))
        cycle = np.arange(1, life + 1)
        wear = np.exp((cycle - life) / 30.0)
        frame = pd.DataFrame({"unit": unit, "cycle": cycle})
        for setting in SETTINGS:
            frame[setting] = rng.normal(0, 1e-3, life)
        for k, sensor in enumerate(SENSORS):
            drift = (k % 4) - 1.5 if k % 3 else 0.0
            frame[sensor] = 100 + k + drift * wear + rng.normal(0, 0.05 if k % 3 else 0, life)
        rows.append(frame)
    return pd.concat(rows, ignore_index=True)


SMALL_RUL = {**RUL_DEFAULT, "max_iter": 30}


def test_the_rul_choice_never_lets_a_validation_unit_into_training(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cycles = synthetic_cycles()
    seen: list[tuple[set[int], set[int]]] = []

    class Spy(RulModel):
        def fit(self, cycles: pd.DataFrame, both_members: bool = False) -> RulModel:
            seen.append((set(cycles["unit"]), set()))
            return super().fit(cycles, both_members)

        def member_predictions(self, cycles: pd.DataFrame) -> dict[str, np.ndarray]:
            seen[-1][1].update(cycles["unit"])
            return super().member_predictions(cycles)

    monkeypatch.setattr(rul_selection, "RulModel", Spy)
    with threadpool_limits(1):
        choice = choose_rul_params(cycles, (SMALL_RUL,), weights=(0.0, 1.0), n_splits=5)
    assert len(seen) == 5
    validated: list[int] = []
    for trained, valid in seen:
        assert trained and valid
        assert not trained & valid  # features and models never meet a validation unit
        assert trained | valid == set(range(1, 11))
        validated.extend(valid)
    assert sorted(validated) == list(range(1, 11))  # every unit validated exactly once
    assert {params[FOREST_WEIGHT] for params, _ in choice.scores} == {0.0, 1.0}
    assert choice.best_score == min(score for _, score in choice.scores)


def test_the_rul_model_learns_wear_and_predicts_within_the_cap() -> None:
    cycles = synthetic_cycles(n_units=12)
    test = synthetic_cycles(n_units=4, seed=1)
    with threadpool_limits(1):
        model = RulModel(params=dict(SMALL_RUL), cap=50).fit(cycles)
        predicted = model.predict(test)
    assert ((predicted >= 0) & (predicted <= 50)).all()
    last = test.groupby("unit")["cycle"].transform("max") - test["cycle"]
    near_end = (last < 10).to_numpy()
    assert predicted[near_end].mean() < 20 < predicted[(last > 80).to_numpy()].mean()


def test_blend_weights_the_members_and_refuses_a_weight_outside_zero_to_one() -> None:
    members = {"boosted": np.array([10.0, 200.0]), "forest": np.array([20.0, -5.0])}
    assert blend(members, 0.25, 125).tolist() == [12.5, 125.0]
    with pytest.raises(ValueError, match="forest_weight must be between 0 and 1"):
        RulModel(params={**SMALL_RUL, FOREST_WEIGHT: 1.5}).fit(synthetic_cycles(n_units=3))
