"""Live tracing: the page, the no-JavaScript capture, and the SSE relay (incremental, closed on disconnect)."""

from __future__ import annotations

import asyncio
import re
import time

import pytest
from asgiref.sync import async_to_sync
from django.core.handlers.asgi import ASGIHandler

from portal.observability.views import LiveFilter
from sandbox.observability import Event, state


def _collect(response) -> str:
    async def collect() -> bytes:
        return b"".join([chunk async for chunk in response.streaming_content])

    return async_to_sync(collect)().decode()


def _session_cookie(client) -> str:
    return client.cookies["portal_session"].value


def _scope(path: str, query: str, cookie: str) -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"cookie", f"portal_session={cookie}".encode()),
            (b"accept", b"text/event-stream"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


async def _wait_for(predicate, limit: float = 5.0) -> None:
    deadline = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.01)


class Browser:
    """A minimal ASGI client: collects what the portal sends and can hang up."""

    def __init__(self, scope: dict) -> None:
        self.scope = scope
        self.messages: asyncio.Queue = asyncio.Queue()
        self.hang_up = asyncio.Event()
        self._body_sent = False

    async def receive(self) -> dict:
        if not self._body_sent:
            self._body_sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self.hang_up.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict) -> None:
        await self.messages.put(message)

    async def next_body(self, limit: float = 5.0) -> str:
        while True:
            message = await asyncio.wait_for(self.messages.get(), limit)
            if message["type"] == "http.response.body":
                return message.get("body", b"").decode()


def _emit_session(sandbox, *, domain_host: str = "partner"):
    obs = state(sandbox)
    import random

    with sandbox.lock:
        for _ in range(50):
            events = obs.received_session(sandbox.now(), random.Random(len(obs.live) + obs.live_seq + _))
            if any(
                domain_host in str(event.data.get("remoteIp", "")) or domain_host in str(event.data) for event in events
            ):
                break
        obs.emit(events)
    return events


@pytest.fixture
def quick_streams(sandbox):
    obs = state(sandbox)
    obs.traffic_interval = 0
    obs.batch_interval = 0.05
    obs.poll_interval = 0.01
    obs.ping_interval = 0.3
    return obs


#: The live-tracing token, then the stream read with it: (REST up to 0.15, 0.16).
TOKEN_PATH = ("/api/telemetry/live/tracing-token", "/api/token/tracing")
STREAM_PATH = ("/api/telemetry/traces/live", "/api/live/tracing")


def _api_calls(sandbox) -> list[tuple[str, str, str | None]]:
    """The REST calls, apart from the schema 0.16's event labels are read from."""
    calls = [(r.method, r.path, r.auth_scheme) for r in sandbox.requests if r.path.startswith("/api/")]
    return [call for call in calls if not call[1].startswith("/api/schema")]


def test_relay_streams_incrementally_and_closes_upstream_when_the_browser_leaves(signed_in, generation, quick_streams):
    sandbox = generation.sandbox
    client = signed_in("admin")
    browser = Browser(_scope("/observability/live/stream", "", _session_cookie(client)))
    obs = quick_streams

    async def run() -> None:
        task = asyncio.ensure_future(ASGIHandler()(browser.scope, browser.receive, browser.send))
        start = await asyncio.wait_for(browser.messages.get(), 5)
        assert start["type"] == "http.response.start" and start["status"] == 200
        headers = dict(start["headers"])
        assert headers[b"Content-Type"].startswith(b"text/event-stream")
        assert b"no-store" in headers[b"Cache-Control"]
        assert (await browser.next_body()).startswith(": connected")
        await _wait_for(lambda: obs.open_streams == 1)

        # First batch: arrives while the stream stays open.
        _emit_session(sandbox)
        first = await browser.next_body()
        while "event: trace" not in first:
            first = await browser.next_body()
        assert "SMTP connection started" in first and '<li class="timeline-item' in first
        assert "data: " in first
        assert not task.done()

        # Stalwart's pings become comments (keep-alives) for the browser.
        ping = await browser.next_body()
        assert ping.startswith(": ping")

        # A second batch later on: delivered incrementally on the same response.
        _emit_session(sandbox)
        second = await browser.next_body()
        while "event: trace" not in second:
            second = await browser.next_body()
        assert "SMTP connection ended" in second

        # The browser goes away: the portal stops and closes the upstream stream.
        browser.hang_up.set()
        await asyncio.wait_for(task, 5)
        await _wait_for(lambda: state(sandbox).open_streams == 0)

    async_to_sync(run)()
    # Only the token was fetched with the person's credentials; the stream used the token.
    token, stream = TOKEN_PATH[generation.jmap], STREAM_PATH[generation.jmap]
    assert _api_calls(sandbox) == [("GET", token, "Bearer"), ("GET", stream, None)]
    stream_query = [r.query for r in sandbox.requests if r.path == stream][0]
    assert stream_query.startswith("token=")


