"""The plant manager's pages of a tenant, under ``/t/{key}/plant/``:

- ``{site}/``: site overview (each line's OEE with A/P/Q, output against plan, every
  machine's state);
- ``{site}/lines/{line}/``: a line (OEE trend, downtime Pareto, cycle times, scrap);
- ``{site}/assets/{line}/{asset}/``: a machine (live trends with limits, alarms);
- ``{site}/energy/``: energy (kWh per unit, load profile, peak demand, cost by tariff
  period, anomalies with their cost).

Each page is rendered on the server with its Plotly figures; its ``data`` twin answers the
same figures and panels as JSON, which the browser fetches every few seconds and draws
with ``Plotly.react`` (no reload). Query: ``range`` (hour, shift, prev_shift, today,
yesterday, 7d, 30d, custom with ``from``/``to``), ``shift`` (one shift's time only),
``lang`` (zh or en, remembered in a cookie) and ``wall=1`` (large type for a wall screen).

Who may open them is TenantScope's ``can_read_raw``, through the same dependency as the
live view (``principals.tenant_historian``): the tenant's own people, platform admins and
an industry-cloud operator the tenant granted; anyone else gets 404, and no session is
sent to sign in.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import plotly.graph_objects as go
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select

from cloud.closed_period_cache import ClosedPeriodCache
from cloud.day_cached_historian import DayCachedHistorian
from cloud.i18n import LANG_COOKIE, Translator, normalize_lang, request_lang
from cloud.live_refresh import config_json, data_response, live_config, render_panels
from cloud.plant_energy_results import energy_page_view, may_start_energy_job
from cloud.plant_figures import figures_payload
from cloud.plant_model_view import load_sites, site_calendar
from cloud.plant_time_range import PRESETS, RangeError, resolve_range
from cloud.plant_views import Formats, PlantPage, asset_view, line_view, overview
from cloud.principals import Caller, DbSession, tenant_historian
from historian import Historian, HistorianError
from tenants.models import Tenant
from tenants.scope import Principal


def _storable_key(key: str) -> None:
    """A tenant key no store can hold (PostgreSQL refuses even to compare a NUL) is a
    plain 404 before any lookup, not a failed query."""
    if "\x00" in key:
        raise HTTPException(404, "no such tenant")


router = APIRouter(include_in_schema=False, dependencies=[Depends(_storable_key)])
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
PREFIX = "/t/{key}/plant"
REFRESH_MS = {"overview": 15_000, "line": 15_000, "asset": 5_000, "energy": 30_000}
DEFAULT_RANGE = {"overview": "shift", "line": "shift", "asset": "hour", "energy": "today"}
PICKER_KEYS = ("range", "from", "to", "shift", "wall")

View = Callable[[PlantPage], tuple[dict[str, Any], dict[str, go.Figure]]]


def kpi_cache(request: Request) -> ClosedPeriodCache:
    """One cache per app (made on first use, so the app factory needs no change)."""
    state = request.app.state
    cache = getattr(state, "plant_kpi_cache", None)
    if cache is None:
        cache = state.plant_kpi_cache = ClosedPeriodCache()
    return cache


@dataclass
class TenantAccess:
    tenant: Tenant
    historian: Historian


def tenant_access(
    key: str,
    session: DbSession,
    historian: Annotated[Historian, Depends(tenant_historian)],
) -> TenantAccess:
    """The tenant, once TenantScope agreed (``tenant_historian`` raises 404 otherwise)."""
    tenant = session.scalar(select(Tenant).where(Tenant.key == key))
    assert tenant is not None  # tenant_historian found it a moment ago
    return TenantAccess(tenant, historian)


Access = Annotated[TenantAccess, Depends(tenant_access)]


class PageRefused(Exception):
    """A request the page cannot answer: a status, a query field (or None) and why."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


def _query_url(request: Request, path: str, **changes: str | None) -> str:
    """``path`` with the picker's current query (range, shift, wall) and ``changes``."""
    query = {k: request.query_params[k] for k in PICKER_KEYS if request.query_params.get(k)}
    for name, value in changes.items():
        if value is None:
            query.pop(name, None)
        else:
            query[name] = value
    return path + ("?" + urlencode(query) if query else "")


