"""httpcore's network streams on asyncio itself, without anyio in between.

httpcore reaches the network through a small backend interface (`connect_tcp`, then a
stream's `read`, `write`, `start_tls`, `aclose`, `get_extra_info`), which by default it
runs on anyio. Under uvicorn the portal only ever runs on asyncio, and anyio's layer is
most of what an upstream read costs: every read opens a cancel scope for its timeout
(`anyio.fail_after`) and waits on an event its protocol sets, and asking an idle connection
whether the server closed it builds a dictionary of socket attributes and polls the socket.
Relaying a thousand delivery checks, anyio's part was about a sixth of the portal's CPU
time, all spent while the relay was busiest (see BENCHMARKS.md).

Here a connection is an asyncio transport with a protocol that keeps what arrived in a
buffer. A read returns what is buffered, or waits for more with a timer only when it has to
wait; writes follow the transport's flow control. The rules are httpcore's own: timeouts and
failures become its `ReadTimeout`/`ReadError`, `WriteTimeout`/`WriteError` and
`ConnectTimeout`/`ConnectError`, a closed connection reads as `b""`, and an idle connection
that has something to read (the server closed it, or sent what nobody asked for) reads as
"readable", so the pool never hands it out.
"""

# The `timeout` arguments are httpcore's interface (ASYNC109 would have them dropped).
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterable
from typing import Any, cast

import httpcore

#: what is read from the socket before the transport stops reading until httpcore catches up
_HIGH_WATER = 256 * 1024


class _Connection(asyncio.Protocol):
    """The protocol side: what arrived, whether the peer closed, and flow control."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.closed = False  # the peer closed, or the connection broke
        self.lost = False  # the socket is closed
        self.error: Exception | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._drained: asyncio.Future[None] | None = None
        self._reading_paused = False

    # --- asyncio's callbacks --------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # (uvloop's transports are not subclasses of asyncio's, but do what they do)
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > _HIGH_WATER and self.transport is not None and not self._reading_paused:
            self._reading_paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self.closed = True
        self._wake()
        return False  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = self.lost = True
        self.error = exc
        self._wake()
        self.resume_writing()

    def pause_writing(self) -> None:
        if self._drained is None:
            self._drained = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        drained, self._drained = self._drained, None
        if drained is not None and not drained.done():
            drained.set_result(None)

    # --- what the stream uses -------------------------------------------------------------
    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait_for_data(self) -> None:
        waiter = self._waiter = asyncio.get_running_loop().create_future()
        try:
            await waiter
        finally:
            self._waiter = None

    def take(self, max_bytes: int) -> bytes:
        data = bytes(self.buffer[:max_bytes])
        del self.buffer[:max_bytes]
        if self._reading_paused and len(self.buffer) <= _HIGH_WATER // 4 and self.transport is not None:
            self._reading_paused = False
            self.transport.resume_reading()
        return data

    @property
    def writing_paused(self) -> bool:
        """The transport's buffer is full: a write waits for `drain()`."""
        return self._drained is not None

    async def drain(self) -> None:
        if self._drained is not None:
            await self._drained


class AsyncioStream(httpcore.AsyncNetworkStream):
    def __init__(self, transport: asyncio.Transport, connection: _Connection) -> None:
        self._transport = transport
        self._connection = connection

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        connection = self._connection
        if not connection.buffer and not connection.closed:
            try:
                async with asyncio.timeout(timeout):
                    while not connection.buffer and not connection.closed:
                        await connection.wait_for_data()
            except TimeoutError as exc:
                raise httpcore.ReadTimeout(str(exc) or "timed out reading") from exc
        if connection.buffer:
            return connection.take(max_bytes)
        if connection.error is not None:
            raise httpcore.ReadError(str(connection.error)) from connection.error
        return b""

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        connection = self._connection
        if connection.closed or self._transport.is_closing():
            raise httpcore.WriteError(str(connection.error or "the connection is closed"))
        self._transport.write(buffer)
        if not connection.writing_paused:
            return
        try:
            async with asyncio.timeout(timeout):
                await connection.drain()
        except TimeoutError as exc:
            raise httpcore.WriteTimeout(str(exc) or "timed out writing") from exc
        if connection.error is not None:
            raise httpcore.WriteError(str(connection.error)) from connection.error

    async def aclose(self) -> None:
        # As httpcore's anyio streams do: close, give the loop a turn to carry it out (the
        # socket is closed in a callback), then drop whatever is left (a TLS transport would
        # wait for the server's goodbye) and give it another. A loop that ends right after
        # this (the test client's, one per request) would otherwise leave the socket to the
        # garbage collector, and Stalwart would see the stream end late.
        self._transport.close()
        await asyncio.sleep(0)
        if not self._connection.lost:
            self._transport.abort()
            await asyncio.sleep(0)

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        connection = _Connection()
        try:
            async with asyncio.timeout(timeout):
                transport = await loop.start_tls(
                    self._transport, connection, ssl_context, server_hostname=server_hostname
                )
        except TimeoutError as exc:
            self._transport.close()
            raise httpcore.ConnectTimeout(str(exc) or "timed out in the TLS handshake") from exc
        except (OSError, ssl.SSLError, ConnectionError) as exc:
            self._transport.close()
            raise httpcore.ConnectError(str(exc)) from exc
        if transport is None:  # the connection closed during the handshake
            raise httpcore.ConnectError("the connection closed during the TLS handshake")
        connection.transport = transport  # (start_tls does not call connection_made)
        return AsyncioStream(transport, connection)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            connection = self._connection
            return connection.closed or bool(connection.buffer) or self._transport.is_closing()
        if info == "ssl_object":
            return self._transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._transport.get_extra_info("sockname")
        if info == "server_addr":
            return self._transport.get_extra_info("peername")
        if info == "socket":
            return self._transport.get_extra_info("socket")
        return None


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """The portal's pools connect through this (see `transport._transport`). TCP only: the
    portal never reaches Stalwart through a Unix socket (httpcore's base refuses it)."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport, connection = await loop.create_connection(
                    _Connection, host, port, local_addr=(local_address, 0) if local_address else None
                )
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(str(exc) or "timed out connecting") from exc
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        sock = transport.get_extra_info("socket")
        for option in socket_options or ():
            sock.setsockopt(*option)
        return AsyncioStream(transport, connection)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
