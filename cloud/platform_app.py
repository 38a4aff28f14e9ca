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

from cloud import admin_api, auth_api, dashboard, deps, ingest_api, pages, principals, series_api
from cloud.app import mount_static
from cloud.platform_settings import PlatformSettings
from cloud.rate_limits import TenantRateLimiter
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

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        storage.close()
        engine.dispose()

    app = FastAPI(
        title="Mingzhou cloud",
        summary="Multi-tenant industrial time series: tenants, agents, ingestion.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.sessions = sessions
    app.state.storage = storage
    app.state.rate_limiter = TenantRateLimiter(settings.rate_limits)
    app.include_router(auth_api.router)
    app.include_router(admin_api.router)
    app.include_router(ingest_api.router)
    # The single-store routers, per tenant: their historian is the tenant's, and only
    # after TenantScope agreed (principals.tenant_historian).
    app.dependency_overrides[deps.get_historian] = principals.tenant_historian
    tenant_in_path = [Depends(_tenant_key)]  # documents {key} in the OpenAPI schema
    app.include_router(
        series_api.router, prefix="/api/tenants/{key}/series", dependencies=tenant_in_path
    )
    app.include_router(dashboard.router, prefix="/t/{key}", dependencies=tenant_in_path)
    app.include_router(pages.router)
    mount_static(app)

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
