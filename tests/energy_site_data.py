"""A plant whose energy analysis can be worked out by hand, for the energy job's tests.

Site ``ningbo-plant`` (Asia/Shanghai): a main meter (active power and a reactive-energy
counter in kvarh) and two moulding machines. The day analysed is Tuesday 10 March 2026
(a shoulder month of the example tariff: peak 1.02 CNY/kWh 08-11 and 13-22, valley 0.36
11-13 and 22-08, 40 CNY/kW·month on the 15-minute peak). Times are local.

- The 28 days before: the meter draws 110 kW on even days before the 10th and 90 kW on
  odd ones, so each hour of the week averages 100 kW over its four samples, every
  residual of the time-of-week baseline is ±10 kWh, and its in-sample R² is 0.
- The 10th: 100 kW, plus 60 kW from 14:00 to 16:00; the reactive load is 75 kvar all
  day (PF 0.8 except those two hours). IMM-01 runs all day at 30 kW, one shot a minute;
  IMM-02 too, except 02:00-03:00, when it idles at 8.5 kW (its standby allowance is 10 %
  of 45 kW rated).
- IMM-01 is a shiftable load: 100 kW for an hour, any time from 08:00 to 24:00.

Every value the tests expect is in ``EXPECTED``, with how it follows.
"""

from __future__ import annotations

from typing import Any

import httpx
import pandas as pd

from historian import Historian, Point, SeriesKey

SITE = "ningbo-plant"
ZONE = "Asia/Shanghai"
DAY = pd.Timestamp("2026-03-10", tz=ZONE)  # local midnight starting the day analysed
MINUTE_NS = 60 * 10**9
METER = ("utilities", "meter-main")
SHIFTABLE = {"power_kw": 100, "duration_min": 60, "earliest": "08:00", "latest_end": "24:00"}

# kWh of the day: 24 h x 100 kW + 2 h x 60 kW.
KWH = 2520.0
# Valley: 12 h x 100 kWh x 0.36; peak: (12 h x 100 + 120) kWh x 1.02.
ENERGY_COST = 1200 * 0.36 + 1320 * 1.02  # 1778.4
DEMAND_COST = 160 * 40.0  # the 15-minute peak, 160 kW
BILL = ENERGY_COST + DEMAND_COST  # 8178.4
PF = KWH / (KWH**2 + (24 * 75.0) ** 2) ** 0.5  # 0.8137: billed as 0.81, +4.5 %
EXPECTED: dict[str, Any] = {
    "kwh": KWH,
    "peak_kw": 160.0,
    "peak_at": "2026-03-10T14:00:00",
    "load_factor": (KWH / 24) / 160,  # 0.65625
    "carbon_kg": KWH * 0.5703,
    "energy_cost": ENERGY_COST,
    "bill": BILL,
    "power_factor": PF,
    "pf_adjustment": 0.045 * BILL,  # 368.03
    # Training: 672 residuals of ±10 kWh, 168 hour-of-week means estimated from them:
    # CV(RMSE) = sqrt(672 x 100 / (672 - 168)) / 100 kWh = 11.55 %, NMBE 0, R² 0.
    "training": {"hours": 672, "cv_rmse": 11.55, "nmbe": 0.0, "r2": 0.0},
    # The day: residuals 0 except 60 kWh at 14 and 15; mean 105 kWh.
    # CV(RMSE) = sqrt(2 x 3600 / 24) / 105 = 16.50 %, NMBE = 120 / (24 x 105) = 4.76 %,
    # R² = 1 - 7200 / (22 x 25 + 2 x 3025) = -0.0909.
    "range": {"hours": 24, "cv_rmse": 16.5, "nmbe": 4.76, "r2": -0.0909},
    # Threshold 3 sd of the residuals (10.007 kWh): only 14:00-16:00 is above it.
    "above_baseline": {"kwh": 120.0, "cost": 120 * 1.02, "start": "2026-03-10T14:00:00"},
    # IMM-02: 8.5 - 4.5 kW for an hour in the valley.
    "idle_waste": {"kwh": 4.0, "cost": 4 * 0.36, "start": "2026-03-10T02:00:00"},
    "output": 1440 + 1380,  # shots: IMM-01 all day, IMM-02 all but the idle hour
    # Advice for Wednesday the 11th: the base is Wednesday's 100 kW average less IMM-01's
    # own 30 kW; the load costs 100 x 1.02 at 08:00 and 100 x 0.36 in a valley hour, and
    # the peak (70 + 100 kW, above the month's 160) is the same either way.
    "advice": {"day": "2026-03-11", "saving": 66.0, "peak_kw": 170.0,
               "day_cost_before": 70 * (12 * 0.36 + 12 * 1.02) + 102 + 170 * 40.0},
}  # fmt: skip
VALLEY_STARTS = {f"{h:02d}:{m:02d}" for h in (11, 12, 22, 23) for m in (0, 15, 30, 45)}


