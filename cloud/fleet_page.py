"""The service team's fleet page, ``/service``: the health of every tenant that grants the
team and of each of their machines with something open, the open failure predictions of
the whole fleet ranked by risk then remaining life with their evidence, and the open work
orders; each row links to the tenant's own service page (``/t/{key}/service``).

Two figures: each tenant's scored machines by risk band, and risk against remaining life
with its interval, one point a machine. The page's ``data`` twin (``/service/data``)
answers both and the tables as JSON, fetched every ``REFRESH_S`` (``?refresh=N``
seconds) and drawn in place (``cloud.live_refresh``). The same facts as data are
``/api/service/fleet`` (``cloud.fleet_api``), which also decides who has a fleet.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import plotly.graph_objects as go
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from cloud.fleet_api import TeamFleet, service_page_path, team_fleet, tenant_health_out
from cloud.i18n import LANG_COOKIE, Translator, normalize_lang, request_lang
from cloud.live_refresh import config_json, data_response, live_config, refresh_ms, render_panels
from cloud.plant_figures import figures_payload, finish
from cloud.principals import DbSession, Scope
from cloud.service_page import DEFAULT_ZONE, Times, evidence_rows, rul_text
from maintenance.fleet import RISK_HIGH, RISK_WATCH, AssetHealth, risk_band

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
REFRESH_S = 15
PREDICTION_ROWS = 100  # the riskiest; the API has them all
ASSET_ROWS = 200
ORDER_ROWS = 100
BAND_COLORS = {"bad": "#dc2626", "warn": "#d97706", "ok": "#1f9d55"}
BAND_LABELS = {"bad": "fleet_at_risk", "warn": "fleet_watch", "ok": "fleet_healthy"}


def _percent(risk: float | None) -> str:
    return "–" if risk is None else f"{100 * risk:.0f}%"


def _machine(line: str, asset: str) -> str:
    return f"{line} / {asset}"


def health_figure(view: TeamFleet, t: Translator, wall: bool) -> go.Figure:
    """Each tenant's scored machines, stacked by risk band; the first tenant on top."""
    healths = list(reversed(view.fleet.tenants.values()))
    names = [view.tenant(h.tenant_id).name for h in healths]
    figure = go.Figure()
    for band in ("bad", "warn", "ok"):
        figure.add_bar(
            x=[h.scored_in(band) for h in healths],
            y=names,
            orientation="h",
            name=t(BAND_LABELS[band]),
            marker={"color": BAND_COLORS[band]},
            customdata=[[len(h.alerts), len(h.work_orders)] for h in healths],
            hovertemplate="%{y}: %{x}<br>"
            + t("fleet_open_alerts")
            + " %{customdata[0]} · "
            + t("fleet_open_orders")
            + " %{customdata[1]}<extra>"
            + t(BAND_LABELS[band])
            + "</extra>",
        )
    figure.update_layout(
        title={"text": t("fleet_health_chart")},
        barmode="stack",
        xaxis={"rangemode": "tozero", "dtick": 1},
        yaxis={"automargin": True},
        hovermode="closest",
    )
    finish(figure, wall, height=max(240, 110 + 40 * len(names)), lang=t.lang)
    figure.update_layout(legend={"traceorder": "normal"})  # the bands in the bars' order
    return figure


