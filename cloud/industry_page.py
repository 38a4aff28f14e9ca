"""The industry-cloud operator's page, ``/industry/{cloud_key}``: member benchmarking.

Each member tenant's KPIs over the last 7 days (OEE, energy per unit, data coverage, from
``analytics.production`` through the plant pages' hourly KPI cache) against the
vertical's percentiles p25 / p50 / p75. The percentiles are over the cloud's members with
data and name nobody; they are shown only when at least ``MIN_MEMBERS`` members have a
value, so that a band never stands for one enterprise. Member names are shown because the
operator may see its own members' aggregates (TenantScope ``can_read_aggregates``); a
member the scope refuses would not be listed.

Only the operator of that cloud and platform admins open it; everyone else gets 404 (as
for a cloud that does not exist), and a browser without a session is sent to ``/login``.
Its ``data`` twin (``/industry/{cloud_key}/data``) answers the figures and panels as JSON;
the page fetches it every ``REFRESH_S`` and redraws in place (``cloud.live_refresh``).

A benchmark is computed at most once per ``CACHE_S`` per cloud and language-free (labels
are applied when rendering); closed hours come from the shared ``ClosedPeriodCache``, so
even a recompute reads only the running hour of each site.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import plotly.graph_objects as go
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select

from analytics.production import ProductionKpis
from cloud.i18n import LANG_COOKIE, Translator, normalize_lang, request_lang
from cloud.live_refresh import config_json, data_response, live_config, refresh_ms, render_panels
from cloud.plant_figures import figures_payload, finish
from cloud.plant_model_view import load_sites, site_calendar, site_spec
from cloud.plant_pages import kpi_cache
from cloud.principals import Caller, DbSession
from cloud.production_kpi_cache import SiteKpis, merge
from tenants.models import IndustryCloud, Tenant
from tenants.scope import Principal, TenantScope

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
WINDOW_NS = 7 * 24 * 3600 * 1_000_000_000
CACHE_S = 60.0
# The page polls as often as the benchmark can change (``?refresh=N`` seconds overrides).
REFRESH_S = int(CACHE_S)
MIN_MEMBERS = 3
ZONE = "Asia/Shanghai"  # the platform's calendars' zone (plant_model_view)
# (key, label key, unit, higher is better, as percent)
KPIS = (
    ("oee", "oee", "%", True, True),
    ("energy_per_unit_kwh", "kwh_per_unit", "kWh", False, False),
    ("data_coverage", "data_coverage", "%", True, True),
)


@dataclass(frozen=True)
class MemberKpis:
    key: str
    name: str
    has_model: bool
    values: dict[str, float | None]  # KPI key -> value (ratios as 0..1)
    output: float | None


@dataclass(frozen=True)
class Benchmark:
    cloud_key: str
    cloud_name: str
    computed_ns: int
    members: tuple[MemberKpis, ...]
    percentiles: dict[str, tuple[float, float, float] | None]  # KPI -> (p25, p50, p75)
    counts: dict[str, int]  # KPI -> members with a value


def operator_cloud(cloud_key: str, session: DbSession, caller: Caller) -> IndustryCloud:
    """The cloud, if the caller is its operator or a platform admin; 404 otherwise."""
    cloud = None
    if "\x00" not in cloud_key:  # PostgreSQL refuses even to compare a NUL
        cloud = session.scalar(select(IndustryCloud).where(IndustryCloud.key == cloud_key))
    if cloud is None or not TenantScope(session, caller).can_operate_industry_cloud(cloud.id):
        raise HTTPException(404, f"no industry cloud {cloud_key!r} that you operate")
    assert cloud is not None
    return cloud


def _member_kpis(request: Request, session: DbSession, tenant: Tenant, now_ns: int) -> MemberKpis:
    """The member's KPIs over the last 7 days, merged over its sites."""
    cache = kpi_cache(request)
    historian = request.app.state.storage.historian(tenant.storage_database)
    parts: list[ProductionKpis] = []
    has_model = False
    for site in load_sites(session, tenant.id):
        spec = site_spec(site)
        if spec is None:
            continue
        has_model = True
        kpis = SiteKpis.build(
            cache,
            historian,
            tenant.storage_database,
            spec,
            site_calendar(site),
            now_ns - WINDOW_NS,
            now_ns,
            now_ns,
        ).whole()
        if kpis is not None:
            parts.append(kpis)
    whole = merge(parts, "7d") if parts else None
    values: dict[str, float | None] = {}
    for key, *_ in KPIS:
        value = None if whole is None else getattr(whole, key)
        values[key] = None if value is None or not np.isfinite(value) else float(value)
    # No planned time at all means no data: coverage of nothing is not 100 %.
    if whole is None or whole.pbt_s <= 0:
        values["data_coverage"] = None
    return MemberKpis(
        tenant.key, tenant.name, has_model, values, None if whole is None else whole.gq
    )


