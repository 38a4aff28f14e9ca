"""Signing in: a password for a session token, and who the token belongs to."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel
from sqlalchemy import select

from cloud.principals import DbSession, require_person
from tenants import sessions
from tenants.models import AuditEvent, User
from tenants.passwords import verify_password
from tenants.scope import Principal

router = APIRouter(prefix="/api/auth", tags=["auth"])


class Login(BaseModel):
    email: str
    password: str


class SessionOut(BaseModel):
    token: str
    expires_at: datetime
    role: str
    tenant_id: int | None


@router.post("/login", response_model=SessionOut)
def login(body: Login, request: Request, session: DbSession) -> SessionOut:
    email = body.email.strip().lower()
    user = session.scalar(select(User).where(User.email == email))
    ok = user is not None and user.active and verify_password(user.password_hash, body.password)
    session.add(
        AuditEvent(
            actor=email,
            tenant_id=user.tenant_id if user else None,
            action="sign_in" if ok else "sign_in.failed",
            detail={"client": request.client.host if request.client else None},
        )
    )
    if not ok:
        session.commit()  # the failed attempt is part of the record
        raise HTTPException(401, "wrong email or password")
    settings = request.app.state.settings
    token = sessions.issue(
        settings.secret, user.id, user.role, user.tenant_id, settings.session_lifetime
    )
    return SessionOut(
        token=token,
        expires_at=datetime.now(UTC) + settings.session_lifetime,
        role=user.role,
        tenant_id=user.tenant_id,
    )


@router.get("/me")
def me(caller: Principal = Depends(require_person)) -> dict:  # noqa: B008 (FastAPI's idiom)
    return {
        "email": caller.name,
        "role": caller.role.value if caller.role else None,
        "tenant_id": caller.tenant_id,
        "industry_cloud_id": caller.industry_cloud_id,
        "service_team_id": caller.service_team_id,
    }
