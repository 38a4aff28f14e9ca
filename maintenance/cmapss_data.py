"""Reading NASA C-MAPSS turbofan files and deriving the remaining-useful-life target."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

SETTINGS = [f"setting_{k}" for k in range(1, 4)]
SENSORS = [f"sensor_{k}" for k in range(1, 22)]
COLUMNS = ["unit", "cycle", *SETTINGS, *SENSORS]

# The standard protocol: an engine far from failure looks healthy, so its RUL cannot be read
# from the sensors; capping the target stops the model chasing an unknowable number.
RUL_CAP = 125


def read_cycles(path: Path) -> pd.DataFrame:
    """One C-MAPSS train or test file: a row per (unit, cycle), 26 named columns."""
    frame = pd.read_csv(path, sep=r"\s+", header=None)
    if frame.shape[1] != len(COLUMNS):
        raise ValueError(f"{path}: expected {len(COLUMNS)} columns, found {frame.shape[1]}")
    frame.columns = COLUMNS
    frame = frame.astype({"unit": int, "cycle": int})
    return frame.sort_values(["unit", "cycle"], ignore_index=True)


def read_true_rul(path: Path) -> np.ndarray:
    """The RUL file: true remaining life after each test unit's last cycle, in unit order."""
    values = pd.read_csv(path, sep=r"\s+", header=None).iloc[:, 0].to_numpy(dtype=float)
    if values.size == 0:
        raise ValueError(f"{path} holds no RUL values")
    return values


def rul_target(cycles: pd.DataFrame, cap: float | None = RUL_CAP) -> pd.Series:
    """Remaining cycles to failure of each row of run-to-failure data, capped at ``cap``."""
    last = cycles.groupby("unit")["cycle"].transform("max")
    rul = (last - cycles["cycle"]).astype(float)
    return rul.clip(upper=cap) if cap is not None else rul


def last_cycle_rows(cycles: pd.DataFrame) -> pd.Series:
    """Boolean mask of each unit's last row: where a test unit is scored."""
    return cycles["cycle"] == cycles.groupby("unit")["cycle"].transform("max")
