"""Live refresh of the server-rendered pages, the server's half: the browser's half is
``static/plant.js``, which fetches a page's ``data`` twin (``<page path>/data``, same
query) every ``refreshMs`` and draws its figures with ``Plotly.react`` and its panels by
name (``data-panel="…"``), without a reload.

A page's panels are the Jinja macros listed in its panels template's ``PANELS``; the page
renders them in place and its data twin renders them alone, so both come from one
template. The plant pages, the service team's pages and the industry operator's page
all refresh this way.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go
from fastapi import HTTPException, Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates

from cloud.i18n import Translator
from cloud.plant_figures import figures_payload

MIN_REFRESH_S = 2  # a wall screen polling faster would only load the server
MAX_REFRESH_S = 3600


def live_config(t: Translator, refresh_ms: int, *, live: bool = True, wall: bool = False) -> dict:
    """What plant.js reads from the page's ``mz-config`` script."""
    return {
        "refreshMs": refresh_ms,
        "live": live,
        "labels": {"live": t("live"), "offline": t("offline"), "updated": t("updated")},
        "wall": wall,
    }


def config_json(config: Mapping[str, Any]) -> str:
    """The config as text safe inside ``<script>``."""
    return json.dumps(config).replace("</", "<\\/")


def refresh_ms(request: Request, default_s: int) -> int:
    """``?refresh=N`` (whole seconds, 2 … 3600) or the page's default, in milliseconds;
    a bad value is a 422 naming the parameter."""
    raw = request.query_params.get("refresh")
    if raw is None or raw == "":
        return default_s * 1000
    if not raw.isdigit() or not MIN_REFRESH_S <= int(raw) <= MAX_REFRESH_S:
        message = f"refresh: whole seconds from {MIN_REFRESH_S} to {MAX_REFRESH_S}, not {raw!r}"
        detail = [{"loc": ["query", "refresh"], "msg": message, "type": "value_error"}]
        raise HTTPException(422, detail)
    return int(raw) * 1000


def render_panels(
    templates: Jinja2Templates, template_name: str, context: Mapping[str, Any]
) -> dict[str, str]:
    """Each panel macro named in the template's ``PANELS``, rendered with ``context``."""
    module = templates.get_template(template_name).make_module(dict(context))
    return {name: str(getattr(module, name)()) for name in module.PANELS.split()}


def data_response(
    figures: Mapping[str, go.Figure],
    panels: Mapping[str, str],
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> Response:
    """The data twin's answer: ``{"figures": …, "panels": …, **extra}``."""
    body = '{"figures":' + figures_payload(figures) + ',"panels":' + json.dumps(panels)
    for name, value in extra.items():
        body += f",{json.dumps(name)}:{json.dumps(value)}"
    return Response(body + "}", media_type="application/json", headers=dict(headers or {}))