def onboard(client: httpx.Client, tenant: str, headers: dict[str, str]) -> None:
    """The meter (power and a kvarh counter) and two moulding machines, through the API."""
    bodies = [
        {
            "site": SITE, "line": METER[0], "asset": METER[1], "template": "power_meter",
            "tags": ["active_power_kw"],
            "extra_tags": [{"key": "reactive_energy_kvarh", "unit": "kvarh", "kind": "float",
                            "low": 0, "meaning": "reactive energy import counter"}],
        },
        {"site": SITE, "line": "moulding-hall-1", "asset": "IMM-01",
         "template": "injection_moulding_machine", "attributes": {"shiftable_load": SHIFTABLE}},
        {"site": SITE, "line": "moulding-hall-1", "asset": "IMM-02",
         "template": "injection_moulding_machine"},
    ]  # fmt: skip
    for body in bodies:
        answer = client.post(f"/api/tenants/{tenant}/assets", json=body, headers=headers)
        assert answer.status_code == 201, answer.text


def _ns(moment: pd.Timestamp) -> int:
    return int(moment.tz_convert("UTC").value)


def write_plant(historian: Historian) -> None:
    """The 28 days before the 10th and the 10th itself (see the module doc)."""
    power = SeriesKey(SITE, *METER, "active_power_kw")
    kvarh = SeriesKey(SITE, *METER, "reactive_energy_kvarh")
    points: list[Point] = []
    for day in range(-28, 0):
        kw = 100.0 + (10.0 if day % 2 == 0 else -10.0)
        start = _ns(DAY + pd.Timedelta(days=day))
        points += [Point(power, start + i * 5 * MINUTE_NS, kw) for i in range(288)]
    start = _ns(DAY)
    for i in range(-60, 1440):  # from an hour before: the counters' first differences
        t = start + i * MINUTE_NS
        if i >= 0:
            points.append(Point(power, t, 160.0 if 14 * 60 <= i < 16 * 60 else 100.0))
        points.append(Point(kvarh, t, 5000.0 + (i + 60) * 75.0 / 60))
        for asset in ("IMM-01", "IMM-02"):
            idle = asset == "IMM-02" and 2 * 60 <= i < 3 * 60

            def key(tag: str, asset: str = asset) -> SeriesKey:
                return SeriesKey(SITE, "moulding-hall-1", asset, tag)

            # IMM-02's counter stands still while it idles.
            shots = i + 60 - (min(max(i - 120, 0), 60) if asset == "IMM-02" else 0)
            points.append(Point(key("shot_count"), t, 1000 + shots))
            if i >= 0:
                points.append(Point(key("state"), t, "idle" if idle else "running"))
                points.append(Point(key("power_kw"), t, 8.5 if idle else 30.0))
    historian.write(points)


def day_range() -> tuple[str, str]:
    """The day analysed, as the job's ISO 8601 params."""
    return (DAY.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ"),
            (DAY + pd.Timedelta(days=1)).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ"))  # fmt: skip
