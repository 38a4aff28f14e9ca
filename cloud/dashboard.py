"""The live dashboard at ``/``: every site's assets with their latest values and trends."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.templating import Jinja2Templates

from cloud.deps import get_historian
from cloud.live_view import TREND_SECONDS, group_series, recent_values, series_id, trend_figure
from historian import Historian

router = APIRouter(tags=["dashboard"])
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def live_page(request: Request, historian: Annotated[Historian, Depends(get_historian)]):
    series = historian.list_series()
    sites = group_series(series)
    figures = {
        view.dom_id: json.loads(trend_figure(view).to_json())
        for site in sites
        for view in site.assets
        if view.numeric
    }
    return templates.TemplateResponse(
        request,
        "live.html",
        {
            "sites": sites,
            "series_id": series_id,
            "figures": figures,
            "trend_seconds": TREND_SECONDS,
            "series_count": len(series),
        },
    )


@router.get("/dashboard/live", include_in_schema=False)
def live_data(
    historian: Annotated[Historian, Depends(get_historian)],
    seconds: Annotated[float, Query(gt=0, le=3600)] = 30,
) -> JSONResponse:
    """The last ``seconds`` of every numeric series, and every series' latest value."""
    series = historian.list_series()
    return JSONResponse(
        {
            "now_ms": time.time_ns() // 1_000_000,
            "series_count": len(series),
            "trends": {
                sid: {"t": t, "v": v}
                for sid, (t, v) in recent_values(historian, series, seconds).items()
            },
            "latest": {
                series_id(info.key): {
                    "value": info.last_value,
                    "t": info.last_timestamp_ns // 1_000_000,
                    "kind": info.kind.value,
                }
                for info in series
            },
        }
    )
