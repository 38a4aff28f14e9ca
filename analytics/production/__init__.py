"""Production KPIs per ISO 22400-2 (OEE with availability, effectiveness and quality,
downtime Pareto, cycle times, output against plan) from historian data, per asset and
rolled up per line and site. Pure computation, no web code; see README.md here.

Typical use::

    report = production_report(historian, site_spec, calendar, start_ns, end_ns)
    report.whole.lines["assembly-1"].oee
    oee_trend_figure(report.trend("hour", line="assembly-1"))
"""

from analytics.production.asset_history import AssetHistory, TimeClass, read_asset_history
from analytics.production.figures import (
    cycle_time_histogram_figure,
    downtime_pareto_figure,
    oee_trend_figure,
    output_vs_plan_figure,
)
from analytics.production.kpis import (
    CycleTimes,
    ParetoBar,
    ProductionKpis,
    StopReason,
    asset_kpis,
    merge_periods,
    roll_up,
)
from analytics.production.live_state import CurrentState, current_state
from analytics.production.production_plan import ProductionPlan
from analytics.production.shift_calendar import (
    Break,
    Period,
    Shift,
    ShiftCalendar,
    ShiftInstance,
    hour_periods,
    shift_periods,
    to_ns,
)
from analytics.production.signals import (
    AssetSignals,
    LineSpec,
    SiteSpec,
    StateCategory,
    StateMeaning,
    state_key,
)
from analytics.production.site_report import PeriodKpis, SiteReport, production_report

__all__ = [
    "AssetHistory",
    "AssetSignals",
    "Break",
    "CurrentState",
    "CycleTimes",
    "LineSpec",
    "ParetoBar",
    "Period",
    "PeriodKpis",
    "ProductionKpis",
    "ProductionPlan",
    "Shift",
    "ShiftCalendar",
    "ShiftInstance",
    "SiteReport",
    "SiteSpec",
    "StateCategory",
    "StateMeaning",
    "StopReason",
    "TimeClass",
    "asset_kpis",
    "current_state",
    "cycle_time_histogram_figure",
    "downtime_pareto_figure",
    "hour_periods",
    "merge_periods",
    "oee_trend_figure",
    "output_vs_plan_figure",
    "production_report",
    "read_asset_history",
    "roll_up",
    "shift_periods",
    "state_key",
    "to_ns",
]
