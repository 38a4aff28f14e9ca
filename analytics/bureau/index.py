"""The composite digitalization index (0–100) of one enterprise and its level.

Weights, the OEE reference and the level thresholds come from a YAML file
(``index_config.yaml`` in this package by default), validated with pydantic; a bad file
is an ``IndexConfigError`` naming the file and the field.

Missing indicators: the index is the weighted mean of the indicators present, so the
weights of the others are shared out in proportion (renormalised). An enterprise with
no OEE is neither rewarded nor punished on OEE; cloud adoption already counts the
modules it does not use. Below ``min_weight_present`` of the total weight, no index.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from analytics.bureau.facts import EnterpriseFacts
from analytics.bureau.indicators import (
    DEFINITIONS,
    EnterpriseIndicators,
    Indicator,
    compute_indicators,
)

DEFAULT_CONFIG_PATH = Path(__file__).with_name("index_config.yaml")


class IndexConfigError(ValueError):
    """A weights file that cannot be used; the message names the file and the field."""


class LevelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)]
    name: Annotated[str, Field(min_length=1, max_length=80)]
    min_score: Annotated[float, Field(ge=0, lt=100)]


class IndexConfig(BaseModel):
    """Weights (relative, ≥ 0) of the indicators in the index, the OEE reference, the share
    of weight an index needs, and the levels in increasing ``min_score`` from 0."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    weights: dict[Indicator, Annotated[float, Field(ge=0, allow_inf_nan=False)]]
    oee_full_score_pct: Annotated[float, Field(gt=0, le=100)] = 85.0
    min_weight_present: Annotated[float, Field(gt=0, le=1)] = 0.5
    levels: Annotated[list[LevelSpec], Field(min_length=1)]

    @field_validator("weights")
    @classmethod
    def _weights(cls, weights: dict[Indicator, float]) -> dict[Indicator, float]:
        for key in weights:
            if not DEFINITIONS[key].higher_is_better:
                raise ValueError(
                    f"{key.value} cannot be weighted: lower is better and its unit differs"
                    " between industries, so it is reported beside the index, not in it"
                )
        if not any(w > 0 for w in weights.values()):
            raise ValueError("at least one weight must be above 0")
        return weights

    @field_validator("levels")
    @classmethod
    def _levels(cls, levels: list[LevelSpec]) -> list[LevelSpec]:
        if levels[0].min_score != 0:
            raise ValueError(
                f"the first level must start at min_score 0, not {levels[0].min_score}"
            )
        for before, after in itertools.pairwise(levels):
            if after.min_score <= before.min_score:
                raise ValueError(
                    f"min_score must increase: {after.key} ({after.min_score}) follows"
                    f" {before.key} ({before.min_score})"
                )
        keys = [lv.key for lv in levels]
        if len(set(keys)) != len(keys):
            raise ValueError(f"level keys repeat: {keys}")
        return levels

    @property
    def total_weight(self) -> float:
        return sum(self.weights.values())

    def level_for(self, score: float) -> LevelSpec:
        """The level a score falls in (scores are 0–100)."""
        chosen = self.levels[0]
        for level in self.levels:
            if score >= level.min_score:
                chosen = level
        return chosen


def _format_errors(source: str, exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        lines.append(f"{source}: {loc}: {err['msg']}")
    return "\n".join(lines)


def parse_index_config(data: Any, source: str = "index config") -> IndexConfig:
    """An IndexConfig from parsed YAML/JSON; IndexConfigError naming ``source`` and field."""
    if not isinstance(data, Mapping):
        raise IndexConfigError(f"{source}: expected a mapping with weights and levels")
    try:
        return IndexConfig.model_validate(data)
    except ValidationError as exc:
        raise IndexConfigError(_format_errors(source, exc)) from None


def load_index_config(path: str | Path | None = None) -> IndexConfig:
    """The index config in ``path``, or the shipped one."""
    if path is None:
        return _default_config()
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise IndexConfigError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise IndexConfigError(f"{path}: cannot be read: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise IndexConfigError(f"{path}:{where}: not valid YAML: {problem}") from None
    return parse_index_config(data, str(path))


@cache
def _default_config() -> IndexConfig:
    return load_index_config(DEFAULT_CONFIG_PATH)


@dataclass(frozen=True)
class IndexResult:
    # 0–100, rounded to 0.1 (the level is taken from the rounded score so that a report
    # never shows 60.0 with the level below 60); None when too little weight is present.
    score: float | None
    level: str | None  # LevelSpec.key
    # Share (0–1) of the configured total weight whose indicators had a value.
    weight_present: float
    used: tuple[Indicator, ...]
    missing: tuple[Indicator, ...]
    missing_reason: str | None = None


def indicator_score(key: Indicator, value: float, config: IndexConfig) -> float:
    """An indicator value on the index's 0–1 scale."""
    if key is Indicator.OEE_LEVEL:
        return min(value / config.oee_full_score_pct, 1.0)
    return min(max(value / 100.0, 0.0), 1.0)


def composite_index(
    indicators: EnterpriseIndicators, config: IndexConfig | None = None
) -> IndexResult:
    """The index of one enterprise: weighted mean of the scores of the indicators present."""
    config = config or load_index_config()
    weighted = [(key, w) for key, w in config.weights.items() if w > 0]
    used = tuple(key for key, _ in weighted if indicators.value(key) is not None)
    missing = tuple(key for key, _ in weighted if indicators.value(key) is None)
    present = sum(w for key, w in weighted if key in used)
    share = present / config.total_weight
    if share < config.min_weight_present:
        return IndexResult(
            None,
            None,
            share,
            used,
            missing,
            f"only {share:.0%} of the index weight has values"
            f" (at least {config.min_weight_present:.0%} needed)",
        )
    total = sum(
        w * indicator_score(key, indicators.value(key), config)  # type: ignore[arg-type]
        for key, w in weighted
        if key in used
    )
    score = round(100.0 * total / present, 1)
    return IndexResult(score, config.level_for(score).key, share, used, missing)


@dataclass(frozen=True)
class EnterpriseAssessment:
    """One enterprise's indicators and index, for the enterprise's own pages; carries no
    key (the caller holds the facts it came from) and never goes to the bureau."""

    indicators: EnterpriseIndicators
    index: IndexResult


def assess_enterprise(
    facts: EnterpriseFacts, config: IndexConfig | None = None
) -> EnterpriseAssessment:
    """Indicators and index of one enterprise and month."""
    indicators = compute_indicators(facts)
    return EnterpriseAssessment(indicators, composite_index(indicators, config))
