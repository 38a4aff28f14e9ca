"""The AI4I 2020 milling data set: reading, a stratified split, and physics-informed inputs.

The failure-mode flags (TWF, HDF, PWF, OSF, RNF) describe the failure after the fact and
the identifiers (UDI, Product ID) carry no physics; neither may be a model input. The flags
may be training targets (which mode failed), as a maintenance record's cause would be.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

LABEL = "Machine failure"
FAILURE_MODES = ("TWF", "HDF", "PWF", "OSF", "RNF")
IDENTIFIERS = ("UDI", "Product ID")
FORBIDDEN_INPUTS = frozenset({LABEL, *FAILURE_MODES, *IDENTIFIERS})

AIR = "Air temperature [K]"
PROCESS = "Process temperature [K]"
SPEED = "Rotational speed [rpm]"
TORQUE = "Torque [Nm]"
WEAR = "Tool wear [min]"
MEASUREMENTS = (AIR, PROCESS, SPEED, TORQUE, WEAR)
TYPES = ("L", "M", "H")
SPLIT_DESCRIPTION = "stratified {train}/{test} seed {seed}"


def read_ai4i(path: Path, failure_modes: bool = True) -> pd.DataFrame:
    """The CSV as published; refuses a file without the measurements or the label.

    ``failure_modes=False`` drops the failure-mode flags unread (a test file's), so that
    neither a check nor a model ever looks at them."""
    frame = pd.read_csv(path)
    if not failure_modes:
        frame = without_failure_modes(frame)
    missing = [c for c in (*MEASUREMENTS, "Type", LABEL) if c not in frame.columns]
    if missing:
        raise ValueError(f"{path} lacks the columns {missing}")
    for column in (LABEL, *(mode for mode in FAILURE_MODES if mode in frame.columns)):
        if not frame[column].isin((0, 1)).all():
            raise ValueError(f"{path}: column {column!r} must hold only 0 and 1")
    return frame


def stratified_split(
    frame: pd.DataFrame, test_size: float = 0.25, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train and test frames with the failure share of the whole in each."""
    train, test = train_test_split(
        frame, test_size=test_size, random_state=seed, stratify=frame[LABEL]
    )
    return train.sort_index(), test.sort_index()


def describe_split(test_size: float, seed: int) -> str:
    test = round(test_size * 100)
    return SPLIT_DESCRIPTION.format(train=100 - test, test=test, seed=seed)


def physics_features(frame: pd.DataFrame) -> pd.DataFrame:
    """Model inputs built from an allow-list of measurements, plus the quantities the
    failure physics acts on: mechanical power, heat-dissipation margin and tool strain."""
    features = frame[list(MEASUREMENTS)].astype(float).copy()
    # Power failures happen outside a power band, so give the model power itself (W).
    features["power_w"] = features[TORQUE] * features[SPEED] * 2 * np.pi / 60
    # Heat dissipation fails when process and air are too close at low speed.
    features["temp_difference_k"] = features[PROCESS] - features[AIR]
    # Overstrain is tool wear times torque, against a limit that depends on product type.
    features["strain_min_nm"] = features[WEAR] * features[TORQUE]
    for kind in TYPES:
        features[f"type_{kind}"] = (frame["Type"] == kind).astype(float)
    refuse_forbidden_inputs(features.columns)
    return features


def failure_mode_flags(frame: pd.DataFrame) -> pd.DataFrame | None:
    """The failure-mode flags the file has (any of TWF, HDF, PWF, OSF, RNF), for use as
    training targets only; None when it has none."""
    present = [mode for mode in FAILURE_MODES if mode in frame.columns]
    return frame[present] if present else None


def without_failure_modes(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` without any failure-mode flag column."""
    return frame.drop(columns=[mode for mode in FAILURE_MODES if mode in frame.columns])


def refuse_forbidden_inputs(columns: Iterable[str]) -> None:
    """Raise if any model input is the label, a failure-mode flag or an identifier."""
    leaked = sorted(set(columns) & FORBIDDEN_INPUTS)
    if leaked:
        raise ValueError(f"refusing to train on {leaked}: they leak the failure label")
