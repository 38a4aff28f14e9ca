"""Which historian series play which part in an asset's production KPIs.

An asset's state tag says whether it produces; its counters say how much; its cycle-time
tag says how fast. ``AssetSignals`` names those series (the tag roles of the asset model:
``state``, ``count_total``, ``count_scrap``, ``cycle_time``, ``power_kw``,
``energy_kwh``), how raw state values map to the four time categories, and the ideal
cycle time. ``LineSpec`` and ``SiteSpec`` group assets for roll-ups.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from analytics.production.production_plan import ProductionPlan
from historian.model import SeriesKey

# The edge agent resends an unchanged value at its heartbeat (60 s by default, see
# edge_agent/config.py), so three heartbeats of silence mean the agent or link was down.
DEFAULT_MAX_GAP_S = 180.0


class StateCategory(StrEnum):
    """Where time in a machine state counts (same values as the asset model's categories)."""

    PRODUCING = "producing"
    IDLE = "idle"
    DOWN = "down"
    PLANNED_STOP = "planned_stop"


class TagRole(StrEnum):
    """The tag roles this package reads (a subset of the asset model's roles)."""

    STATE = "state"
    COUNT_TOTAL = "count_total"
    COUNT_SCRAP = "count_scrap"
    CYCLE_TIME = "cycle_time"
    POWER_KW = "power_kw"
    ENERGY_KWH = "energy_kwh"


def state_key(value: object) -> str:
    """The text a raw state value is looked up by.

    One state arrives as ``True`` over OPC UA, ``1`` over Modbus and ``1.0`` after a
    scaling: all are spelt ``"1"``; strings stay as they are. This is the spelling of
    ``tenants.asset_model.state_value_key``, so the asset model's state maps apply as-is.
    """
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass(frozen=True, slots=True)
class StateMeaning:
    """What one raw state value means: its time category and the reason shown to people."""

    category: StateCategory
    reason: str

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "category", StateCategory(self.category))
        except ValueError:
            allowed = ", ".join(c.value for c in StateCategory)
            raise ValueError(f"state category {self.category!r} is not one of {allowed}") from None
        if not isinstance(self.reason, str) or not self.reason.strip():
            raise ValueError("a state needs a non-empty reason")


def _state_meaning(raw: object, spec: object) -> StateMeaning:
    if isinstance(spec, StateMeaning):
        return spec
    if isinstance(spec, Mapping):
        if "category" not in spec:
            raise ValueError(f"states[{raw!r}] needs a category")
        return StateMeaning(spec["category"], str(spec.get("reason") or spec["category"]))
    if isinstance(spec, str):
        return StateMeaning(StateCategory(spec), spec)
    raise ValueError(
        f"states[{raw!r}] must be a category, a StateMeaning or {{category, reason}},"
        f" got {type(spec).__name__}"
    )


