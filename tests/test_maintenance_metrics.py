"""RUL scores and target against numbers worked by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from maintenance.cmapss_data import last_cycle_rows, rul_target
from maintenance.metrics import phm_score, rmse


def test_rmse_of_errors_three_and_four_is_the_root_of_their_mean_square() -> None:
    # errors 3 and -4: sqrt((9 + 16) / 2)
    assert rmse([10, 20], [13, 16]) == pytest.approx(math.sqrt(12.5))


def test_phm_score_penalises_late_more_than_early() -> None:
    # d = +10 (late): e^1 - 1; d = -13 (early): e^1 - 1; d = 0: nothing.
    assert phm_score([50, 50, 50], [60, 37, 50]) == pytest.approx(2 * (math.e - 1))
    late = phm_score([50], [55])
    early = phm_score([50], [45])
    assert late == pytest.approx(math.exp(0.5) - 1)
    assert early == pytest.approx(math.exp(5 / 13) - 1)
    assert late > early


def test_scores_refuse_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match="2 true values but 1 predictions"):
        rmse([1, 2], [1])


def test_rul_target_counts_down_to_zero_and_is_capped() -> None:
    cycles = pd.DataFrame({"unit": [1] * 130 + [2] * 3, "cycle": [*range(1, 131), 1, 2, 3]})
    capped = rul_target(cycles, cap=125)
    uncapped = rul_target(cycles, cap=None)
    assert uncapped.iloc[0] == 129 and capped.iloc[0] == 125
    assert capped.iloc[129] == 0 and capped.iloc[4] == 125 and capped.iloc[5] == 124
    assert list(capped.iloc[130:]) == [2, 1, 0]
    assert capped.max() == 125


def test_last_cycle_rows_marks_one_row_per_unit() -> None:
    cycles = pd.DataFrame({"unit": [1, 1, 2, 2, 2], "cycle": [1, 2, 1, 2, 3]})
    assert np.flatnonzero(last_cycle_rows(cycles)).tolist() == [1, 4]
