"""Capped exponential backoff with jitter, for reconnects and output retries."""

from __future__ import annotations

import random


class Backoff:
    """Delays of initial, 2x, 4x … up to ``maximum`` seconds, each with ±20 % jitter.

    Jitter spreads the retries of many agents after a shared outage (a switch reboot)
    so they do not all hit the server in the same second.
    """

    def __init__(self, initial: float = 0.5, maximum: float = 30.0) -> None:
        self.initial = initial
        self.maximum = maximum
        self.attempts = 0

    def next_delay(self) -> float:
        delay = min(self.maximum, self.initial * 2**self.attempts)
        self.attempts += 1
        return delay * random.uniform(0.8, 1.2)

    def reset(self) -> None:
        self.attempts = 0
