"""An agent's config kept in the cloud: fetching it by ETag, reporting status, and the
last good copy on disk so the agent starts even while the cloud is away.

The cloud stores the YAML as the tenant admin wrote it, ``${VAR}``s included; they are
expanded here, from this machine's environment, so secrets never leave the factory.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from edge_agent.config import AgentConfig, parse_config
from edge_agent.config_source import load_yaml_text


@dataclass(frozen=True, slots=True)
class CloudConfig:
    """One version of the agent's config, as the cloud served it."""

    version: int
    etag: str
    text: str

    def parse(self, environ: Mapping[str, str] | None = None) -> AgentConfig:
        """Validate with this machine's environment; raises ConfigError naming the line."""
        data, source = load_yaml_text(self.text, f"cloud config v{self.version}", environ)
        return parse_config(data, source)


class CloudUnavailable(Exception):
    """The cloud did not answer, or answered that it cannot now (5xx, 429): try later."""


class CloudRefused(Exception):
    """The cloud refused this agent's token (401, 403): a person has to act."""


class NoConfigSet(Exception):
    """The agent is known to the cloud but nobody set its config yet (404)."""


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = None
    return str(detail or response.text[:300] or response.reason_phrase)


class AgentCloudClient:
    """The two calls an agent makes to the cloud besides ingest, with its token."""

    def __init__(self, url: str, token: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self._client = httpx.AsyncClient(
            base_url=self.url,
            timeout=timeout,
            headers={"Authorization": f"Token {token}"},
        )

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise CloudUnavailable(
                f"{self.url}: {exc.__class__.__name__}: {exc or 'no answer'}"
            ) from exc
        if response.status_code in (401, 403):
            raise CloudRefused(
                f"{self.url}{path}: HTTP {response.status_code}: {_detail(response)}"
                " (ask the tenant admin for a valid agent token)"
            )
        if response.status_code == 429 or response.status_code >= 500:
            raise CloudUnavailable(
                f"{self.url}{path}: HTTP {response.status_code}: {_detail(response)}"
            )
        return response

    async def fetch_config(self, etag: str | None) -> CloudConfig | None:
        """The desired config, or None when ``etag`` is still current (HTTP 304)."""
        headers = {"If-None-Match": etag} if etag else {}
        response = await self._request("GET", "/api/agent/config", headers=headers)
        if response.status_code == 304:
            return None
        if response.status_code == 404:
            raise NoConfigSet(_detail(response))
        if response.status_code != 200:
            raise CloudUnavailable(
                f"{self.url}/api/agent/config: HTTP {response.status_code}: {_detail(response)}"
            )
        try:
            body = response.json()
            return CloudConfig(int(body["version"]), str(body["etag"]), str(body["config"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise CloudUnavailable(
                f"{self.url}/api/agent/config: not a config answer: {exc}"
            ) from None

    async def send_status(self, report: dict[str, Any]) -> None:
        response = await self._request("POST", "/api/agent/status", json=report)
        if response.status_code != 204:
            # A 4xx here is this agent's bug or an older cloud: say what it said.
            raise CloudUnavailable(
                f"{self.url}/api/agent/status: HTTP {response.status_code}: {_detail(response)}"
            )

    async def close(self) -> None:
        await self._client.aclose()


class ConfigCache:
    """The last config that ran, on disk: the YAML as served (``${VAR}``s kept, so no
    secret is written), and beside it a small JSON with its version and ETag."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.meta_path = path.with_name(path.name + ".meta.json")

    def load(self) -> CloudConfig | None:
        """The cached config; None when there is none. A YAML edited by hand since it was
        cached keeps no version or ETag, so the cloud's copy replaces it at once."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            meta = json.loads(self.meta_path.read_text(encoding="utf-8"))
            same = meta.get("sha256") == hashlib.sha256(text.encode("utf-8")).hexdigest()
            version, etag = (int(meta["version"]), str(meta["etag"])) if same else (0, "")
        except (OSError, ValueError, KeyError, TypeError):
            version, etag = 0, ""
        return CloudConfig(version, etag, text)

    def save(self, config: CloudConfig) -> None:
        """Write both files so that a crash leaves either the old or the new one whole."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        meta = {
            "version": config.version,
            "etag": config.etag,
            "sha256": hashlib.sha256(config.text.encode("utf-8")).hexdigest(),
        }
        _replace(self.path, config.text)
        _replace(self.meta_path, json.dumps(meta, indent=1) + "\n")


def _replace(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    with temporary.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
