"""The fault control port of a running simulator: JSON over HTTP on loopback, and the
small client the ``mingzhou sim-fault`` command uses.

    GET    /faults                  -> {"faults": [...], "kinds": {...}}
    POST   /faults  {"fault": "bearing_wear", "target": "P-101", "rate": 2.0}
    DELETE /faults/bearing_wear/P-101   (server faults: /faults/comms_drop)

The standard library's HTTP server in a thread is enough for a test harness: requests
are rare, and each is handed to the simulator's own event loop, which owns the model.
"""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from protocols.simulators.faults import FAULT_KINDS, FaultError
from protocols.simulators.plant_server import PlantServer

_CALL_TIMEOUT_S = 30.0  # a server restart of a 10,000-node OPC UA simulator takes seconds


class FaultControlServer:
    """Serves the control API for ``simulator`` on ``host:port`` from a daemon thread."""

    def __init__(self, simulator: PlantServer, host: str = "127.0.0.1", port: int = 0) -> None:
        self.simulator = simulator
        self._loop: asyncio.AbstractEventLoop | None = None
        self._httpd = ThreadingHTTPServer((host, port), self._handler_class())
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        """Start answering; call from the simulator's event loop."""
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="sim fault control", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _call(self, coro: Any) -> Any:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(_CALL_TIMEOUT_S)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        control = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass  # the simulator logs each fault itself

            def _reply(self, status: int, body: dict[str, Any] | None = None) -> None:
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                if body is not None:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _parts(self) -> list[str] | None:
                path = urllib.parse.urlsplit(self.path).path
                parts = [urllib.parse.unquote(p) for p in path.strip("/").split("/") if p]
                return parts if parts[:1] == ["faults"] else None

            def do_GET(self) -> None:
                if self._parts() != ["faults"]:
                    return self._reply(404, {"error": "not found; try GET /faults"})
                kinds = {
                    k.name: {"target": k.target, "params": k.defaults, "meaning": k.meaning}
                    for k in FAULT_KINDS.values()
                }
                faults = [f.as_dict() for f in control.simulator.faults]
                self._reply(200, {"faults": faults, "kinds": kinds})

            def do_POST(self) -> None:
                if self._parts() != ["faults"]:
                    return self._reply(404, {"error": "not found; POST to /faults"})
                try:
                    length = int(self.headers.get("Content-Length") or 0)
                    body = json.loads(self.rfile.read(length) or b"{}")
                    if not isinstance(body, dict) or not isinstance(body.get("fault"), str):
                        raise FaultError('the body must be a JSON object with "fault"')
                    fault, target = body.pop("fault"), body.pop("target", None)
                    active = control._call(control.simulator.inject(fault, target, **body))
                except (FaultError, ValueError) as exc:
                    return self._reply(400, {"error": str(exc)})
                self._reply(201, active.as_dict())

            def do_DELETE(self) -> None:
                parts = self._parts()
                if parts is None or len(parts) not in (2, 3):
                    return self._reply(404, {"error": "DELETE /faults/FAULT[/TARGET]"})
                target = parts[2] if len(parts) == 3 else None
                try:
                    control._call(control.simulator.clear(parts[1], target))
                except KeyError as exc:
                    return self._reply(404, {"error": str(exc.args[0])})
                except FaultError as exc:
                    return self._reply(400, {"error": str(exc)})
                self._reply(204)

        return Handler


def call_fault_api(
    url: str, method: str, path: str = "/faults", body: dict[str, Any] | None = None
) -> tuple[int, dict[str, Any] | None]:
    """One request to a control port: (HTTP status, decoded JSON body or None)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url.rstrip("/") + path, data=data, method=method,
        headers={"Content-Type": "application/json"} if data else {},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=_CALL_TIMEOUT_S + 5) as response:
            raw, status = response.read(), response.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    return status, json.loads(raw) if raw else None
