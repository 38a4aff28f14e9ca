"""The service team's page of a tenant, ``/t/{key}/service``: its open failure
predictions ranked by risk, then by remaining useful life (``maintenance.scoring.
open_predictions``), each with its evidence (the signals that drifted most, and since
when), the alerts still open and the work orders with their states.

Who may open it is TenantScope's ``can_read_raw``, as for the maintenance API
(``cloud.maintenance_api``): the tenant's own people, platform admins, an industry-cloud
operator the tenant granted and the engineers of a service team it grants. Anyone else
gets 404 (the same answer as for a tenant that does not exist); without a session a
browser is sent to ``/login``.

Its ``data`` twin (``/t/{key}/service/data``) answers the figure and the panels as JSON;
the page fetches it every ``REFRESH_S`` (``?refresh=N`` seconds) and redraws in place
(``cloud.live_refresh``).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import plotly.graph_objects as go
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select

from cloud.i18n import LANG_COOKIE, Translator, normalize_lang, request_lang
from cloud.live_refresh import config_json, data_response, live_config, refresh_ms, render_panels
from cloud.plant_figures import figures_payload, finish
from cloud.plant_model_view import load_sites, site_calendar
from cloud.principals import Caller, DbSession
from maintenance.alert_models import Alert, AlertStatus
from maintenance.alerts import alerts
from maintenance.fleet import risk_band
from maintenance.prediction_models import Prediction
from maintenance.scoring import open_predictions
from maintenance.work_orders import work_orders
from tenants.models import Tenant
from tenants.scope import TenantScope

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
EVIDENCE_SIGNALS = 3  # the strongest few: a table cell, not a report
WORK_ORDER_ROWS = 50
DEFAULT_ZONE = "Asia/Shanghai"
# Scoring runs every few minutes and people move work orders: 15 s is live enough.
REFRESH_S = 15


def readable_tenant(key: str, session: DbSession, caller: Caller) -> Tenant:
    """Tenant ``key`` if TenantScope lets the caller read its raw data; 404 otherwise, the
    same for "no such tenant" and "not yours" so that keys cannot be probed."""
    tenant = None
    if "\x00" not in key:  # PostgreSQL refuses even to compare a NUL
        tenant = session.scalar(select(Tenant).where(Tenant.key == key))
    if tenant is None or not TenantScope(session, caller).can_read_raw(tenant.id):
        raise HTTPException(404, f"no tenant {key!r} whose data you may see")
    return tenant


def _zone(session: DbSession, tenant: Tenant) -> ZoneInfo:
    """The time zone of the tenant's first site's shift calendar (times are read on the
    shop floor), else the platform's default."""
    for site in load_sites(session, tenant.id):
        return site_calendar(site).zone
    return ZoneInfo(DEFAULT_ZONE)


class Times:
    """Times as read on the shop floor, in one zone, and hours since a moment."""

    def __init__(self, zone: ZoneInfo, now: datetime) -> None:
        self.zone, self.now = zone, now

    def at(self, moment: datetime | str | None) -> str:
        if moment is None:
            return "–"
        if isinstance(moment, str):  # evidence is stored as JSON: ISO text
            moment = datetime.fromisoformat(moment)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(self.zone).strftime("%Y-%m-%d %H:%M")

    def hours_since(self, moment: str | None) -> float | None:
        if not moment:
            return None
        when = datetime.fromisoformat(moment)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max((self.now - when).total_seconds() / 3600, 0.0)


def rul_text(p: Prediction | Alert, t: Translator) -> str:
    if p.rul_hours is None:
        return "–"
    text = t("svc_hours", hours=f"{p.rul_hours:.0f}")
    low = getattr(p, "rul_low_hours", None)
    high = getattr(p, "rul_high_hours", None)
    if low is not None and high is not None:
        text += f" ({low:.0f}–{high:.0f})"
    return text


def evidence_rows(p: Prediction, t: Translator, times: Times) -> list[dict[str, str]]:
    # The stored evidence is already ordered by share of the anomaly; keep the strongest.
    ranked = sorted(p.evidence or [], key=lambda e: -float(e.get("share") or 0.0))
    rows = []
    for item in ranked[:EVIDENCE_SIGNALS]:
        since = item.get("drifting_since")
        hours = times.hours_since(since)
        rows.append(
            {
                "signal": str(item.get("signal", "?")),
                "feature": str(item.get("feature", "")),
                "deviation": f"{float(item.get('deviation') or 0.0):.1f}σ",
                "share": f"{100 * float(item.get('share') or 0.0):.0f}%",
                "since": (
                    t("svc_since", time=times.at(since), hours=f"{hours:.0f}")
                    if hours is not None
                    else "–"
                ),
            }
        )
    return rows


def _machine(row: Prediction | Alert) -> str:
    return f"{row.line} / {row.asset}"


