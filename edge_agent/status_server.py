"""The agent's local HTTP port: ``/metrics`` (Prometheus), ``/health`` and ``/status``.

A small WSGI app on the standard library's server, in a thread: it must keep answering
while the event loop is busy, and it needs nothing an industrial PC lacks.
"""

from __future__ import annotations

import json
import logging
import threading
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app

from edge_agent.metrics import AgentCollector

if TYPE_CHECKING:
    from edge_agent.agent import EdgeAgent

log = logging.getLogger(__name__)


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per scrape would drown the agent's own log


class StatusServer:
    def __init__(self, agent: EdgeAgent, host: str, port: int) -> None:
        self.agent = agent
        self.host = host
        self.port = port
        self._server: WSGIServer | None = None
        registry = CollectorRegistry()
        registry.register(AgentCollector(agent))
        self._metrics = make_wsgi_app(registry)

    def _app(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            return self._metrics(environ, start_response)
        if path in ("/health", "/status"):
            status = self.agent.status()
            body = status if path == "/status" else {"status": status["status"]}
            payload = json.dumps(body, indent=1 if path == "/status" else None).encode()
            start_response("200 OK", [("Content-Type", "application/json")])
            return [payload]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"try /metrics, /health or /status\n"]

    def start(self) -> None:
        if not self.port:
            return
        try:
            self._server = make_server(
                self.host,
                self.port,
                self._app,
                server_class=_ThreadingServer,
                handler_class=_QuietHandler,
            )
        except OSError as exc:
            # The agent's job is collecting data; a taken status port must not stop that.
            log.error("status server not started on %s:%d: %s", self.host, self.port, exc.strerror)
            return
        self.port = self._server.server_port
        threading.Thread(target=self._server.serve_forever, name="status", daemon=True).start()
        log.info("status on http://%s:%d/status, metrics on /metrics", self.host, self.port)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
