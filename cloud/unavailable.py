"""The one answer for a shared part that is away (the series store, Redis): 503 with a
Retry-After, so agents and clients wait and retry instead of giving up."""

from __future__ import annotations

from fastapi import HTTPException

RETRY_AFTER_S = "5"


def unavailable(detail: str) -> HTTPException:
    return HTTPException(503, detail, {"Retry-After": RETRY_AFTER_S})
