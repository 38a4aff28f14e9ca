"""Schemathesis generates requests from the platform's OpenAPI schema, valid and not, as
a platform admin, a tenant admin, an agent and nobody, against the real server process:
none may produce a 5xx. (Its command line is used: its pytest plugin does not run on the
pytest this project uses.)"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import httpx

from tests.platform_process import ADMIN, start_replica, stop_replica


def test_no_generated_request_produces_a_server_error(tmp_path: Path) -> None:
    process, url = start_replica(
        tmp_path,
        f"sqlite:///{tmp_path / 'meta.db'}",
        f"sqlite:{tmp_path / 'series'}",
        "memory://",
        uuid.uuid4().hex * 2,
    )
    try:
        admin = httpx.post(f"{url}/api/auth/login", json=ADMIN).json()["token"]
        bearer = {"Authorization": f"Bearer {admin}"}
        assert (
            httpx.post(
                f"{url}/api/tenants", json={"key": "fuzz-co", "name": "Fuzz"}, headers=bearer
            ).status_code
            == 201
        )
        user = {"email": "ta@fuzz.cn", "password": "password-1", "role": "tenant_admin"}
        assert (
            httpx.post(f"{url}/api/tenants/fuzz-co/users", json=user, headers=bearer).status_code
            == 201
        )
        tenant_admin = httpx.post(
            f"{url}/api/auth/login", json={"email": user["email"], "password": user["password"]}
        ).json()["token"]
        agent = httpx.post(
            f"{url}/api/tenants/fuzz-co/agent-tokens",
            json={"site": "s", "name": "e"},
            headers=bearer,
        ).json()["token"]
        callers = {
            "admin": f"Authorization: Bearer {admin}",
            "tenant admin": f"Authorization: Bearer {tenant_admin}",
            "agent": f"Authorization: Token {agent}",
            "nobody": None,
        }
        binary = shutil.which("schemathesis", path=str(Path(__import__("sys").executable).parent))
        assert binary, "schemathesis is a dev dependency: run make test"
        runs = {}
        for who, header in callers.items():  # side by side
            command = [binary, "run", f"{url}/openapi.json", "--checks", "not_a_server_error"]
            # 5 generated requests an operation and caller: every operation, valid and
            # invalid shapes, inside the suite's time budget (run more by hand with
            # MINGZHOU_FUZZ_EXAMPLES when changing the API). Every caller also runs the
            # coverage phase: every boundary and negative value of every field.
            command += ["--max-examples", os.environ.get("MINGZHOU_FUZZ_EXAMPLES", "5")]
            command += ["--no-color"]
            if header:
                command += ["--header", header]
            runs[who] = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path
            )
        for who, run in runs.items():
            output, _ = run.communicate(timeout=600)
            assert run.returncode == 0, f"as {who}:\n{output[-4000:]}"
            assert " passed" in output, output[-2000:]
    finally:
        stop_replica(process)
