"""Predictive maintenance at full settings: C-MAPSS FD001 and FD003 RUL (parameters chosen
by grouped CV) and AI4I failure classification (stratified 75/25, seed 0)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from maintenance.ai4i_data import read_ai4i, stratified_split
from maintenance.ai4i_evaluation import evaluate_ai4i
from maintenance.cmapss_evaluation import evaluate_cmapss
from maintenance.failure_classifier import FULL_GRID as AI4I_GRID
from maintenance.rul_model import FULL_GRID as RUL_GRID

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _quiet(message: str) -> None:
    print(f"    {message}", file=sys.stderr, flush=True)


def main() -> None:
    print("predictive maintenance (full settings):")
    for subset in ("FD001", "FD003"):
        started = time.perf_counter()
        folder = DATA / "cmapss"
        result = evaluate_cmapss(
            folder / f"train_{subset}.txt",
            folder / f"test_{subset}.txt",
            folder / f"RUL_{subset}.txt",
            grid=RUL_GRID,
            progress=_quiet,
        )
        print(
            f"  C-MAPSS {subset}: RMSE {result['rmse']:.2f} PHM {result['phm_score']:.0f} "
            f"(truth capped at 125: RMSE {result['rmse_true_rul_capped']:.2f} "
            f"PHM {result['phm_score_true_rul_capped']:.0f}), CV RMSE {result['cv_rmse']:.2f}, "
            f"{result['n_units']} units, params {result['params']}, "
            f"{time.perf_counter() - started:.0f} s"
        )
    started = time.perf_counter()
    train, test = stratified_split(read_ai4i(DATA / "ai4i2020" / "ai4i2020.csv"), 0.25, 0)
    result = evaluate_ai4i(train, test, grid=AI4I_GRID, progress=_quiet)
    print(
        f"  AI4I 2020: F1 {result['f1']:.3f} precision {result['precision']:.3f} "
        f"recall {result['recall']:.3f} ROC AUC {result['roc_auc']:.3f} "
        f"(threshold {result['threshold']:.3f}, out-of-fold F1 {result['cv_f1']:.3f}), "
        f"params {result['params']}, {time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