def _plant_page(
    request: Request, access: TenantAccess, session: DbSession, site_key: str, page_kind: str
) -> PlantPage:
    t = Translator(request_lang(request))
    sites = load_sites(session, access.tenant.id)
    site = next((s for s in sites if s.key == site_key), None)
    if site is None:
        raise PageRefused(404, t("no_site"))
    calendar = site_calendar(site)
    now_ns = time.time_ns()
    params = request.query_params
    wall = params.get("wall") in ("1", "true", "yes")
    try:
        chosen = resolve_range(
            calendar,
            params.get("range") or DEFAULT_RANGE[page_kind],
            now_ns,
            params.get("from"),
            params.get("to"),
            params.get("shift"),
        )
    except RangeError as exc:
        raise PageRefused(422, exc.message, exc.field) from None
    cache = kpi_cache(request)
    historian = DayCachedHistorian(access.historian, cache, access.tenant.storage_database, now_ns)
    return PlantPage(
        tenant_key=access.tenant.key,
        tenant_name=access.tenant.name,
        namespace=access.tenant.storage_database,
        site=site,
        sites=sites,
        historian=historian,
        cache=cache,
        calendar=calendar,
        range=chosen,
        t=t,
        wall=wall,
        now_ns=now_ns,
    )


def _base_context(request: Request, page: PlantPage, kind: str, title: str) -> dict[str, Any]:
    t = page.t
    site_path = f"/t/{page.tenant_key}/plant/{page.site.key}/"
    other_lang = "en" if t.lang == "zh" else "zh"
    shifts = [s.name for s in page.calendar.shifts]
    chosen = page.range
    return {
        "t": t,
        "fmt": Formats(t, page.calendar),
        "page": page,
        "kind": kind,
        "title": title,
        "site": page.site,
        "site_path": site_path,
        "url": lambda path, **changes: _query_url(request, path, **changes),
        "lang_url": _query_url(request, request.url.path, lang=other_lang),
        "wall_url": _query_url(request, request.url.path, wall=None if page.wall else "1"),
        "presets": [p for p in PRESETS if p != "hour" or kind == "asset"],
        "shifts": shifts,
        "range_label": t(
            "period",
            start=page.fmt().time(chosen.start_ns),
            end=page.fmt().time(chosen.end_ns),
        ),
        "bucket_label": t("by_" + chosen.bucket),
        "live": chosen.end_ns == page.now_ns,
        "config": live_config(
            t, REFRESH_MS[kind], live=chosen.end_ns == page.now_ns, wall=page.wall
        ),
    }


def _respond(
    request: Request,
    page_kind: str,
    build: Callable[[PlantPage], tuple[str, View]],
    access: TenantAccess,
    session: DbSession,
    site: str,
    as_data: bool,
) -> Response:
    started = time.perf_counter()
    try:
        page = _plant_page(request, access, session, site, page_kind)
        title, view = build(page)
        context, figures = view(page)
    except PageRefused as exc:
        return _refusal(request, exc, as_data)
    except HistorianError as exc:
        # The series store is down or refused the read: say so, retryable.
        return _refusal(request, PageRefused(503, f"the series store failed: {exc}"), as_data)
    base = _base_context(request, page, page_kind, title)
    context = {**base, **context, "figure_ids": set(figures)}
    timing = {"Server-Timing": f"app;dur={(time.perf_counter() - started) * 1000:.1f}"}
    if as_data:
        panels = render_panels(templates, f"plant_{page_kind}_panels.html", context)
        return data_response(figures, panels, timing, range=base["range_label"])
    context["figures_json"] = figures_payload(figures)
    context["config_json"] = config_json(context["config"])
    response = templates.TemplateResponse(
        request, f"plant_{page_kind}.html", context, headers=timing
    )
    chosen = normalize_lang(request.query_params.get("lang"))
    if chosen:
        response.set_cookie(LANG_COOKIE, chosen, max_age=365 * 86400, samesite="lax")
    return response


def _refusal(request: Request, exc: PageRefused, as_data: bool) -> Response:
    if as_data:
        detail: Any = exc.message
        if exc.field is not None:
            detail = [{"loc": ["query", exc.field], "msg": exc.message, "type": "value_error"}]
        return JSONResponse({"detail": detail}, status_code=exc.status)
    t = Translator(request_lang(request))
    key = request.path_params.get("key", "")
    return templates.TemplateResponse(
        request,
        "plant_error.html",
        {"t": t, "message": exc.message, "field": exc.field, "back": f"/t/{key}/plant/"},
        status_code=exc.status,
    )


