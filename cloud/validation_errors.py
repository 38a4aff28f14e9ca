"""422 answers that can always be sent.

FastAPI's 422 echoes the offending input, and Python's JSON parser accepts NaN and
Infinity in a request body: echoed back, they made the answer unsendable (JSON has no such
numbers) and a client's typo became a 500; so did a lone surrogate ("\\ud800"). Every app
spells them as text instead.
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.types import ASGIApp, Receive, Scope, Send


def json_safe(value: Any) -> Any:
    """``value`` with non-finite floats as text ("nan", "inf") and lone surrogates (which
    JSON's \\u escapes let in but UTF-8 cannot carry out) as escapes, at any depth."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", "backslashreplace").decode("utf-8")
        return value
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


class NoNulInPath:
    """404 for a path holding NUL. PostgreSQL refuses NUL in text, so a %00 in a tenant key
    became a 500 wherever it reached a query; no key or id in a path holds one. (Query
    parameters may: series names can, and the series stores take them; each route handles
    those.) Plain ASGI rather than ``@app.middleware("http")``, whose per-request task
    group and body streams cost an ingest request a tenth of its CPU."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and "\x00" in scope["path"]:
            await JSONResponse({"detail": "Not Found"}, 404)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def install(app: FastAPI) -> None:
    app.add_middleware(NoNulInPath)

    @app.exception_handler(OverflowError)
    @app.exception_handler(DataError)
    async def out_of_range(request: Request, exc: Exception) -> JSONResponse:
        # An id or number beyond the database's 64-bit integers (SQLite raises
        # OverflowError binding it, PostgreSQL a DataError): no row can have it.
        return JSONResponse({"detail": "a number in the request is out of range"}, 422)

    @app.exception_handler(RequestValidationError)
    async def unprocessable(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": json_safe(jsonable_encoder(exc.errors()))}, 422)