def test_relay_passes_filters_to_stalwart(signed_in, generation, quick_streams):
    sandbox = generation.sandbox
    client = signed_in("admin")
    browser = Browser(
        _scope("/observability/live/stream", "filter=remoteIp%3A203.0.113.25+hello", _session_cookie(client))
    )

    async def run() -> None:
        task = asyncio.ensure_future(ASGIHandler()(browser.scope, browser.receive, browser.send))
        await browser.next_body()
        browser.hang_up.set()
        await asyncio.wait_for(task, 5)

    async_to_sync(run)()
    query = [r.query for r in sandbox.requests if r.path == STREAM_PATH[generation.jmap]][0]
    assert "remoteIp=203.0.113.25" in query and "filter=hello" in query


def test_only_matching_events_are_relayed(signed_in, generation, quick_streams):
    sandbox = generation.sandbox
    client = signed_in("admin")
    browser = Browser(_scope("/observability/live/stream", "filter=remoteIp%3A203.0.113.25", _session_cookie(client)))

    async def run() -> None:
        task = asyncio.ensure_future(ASGIHandler()(browser.scope, browser.receive, browser.send))
        assert (await browser.next_body()).startswith(": connected")
        await _wait_for(lambda: quick_streams.open_streams == 1)
        with sandbox.lock:
            quick_streams.emit(
                [
                    Event("smtp.connection-start", sandbox.now(), {"remoteIp": "192.0.2.99", "spanId": 76}),
                    Event("smtp.connection-start", sandbox.now(), {"remoteIp": "203.0.113.25", "spanId": 77}),
                ]
            )
        body = await browser.next_body()
        while "event: trace" not in body:
            body = await browser.next_body()
        assert "smtp.connection-start" in body and "203.0.113.25" in body and "192.0.2.99" not in body
        browser.hang_up.set()
        await asyncio.wait_for(task, 5)
        await _wait_for(lambda: state(sandbox).open_streams == 0)

    async_to_sync(run)()
    assert [call[1] for call in _api_calls(sandbox)] == [TOKEN_PATH[generation.jmap], STREAM_PATH[generation.jmap]]
    query = [r.query for r in sandbox.requests if r.path == STREAM_PATH[generation.jmap]][0]
    assert query.startswith("remoteIp=203.0.113.25") and "token=" in query


def test_live_filter_parsing():
    parsed = LiveFilter.parse("remote-ip:192.0.2.1 domain:example.com hello world")
    assert parsed.keys == (("remoteIp", "192.0.2.1"), ("domain", "example.com"))
    assert parsed.text == "hello world"


def test_live_page(signed_in, sandbox, settings):
    response = signed_in("admin").get("/observability/live/?filter=domain:example.org")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-stream-url="/observability/live/stream"' in html
    assert 'value="domain:example.org"' in html
    assert sandbox.requests == []  # the page itself calls nothing; the stream does
    assert settings.STALWART_URL not in html  # the browser never talks to Stalwart


def test_capture_without_javascript(signed_in, generation, settings, quick_streams):
    sandbox = generation.sandbox
    settings.PORTAL_LIVE_CAPTURE_SECONDS = 0.6
    quick_streams.traffic_interval = 0.1
    response = signed_in("admin").get("/observability/live/?capture=1")
    html = response.content.decode()
    assert response.status_code == 200
    assert re.search(r"Captured \d+ events? in 0.6 seconds", html)
    assert "SMTP connection started" in html and "smtp.connection-start" in html
    time.sleep(0.1)
    assert state(sandbox).open_streams == 0


def test_stream_failure_is_an_event(signed_in, generation):
    sandbox = generation.sandbox
    client = signed_in("admin")
    sandbox.enterprise = False
    try:
        response = client.get("/observability/live/stream")
        body = _collect(response)
    finally:
        sandbox.enterprise = True
    assert response["Content-Type"].startswith("text/event-stream")
    assert "event: failure" in body and "Enterprise feature" in body


def test_refused_without_tracing_live(signed_in, generation):
    for who in ("user", "helpdesk"):
        client = signed_in(who)
        for url in ("/observability/live/", "/observability/live/stream"):
            assert client.get(url).status_code == 403, (who, url)
        assert generation.sandbox.requests == []


def test_an_unread_stream_never_opens_upstream(signed_in, sandbox):
    """The relay opens Stalwart's stream on its first read: a response nobody reads costs nothing."""
    response = signed_in("admin").get("/observability/live/stream")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/event-stream")
    assert sandbox.requests == []
    assert state(sandbox).open_streams == 0
