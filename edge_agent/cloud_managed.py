"""An edge agent whose config lives in the cloud.

At start it takes the cloud's config, or, when the cloud cannot be reached, the last good
copy cached on disk. It then asks the cloud for changes (by ETag: an unchanged config is
a 304 with no body) and applies each new version through the agent's hot reload. A
version this agent cannot run (a ``${VAR}`` not set here, a newer schema) is refused:
the running config stays, and the refusal is in the next status report.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from edge_agent.agent import EdgeAgent
from edge_agent.backoff import Backoff
from edge_agent.cloud_config import (
    AgentCloudClient,
    CloudConfig,
    CloudRefused,
    CloudUnavailable,
    ConfigCache,
    NoConfigSet,
)
from edge_agent.cloud_status import MAX_ERROR_CHARS, ManagementState, StatusReporter
from edge_agent.config import AgentConfig, ConfigError

log = logging.getLogger(__name__)


class CloudManagedAgent:
    def __init__(
        self,
        client: AgentCloudClient,
        cache: ConfigCache,
        poll_interval: float = 30.0,
        report_interval: float = 15.0,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.client = client
        self.cache = cache
        self.poll_interval = poll_interval
        self.environ = environ
        self.state = ManagementState()
        self.agent: EdgeAgent | None = None
        self.reporter = StatusReporter(client, self.state, report_interval, lambda: self.agent)
        self._poll_now = asyncio.Event()
        self._reporting: asyncio.Task | None = None

    def poll_now(self) -> None:
        """Ask the cloud at once instead of at the next interval (SIGHUP)."""
        self._poll_now.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Fetch or load a config, run the agent with it, follow the cloud's changes."""
        try:
            config = await self._first_config(stop)
            if config is None:
                return  # stopped while waiting for a config
            # Relative paths in the config (buffer, SQLite store) start beside the cache.
            self.agent = EdgeAgent(config, base_dir=self.cache.path.parent.resolve())
            self._publish()
            running = asyncio.create_task(self.agent.run(stop), name="agent")
            polling = asyncio.create_task(self._follow(stop), name="config poll")
            try:
                await running
            finally:
                polling.cancel()
                await asyncio.gather(polling, return_exceptions=True)
        finally:
            if self._reporting is not None:
                self._reporting.cancel()
                await asyncio.gather(self._reporting, return_exceptions=True)
            await self.client.close()

    # --- the first config ----------------------------------------------------------------

    async def _first_config(self, stop: asyncio.Event) -> AgentConfig | None:
        cached = self.cache.load()
        backoff = Backoff(initial=1.0, maximum=self.poll_interval)
        while not stop.is_set():
            config = await self._try_first(cached)
            if self._reporting is None:
                # After the first answer (or none), so the first report says how it went;
                # while no config can run, the reports say why ("waiting").
                self._reporting = asyncio.create_task(self.reporter.run(stop), name="status report")
            if config is not None:
                return config
            await _pause(backoff.next_delay(), stop)
        return None

    async def _try_first(self, cached: CloudConfig | None) -> AgentConfig | None:
        try:
            fetched = await self.client.fetch_config(cached.etag if cached else None)
        except (CloudUnavailable, CloudRefused, NoConfigSet) as exc:
            problem = f"config not fetched from the cloud: {exc}"
            repeated = self.state.problems.get("fetch") == problem
            self.state.problems["fetch"] = problem
            if cached is None:
                if not repeated:  # said once, not at every retry
                    log.warning("no config from the cloud and none cached yet, waiting: %s", exc)
                return None
            log.warning(
                "config not fetched from the cloud (%s): starting with the cached %s",
                exc,
                _name(cached),
            )
            return self._use(cached, "cache")
        self.state.problems.pop("fetch", None)
        if fetched is None:  # 304: the cached copy is the cloud's current one
            assert cached is not None
            return self._use(cached, "cloud")
        config = self._use(fetched, "cloud")
        if config is not None:
            await asyncio.to_thread(self.cache.save, fetched)
            return config
        if cached is not None and cached.etag != fetched.etag:
            log.warning("starting with the cached %s instead", _name(cached))
            config = self._use(cached, "cache")
            self.state.seen_etag = fetched.etag  # the refused version is not fetched again
            return config
        return None

    def _use(self, candidate: CloudConfig, source: str) -> AgentConfig | None:
        """Parse ``candidate``; on success it becomes the state's applied version."""
        try:
            config = candidate.parse(self.environ)
        except ConfigError as exc:
            self._refused(candidate, exc)
            return None
        self.state.version = candidate.version or None
        self.state.running_etag = self.state.seen_etag = candidate.etag or None
        self.state.source = source
        log.info("config: %s from %s", _name(candidate), source)
        return config

    def _refused(self, candidate: CloudConfig, exc: ConfigError) -> None:
        running = f"v{self.state.version}" if self.state.version else "none"
        message = f"{_name(candidate)} refused (running: {running}): {exc}"
        self.state.problems["rejected"] = message[:MAX_ERROR_CHARS]
        log.error("%s", message)

    # --- following the cloud's changes ----------------------------------------------------

    async def _follow(self, stop: asyncio.Event) -> None:
        backoff = Backoff(initial=self.poll_interval, maximum=max(300.0, self.poll_interval))
        delay = self.poll_interval
        while not stop.is_set():
            await _pause(delay, stop, self._poll_now)
            if stop.is_set():
                return  # the agent is stopping: no config is applied while it flushes
            self._poll_now.clear()
            try:
                fetched = await self.client.fetch_config(self.state.seen_etag)
            except (CloudUnavailable, CloudRefused, NoConfigSet) as exc:
                problem = f"config not fetched from the cloud: {exc}"
                if self.state.problems.get("fetch") != problem:
                    log.warning("%s", problem)
                self.state.problems["fetch"] = problem
                delay = backoff.next_delay()
                self._publish()
                continue
            backoff.reset()
            delay = self.poll_interval
            self.state.problems.pop("fetch", None)
            if fetched is None and self.state.seen_etag == self.state.running_etag:
                self.state.source = "cloud"  # the cloud confirmed what runs
            if fetched is not None:
                await self._apply(fetched)
            self._publish()

    async def _apply(self, fetched: CloudConfig) -> None:
        assert self.agent is not None
        self.state.seen_etag = fetched.etag  # a refused version is not fetched again
        try:
            new = await asyncio.to_thread(fetched.parse, self.environ)
        except ConfigError as exc:
            self._refused(fetched, exc)
            return
        pending = await self.agent.apply_config(new, _name(fetched))
        await asyncio.to_thread(self.cache.save, fetched)
        self.state.version, self.state.source = fetched.version, "cloud"
        self.state.running_etag = fetched.etag
        self.state.problems.pop("rejected", None)
        if pending:
            self.state.problems["restart"] = (
                f"{_name(fetched)}: changes to {', '.join(pending)} apply at the next start"
            )
        else:
            self.state.problems.pop("restart", None)

    def _publish(self) -> None:
        if self.agent is not None:
            self.agent.config_origin = self.state.origin()


def _name(config: CloudConfig) -> str:
    return f"cloud config v{config.version}" if config.version else "cached config"


async def _pause(seconds: float, *events: asyncio.Event) -> None:
    """Sleep ``seconds``, or less if one of ``events`` is set meanwhile."""
    waiters = [asyncio.create_task(event.wait()) for event in events]
    await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    for waiter in waiters:
        waiter.cancel()
