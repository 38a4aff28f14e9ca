"""A periodic job for the jobs tests: series_summary for every tenant, every second."""

from __future__ import annotations

from datetime import timedelta

from jobs import periodic_job

periodic_job(
    "test_every_second",
    kind="series_summary",
    every=timedelta(seconds=1),
    params=lambda now: {"start": "now-1h", "end": "now"},
)
