"""What a machine is doing now, for the site overview's machine tiles."""

from __future__ import annotations

import math
from dataclasses import dataclass

from analytics.production.shift_calendar import NS_PER_S
from analytics.production.signals import AssetSignals, StateCategory, state_key
from historian.model import Historian
from protocols.sample import Value


@dataclass(frozen=True, slots=True)
class CurrentState:
    """The latest state sample and since when the state has held.

    ``category`` is None when the value is not in the state map or the sample is older
    than the signals' ``max_gap_s`` (``stale``). ``since_ns`` is the first sample of the
    current run within the look-back; ``since_before_lookback`` says it began earlier."""

    raw: Value | None
    category: StateCategory | None
    reason: str
    sample_ns: int | None
    since_ns: int | None
    since_before_lookback: bool
    stale: bool


def current_state(
    historian: Historian, signals: AssetSignals, now_ns: int, lookback_s: float = 3600.0
) -> CurrentState:
    """The asset's state at ``now_ns`` from its samples of the last ``lookback_s``."""
    if lookback_s <= 0:
        raise ValueError(f"lookback_s must be > 0, got {lookback_s!r}")
    start = now_ns - math.ceil(lookback_s * NS_PER_S)
    samples = historian.read(signals.key(signals.state_tag), start, now_ns + 1)
    if not samples:
        return CurrentState(None, None, "no data", None, None, True, True)
    last_ts, last_value = samples[-1]
    key = state_key(last_value)
    since = last_ts
    for ts, value in reversed(samples):
        if state_key(value) != key:
            break
        since = ts
    began_earlier = since == samples[0][0]
    stale = signals.max_gap_s is not None and now_ns - last_ts > signals.max_gap_s * NS_PER_S
    meaning = signals.states.get(key)
    if stale:
        return CurrentState(last_value, None, "no recent data", last_ts, since, began_earlier, True)
    if meaning is None:
        return CurrentState(last_value, None, f"unmapped state value {key!r}", last_ts, since,
                            began_earlier, False)  # fmt: skip
    return CurrentState(
        last_value, meaning.category, meaning.reason, last_ts, since, began_earlier, False
    )
