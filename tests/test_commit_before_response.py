"""A change is committed before the API answers that it was made."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import event
from starlette.types import Message, Receive, Scope, Send

from cloud.platform_app import create_platform_app
from cloud.platform_settings import PlatformSettings
from tests.platform_process import ADMIN


def test_the_metadata_commit_comes_before_the_answer(tmp_path: Path) -> None:
    settings = PlatformSettings(
        metadata_url=f"sqlite:///{tmp_path / 'meta.db'}",
        storage=f"sqlite:{tmp_path / 'series'}",
        rate_limits="memory://",
        admin_email=ADMIN["email"],
        admin_password=ADMIN["password"],
    )
    app = create_platform_app(settings)
    seen: list[str] = []

    async def watched(scope: Scope, receive: Receive, send: Send) -> None:
        async def watching_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                seen.append(f"answer {message['status']}")
            await send(message)

        await app(scope, receive, watching_send)

    with TestClient(watched) as client:
        event.listen(app.state.sessions, "after_commit", lambda _: seen.append("commit"))
        token = client.post("/api/auth/login", json=ADMIN).json()["token"]
        seen.clear()
        made = client.post(
            "/api/tenants",
            json={"key": "acme", "name": "Acme"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert made.status_code == 201, made.text
    # The tenant's row was committed before the 201 left; none after it.
    assert "commit" in seen and seen[-1] == "answer 201", seen
