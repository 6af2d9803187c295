"""Watching one of the portal's event streams as cheaply as a load generator can.

With a thousand streams open, the load generator shares the machine's cores with the portal
and the sandbox. Read through httpx (its client, pool, decoders and a text split per event),
it used about as much CPU as the portal itself, which both slowed the portal down and made
arrivals late by however long the generator's own loop was busy. Here each stream is a
plain asyncio connection whose answer is parsed by httptools (the C parser uvicorn uses),
and each event is read only as far as its `id` and `event` lines; the arrival is the moment
the bytes reached the event loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

import httptools


@dataclass
class Watched:
    """What one stream delivered."""

    status: int = 0
    #: step number → when it arrived (time.perf_counter(), the clock the sandbox notes frames by)
    arrivals: dict[int, float] = field(default_factory=dict)
    #: the "done" event arrived
    finished: bool = False
    #: why the stream could not be read ("" when it could)
    error: str = ""


class _Stream(asyncio.Protocol):
    def __init__(self, watched: Watched, leave_after_first_step: bool) -> None:
        self.watched = watched
        self.leave = leave_after_first_step
        self.parser = httptools.HttpResponseParser(self)
        self.buffer = b""
        self.now = 0.0
        self.transport: asyncio.Transport | None = None
        self.ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    # asyncio.Protocol
    def connection_made(self, transport) -> None:  # type: ignore[no-untyped-def]
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.now = time.perf_counter()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self._end("not HTTP")

    def connection_lost(self, exc: Exception | None) -> None:
        self._end("connection lost" if exc else "")

    # httptools callbacks
    def on_headers_complete(self) -> None:
        self.watched.status = self.parser.get_status_code()
        if self.watched.status != 200:
            self._end(f"answer {self.watched.status}")

    def on_body(self, body: bytes) -> None:
        *events, self.buffer = (self.buffer + body).split(b"\n\n")
        for raw in events:
            if self.ended.done():
                return  # walked away: whatever came with the first step is not read
            self._event(raw)

    def on_message_complete(self) -> None:
        self._end("")

    def _event(self, raw: bytes) -> None:
        # The portal writes retry, id and event before the data lines.
        name = ident = b""
        for line in raw.split(b"\n", 3)[:3]:
            if line.startswith(b"event: "):
                name = line[7:]
            elif line.startswith(b"id: "):
                ident = line[4:]
        if name == b"step" and ident.isdigit():
            self.watched.arrivals[int(ident)] = self.now
            if self.leave:
                self._end("")  # the page is closed: the connection goes away
        elif name == b"done":
            self.watched.finished = True

    def _end(self, error: str) -> None:
        if not self.ended.done():
            self.watched.error = error
            self.ended.set_result(None)
        if self.transport is not None:
            self.transport.close()


async def watch(
    portal_url: str,
    path: str,
    params: Mapping[str, str],
    cookies: Mapping[str, str],
    *,
    leave_after_first_step: bool = False,
) -> Watched:
    """Open `path` as a browser's EventSource would, with the session's `cookies`, and read it
    to its end (or, like someone closing the page, hang up after the first step)."""
    watched = Watched()
    address = urlsplit(portal_url)
    host, port = address.hostname or "127.0.0.1", address.port or 80
    cookie = "; ".join(f"{name}={value}" for name, value in cookies.items())
    request = (
        f"GET {path}?{urlencode(params)} HTTP/1.1\r\nHost: {address.netloc}\r\nAccept: text/event-stream\r\n"
        f"Cache-Control: no-cache\r\nCookie: {cookie}\r\n\r\n"
    ).encode()
    loop = asyncio.get_running_loop()
    try:
        transport, stream = await asyncio.wait_for(
            loop.create_connection(lambda: _Stream(watched, leave_after_first_step), host, port), 10
        )
    except (OSError, TimeoutError) as exc:
        watched.error = type(exc).__name__
        return watched
    transport.write(request)
    try:
        await asyncio.wait_for(asyncio.shield(stream.ended), 60)
    except TimeoutError:
        watched.error = "ReadTimeout"
    finally:
        transport.close()
    return watched
