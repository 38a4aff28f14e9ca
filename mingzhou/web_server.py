"""Serving the cloud app inside our own event loop, stopped by our own stop event."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Generator

import uvicorn
from fastapi import FastAPI


class PortInUse(Exception):
    """A port we must listen on is taken; the message names it and what it was for."""


def bind(host: str, port: int, purpose: str) -> socket.socket:
    """A listening TCP socket, or PortInUse saying which option moves it elsewhere."""
    # IPPROTO_TCP, not the default 0: asyncio sets TCP_NODELAY only on connections of
    # sockets that say they are TCP. Without it, Nagle holds a response's body until
    # the client's delayed ACK of its headers: 40 ms on every keep-alive request.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise PortInUse(f"cannot listen on {host}:{port} for {purpose}: {exc.strerror}") from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


def check_free(host: str, port: int, purpose: str) -> None:
    """Fail early, before anything starts, when a port is taken."""
    bind(host, port, purpose).close()


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # uvicorn would install its own SIGINT handler and re-raise the signal on exit;
        # the embedding program owns signals and stops us through should_exit.
        yield


async def serve_app(app: FastAPI, sock: socket.socket, stop: asyncio.Event) -> None:
    """Serve ``app`` on ``sock`` until ``stop`` is set, then finish open requests."""
    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=3)
    server = _Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    stopped.cancel()
    await task
