"""Simulated plant history written into a historian, for tests, benchmarks and demos.

A plant simulator (the same PlantServer the demo serves over OPC UA or Modbus) is
fast-forwarded in steps of ``every_s`` model seconds; after each step the values it
serves are written with the model time as their timestamp. Faults are injected through
the simulator's own ``inject``, as ``mingzhou sim-fault`` does.
"""

from __future__ import annotations

from collections.abc import Callable

from historian import Historian, Point, SeriesKey
from protocols.simulators.plant_server import PlantServer

BATCH = 5_000


async def record(
    simulator: PlantServer,
    historian: Historian,
    start_ns: int,
    seconds: float,
    every_s: float,
    assets: set[str] | None = None,
    until: Callable[[PlantServer], bool] | None = None,
) -> int:
    """Step ``simulator`` ``seconds`` ahead in ``every_s`` steps, storing what it serves
    for ``assets`` (all by default) at ``start_ns`` + model time. Stops early once
    ``until(simulator)`` is true. Returns the model time reached (s).

    Create the simulator with a tiny ``speed`` (1e-6): its model clock then moves only
    when fast-forwarded, so the same seed records the same history every time."""
    simulator.frozen = True  # only fast_forward moves the model: steps are exact
    points = {(p.asset, p.tag): p for p in simulator.plant.points}
    site = simulator.plant.site
    batch: list[Point] = []
    steps = round(seconds / every_s)
    step_ns = round(every_s * 1e9)
    for _ in range(steps):
        await simulator.fast_forward(every_s)
        # On the sampling grid: the model clock also moves by speed x wall time (tiny
        # with a tiny speed), which must not make timestamps differ from run to run.
        stamp = start_ns + round(simulator.model.meter.t / every_s) * step_ns
        for (asset, tag), value in simulator.served.items():
            if assets is not None and asset not in assets:
                continue
            line = points[(asset, tag)].line
            batch.append(Point(SeriesKey(site, line, asset, tag), stamp, value))
        if len(batch) >= BATCH:
            historian.write(batch)
            batch = []
        if until is not None and until(simulator):
            break
    historian.write(batch)
    return int(simulator.model.meter.t)
