"""Dependencies injected into the routes."""

from __future__ import annotations

from fastapi import Request

from historian import Historian


def get_historian(request: Request) -> Historian:
    return request.app.state.historian