def risk_figure(predictions: list[Prediction], t: Translator, wall: bool) -> go.Figure:
    """One horizontal bar per open prediction, the riskiest on top, coloured by risk."""
    shown = list(reversed(predictions))  # Plotly draws the first category at the bottom
    labels = [f"{_machine(p)} · {p.failure_kind}" for p in shown]
    risks = [round(100 * p.risk, 1) for p in shown]
    ruls = [("–" if p.rul_hours is None else f"{p.rul_hours:.0f} h") for p in shown]
    figure = go.Figure(
        go.Bar(
            x=risks,
            y=labels,
            orientation="h",
            marker={"color": risks, "colorscale": "RdYlGn", "reversescale": True, "cmin": 0,
                    "cmax": 100},
            text=[f"{r:.0f}%" for r in risks],
            textposition="outside",
            customdata=ruls,
            hovertemplate="%{y}<br>"
            + t("svc_risk")
            + " %{x:.1f}%<br>"
            + t("svc_rul")
            + " %{customdata}<extra></extra>",
        )
    )  # fmt: skip
    figure.update_layout(
        title={"text": t("svc_risk_chart")},
        xaxis={"range": [0, 110], "ticksuffix": "%"},
        yaxis={"automargin": True},
        hovermode="closest",
        showlegend=False,
    )
    if not shown:  # drawn all the same, so that a live page has it when one comes
        figure.add_annotation(
            text=t("svc_no_predictions"), showarrow=False, xref="paper", yref="paper", x=0.5,
            y=0.5,
        )  # fmt: skip
    return finish(figure, wall, height=max(220, 60 + 34 * len(shown)), lang=t.lang)


def _view(
    request: Request, tenant: Tenant, session: DbSession
) -> tuple[dict[str, Any], dict[str, go.Figure]]:
    """The page's context and figures: the same for the page and its data twin."""
    t = Translator(request_lang(request))
    wall = request.query_params.get("wall") in ("1", "true", "yes")
    refresh = refresh_ms(request, REFRESH_S)
    times = Times(_zone(session, tenant), datetime.now(UTC))
    predictions = open_predictions(session, tenant.id)
    open_alerts = [a for a in alerts(session, tenant.id) if a.status != AlertStatus.CLOSED.value]
    orders = work_orders(session, tenant.id)[:WORK_ORDER_ROWS]
    prediction_rows = [
        {
            "rank": i,
            "machine": _machine(p),
            "site": p.site,
            "asset_type": p.asset_type,
            "failure": p.failure_kind,
            "risk": f"{100 * p.risk:.0f}%",
            "risk_class": risk_band(p.risk),
            "rul": rul_text(p, t),
            "evidence": evidence_rows(p, t, times),
            "made": times.at(p.made_at),
        }
        for i, p in enumerate(predictions, start=1)
    ]
    alert_rows = [
        {
            "id": a.id,
            "machine": _machine(a),
            "failure": a.failure_kind,
            "risk": f"{100 * a.risk:.0f}% (max {100 * a.peak_risk:.0f}%)",
            "rul": rul_text(a, t),
            "state": t("state_" + a.status),
            "raised": times.at(a.raised_at),
            "acknowledged": (
                f"{times.at(a.acknowledged_at)} · {a.acknowledged_by}" if a.acknowledged_at else "–"
            ),
        }
        for a in open_alerts
    ]
    order_rows = [
        {
            "id": w.id,
            "machine": _machine(w),
            "asset_type": w.asset_type,
            "state": t("state_" + w.status),
            "state_key": w.status,
            "scheduled": w.scheduled_for.isoformat() if w.scheduled_for else "–",
            "cause": w.cause or "–",
            "alert": w.alert_id,
            "created": times.at(w.created_at),
        }
        for w in orders
    ]
    figures = {"fig-risk": risk_figure(predictions, t, wall)}
    other_lang = "en" if t.lang == "zh" else "zh"
    context: dict[str, Any] = {
        "t": t,
        "title": t("service"),
        "heading": tenant.name,
        "tenant": tenant,
        "wall": wall,
        "kind": "service",
        "lang_url": f"{request.url.path}?lang={other_lang}",
        "predictions": prediction_rows,
        "alerts": alert_rows,
        "orders": order_rows,
        "figure_ids": set(figures),
        "config": live_config(t, refresh, wall=wall),
        "timezone": str(times.zone),
    }
    return context, figures


@router.get("/t/{key}/service", response_class=HTMLResponse)
def service_page(request: Request, key: str, session: DbSession, caller: Caller) -> Response:
    started = time.perf_counter()
    tenant = readable_tenant(key, session, caller)
    context, figures = _view(request, tenant, session)
    context["figures_json"] = figures_payload(figures)
    context["config_json"] = config_json(context["config"])
    timing = {"Server-Timing": f"app;dur={(time.perf_counter() - started) * 1000:.1f}"}
    response = templates.TemplateResponse(request, "service.html", context, headers=timing)
    chosen = normalize_lang(request.query_params.get("lang"))
    if chosen:
        response.set_cookie(LANG_COOKIE, chosen, max_age=365 * 86400, samesite="lax")
    return response


@router.get("/t/{key}/service/data")
def service_data(request: Request, key: str, session: DbSession, caller: Caller) -> Response:
    """The page's figures and panels as JSON, for its live refresh (static/plant.js)."""
    started = time.perf_counter()
    tenant = readable_tenant(key, session, caller)
    context, figures = _view(request, tenant, session)
    panels = render_panels(templates, "service_panels.html", context)
    timing = {"Server-Timing": f"app;dur={(time.perf_counter() - started) * 1000:.1f}"}
    return data_response(figures, panels, timing)