def risk_life_figure(view: TeamFleet, t: Translator, wall: bool) -> go.Figure:
    """Risk against remaining life, one point a scored machine (its worst prediction),
    the life's interval as error bars, one colour a tenant, the risk bands as lines."""
    figure = go.Figure()
    without_life = 0
    for tenant_id, health in view.fleet.tenants.items():
        shown = [a for a in health.assets if a.worst is not None]
        with_life = [a for a in shown if a.worst.rul_hours is not None]  # type: ignore[union-attr]
        without_life += len(shown) - len(with_life)
        if not with_life:
            continue
        worst = [a.worst for a in with_life]
        ruls = [p.rul_hours for p in worst]  # type: ignore[union-attr]
        figure.add_scatter(
            x=ruls,
            y=[round(100 * p.risk, 1) for p in worst],  # type: ignore[union-attr]
            mode="markers+text",
            name=view.tenant(tenant_id).name,
            text=[a.asset for a in with_life],
            textposition="top center",
            marker={"size": 12, "line": {"width": 1, "color": "#ffffff"}},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": [_above(p) for p in worst],
                "arrayminus": [_below(p) for p in worst],
                "thickness": 1.2,
            },
            customdata=[
                [_machine(a.line, a.asset), a.worst.failure_kind, rul_text(a.worst, t)]  # type: ignore[union-attr]
                for a in with_life
            ],
            hovertemplate="<b>%{customdata[0]}</b> · %{customdata[1]}<br>"
            + t("svc_risk")
            + " %{y:.0f}%<br>"
            + t("svc_rul")
            + " %{customdata[2]}<extra>%{fullData.name}</extra>",
        )
    for level, color, dash in ((RISK_HIGH, BAND_COLORS["bad"], "dash"),
                               (RISK_WATCH, BAND_COLORS["warn"], "dot")):  # fmt: skip
        figure.add_hline(y=100 * level, line={"color": color, "dash": dash, "width": 1})
    if without_life or not figure.data:
        text = t("fleet_no_rul", count=without_life) if figure.data else t("fleet_no_rul_yet")
        figure.add_annotation(
            text=text, showarrow=False, xref="paper", yref="paper", x=0, y=-0.24,
            xanchor="left", yanchor="top", font={"color": "#6b7785"},
        )  # fmt: skip
    figure.update_layout(
        title={"text": t("fleet_scatter_chart")},
        xaxis={"title": {"text": t("fleet_rul_axis")}, "rangemode": "tozero"},
        yaxis={"title": {"text": t("fleet_risk_axis")}, "range": [0, 108], "ticksuffix": "%"},
        hovermode="closest",
    )
    finish(figure, wall, height=400, lang=t.lang)
    # The tenants' legend above the plot: below it are the axis title and the note.
    figure.update_layout(
        legend={"orientation": "h", "x": 1, "xanchor": "right", "y": 1.02, "yanchor": "bottom"},
        margin={"b": 96},
    )
    return figure


def _above(p: Any) -> float:
    if p.rul_high_hours is None or p.rul_hours is None:
        return 0.0
    return max(p.rul_high_hours - p.rul_hours, 0.0)


def _below(p: Any) -> float:
    if p.rul_low_hours is None or p.rul_hours is None:
        return 0.0
    return max(p.rul_hours - p.rul_low_hours, 0.0)


def _asset_row(view: TeamFleet, a: AssetHealth, t: Translator) -> dict[str, Any]:
    tenant = view.tenant(a.tenant_id)
    return {
        "tenant": tenant.name,
        "tenant_key": tenant.key,
        "link": service_page_path(tenant),
        "machine": _machine(a.line, a.asset),
        "site": a.site,
        "asset_type": a.asset_type,
        "risk": _percent(a.worst.risk) if a.worst else t("fleet_not_scored"),
        "risk_class": risk_band(a.worst.risk) if a.worst else "",
        "failure": a.worst.failure_kind if a.worst else "–",
        "rul": rul_text(a.worst, t) if a.worst else "–",
        "open_alerts": a.open_alerts,
        "open_orders": a.open_work_orders,
    }


