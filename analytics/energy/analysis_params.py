"""What an energy analysis is asked for: the job's params (checked as the API and the
command line receive them) and the settings the analysis runs with.

Kept apart from the analysis itself (pandas, scikit-learn, the scheduler), so a bad
parameter is refused before any of that is imported.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cloud.timeparams import format_instant, parse_datetime, parse_instant
from tenants.asset_model import KEY_MAX_LENGTH

KIND = "energy_analysis"
MAX_RANGE = timedelta(days=366)


@dataclass(frozen=True)
class AnalysisSettings:
    baseline_days: int = 28
    z: float = 3.0  # above-baseline threshold, in residual standard deviations
    grid_factor: float | None = None  # kg CO2/kWh; None: analytics.energy.kpis' default
    optimise_time_limit_s: float = 5.0
    top: int = 50  # anomaly episodes kept, costliest first


class EnergyAnalysisParams(BaseModel):
    # Defaults go through the validators too ("now-24h" becomes an instant).
    model_config = ConfigDict(extra="forbid", validate_default=True)

    site: str | None = Field(
        None, min_length=1, max_length=KEY_MAX_LENGTH, description="Only this site."
    )
    start: str = Field("now-24h", description="ISO 8601, 'now' or 'now-24h'.")
    end: str = Field("now", description="ISO 8601, 'now' or 'now-1h'.")
    baseline_days: int = Field(
        28, ge=7, le=365, description="Days before the range the baseline is fitted on."
    )
    z: float = Field(
        3.0, gt=0, le=10, description="Above-baseline threshold, residual standard deviations."
    )
    optimise_time_limit_s: float = Field(
        5.0, gt=0, le=60, description="Time the load scheduler may take per site."
    )

    # Relative times are fixed when the job is created: the stored params say which
    # range was analysed, and running the job again analyses the same range.
    @field_validator("start", "end")
    @classmethod
    def _instant(cls, value: str) -> str:
        return format_instant(parse_instant(value))

    @model_validator(mode="after")
    def _range(self) -> EnergyAnalysisParams:
        start, end = parse_datetime(self.start), parse_datetime(self.end)
        if start >= end:
            raise ValueError(f"start {self.start} must be before end {self.end}")
        if end - start > MAX_RANGE:
            raise ValueError("the range is longer than 366 days: analyse it in parts")
        return self

    def settings(self) -> AnalysisSettings:
        return AnalysisSettings(
            baseline_days=self.baseline_days,
            z=self.z,
            optimise_time_limit_s=self.optimise_time_limit_s,
        )
