"""AI4I inputs never include the failure-mode flags, the label or identifiers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from maintenance.ai4i_data import FAILURE_MODES, physics_features, refuse_forbidden_inputs
from maintenance.failure_classifier import FailureClassifier


def ai4i_rows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "UDI": [1, 2],
            "Product ID": ["M14860", "L47181"],
            "Type": ["M", "L"],
            "Air temperature [K]": [298.1, 300.0],
            "Process temperature [K]": [308.6, 308.0],
            "Rotational speed [rpm]": [1500, 1200],
            "Torque [Nm]": [40.0, 60.0],
            "Tool wear [min]": [0, 200],
            "Machine failure": [0, 1],
            **{mode: [0, 1] for mode in FAILURE_MODES},
        }
    )


def test_features_hold_physics_and_no_failure_information() -> None:
    features = physics_features(ai4i_rows())
    forbidden = {*FAILURE_MODES, "Machine failure", "UDI", "Product ID"}
    assert not forbidden & set(features.columns)
    # 40 Nm at 1500 rpm: 40 · 1500 · 2π / 60 = 2000π W
    assert features["power_w"].iloc[0] == pytest.approx(2000 * math.pi)
    assert features["temp_difference_k"].tolist() == pytest.approx([10.5, 8.0])
    assert features["strain_min_nm"].tolist() == [0.0, 12000.0]
    assert features[["type_L", "type_M", "type_H"]].to_numpy().tolist() == [[0, 1, 0], [1, 0, 0]]


@pytest.mark.parametrize("column", [*FAILURE_MODES, "Machine failure", "UDI"])
def test_the_guard_refuses_each_leaky_column(column: str) -> None:
    with pytest.raises(ValueError, match="leak the failure label"):
        refuse_forbidden_inputs(["Torque [Nm]", column])


def test_a_classifier_given_a_failure_mode_flag_refuses_to_train() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 60)
    features = pd.DataFrame({"torque": rng.normal(size=60), "HDF": labels})
    with pytest.raises(ValueError, match=r"refusing to train on \['HDF'\]"):
        FailureClassifier().fit(features, labels)
