"""The energy page's stored analysis: the latest ``energy_analysis`` result of the site,
when it was computed, the state of a recompute, and who may start one.

With a stored result the page lists its anomalies (with their cost), the baseline's
goodness and the advice for the next day, and skips computing anomalies on the request
(the costly part: a month of idle-time scoring and a baseline fit). Without one it shows
the anomalies computed on request, as before, and says that no analysis is stored yet.
The page's KPI tiles and figures stay those of the range picked.
"""

from __future__ import annotations

import json
from typing import Any

import plotly.graph_objects as go
from sqlalchemy import select
from sqlalchemy.orm import Session

from analytics.energy.analysis_params import KIND
from analytics.energy.stored_results import EnergyResult, latest_result
from cloud.plant_views import HISTORY_ROWS, Formats, PlantPage, energy_view
from cloud.timeparams import format_instant
from jobs.catalog import JobCatalog
from jobs.models import UNFINISHED, Job, JobState, as_utc
from tenants.models import Tenant
from tenants.roles import Role
from tenants.scope import Principal

ANOMALY_KINDS = ("idle_waste", "above_baseline", "power_factor")
JOBS_LOOKED_AT = 20  # the tenant's latest energy jobs, searched for this site's


def _stamp(text: str | None) -> str:
    """A stored local ISO time as the pages print times: 2026-03-10 14:00."""
    return "" if not text else text.replace("T", " ")[:16]


def _hhmm(text: str) -> str:
    return text[11:16]


def _anomaly_rows(result: dict[str, Any], page: PlantPage) -> list[dict[str, str]]:
    t, fmt = page.t, page.fmt()
    return [
        {
            "kind": t("anomaly_" + e["kind"]) if e["kind"] in ANOMALY_KINDS else e["kind"],
            "start": _stamp(e["start"]),
            "end": _stamp(e["end"]),
            "kwh": fmt.num(e["excess_kwh"], 1),
            "cost": fmt.num(e["cost"], 2),
            "detail": e["detail"],
        }
        for e in result["anomalies"]["episodes"][:HISTORY_ROWS]
    ]


def _baseline_view(baseline: dict[str, Any], fmt: Formats) -> dict[str, Any]:
    def percent(value: float | None) -> str:
        return fmt.num(value, 1) + (" %" if value is not None else "")

    def scores(which: str) -> dict[str, str] | None:
        found = baseline.get(which)
        if not found:
            return None
        return {
            "hours": fmt.num(found["hours"]),
            "cv_rmse": percent(found["cv_rmse"]),
            "nmbe": percent(found["nmbe"]),
            "r2": fmt.num(found["r2"], 3),
        }

    return {
        "used": baseline["used"],
        "training_hours": baseline["training_hours"],
        "training": scores("training"),
        "range": scores("range"),
        "meets": baseline.get("meets_ashrae14_hourly"),
    }


def _advice_view(advice: dict[str, Any], fmt: Formats) -> dict[str, Any]:
    view: dict[str, Any] = {
        "day": advice["day"],
        "configured": advice["configured"],
        "errors": advice.get("errors", []),
        "loads": [],
    }
    if "loads" in advice:
        view["loads"] = [
            {
                "name": load["name"],
                "power": fmt.num(load["power_kw"], 1),
                "window": f"{load['window'][0]}–{load['window'][1]}",
                "earliest": f"{_hhmm(load['start_if_earliest'])}",
                "advised": f"{_hhmm(load['advised_start'])}–{_hhmm(load['advised_end'])}",
            }
            for load in advice["loads"]
        ]
        view["saving"] = fmt.num(advice["saving"], 2)
        view["currency"] = advice["currency"]
        view["peak_before"] = fmt.num(advice["peak_kw_before"], 1)
        view["peak_after"] = fmt.num(advice["peak_kw_after"], 1)
        view["method"] = advice["method"]
    return view