@dataclass(frozen=True)
class AssetSignals:
    """One asset's production signals in the historian.

    ``states`` maps raw state values (any spelling: ``"running"``, ``1``, ``True``) to
    their meaning; keys are normalised with ``state_key``. ``ideal_cycle_time_s`` is ISO
    22400's planned run time per item (PRI): without it effectiveness is not computed.
    ``counter_modulus`` is where the counters wrap (``2**32`` for a uint32 PLC counter);
    without it every decrease is a counter reset. ``max_gap_s`` is how long a sample is
    trusted without a newer one: longer silence is unknown time. ``None`` trusts a value
    until the next one (pure report-by-exception with no heartbeat).
    """

    site: str
    line: str
    asset: str
    state_tag: str
    states: Mapping[str, StateMeaning]
    count_total_tag: str | None = None
    count_scrap_tag: str | None = None
    cycle_time_tag: str | None = None
    power_kw_tag: str | None = None
    energy_kwh_tag: str | None = None
    ideal_cycle_time_s: float | None = None
    counter_modulus: int | None = None
    max_gap_s: float | None = DEFAULT_MAX_GAP_S
    name: str = ""

    def __post_init__(self) -> None:
        where = f"asset {self.site}/{self.line}/{self.asset}"
        for attr in ("site", "line", "asset", "state_tag"):
            if not isinstance(getattr(self, attr), str) or not getattr(self, attr):
                raise ValueError(f"{where}: {attr} must be a non-empty string")
        if not self.states:
            raise ValueError(f"{where}: states must map at least one raw value to a category")
        try:
            states = {
                state_key(raw): _state_meaning(raw, spec) for raw, spec in self.states.items()
            }
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        object.__setattr__(self, "states", states)
        if self.ideal_cycle_time_s is not None and not (
            isinstance(self.ideal_cycle_time_s, int | float)
            and math.isfinite(self.ideal_cycle_time_s)
            and self.ideal_cycle_time_s > 0
        ):
            raise ValueError(
                f"{where}: ideal_cycle_time_s must be a positive number of seconds,"
                f" got {self.ideal_cycle_time_s!r}"
            )
        if self.counter_modulus is not None and (
            not isinstance(self.counter_modulus, int) or self.counter_modulus < 2
        ):
            raise ValueError(
                f"{where}: counter_modulus must be an integer >= 2 (e.g. 2**32),"
                f" got {self.counter_modulus!r}"
            )
        if self.max_gap_s is not None and not (
            isinstance(self.max_gap_s, int | float) and self.max_gap_s > 0
        ):
            raise ValueError(f"{where}: max_gap_s must be > 0 or None, got {self.max_gap_s!r}")
        if not self.name:
            object.__setattr__(self, "name", self.asset)

    def key(self, tag: str) -> SeriesKey:
        return SeriesKey(self.site, self.line, self.asset, tag)

    def meaning(self, raw: object) -> StateMeaning | None:
        """The meaning of a raw state value; None for a value the map does not know."""
        return self.states.get(state_key(raw))

    @classmethod
    def from_roles(
        cls,
        site: str,
        line: str,
        asset: str,
        roles: Mapping[str, str],
        states: Mapping[Any, Any],
        **options: Any,
    ) -> AssetSignals:
        """Build from the asset model's shape: ``roles`` maps a role (``state``,
        ``count_total`` …) to the tag key playing it; ``states`` is a tag's state map
        (raw value -> ``{category, reason}``). Roles other than the production ones
        (vibration, temperature …) are ignored."""
        if TagRole.STATE not in roles:
            raise ValueError(
                f"asset {site}/{line}/{asset}: no tag has role 'state', so production"
                " time cannot be told from idle or down time"
            )
        return cls(
            site=site,
            line=line,
            asset=asset,
            state_tag=roles[TagRole.STATE],
            states=states,
            count_total_tag=roles.get(TagRole.COUNT_TOTAL),
            count_scrap_tag=roles.get(TagRole.COUNT_SCRAP),
            cycle_time_tag=roles.get(TagRole.CYCLE_TIME),
            power_kw_tag=roles.get(TagRole.POWER_KW),
            energy_kwh_tag=roles.get(TagRole.ENERGY_KWH),
            **options,
        )


@dataclass(frozen=True)
class LineSpec:
    """A production line: its assets, and which asset's good parts are the line's output.

    On a serial line every station counts the same part, so summing the stations would
    count each washing machine three times: name the last station as ``output_asset``.
    Without it (machines working side by side, as in a moulding hall) the line's output
    is the sum of its assets' good quantities. ``plan`` is the line's planned output.
    """

    key: str
    assets: tuple[AssetSignals, ...]
    output_asset: str | None = None
    plan: ProductionPlan | None = None
    name: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "assets", tuple(self.assets))
        if not self.key:
            raise ValueError("a line needs a non-empty key")
        seen: set[str] = set()
        for asset in self.assets:
            if asset.line != self.key:
                raise ValueError(
                    f"line {self.key!r}: asset {asset.asset!r} is on line {asset.line!r}"
                )
            if asset.asset in seen:
                raise ValueError(f"line {self.key!r}: asset {asset.asset!r} appears twice")
            seen.add(asset.asset)
        if self.output_asset is not None and self.output_asset not in seen:
            raise ValueError(
                f"line {self.key!r}: output_asset {self.output_asset!r} is not one of its"
                f" assets {sorted(seen)}"
            )
        if not self.name:
            object.__setattr__(self, "name", self.key)


@dataclass(frozen=True)
class SiteSpec:
    """A site's lines; every asset's site must be this site."""

    key: str
    lines: tuple[LineSpec, ...] = field(default_factory=tuple)
    name: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "lines", tuple(self.lines))
        if not self.key:
            raise ValueError("a site needs a non-empty key")
        keys = [line.key for line in self.lines]
        if len(set(keys)) != len(keys):
            raise ValueError(f"site {self.key!r}: a line key appears twice in {keys}")
        for line in self.lines:
            for asset in line.assets:
                if asset.site != self.key:
                    raise ValueError(
                        f"site {self.key!r}: asset {asset.asset!r} of line {line.key!r}"
                        f" belongs to site {asset.site!r}"
                    )
        if not self.name:
            object.__setattr__(self, "name", self.key)
