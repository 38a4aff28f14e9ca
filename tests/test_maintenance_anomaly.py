"""The healthy-baseline anomaly score ranks drifted rows above healthy ones."""

from __future__ import annotations

import numpy as np
import pandas as pd

from maintenance.anomaly import HealthyBaselineAnomaly


def test_rows_far_from_healthy_operation_score_higher() -> None:
    rng = np.random.default_rng(5)
    healthy = pd.DataFrame(rng.normal(0, 1, size=(500, 3)), columns=["a", "b", "c"])
    fresh_healthy = pd.DataFrame(rng.normal(0, 1, size=(100, 3)), columns=["a", "b", "c"])
    worn = fresh_healthy + np.array([4.0, -4.0, 0.0])
    scorer = HealthyBaselineAnomaly(n_estimators=100).fit(healthy)
    healthy_scores, worn_scores = scorer.score(fresh_healthy), scorer.score(worn)
    # Every worn row scores above the median healthy row, and nearly all above the healthy
    # rows' 95th percentile (the forest saturates far out, so not all above the extreme).
    assert worn_scores.min() > np.median(healthy_scores)
    assert np.mean(worn_scores > np.quantile(healthy_scores, 0.95)) > 0.9
    # Columns are matched by name, not position.
    assert np.allclose(scorer.score(worn[["c", "b", "a"]]), worn_scores)
