"""``/health``: is the service up, and can it reach its historian?"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from cloud.deps import get_historian
from historian import Historian

router = APIRouter(tags=["health"])


@router.get("/health")
def health(historian: Annotated[Historian, Depends(get_historian)]) -> JSONResponse:
    try:
        series = len(historian.list_series())
    except Exception as exc:  # any historian failure means "not ready", never a 500
        return JSONResponse(
            {"status": "unavailable", "historian": historian.name, "error": str(exc)},
            status_code=503,
        )
    return JSONResponse({"status": "ok", "historian": historian.name, "series": series})