def compute_benchmark(
    request: Request, session: DbSession, cloud: IndustryCloud, scope: TenantScope
) -> Benchmark:
    now_ns = time.time_ns()
    tenants = session.scalars(
        select(Tenant).where(Tenant.industry_cloud_id == cloud.id).order_by(Tenant.name)
    ).all()
    members = tuple(
        _member_kpis(request, session, tenant, now_ns)
        for tenant in tenants
        if scope.can_read_aggregates(tenant.id)
    )
    percentiles: dict[str, tuple[float, float, float] | None] = {}
    counts: dict[str, int] = {}
    for key, *_ in KPIS:
        values = [m.values[key] for m in members if m.values[key] is not None]
        counts[key] = len(values)
        if len(values) >= MIN_MEMBERS:
            p25, p50, p75 = np.percentile(np.asarray(values, dtype=float), [25, 50, 75])
            percentiles[key] = (float(p25), float(p50), float(p75))
        else:
            percentiles[key] = None
    return Benchmark(cloud.key, cloud.name, now_ns, members, percentiles, counts)


_LOCK = threading.Lock()


def cached_benchmark(
    request: Request, session: DbSession, cloud: IndustryCloud, caller: Principal
) -> Benchmark:
    """The cloud's benchmark, recomputed at most every ``CACHE_S`` (one at a time, so that
    a wall screen and an operator arriving together compute it once)."""
    state = request.app.state
    store: dict[int, tuple[float, Benchmark]] | None = getattr(state, "industry_benchmarks", None)
    if store is None:
        store = state.industry_benchmarks = {}
    with _LOCK:
        hit = store.get(cloud.id)
        if hit is not None and time.monotonic() - hit[0] < CACHE_S:
            return hit[1]
        benchmark = compute_benchmark(request, session, cloud, TenantScope(session, caller))
        store[cloud.id] = (time.monotonic(), benchmark)
        return benchmark


def _scaled(value: float | None, percent: bool) -> float | None:
    if value is None:
        return None
    return round(100 * value, 1) if percent else round(value, 3)


def _text(value: float | None, unit: str, percent: bool) -> str:
    scaled = _scaled(value, percent)
    if scaled is None:
        return "–"
    return f"{scaled:.1f}%" if percent else f"{scaled:.3g} {unit}"


def _position(value: float | None, band: tuple[float, float, float] | None, higher: bool) -> str:
    """Which quartile band of the vertical the value is in, "better" side first."""
    if value is None or band is None:
        return ""
    p25, p50, p75 = band
    if not higher:  # less energy per unit is better: mirror the bands
        value, p25, p50, p75 = -value, -p75, -p50, -p25
    if value > p75:
        return "above"
    if value >= p50:
        return "upper"
    if value >= p25:
        return "lower"
    return "below"


def kpi_figure(benchmark: Benchmark, kpi: tuple, t: Translator, wall: bool) -> go.Figure:
    """The members' values as bars, the vertical's p25 / p50 / p75 as lines across."""
    key, label, unit, _, percent = kpi
    members = [m for m in benchmark.members if m.values[key] is not None]
    names = [m.name for m in members]
    values = [_scaled(m.values[key], percent) for m in members]
    suffix = "%" if percent else " " + unit
    figure = go.Figure(
        go.Bar(
            x=names,
            y=values,
            name=t(label),
            marker={"color": "#1f6feb"},
            text=[f"{v:.1f}{suffix}" if percent else f"{v:.3g}" for v in values],
            textposition="outside",
            hovertemplate="%{x}: %{y}" + suffix + "<extra></extra>",
        )
    )
    band = benchmark.percentiles[key]
    if band is not None and names:
        for value, name, dash, color in zip(
            band,
            ("p25", t("ind_median"), "p75"),
            ("dot", "dash", "dot"),
            ("#9ca3af", "#111827", "#9ca3af"),
            strict=True,
        ):
            shown = _scaled(value, percent)
            figure.add_scatter(
                x=[names[0], names[-1]] if len(names) > 1 else names * 2,
                y=[shown, shown],
                mode="lines",
                name=f"{name} {shown}{suffix}",
                line={"dash": dash, "color": color, "width": 2},
                hoverinfo="skip",
            )
    figure.update_layout(
        title={"text": t("ind_chart", kpi=t(label))},
        yaxis={"ticksuffix": "%" if percent else "", "title": {"text": "" if percent else unit}},
        hovermode="closest",
    )
    return finish(figure, wall, height=340, lang=t.lang)


