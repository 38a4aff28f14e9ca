"""Pages around the dashboards: sign in and out, and the enterprises one may open.

The session lives in an HttpOnly, SameSite=Strict cookie holding the same signed token
the API takes as a Bearer header, so pages and API share one notion of who is calling.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select

from cloud.principals import SESSION_COOKIE, DbSession, principal
from tenants import sessions
from tenants.models import AuditEvent, Tenant, User
from tenants.passwords import verify_password
from tenants.roles import Role
from tenants.scope import TenantScope

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> Response:
    return templates.TemplateResponse(request, "login.html", {"error": None})


@router.post("/login")
def login_form(
    request: Request,
    session: DbSession,
    email: Annotated[str, Form()],
    password: Annotated[str, Form()],
) -> Response:
    address = email.strip().lower()
    user = session.scalar(select(User).where(User.email == address))
    ok = user is not None and user.active and verify_password(user.password_hash, password)
    session.add(
        AuditEvent(
            actor=address,
            tenant_id=user.tenant_id if user else None,
            action="sign_in" if ok else "sign_in.failed",
            detail={"via": "page"},
        )
    )
    if not ok:
        session.commit()
        context = {"error": "Wrong e-mail or password.", "email": email}
        return templates.TemplateResponse(request, "login.html", context, status_code=401)
    settings = request.app.state.settings
    token = sessions.issue(
        settings.secret, user.id, user.role, user.tenant_id, settings.session_lifetime
    )
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(settings.session_lifetime.total_seconds()),
        httponly=True,
        samesite="strict",
    )
    return response


@router.post("/logout")
def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: DbSession) -> Response:
    """The enterprises whose dashboards this person may open; straight in when one."""
    caller = principal(request, session)
    if caller.role is Role.BUREAU_ANALYST:
        return RedirectResponse("/bureau", status_code=303)  # sees no enterprise, only the region
    if caller.is_service_team:
        return RedirectResponse("/service", status_code=303)  # its fleet, across tenants
    ids = TenantScope(session, caller).raw_tenant_ids()
    tenants = session.scalars(select(Tenant).where(Tenant.id.in_(ids)).order_by(Tenant.name)).all()
    if len(tenants) == 1:
        return RedirectResponse(f"/t/{tenants[0].key}/", status_code=303)
    return templates.TemplateResponse(
        request, "tenants.html", {"tenants": tenants, "who": caller.name}
    )
