"""The listening socket the platform's web servers are served on."""

from __future__ import annotations

import asyncio
import socket

import pytest

from mingzhou.web_server import PortInUse, bind


def test_accepted_connections_send_small_writes_at_once() -> None:
    """asyncio turns Nagle off (TCP_NODELAY) only on connections of a socket made as TCP;
    with Nagle on, a response's body waited for the client's delayed ACK of its headers:
    40 ms on every keep-alive request."""

    async def accepted_nodelay() -> int:
        seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            sock = writer.get_extra_info("socket")
            seen.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(on_connect, sock=bind("127.0.0.1", 0, "a test"))
        port = server.sockets[0].getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            return await asyncio.wait_for(seen, 10)
        finally:
            writer.close()
            server.close()
            await server.wait_closed()

    assert asyncio.run(accepted_nodelay()) != 0


def test_a_taken_port_names_what_it_was_for() -> None:
    taken = bind("127.0.0.1", 0, "the first")
    try:
        port = taken.getsockname()[1]
        with pytest.raises(PortInUse, match=rf"cannot listen on 127.0.0.1:{port} for the API"):
            bind("127.0.0.1", port, "the API")
    finally:
        taken.close()