def _stored_view(row: EnergyResult, page: PlantPage) -> dict[str, Any]:
    fmt, result = page.fmt(), row.result
    pf = result.get("power_factor") or {}
    cost = result.get("cost") or {}
    computed = as_utc(row.computed_at)
    assert computed is not None
    return {
        "id": row.id,
        "computed_at": fmt.time(round(computed.timestamp() * 1e9)),
        "start": _stamp(result["start"]),
        "end": _stamp(result["end"]),
        "anomaly_rows": _anomaly_rows(result, page),
        "anomaly_cost": result["anomalies"]["cost"] or 0.0,
        "anomaly_count": result["anomalies"]["count"],
        "currency": cost.get("currency"),
        "baseline": _baseline_view(result["baseline"], fmt),
        "pf": {
            "available": bool(pf.get("available")),
            "value": fmt.num(pf.get("power_factor"), 2),
            "adjustment": fmt.num(pf.get("adjustment"), 2),
        },
        "advice": _advice_view(result["advice"], fmt),
    }


def may_start_energy_job(caller: Principal, tenant: Tenant, catalog: JobCatalog) -> bool:
    """Whether the jobs API would let ``caller`` start the energy job for ``tenant`` (the
    same rule as ``cloud.jobs_api``: the kind's roles in the tenant, or a platform admin)."""
    kind = catalog.kind(KIND)
    if kind is None:
        return False
    if caller.role is Role.PLATFORM_ADMIN:
        return True
    return caller.tenant_id == tenant.id and caller.role in kind.roles


def _site_job(session: Session, tenant_id: int, site: str) -> Job | None:
    """The tenant's latest energy job that covers this site (one site or all)."""
    rows = session.scalars(
        select(Job)
        .where(Job.tenant_id == tenant_id, Job.kind == KIND)
        .order_by(Job.created_at.desc(), Job.id)
        .limit(JOBS_LOOKED_AT)
    )
    return next((j for j in rows if (j.params or {}).get("site") in (site, None)), None)


def _job_status(job: Job | None, row: EnergyResult | None, page: PlantPage) -> str | None:
    """One line about a recompute that is under way or failed since the stored result."""
    if job is None:
        return None
    t = page.t
    if job.state == JobState.QUEUED.value:
        return t("job_queued")
    if job.state == JobState.RUNNING.value:
        percent, total = "", job.progress_total
        if total:
            percent = f"{100 * min(job.progress_done, total) / total:.0f}%"
        return t("job_running", percent=percent, message=job.progress_message or "")
    finished = as_utc(job.finished_at)
    stored = as_utc(row.computed_at) if row is not None else None
    if job.state == JobState.FAILED.value and (stored is None or (finished and finished > stored)):
        return t("job_failed", error=job.error or "")
    return None


def energy_page_view(
    page: PlantPage, session: Session, tenant_id: int, may_start: bool
) -> tuple[dict[str, Any], dict[str, go.Figure]]:
    """The energy page: the range's KPIs and figures, and the stored analysis (or, before
    the first, the anomalies computed on request)."""
    row = latest_result(session, tenant_id, page.site.key)
    context, figures = energy_view(page, with_anomalies=row is None)
    job = _site_job(session, tenant_id, page.site.key)
    stored = _stored_view(row, page) if row is not None else None
    if stored is not None:
        context["anomaly_rows"] = stored["anomaly_rows"]
        context["anomaly_cost"] = stored["anomaly_cost"]
    body = {
        "kind": KIND,
        "params": {
            "site": page.site.key,
            "start": format_instant(page.range.start_ns),
            "end": format_instant(page.range.end_ns),
        },
    }
    t = page.t
    labels = {
        "queued": t("job_queued"),
        "running": t("job_running", percent="{percent}", message="{message}"),
        "failed": t("job_failed", error="{error}"),
        "refused": t("job_refused", error="{error}"),
        "done": t("job_done"),
    }
    context.update(
        {
            "energy_labels_json": json.dumps(labels, ensure_ascii=False).replace("</", "<\\/"),
            "stored": stored,
            "energy_job_status": _job_status(job, row, page),
            "energy_job_running": job is not None and job.state in UNFINISHED,
            "recompute": None
            if not may_start
            else {"url": f"/api/tenants/{page.tenant_key}/jobs", "body": json.dumps(body)},
        }
    )
    return context, figures
