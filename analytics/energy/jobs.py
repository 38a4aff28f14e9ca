"""The ``energy_analysis`` job: a tenant's energy analyses from its historian, stored for
the plant manager's energy page.

For each site (or the one named) over a range: KPIs and the time-of-use bill, the
baseline's goodness, anomalies with their cost, and advice for the next day where
shiftable loads are configured (``site_analysis``, ``load_advice``). Each site's result
is a row of ``energy_results``; the job's own result is a summary of them.

It runs every day at 00:15 site time (Asia/Shanghai, the sites' clock) over the day
before, for every tenant, and on demand: the energy page's "recompute" button, ``POST
/api/tenants/{key}/jobs`` or ``mingzhou jobs start energy_analysis``; ``mingzhou energy
analyse`` runs the same code on a historian without the platform.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from celery.schedules import crontab
from sqlalchemy.orm import Session

from analytics.energy.analysis_params import KIND, EnergyAnalysisParams
from analytics.energy.site_analysis import STEPS_PER_SITE, analyse_site
from analytics.energy.stored_results import store_result
from analytics.energy.tariff import default_tariff
from cloud.plant_model_view import DEFAULT_TIMEZONE, load_sites
from cloud.timeparams import parse_datetime, parse_instant
from historian import Historian
from jobs.catalog import job_kind, periodic_job
from jobs.context import JobContext
from jobs.errors import JobError

__all__ = ["KIND", "EnergyAnalysisParams", "previous_local_day", "run_energy_analysis"]
Progress = Callable[[int, int, str], None]


def _summary(site: dict[str, Any], row_id: int | None) -> dict[str, Any]:
    """What the job's row says about one site (the full result is in energy_results)."""
    cost = site.get("cost") or {}
    baseline = site["baseline"]
    advice = site["advice"]
    return {
        "site": site["site"],
        "result_id": row_id,
        "source": site["source"],
        "kwh": site["kpis"]["kwh"],
        "total_cost": cost.get("total"),
        "currency": cost.get("currency"),
        "anomalies": site["anomalies"]["count"],
        "anomaly_cost": site["anomalies"]["cost"],
        "baseline_cv_rmse": (baseline.get("range") or {}).get("cv_rmse"),
        "advice_saving": advice.get("saving"),
        "advice": "schedule" if "loads" in advice else advice.get("note"),
    }


def run_energy_analysis(
    session: Session,
    historian: Historian,
    tenant_id: int,
    params: EnergyAnalysisParams,
    *,
    created_by: str,
    progress: Progress = lambda done, total, message: None,
    job_id: str | None = None,
    store: bool = True,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every chosen site's result and its summary (stored, flushed, when ``store``).

    A site the tenant does not have is a ValueError naming the sites it has."""
    sites = load_sites(session, tenant_id)
    if params.site is not None:
        chosen = [s for s in sites if s.key == params.site]
        if not chosen:
            known = ", ".join(s.key for s in sites) or "none"
            raise ValueError(f"site: no site {params.site!r} in this tenant's asset model"
                             f" (its sites: {known})")  # fmt: skip
        sites = chosen
    start, end = parse_datetime(params.start), parse_datetime(params.end)
    start_ns, end_ns = parse_instant(params.start), parse_instant(params.end)
    tariff = default_tariff()  # the page's tariff, so the two price alike
    total = max(1, len(sites) * STEPS_PER_SITE)
    done = 0

    def step(message: str) -> None:
        nonlocal done
        progress(done, total, message)
        done += 1

    results, summaries = [], []
    for site in sites:
        result = analyse_site(historian, site, start_ns, end_ns, tariff, params.settings(), step)
        row_id = None
        if store:
            row = store_result(session, tenant_id, site.key, start, end, result, created_by,
                               job_id)  # fmt: skip
            row_id = row.id
        results.append(result)
        summaries.append(_summary(result, row_id))
    progress(total, total, f"{len(sites)} site(s) analysed")
    return results, summaries


@job_kind(
    KIND,
    EnergyAnalysisParams,
    title="Energy KPIs, baseline, anomalies with their cost and next-day load advice",
)
def energy_analysis(job: JobContext, params: EnergyAnalysisParams) -> dict[str, Any]:
    with job.session() as session:
        try:
            _, summaries = run_energy_analysis(
                session,
                job.historian(),
                job.tenant_id,
                params,
                created_by=job.created_by,
                progress=job.progress,
                job_id=job.id,
            )
        except ValueError as exc:
            raise JobError(str(exc)) from None
        session.commit()
    note = None if summaries else "this tenant has no site in its asset model yet"
    return {"start": params.start, "end": params.end, "sites": summaries, "note": note}


def previous_local_day(now: datetime, timezone: str = DEFAULT_TIMEZONE) -> dict[str, str]:
    """[yesterday 00:00, today 00:00) in the sites' clock, as the job's params."""
    zone = ZoneInfo(timezone)
    today = now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    yesterday = today - timedelta(days=1)  # wall-clock arithmetic: a DST day is 23 or 25 h

    def iso(moment: datetime) -> str:
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    return {"start": iso(yesterday), "end": iso(today)}


# 16:15 UTC is 00:15 in Shanghai: the day before is complete at every site, and the
# advice is for the day just begun.
periodic_job(
    "energy-daily",
    kind=KIND,
    every=crontab(minute="15", hour="16"),
    params=previous_local_day,
)