# --- routes ---------------------------------------------------------------------------


@router.get(PREFIX + "/", response_class=HTMLResponse)
def plant_home(request: Request, access: Access, session: DbSession) -> Response:
    """Straight to the first site's overview."""
    sites = load_sites(session, access.tenant.id)
    if not sites:
        t = Translator(request_lang(request))
        return templates.TemplateResponse(
            request,
            "plant_error.html",
            {"t": t, "message": t("no_sites"), "field": None, "back": f"/t/{access.tenant.key}/"},
            status_code=404,
        )
    return RedirectResponse(_query_url(request, f"{sites[0].key}/"), status_code=303)


def _overview(page: PlantPage) -> tuple[str, View]:
    return page.t("overview"), overview


@router.get(PREFIX + "/{site}/", response_class=HTMLResponse)
def overview_page(request: Request, site: str, access: Access, session: DbSession) -> Response:
    return _respond(request, "overview", _overview, access, session, site, as_data=False)


@router.get(PREFIX + "/{site}/data")
def overview_data(request: Request, site: str, access: Access, session: DbSession) -> Response:
    return _respond(request, "overview", _overview, access, session, site, as_data=True)


def _line(line_key: str) -> Callable[[PlantPage], tuple[str, View]]:
    def build(page: PlantPage) -> tuple[str, View]:
        line = page.site.line(line_key)
        if line is None or not line.machines:
            raise PageRefused(404, f"no production line {line_key!r} at site {page.site.key!r}")
        return f"{page.t('line')} {line.name}", lambda p: line_view(p, line)

    return build


@router.get(PREFIX + "/{site}/lines/{line}/", response_class=HTMLResponse)
def line_page(
    request: Request, site: str, line: str, access: Access, session: DbSession
) -> Response:
    return _respond(request, "line", _line(line), access, session, site, as_data=False)


@router.get(PREFIX + "/{site}/lines/{line}/data")
def line_data(
    request: Request, site: str, line: str, access: Access, session: DbSession
) -> Response:
    return _respond(request, "line", _line(line), access, session, site, as_data=True)


def _asset(line_key: str, asset_key: str) -> Callable[[PlantPage], tuple[str, View]]:
    def build(page: PlantPage) -> tuple[str, View]:
        line = page.site.line(line_key)
        asset = page.site.asset(line_key, asset_key)
        if line is None or asset is None:
            raise PageRefused(
                404, f"no machine {asset_key!r} on line {line_key!r} at site {page.site.key!r}"
            )
        return f"{page.t('asset')} {asset.name}", lambda p: asset_view(p, line, asset)

    return build


@router.get(PREFIX + "/{site}/assets/{line}/{asset}/", response_class=HTMLResponse)
def asset_page(
    request: Request, site: str, line: str, asset: str, access: Access, session: DbSession
) -> Response:
    return _respond(request, "asset", _asset(line, asset), access, session, site, as_data=False)


@router.get(PREFIX + "/{site}/assets/{line}/{asset}/data")
def asset_data(
    request: Request, site: str, line: str, asset: str, access: Access, session: DbSession
) -> Response:
    return _respond(request, "asset", _asset(line, asset), access, session, site, as_data=True)


def _energy(
    request: Request, access: TenantAccess, session: DbSession, caller: Principal
) -> Callable[[PlantPage], tuple[str, View]]:
    """The energy page with the energy job's stored result (``plant_energy_results``);
    its recompute button is there for whoever may start the job."""
    may_start = may_start_energy_job(caller, access.tenant, request.app.state.jobs.catalog)

    def build(page: PlantPage) -> tuple[str, View]:
        return page.t("energy"), lambda p: energy_page_view(p, session, access.tenant.id, may_start)

    return build


@router.get(PREFIX + "/{site}/energy/", response_class=HTMLResponse)
def energy_page(
    request: Request, site: str, access: Access, session: DbSession, caller: Caller
) -> Response:
    build = _energy(request, access, session, caller)
    return _respond(request, "energy", build, access, session, site, as_data=False)


@router.get(PREFIX + "/{site}/energy/data")
def energy_data(
    request: Request, site: str, access: Access, session: DbSession, caller: Caller
) -> Response:
    build = _energy(request, access, session, caller)
    return _respond(request, "energy", build, access, session, site, as_data=True)
