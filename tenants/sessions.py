"""Signed session tokens (JWT, HS256) with an expiry, for people signing in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

ALGORITHM = "HS256"
DEFAULT_LIFETIME = timedelta(hours=8)  # one shift
MIN_SECRET_BYTES = 32


class SessionError(Exception):
    """The token is missing, forged, malformed or expired; the message says which."""


@dataclass(frozen=True, slots=True)
class SessionClaims:
    user_id: int
    role: str
    tenant_id: int | None
    expires_at: datetime


def issue(
    secret: str,
    user_id: int,
    role: str,
    tenant_id: int | None,
    lifetime: timedelta = DEFAULT_LIFETIME,
    now: datetime | None = None,
) -> str:
    if len(secret.encode()) < MIN_SECRET_BYTES:
        raise ValueError(
            f"the session secret needs at least {MIN_SECRET_BYTES} bytes (RFC 7518 3.2)"
        )
    now = now or datetime.now(UTC)
    claims = {
        "sub": str(user_id),
        "role": role,
        "tenant": tenant_id,
        "iat": now,
        "exp": now + lifetime,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify(secret: str, token: str) -> SessionClaims:
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]}
        )
    except jwt.ExpiredSignatureError:
        raise SessionError("the session has expired: sign in again") from None
    except jwt.InvalidTokenError as exc:
        raise SessionError(f"invalid session token: {exc}") from None
    return SessionClaims(
        user_id=int(claims["sub"]),
        role=str(claims["role"]),
        tenant_id=claims.get("tenant"),
        expires_at=datetime.fromtimestamp(claims["exp"], UTC),
    )