def _view(
    request: Request, session: DbSession, scope: Scope
) -> tuple[dict[str, Any], dict[str, go.Figure]]:
    """The page's context and figures: the same for the page and its data twin."""
    view = team_fleet(session, scope)
    t = Translator(request_lang(request))
    wall = request.query_params.get("wall") in ("1", "true", "yes")
    refresh = refresh_ms(request, REFRESH_S)
    # Every site calendar is in the platform's zone for now (plant_model_view).
    times = Times(ZoneInfo(DEFAULT_ZONE), datetime.now(UTC))
    tenant_rows = []
    for tenant_id, health in view.fleet.tenants.items():
        tenant = view.tenant(tenant_id)
        out = tenant_health_out(tenant, health)
        worst, shortest = health.worst, health.shortest_life
        tenant_rows.append(
            {
                "key": tenant.key,
                "name": tenant.name,
                "link": out.service_page,
                "worst": _percent(out.worst_risk),
                "worst_class": risk_band(out.worst_risk) if out.worst_risk is not None else "",
                "worst_machine": _machine(worst.line, worst.asset) if worst else "",
                "shortest": rul_text(shortest, t) if shortest else "–",
                "shortest_machine": _machine(shortest.line, shortest.asset) if shortest else "",
                "at_risk": out.at_risk,
                "watch": out.watch,
                "healthy": out.healthy,
                "open_alerts": out.open_alerts,
                "open_orders": out.open_work_orders,
                "last_scored": times.at(out.last_scored) if out.last_scored else "–",
            }
        )
    predictions = view.fleet.predictions
    prediction_rows = [
        {
            "rank": rank,
            "tenant": view.tenant(p.tenant_id).name,
            "tenant_key": view.tenant(p.tenant_id).key,
            "link": service_page_path(view.tenant(p.tenant_id)),
            "machine": _machine(p.line, p.asset),
            "site": p.site,
            "asset_type": p.asset_type,
            "failure": p.failure_kind,
            "risk": _percent(p.risk),
            "risk_class": risk_band(p.risk),
            "rul": rul_text(p, t),
            "evidence": evidence_rows(p, t, times),
            "made": times.at(p.made_at),
        }
        for rank, p in enumerate(predictions[:PREDICTION_ROWS], start=1)
    ]
    assets = view.fleet.assets
    orders = view.fleet.work_orders
    order_rows = [
        {
            "tenant": view.tenant(w.tenant_id).name,
            "link": service_page_path(view.tenant(w.tenant_id)),
            "id": w.id,
            "machine": _machine(w.line, w.asset),
            "state": t("state_" + w.status),
            "state_key": w.status,
            "scheduled": w.scheduled_for.isoformat() if w.scheduled_for else "–",
            "created": times.at(w.created_at),
        }
        for w in orders[:ORDER_ROWS]
    ]
    summary = {
        "tenants": len(tenant_rows),
        "scored": sum(1 for a in assets if a.worst is not None),
        "at_risk": sum(r["at_risk"] for r in tenant_rows),
        "watch": sum(r["watch"] for r in tenant_rows),
        "open_alerts": sum(r["open_alerts"] for r in tenant_rows),
        "open_orders": len(orders),
    }
    # Drawn even for an empty fleet, so that a live page has them when a tenant grants.
    figures = {
        "fig-fleet-health": health_figure(view, t, wall),
        "fig-fleet-risk-life": risk_life_figure(view, t, wall),
    }
    other_lang = "en" if t.lang == "zh" else "zh"
    context: dict[str, Any] = {
        "t": t,
        "title": t("fleet_title"),
        "heading": view.team.name,
        "team": view.team,
        "wall": wall,
        "kind": "fleet",
        "lang_url": f"{request.url.path}?lang={other_lang}",
        "summary": summary,
        "tenants": tenant_rows,
        "assets": [_asset_row(view, a, t) for a in assets[:ASSET_ROWS]],
        "asset_count": len(assets),
        "predictions": prediction_rows,
        "prediction_count": len(predictions),
        "orders": order_rows,
        "order_count": len(orders),
        "figure_ids": list(figures),
        "config": live_config(t, refresh, wall=wall),
        "timezone": DEFAULT_ZONE,
    }
    return context, figures


@router.get("/service", response_class=HTMLResponse)
def fleet_page(request: Request, session: DbSession, scope: Scope) -> Response:
    started = time.perf_counter()
    context, figures = _view(request, session, scope)
    context["figures_json"] = figures_payload(figures)
    context["config_json"] = config_json(context["config"])
    timing = {"Server-Timing": f"app;dur={(time.perf_counter() - started) * 1000:.1f}"}
    response = templates.TemplateResponse(request, "fleet.html", context, headers=timing)
    chosen = normalize_lang(request.query_params.get("lang"))
    if chosen:
        response.set_cookie(LANG_COOKIE, chosen, max_age=365 * 86400, samesite="lax")
    return response


@router.get("/service/data")
def fleet_data(request: Request, session: DbSession, scope: Scope) -> Response:
    """The page's figures and panels as JSON, for its live refresh (static/plant.js)."""
    started = time.perf_counter()
    context, figures = _view(request, session, scope)
    panels = render_panels(templates, "fleet_panels.html", context)
    timing = {"Server-Timing": f"app;dur={(time.perf_counter() - started) * 1000:.1f}"}
    return data_response(figures, panels, timing)