def _view(
    request: Request, cloud: IndustryCloud, session: DbSession, caller: Principal
) -> tuple[dict[str, Any], dict[str, go.Figure]]:
    """The page's context and figures: the same for the page and its data twin."""
    benchmark = cached_benchmark(request, session, cloud, caller)
    t = Translator(request_lang(request))
    wall = request.query_params.get("wall") in ("1", "true", "yes")
    refresh = refresh_ms(request, REFRESH_S)
    figures = {
        f"fig-{kpi[0]}": kpi_figure(benchmark, kpi, t, wall)
        for kpi in KPIS
        if any(m.values[kpi[0]] is not None for m in benchmark.members)
    }
    rows = []
    for m in benchmark.members:
        cells = []
        for key, _label, unit, higher, percent in KPIS:
            position = _position(m.values[key], benchmark.percentiles[key], higher)
            cells.append(
                {
                    "text": _text(m.values[key], unit, percent),
                    "position": position,
                    "position_text": t("ind_" + position) if position else "",
                }
            )
        rows.append(
            {
                "key": m.key,
                "name": m.name,
                "cells": cells,
                "output": "–" if m.output is None else f"{m.output:,.0f}",
                "note": "" if m.has_model else t("ind_no_model"),
            }
        )
    bands = [
        {
            "label": t(label),
            "band": (
                " / ".join(_text(v, unit, percent) for v in benchmark.percentiles[key])
                if benchmark.percentiles[key] is not None
                else t("ind_too_few", k=MIN_MEMBERS)
            ),
            "count": benchmark.counts[key],
        }
        for key, label, unit, _higher, percent in KPIS
    ]
    computed = datetime.fromtimestamp(benchmark.computed_ns / 1e9, ZoneInfo(ZONE))
    other_lang = "en" if t.lang == "zh" else "zh"
    context: dict[str, Any] = {
        "t": t,
        "title": t("ind_title"),
        "heading": cloud.name,
        "kind": "industry",
        "wall": wall,
        "cloud": cloud,
        "lang_url": f"{request.url.path}?lang={other_lang}",
        "kpi_labels": [t(label) for _key, label, *_ in KPIS],
        "rows": rows,
        "bands": bands,
        "period": t(
            "ind_period", time=f"{computed:%Y-%m-%d %H:%M} ({ZONE})", count=benchmark.counts["oee"]
        ),
        "figure_ids": list(figures),
        "config": live_config(t, refresh, wall=wall),
    }
    return context, figures


@router.get("/industry/{cloud_key}", response_class=HTMLResponse)
def industry_page(request: Request, cloud_key: str, session: DbSession, caller: Caller) -> Response:
    started = time.perf_counter()
    cloud = operator_cloud(cloud_key, session, caller)
    context, figures = _view(request, cloud, session, caller)
    context["figures_json"] = figures_payload(figures)
    context["config_json"] = config_json(context["config"])
    timing = {"Server-Timing": f"app;dur={(time.perf_counter() - started) * 1000:.1f}"}
    response = templates.TemplateResponse(request, "industry.html", context, headers=timing)
    chosen = normalize_lang(request.query_params.get("lang"))
    if chosen:
        response.set_cookie(LANG_COOKIE, chosen, max_age=365 * 86400, samesite="lax")
    return response


@router.get("/industry/{cloud_key}/data")
def industry_data(request: Request, cloud_key: str, session: DbSession, caller: Caller) -> Response:
    """The page's figures and panels as JSON, for its live refresh (static/plant.js)."""
    started = time.perf_counter()
    cloud = operator_cloud(cloud_key, session, caller)
    context, figures = _view(request, cloud, session, caller)
    panels = render_panels(templates, "industry_panels.html", context)
    timing = {"Server-Timing": f"app;dur={(time.perf_counter() - started) * 1000:.1f}"}
    return data_response(figures, panels, timing)
