"""FastAPI's own OpenTelemetry hooks: off unless the operator asks for them."""

from __future__ import annotations

import inspect
import os
from typing import Any

from fastapi import FastAPI


def telemetry_arguments() -> dict[str, Any]:
    """Keyword arguments for ``FastAPI(...)`` that switch its telemetry off.

    Recent FastAPI asks on every request whether OpenTelemetry tracing, metrics or logs
    have a provider and wraps dependency resolution in operation spans; with none
    configured that is pure cost, a few percent of an ingest request's CPU. FastAPI's
    own switch, FASTAPI_OTEL_AUTO_CONFIGURE=true, keeps its defaults (exporters from the
    standard OTEL_* variables). Older FastAPI has no such hooks and gets no argument.
    """
    if "telemetry" not in inspect.signature(FastAPI).parameters:
        return {}
    if os.environ.get("FASTAPI_OTEL_AUTO_CONFIGURE", "").lower() == "true":
        return {}
    off = {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}
    return {"telemetry": off}
