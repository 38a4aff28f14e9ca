"""The FastAPI application: routers, static files, and the historian it serves from."""

from __future__ import annotations

from pathlib import Path

import plotly
from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from cloud import dashboard, health_api, query_api, series_api, validation_errors
from cloud.telemetry import telemetry_arguments
from historian import Historian

STATIC_DIR = Path(__file__).parent / "static"
# plotly.js ships inside the plotly package; serving it ourselves keeps dashboards
# working in factories with no internet access (no CDN).
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def create_app(historian: Historian) -> FastAPI:
    app = FastAPI(
        title="Mingzhou cloud",
        summary="Industrial time series: series list, range queries and live dashboards.",
        **telemetry_arguments(),
    )
    app.state.historian = historian
    validation_errors.install(app)
    app.include_router(health_api.router)
    app.include_router(series_api.router, prefix="/api/series")
    app.include_router(query_api.router, prefix="/api")  # /api/query, /api/latest
    app.include_router(dashboard.router)
    mount_static(app)
    return app


def mount_static(app: FastAPI) -> None:
    """The dashboards' CSS and JavaScript, plotly.js included."""

    @app.get("/static/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        return FileResponse(
            PLOTLY_JS,
            media_type="application/javascript",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
