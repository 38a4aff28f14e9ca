"""Demo-like plants for the plant-page tests: the demo's tenants, users and asset model
(``mingzhou.demo_tenants.seed``), and each plant's simulated signals written into its
tenant's own store, the past stepped fast and then kept live by a feeder thread, as the
demo's edge agents would.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from historian import Historian, Point, SeriesKey
from mingzhou.demo_tenants import DemoTenant, seed
from protocols.simulators.plants import Plant, PlantModel
from tenants.db import make_engine, session_factory, upgrade
from tenants.onboarding import ensure_default_plans

NS_PER_S = 1_000_000_000


def seed_demo(metadata_url: str, plants: dict[str, Plant]) -> list[DemoTenant]:
    """The demo's industry clouds, tenants, users of every role and asset model."""
    upgrade(metadata_url)
    engine = make_engine(metadata_url)
    try:
        with session_factory(engine)() as session:
            ensure_default_plans(session)
            tenants = seed(
                session,
                {industry: (p.site, p.display_name) for industry, p in plants.items()},
                {industry: ("127.0.0.1", 4840 + i) for i, industry in enumerate(plants)},
            )
            session.commit()
    finally:
        engine.dispose()
    return tenants


@dataclass
class SimulatedPlant:
    """A plant's model and the store it writes to; ``origin_ns`` is the model's t = 0."""

    plant: Plant
    historian: Historian
    origin_ns: int
    model: PlantModel
    lines: dict[tuple[str, str], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.lines = {(p.asset, p.tag): p.line for p in self.plant.points}

    def write_until(self, end_ns: int, step_s: float) -> int:
        """Step the model to ``end_ns`` every ``step_s`` and store each snapshot."""
        t = self.model.meter.t
        batch: list[Point] = []
        written = 0
        while True:
            t = round(t + step_s, 6)
            ts = self.origin_ns + round(t * NS_PER_S)
            if ts > end_ns:
                break
            self.model.step(t)
            for (asset, tag), value in self.model.snapshot().items():
                key = SeriesKey(self.plant.site, self.lines[(asset, tag)], asset, tag)
                batch.append(Point(key, ts, value))
            if len(batch) >= 20_000:
                written += self.historian.write(batch)
                batch = []
        written += self.historian.write(batch)
        return written


def backfill(plant: Plant, historian: Historian, hours: float, step_s: float, seed_: int = 3):
    """A plant whose last ``hours`` up to now are in ``historian``."""
    now = time.time_ns()
    simulated = SimulatedPlant(plant, historian, now - round(hours * 3600 * NS_PER_S),
                               plant.model(seed_))  # fmt: skip
    simulated.write_until(now, step_s)
    return simulated


class LiveFeeder:
    """Keeps plants current: every ``period_s`` each is stepped to now and stored."""

    def __init__(self, plants: list[SimulatedPlant], period_s: float = 1.0) -> None:
        self.plants = plants
        self.period_s = period_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="plant-feeder", daemon=True)
        self.errors: list[BaseException] = []

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            for simulated in self.plants:
                try:
                    simulated.write_until(time.time_ns(), 1.0)
                except BaseException as exc:  # reported by the test, not swallowed
                    self.errors.append(exc)

    def __enter__(self) -> LiveFeeder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
