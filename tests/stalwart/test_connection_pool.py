"""The API pool's housekeeping stays linear in its connections (portal/stalwart/transport.py)."""

from __future__ import annotations

import asyncio

import httpcore
from django.conf import settings

from portal.stalwart import transport


def test_many_calls_at_once_reuse_few_connections_with_linear_housekeeping(sandbox, monkeypatch):
    calls = {"is_idle": 0}
    original = httpcore.AsyncHTTPConnection.is_idle

    def counted(self):
        calls["is_idle"] += 1
        return original(self)

    monkeypatch.setattr(httpcore.AsyncHTTPConnection, "is_idle", counted)

    async def scenario():
        client = transport.shared_client()
        pool = client._transport._pool
        assert isinstance(pool, transport._ConnectionPool)
        url = f"{settings.STALWART_URL}/.well-known/oauth-authorization-server"
        for _ in range(4):  # pages that fetch 25 things at once
            answers = await asyncio.gather(*(client.get(url) for _ in range(25)))
            assert all(answer.status_code < 500 for answer in answers)
        return len(pool.connections)

    connections = asyncio.run(scenario())
    assert connections <= 25
    # httpcore's own pool measured itself once per idle connection, by visiting all of them:
    # some 200,000 calls for these 100 requests.
    assert calls["is_idle"] < 20_000


def test_only_the_connection_handed_out_has_its_socket_polled(sandbox, monkeypatch):
    from portal.stalwart.network import AsyncioStream

    calls = {"polls": 0}
    original = AsyncioStream.get_extra_info

    def counted(self, info):
        calls["polls"] += info == "is_readable"
        return original(self, info)

    monkeypatch.setattr(AsyncioStream, "get_extra_info", counted)

    async def scenario():
        client = transport.shared_client()
        url = f"{settings.STALWART_URL}/.well-known/oauth-authorization-server"
        for _ in range(4):
            answers = await asyncio.gather(*(client.get(url) for _ in range(25)))
            assert all(answer.status_code < 500 for answer in answers)

    asyncio.run(scenario())
    # httpcore polled every idle connection's socket whenever a request came or went: about
    # 8,000 polls for these 100 requests. Now: the connection about to be reused (100), and
    # a sweep of the idle ones at most once a second (a few).
    assert 100 <= calls["polls"] < 1_000


def test_a_connection_the_server_closed_is_not_handed_out_again():
    """A server that closes each connection after answering, without saying so: the next
    request must get a new connection, not fail on the closed one."""
    seen = {"connections": 0}

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen["connections"] += 1
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
        await writer.drain()
        writer.close()  # no "Connection: close": the client believes it may keep it

    async def scenario() -> list[int]:
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        pool = transport._transport(transport.API_LIMITS)
        try:
            async with transport.httpx.AsyncClient(transport=pool) as client:
                statuses = []
                for _ in range(3):
                    statuses.append((await client.get(f"http://127.0.0.1:{port}/")).status_code)
                    await asyncio.sleep(0.05)  # the server's FIN arrives
                return statuses
        finally:
            server.close()
            await server.wait_closed()

    assert asyncio.run(scenario()) == [200, 200, 200]
    assert seen["connections"] == 3


def test_a_cookie_in_an_answer_is_never_sent_with_the_next_call():
    """The shared client serves everyone: a cookie one answer sets (a load balancer's, say)
    must not ride along with the next person's call."""
    seen: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                break
            seen.append(head)
            writer.write(
                b"HTTP/1.1 200 OK\r\nSet-Cookie: sticky=backend-2; Path=/\r\nContent-Type: application/json\r\n"
                b"Content-Length: 2\r\n\r\n{}"
            )
            await writer.drain()
        writer.close()

    async def scenario() -> None:
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = transport._build(transport._transport(transport.API_LIMITS))
        try:
            for _ in range(2):
                assert (await client.get(f"http://127.0.0.1:{port}/api/principal")).status_code == 200
            assert len(client.cookies) == 0
        finally:
            await client.aclose()
            server.close()
            await server.wait_closed()

    asyncio.run(scenario())
    assert len(seen) == 2 and all(b"cookie" not in head.lower() for head in seen)
