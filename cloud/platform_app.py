"""The multi-tenant cloud: sign-in, onboarding, agent tokens and ingestion.

It migrates its metadata store on start, so a new replica or a new version needs no
separate step; replicas share PostgreSQL, Redis (rate limits) and the series store.
The single-store app in ``cloud.app`` still serves the demo's dashboard until the
dashboards move behind sign-in.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Path, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, RedirectResponse
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from cloud import (
    admin_api,
    agents_api,
    agents_page,
    assets_api,
    auth_api,
    bureau_api,
    dashboard,
    deps,
    fleet_api,
    fleet_page,
    industry_page,
    industry_templates_api,
    ingest_api,
    jobs_api,
    maintenance_api,
    pages,
    plant_pages,
    principals,
    query_api,
    series_api,
    service_page,
    service_teams_api,
    tenant_settings_api,
    usage_api,
    validation_errors,
)
from cloud.app import mount_static
from cloud.platform_settings import PlatformSettings
from cloud.rate_limits import TenantRateLimiter
from cloud.retention_keeper import RetentionKeeper
from cloud.rollup_maintainer import RollupMaintainer
from cloud.series_quota import SeriesRegistry
from cloud.series_reconciler import SeriesReconciler
from cloud.telemetry import telemetry_arguments
from cloud.tenant_storage import TenantStorage
from tenants.db import make_engine, session_factory, upgrade
from tenants.models import User
from tenants.onboarding import create_user, ensure_default_plans
from tenants.roles import Role


def create_platform_app(settings: PlatformSettings) -> FastAPI:
    upgrade(settings.metadata_url)
    engine = make_engine(settings.metadata_url)
    sessions = session_factory(engine)
    with sessions() as session:
        ensure_default_plans(session)
        _bootstrap_admin(session, settings)
        session.commit()
    storage = TenantStorage(settings.storage)
    rollups = RollupMaintainer(sessions, storage, settings.rollup_interval_s)
    # Known series per tenant, for the plan's series quota: in Redis with the rate limits.
    series_registry = SeriesRegistry(settings.rate_limits)
    reconciler = SeriesReconciler(sessions, storage, series_registry, settings.series_reconcile_s)
    retention = RetentionKeeper(sessions, storage, settings.retention_interval_s)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        jobs_api.start_jobs(app)  # the embedded worker, when there is no broker server
        rollups.start()
        reconciler.start()
        retention.start()
        yield
        reconciler.stop()
        retention.stop()
        rollups.stop()
        jobs_api.stop_jobs(app)
        app.state.series_registry.close()
        storage.close()
        engine.dispose()

    app = FastAPI(
        title="Mingzhou cloud",
        summary="Multi-tenant industrial time series: tenants, agents, ingestion.",
        lifespan=lifespan,
        **telemetry_arguments(),
    )
    app.state.settings = settings
    app.state.sessions = sessions
    app.state.storage = storage
    app.state.rollups = rollups
    app.state.retention = retention
    app.state.rate_limiter = TenantRateLimiter(settings.rate_limits)
    app.state.series_registry = series_registry
    app.state.series_reconciler = reconciler
    # Ingestion first: a request is matched against the routes in order, and agents'
    # batches are most of the requests (a few percent of an ingest request's CPU).
    app.include_router(ingest_api.router)
    app.include_router(auth_api.router)
    app.include_router(admin_api.router)
    app.include_router(assets_api.router)
    app.include_router(tenant_settings_api.router)
    app.include_router(usage_api.router)  # /api/tenants/{key}/usage: quotas and use
    jobs_api.attach_jobs(app, settings)  # /api/tenants/{key}/jobs and the Celery app
    app.include_router(agents_api.router)  # agents: config and status
    app.include_router(agents_page.router)
    app.include_router(maintenance_api.router)  # models, predictions, alerts, work orders
    # The single-store routers, per tenant: their historian is the tenant's, and only
    # after TenantScope agreed (principals.tenant_historian).
    app.dependency_overrides[deps.get_historian] = principals.tenant_historian
    tenant_in_path = [Depends(_tenant_key)]  # documents {key} in the OpenAPI schema
    app.include_router(
        series_api.router, prefix="/api/tenants/{key}/series", dependencies=tenant_in_path
    )
    # /api/tenants/{key}/query (many series, downsampled) and /api/tenants/{key}/latest
    app.include_router(query_api.router, prefix="/api/tenants/{key}", dependencies=tenant_in_path)
    app.include_router(dashboard.router, prefix="/t/{key}", dependencies=tenant_in_path)
    app.include_router(pages.router)
    app.include_router(plant_pages.router)  # /t/{key}/plant/: OEE, lines, machines, energy
    app.include_router(service_page.router)  # /t/{key}/service: predictions, alerts, orders
    app.include_router(industry_page.router)  # /industry/{cloud}: member benchmarking
    app.include_router(industry_templates_api.router)  # /api/industry-clouds/{cloud}/templates
    app.include_router(service_teams_api.router)  # service teams, tenants' grants to them
    app.include_router(fleet_api.router)  # /api/service/fleet: a service team's tenants
    app.include_router(fleet_page.router)  # /service: the service team's fleet page
    app.include_router(bureau_api.router)  # /api/bureau/*, /bureau: aggregates only
    mount_static(app)

    validation_errors.install(app)

    @app.exception_handler(OperationalError)
    async def metadata_unavailable(request: Request, exc: OperationalError):
        # The metadata store is down or locked: a retryable 503, never a bare 500.
        return JSONResponse(
            {"detail": "the metadata store is unavailable; retry shortly"},
            status_code=503,
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(HTTPException)
    async def sign_in_first(request: Request, exc: HTTPException):
        # A person opening a page without a session is sent to sign in; the API says 401.
        wants_page = "text/html" in request.headers.get("accept", "")
        if exc.status_code == 401 and request.method == "GET" and wants_page:
            return RedirectResponse("/login", status_code=303)
        return await http_exception_handler(request, exc)

    @app.get("/health", tags=["health"])
    def health() -> dict:
        with sessions() as session:
            session.execute(select(1))
        return {"status": "ok"}

    return app


def _tenant_key(key: Annotated[str, Path(description="The tenant's key.")]) -> str:
    return key


def _bootstrap_admin(session, settings: PlatformSettings) -> None:
    """The first platform admin, from settings, only while there is none."""
    if not (settings.admin_email and settings.admin_password):
        return
    exists = session.scalar(select(User).where(User.role == Role.PLATFORM_ADMIN.value))
    if exists is None:
        create_user(
            session, settings.admin_email, settings.admin_password, Role.PLATFORM_ADMIN, "bootstrap"
        )
