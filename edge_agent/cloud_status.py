"""Status reports to the cloud: what runs, how full the buffer is, what went wrong.

Reports go out on their own task, with their own backoff: a slow or absent cloud delays
reports, never a poll cycle, a buffer append or a config check.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from edge_agent.backoff import Backoff
from edge_agent.cloud_config import AgentCloudClient, CloudRefused, CloudUnavailable

if TYPE_CHECKING:
    from edge_agent.agent import EdgeAgent

log = logging.getLogger(__name__)

MAX_ERROR_CHARS = 1900  # the cloud keeps up to 2000 characters per error


def agent_version() -> str:
    try:
        return importlib.metadata.version("mingzhou")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


@dataclass
class ManagementState:
    """What a cloud-managed agent knows about its config, shared by the config poller
    (which writes it) and the status reporter (which reads it)."""

    version: int | None = None  # the applied version
    running_etag: str | None = None  # the applied version's ETag
    seen_etag: str | None = None  # the last version seen, applied or refused
    source: str | None = None  # cloud, or cache while the cloud has not confirmed it
    # One line per kind of trouble ("fetch", "rejected", "restart"): a new problem of a
    # kind replaces the old, a solved one is removed.
    problems: dict[str, str] = field(default_factory=dict)

    def origin(self) -> dict[str, Any]:
        """For the agent's local /status."""
        return {"source": self.source, "version": self.version, "problems": dict(self.problems)}


def status_report(
    agent_status: dict[str, Any] | None, state: ManagementState, interval: float, uptime: float
) -> dict[str, Any]:
    """The body of ``POST /api/agent/status``; ``agent_status`` is EdgeAgent.status(),
    None while the agent waits for a config it can run."""
    errors = [problem[:MAX_ERROR_CHARS] for problem in state.problems.values()]
    report: dict[str, Any] = {
        "agent_version": agent_version(),
        "state": "waiting",
        "interval_seconds": interval,
        "uptime_seconds": round(uptime, 1),
        "buffer": {"points": 0, "oldest_age_seconds": 0.0, "bytes": 0},
        "devices": {},
        "outputs": {},
        "config_version": state.version,
        "config_source": state.source,
        "errors": errors,
    }
    if agent_status is None:
        return report
    outputs = agent_status["outputs"]
    # The buffer's depth is what the slowest output still has to take.
    report.update(
        site=agent_status["site"],
        state=agent_status["status"],
        uptime_seconds=agent_status["uptime_seconds"],
        buffer={
            "points": max((o["pending"] for o in outputs.values()), default=0),
            "oldest_age_seconds": max(
                (o["oldest_age_seconds"] for o in outputs.values()), default=0.0
            ),
            "bytes": agent_status["buffer"]["bytes"],
        },
        devices={
            name: {
                key: d[key]
                for key in ("connected", "reads", "samples", "bad_samples", "connection_errors")
            }
            | {"last_error": _short(d["last_error"])}
            for name, d in agent_status["devices"].items()
        },
        outputs={
            name: {
                "pending": o["pending"],
                "oldest_age_seconds": o["oldest_age_seconds"],
                "delivered": o["delivered"],
                "last_error": _short(o["last_error"]),
            }
            for name, o in outputs.items()
        },
    )
    return report


def _short(text: str | None) -> str | None:
    return None if text is None else text[:MAX_ERROR_CHARS]


class StatusReporter:
    def __init__(
        self,
        client: AgentCloudClient,
        state: ManagementState,
        interval: float,
        agent: Callable[[], EdgeAgent | None],
    ) -> None:
        self.client = client
        self.state = state
        self.interval = interval
        self._agent = agent
        self._started = time.monotonic()
        # Down clouds are retried less often, but not so rarely that an agent looks
        # stale for long once the cloud is back.
        self._backoff = Backoff(initial=interval, maximum=max(60.0, 4 * interval))
        self.sent = 0
        self.last_error: str | None = None

    def _build(self) -> dict[str, Any]:
        agent = self._agent()
        agent_status = agent.status() if agent is not None else None
        uptime = time.monotonic() - self._started
        return status_report(agent_status, self.state, self.interval, uptime)

    async def report_once(self) -> bool:
        try:
            # Reading the buffer's backlog is a SQLite query: off the event loop.
            report = await asyncio.to_thread(self._build)
            await self.client.send_status(report)
        except (CloudUnavailable, CloudRefused) as exc:
            if str(exc) != self.last_error:
                log.warning("status not reported, retrying: %s", exc)
            self.last_error = str(exc)
            return False
        except RuntimeError as exc:
            # A reload replaced a device while the report was being read: next time.
            log.debug("status report skipped: %s", exc)
            return False
        if self.last_error is not None:
            log.info("status reported to %s again", self.client.url)
        self.last_error = None
        self.sent += 1
        return True

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            if await self.report_once():
                self._backoff.reset()
                delay = self.interval
            else:
                delay = self._backoff.next_delay()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
