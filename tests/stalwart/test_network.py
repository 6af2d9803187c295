"""The portal's pools on asyncio's own streams (portal/stalwart/network.py): what httpx
promises on anyio, it keeps here — TLS, timeouts, refused and broken connections, bodies
larger than the buffers, flow control both ways — on asyncio's loop and on uvloop's."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from portal.stalwart import transport
from portal.stalwart.network import AsyncioBackend
from tests.crypto_fixtures import tls_server_certificate

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def answer(body: bytes, *, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s" % (
        len(body),
        extra,
        body,
    )


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return head, await reader.readexactly(length)


def self_signed(directory: Path) -> tuple[Path, Path]:
    certificate, key = tls_server_certificate()
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_text(certificate)
    key_path.write_text(key)
    return cert_path, key_path


async def served(handler: Handler, scenario: Callable[[str], Awaitable[object]], tls: ssl.SSLContext | None = None):
    server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=tls)
    port = server.sockets[0].getsockname()[1]
    try:
        return await scenario(f"{'https' if tls else 'http'}://127.0.0.1:{port}")
    finally:
        server.close()
        await server.wait_closed()


def client(verify: ssl.SSLContext | bool = False, **options) -> httpx.AsyncClient:
    pool = transport._transport(transport.API_LIMITS, verify=verify)
    assert isinstance(pool._pool._network_backend, AsyncioBackend)
    return httpx.AsyncClient(transport=pool, **options)


@pytest.fixture(params=["asyncio", "uvloop"])
def run(request):
    """Each scenario on asyncio's own loop and on uvloop's, which uvicorn runs the portal on."""
    import uvloop

    factory = uvloop.new_event_loop if request.param == "uvloop" else None
    return lambda coroutine: asyncio.run(coroutine, loop_factory=factory)


def test_tls_with_a_trusted_certificate_and_keep_alive(tmp_path, run):
    cert, key = self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    connections = []

    async def handler(reader, writer):
        connections.append(writer.get_extra_info("peername"))
        while True:
            try:
                head, body = await read_request(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                break
            writer.write(answer(b'{"echo": %d}' % len(body)))
            await writer.drain()
        writer.close()

    async def scenario(url):
        trusted = ssl.create_default_context(cafile=str(cert))
        async with client(verify=trusted) as http:
            first = await http.get(f"{url}/api/principal")
            second = await http.post(f"{url}/api/principal", content=b"x" * 1000)
            extension = first.extensions["network_stream"]
            return first.json(), second.json(), extension.get_extra_info("ssl_object") is not None

    first, second, encrypted = run(served(handler, scenario, server_tls))
    assert first == {"echo": 0} and second == {"echo": 1000} and encrypted
    assert len(connections) == 1  # the second call reused the TLS connection


def test_tls_with_an_untrusted_certificate_is_a_connect_error(tmp_path, run):
    cert, key = self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)

    async def handler(reader, writer):
        writer.close()

    async def scenario(url):
        async with client(verify=ssl.create_default_context()) as http:
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await http.get(f"{url}/")

    run(served(handler, scenario, server_tls))


def test_a_server_that_never_answers_is_a_read_timeout(run):
    async def handler(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        await reader.read()  # says nothing until the client gives up and closes
        writer.close()

    async def scenario(url):
        async with client(timeout=httpx.Timeout(5, read=0.3)) as http:
            started = time.monotonic()
            with pytest.raises(httpx.ReadTimeout):
                await http.get(f"{url}/")
            return time.monotonic() - started

    assert 0.25 < run(served(handler, scenario)) < 3


def test_a_refused_connection_is_a_connect_error(run):
    async def scenario():
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()
        async with client() as http:
            with pytest.raises(httpx.ConnectError):
                await http.get(f"http://127.0.0.1:{port}/")

    run(scenario())


def test_an_answer_cut_short_is_a_protocol_error_not_a_short_body(run):
    async def handler(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 40)
        await writer.drain()
        writer.close()

    async def scenario(url):
        async with client() as http:
            with pytest.raises(httpx.RemoteProtocolError):
                await http.get(f"{url}/")

    run(served(handler, scenario))


def test_large_bodies_both_ways_arrive_whole(run):
    """Larger than the buffer at which reading pauses, and than the socket's send buffer,
    towards a peer that reads slowly."""
    upload = bytes(range(256)) * (16 * 1024)  # 4 MiB
    download = bytes(reversed(range(256))) * (12 * 1024)  # 3 MiB

    async def handler(reader, writer):
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        received = bytearray()
        while len(received) < length:
            received += await reader.read(65536)
            await asyncio.sleep(0.001)  # a slow reader: the client's writes wait for it
        assert bytes(received) == upload
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(download))
        for start in range(0, len(download), 256 * 1024):
            writer.write(download[start : start + 256 * 1024])
            await writer.drain()
        writer.close()

    async def scenario(url):
        async with client() as http:
            response = await http.post(f"{url}/", content=upload)
            return response.content

    assert run(served(handler, scenario)) == download


def test_a_stream_read_as_it_arrives(run):
    """An event stream: each chunk is handed over when it arrives, not when the buffer fills."""

    async def handler(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
        for number in range(3):
            event = b"data: %d\n\n" % number
            writer.write(b"%x\r\n%s\r\n" % (len(event), event))
            await writer.drain()
            await asyncio.sleep(0.1)
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        writer.close()

    async def scenario(url):
        arrivals = []
        async with client() as http, http.stream("GET", f"{url}/") as response:
            started = time.monotonic()
            async for chunk in response.aiter_bytes():
                arrivals.append((chunk, time.monotonic() - started))
        return arrivals

    arrivals = run(served(handler, scenario))
    assert b"".join(chunk for chunk, _ in arrivals) == b"data: 0\n\ndata: 1\n\ndata: 2\n\n"
    assert len(arrivals) == 3 and arrivals[0][1] < 0.08 and arrivals[2][1] > 0.15


def test_a_closed_connection_is_closed_when_aclose_returns(tmp_path, run):
    """Not a turn of the loop later: the test client runs each request in a loop of its own,
    which may end right after the response is closed, and Stalwart must see its stream end."""
    cert, key = self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)

    async def handler(reader, writer):
        await reader.read()
        writer.close()

    async def scenario(url):
        port = int(url.rsplit(":", 1)[1])
        backend = AsyncioBackend()
        plain = await backend.connect_tcp("127.0.0.1", port)
        if url.startswith("https"):
            plain = await plain.start_tls(ssl.create_default_context(cafile=str(cert)), server_hostname="localhost")
        sock = plain.get_extra_info("socket")
        assert sock.fileno() >= 0
        await plain.aclose()
        return sock.fileno()

    assert run(served(handler, scenario)) == -1
    assert run(served(handler, scenario, server_tls)) == -1
