"""Fault injection: make the sandbox misbehave the way a real server or network does.

``Sandbox.faults`` holds a list of rules. Each rule has a kind, a scope (a raw path prefix such
as ``/api/principal`` and optionally a set of methods) and a budget (``times``: the next N
matching requests; None means until :meth:`Faults.clear` or :meth:`Sandbox.reset`). On 0.16 every
call is a POST to ``/jmap/``: ``call`` narrows a rule to the requests that call that JMAP method
(``"x:Task/set"``), so a test can break a write and not the reads before it::

    sb.faults.latency(20)                                   # every request 20 ms slower
    sb.faults.server_error(503, prefix="/api/principal", methods={"PATCH"}, times=1)
    sb.faults.malformed_json(prefix="/api/queue")           # answers cut in half
    sb.faults.reset_connection(prefix="/api/")              # socket closed, no answer
    sb.faults.truncate_sse(after=2)                         # event streams end after 2 chunks
    sb.faults.expire_tokens(methods={"PATCH"}, times=1)     # tokens die just before the PATCH
    sb.faults.invalidate_tokens()                           # every access token dies now
    sb.faults.rate_limit(prefix="/auth/token", times=3)     # 429 Too Many Requests
    sb.faults.server_error(500, prefix="/jmap/", call="x:QueuedMessage/set")  # one JMAP method only

What each kind does to a matching request:

* ``latency``: waits ``latency_ms`` before handling it (cut short when the client gives up);
  the latencies of several matching rules add up.
* ``error``: answers ``status`` (5xx) with a problem+json body; the handler never runs.
* ``ratelimit``: answers 429 exactly as Stalwart's rate limiter does (problem+json "Too Many
  Requests", or "Too Many Authentication Attempts" with ``auth=True``); the handler never runs.
  Stalwart sends no ``Retry-After``; ``retry_after=N`` adds one, as a proxy in front of it may.
* ``malformed``: the handler runs (a change is made), its answer is truncated to half (an
  event stream keeps its events, each with the first half of its data).
* ``reset``: the connection is reset (TCP RST) without any answer; the handler never runs.
* ``truncate-sse``: an event stream ends (or with ``reset=True`` is reset) after ``after``
  body chunks; other answers pass unchanged.
* ``expire-tokens``: every OAuth access token issued so far becomes invalid, then the request
  is handled as usual (so it fails with 401 unless it uses Basic auth). A rule without scope
  and budget makes every token invalid from then on.

"Connection refused" needs no rule: point the client at a port nothing listens on.

The state takes part in :meth:`Sandbox.reset`, so a test's faults never leak into the next one.
The ASGI app consults :meth:`Faults.take` once per request (``sandbox.app``).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import re
import socket
import struct
import threading
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

KINDS = ("latency", "error", "ratelimit", "malformed", "reset", "truncate-sse", "expire-tokens")

Send = Callable[[dict], Awaitable[None]]
Receive = Callable[[], Awaitable[dict]]


@dataclass
class Fault:
    """One rule. ``hits`` counts the requests it applied to."""

    kind: str
    prefix: str = "/"
    methods: frozenset[str] | None = None
    #: a JMAP method name the request body must call ("x:Task/set"); None: any request
    call: str | None = None
    #: how many more matching requests it applies to; None: no limit
    times: int | None = None
    latency_ms: float = 0
    status: int = 500
    #: truncate-sse: body chunks let through before the cut
    after: int = 1
    #: truncate-sse: reset the connection instead of ending the stream cleanly
    reset: bool = False
    #: ratelimit: the Retry-After header to send (seconds); None: none, as Stalwart
    retry_after: int | None = None
    #: ratelimit: the authentication ban's answer instead of the request rate limit's
    auth: bool = False
    hits: int = 0

    def matches(self, method: str, path: str, body: bytes = b"") -> bool:
        if self.times is not None and self.times <= 0:
            return False
        if self.methods is not None and method not in self.methods:
            return False
        if self.call is not None and not _calls(body, self.call):
            return False
        return path.startswith(self.prefix)


@dataclass
class _Plan:
    """What the faults do to one request."""

    faults: Faults
    rules: list[Fault] = field(default_factory=list)

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(rule.kind for rule in self.rules)

    def first(self, *kinds: str) -> Fault | None:
        return next((rule for rule in self.rules if rule.kind in kinds), None)

    async def apply(self, record: Any, receive: Receive, send: Send) -> Send | None:
        """Run the faults that act before the handler.

        Returns the ``send`` to answer through (possibly wrapped), or None when the request has
        been dealt with here (answered, reset, or abandoned by the client).
        """
        record.faults = self.kinds
        delay = sum(rule.latency_ms for rule in self.rules if rule.kind == "latency") / 1000
        if delay > 0 and not await _wait_unless_disconnected(delay, receive):
            return None
        if self.first("expire-tokens") is not None:
            self.faults.invalidate_tokens()
        answer = self.first("error", "ratelimit", "reset")
        if answer is not None and answer.kind == "error":
            record.status = answer.status
            await _send_problem(send, answer.status)
            return None
        if answer is not None and answer.kind == "ratelimit":
            record.status = 429
            await _send_rate_limited(send, auth=answer.auth, retry_after=answer.retry_after)
            return None
        if answer is not None:
            await reset_connection(send, receive)
            return None
        if self.first("malformed") is not None:
            send = _truncating(send)
        cut = self.first("truncate-sse")
        if cut is not None:
            send = _cutting(send, receive, cut.after, cut.reset)
        return send


class Faults:
    """The fault rules of one sandbox (``Sandbox.faults``). Thread-safe."""

    def __init__(self, sandbox: Any) -> None:
        self._sandbox = sandbox
        self._lock = threading.Lock()
        self.rules: list[Fault] = []
        sandbox.register_state("faults", self._snapshot, self._restore)

    def _snapshot(self) -> list[Fault]:
        with self._lock:
            return copy.deepcopy(self.rules)

    def _restore(self, rules: list[Fault]) -> None:
        with self._lock:
            self.rules = list(rules)

    # ------------------------------------------------------------------ configuring
    def add(
        self,
        kind: str,
        *,
        prefix: str = "/",
        methods: Iterable[str] | None = None,
        times: int | None = None,
        call: str | None = None,
        **options: Any,
    ) -> Fault:
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; use one of {KINDS}")
        if not prefix.startswith("/"):
            raise ValueError("prefix must start with '/'")
        if times is not None and times < 1:
            raise ValueError("times must be at least 1 (or None: no limit)")
        rule = Fault(
            kind,
            prefix=prefix,
            methods=frozenset(m.upper() for m in methods) if methods is not None else None,
            times=times,
            call=call,
            **options,
        )
        with self._lock:
            self.rules.append(rule)
        return rule

    def latency(self, ms: float, **scope: Any) -> Fault:
        if ms < 0:
            raise ValueError("latency must not be negative")
        return self.add("latency", latency_ms=ms, **scope)

    def server_error(self, status: int = 500, **scope: Any) -> Fault:
        if not 500 <= status <= 599:
            raise ValueError("status must be a 5xx code")
        return self.add("error", status=status, **scope)

    def rate_limit(self, *, retry_after: int | None = None, auth: bool = False, **scope: Any) -> Fault:
        if retry_after is not None and retry_after < 0:
            raise ValueError("retry_after must not be negative")
        return self.add("ratelimit", retry_after=retry_after, auth=auth, **scope)

    def malformed_json(self, **scope: Any) -> Fault:
        return self.add("malformed", **scope)

    def reset_connection(self, **scope: Any) -> Fault:
        return self.add("reset", **scope)

    def truncate_sse(self, after: int = 1, *, reset: bool = False, **scope: Any) -> Fault:
        if after < 0:
            raise ValueError("after must not be negative")
        return self.add("truncate-sse", after=after, reset=reset, **scope)

    def expire_tokens(self, **scope: Any) -> Fault:
        return self.add("expire-tokens", **scope)

    def remove(self, rule: Fault) -> None:
        with self._lock:
            self.rules = [r for r in self.rules if r is not rule]

    def clear(self) -> None:
        with self._lock:
            self.rules = []

    def invalidate_tokens(self) -> int:
        """Make every OAuth access token issued so far invalid; returns how many were live."""
        sb = self._sandbox
        with sb.lock:
            now = sb.now()
            live = [info for info in sb.tokens.values() if info.grant_type == "access_token" and info.expiry > now]
            for info in live:
                info.expiry = now
        return len(live)

    # ------------------------------------------------------------------ serving
    def take(self, method: str, path: str, body: bytes = b"") -> _Plan | None:
        """The faults for one request (counted against their budgets), or None."""
        if not self.rules:
            return None
        with self._lock:
            matched = [rule for rule in self.rules if rule.matches(method, path, body)]
            for rule in matched:
                rule.hits += 1
                if rule.times is not None:
                    rule.times -= 1
        return _Plan(self, matched) if matched else None

    def describe(self) -> list[str]:
        lines = []
        for rule in self.rules:
            scope = rule.prefix + (f" ({', '.join(sorted(rule.methods))})" if rule.methods else "")
            scope += f" calling {rule.call}" if rule.call else ""
            detail = {
                "latency": f" {rule.latency_ms:g} ms",
                "error": f" {rule.status}",
                "ratelimit": f" (Retry-After {rule.retry_after})" if rule.retry_after is not None else "",
            }.get(rule.kind, "")
            budget = "" if rule.times is None else f", next {rule.times} requests"
            lines.append(f"{rule.kind}{detail} on {scope}{budget}")
        return lines


def _calls(body: bytes, method: str) -> bool:
    """Whether a JMAP request body calls `method` (any of its methodCalls)."""
    try:
        request = json.loads(body)
        return any(isinstance(c, list) and c and c[0] == method for c in request.get("methodCalls", []))
    except (ValueError, AttributeError):
        return False


def parse_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``KIND[:PREFIX]`` (the CLI's ``--fault``) -> (kind, scope); "error503" sets the status,
    "ratelimit30" a Retry-After of 30 seconds."""
    kind, _, prefix = spec.partition(":")
    options: dict[str, Any] = {}
    if kind.startswith("error") and kind[5:].isdigit():
        kind, options["status"] = "error", int(kind[5:])
    if kind.startswith("ratelimit") and kind[9:].isdigit():
        kind, options["retry_after"] = "ratelimit", int(kind[9:])
    if kind not in KINDS or kind == "latency":
        raise ValueError(f"unknown fault {spec!r}")
    if prefix:
        options["prefix"] = prefix
    return kind, options


# ---------------------------------------------------------------------- ASGI helpers
async def _wait_unless_disconnected(seconds: float, receive: Receive) -> bool:
    """Sleep; False when the client went away first (nobody is waiting for the answer)."""

    async def disconnected() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    sleeper = asyncio.ensure_future(asyncio.sleep(seconds))
    watcher = asyncio.ensure_future(disconnected())
    try:
        await asyncio.wait([sleeper, watcher], return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (sleeper, watcher):
            task.cancel()
        await asyncio.gather(sleeper, watcher, return_exceptions=True)
    return watcher.cancelled()


async def _send_problem(send: Send, status: int) -> None:
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Server Error"
    body = json.dumps(
        {"type": "about:blank", "status": status, "title": phrase, "detail": "There was a problem."},
        separators=(",", ":"),
    ).encode()
    headers = [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# The bodies of Stalwart's two 429 answers (api-behaviour §1.5); it sends no Retry-After.
_RATE_LIMITED = {
    False: ("Too Many Requests", "Your request has been rate limited. Please try again in a few seconds."),
    True: (
        "Too Many Authentication Attempts",
        "Your request has been rate limited. Please try again in a few minutes.",
    ),
}


async def _send_rate_limited(send: Send, *, auth: bool, retry_after: int | None) -> None:
    title, detail = _RATE_LIMITED[auth]
    body = json.dumps(
        {"type": "about:blank", "status": 429, "title": title, "detail": detail}, separators=(",", ":")
    ).encode()
    headers = [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode())]
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    await send({"type": "http.response.start", "status": 429, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _transport(send: Send) -> Any:
    """The asyncio transport behind uvicorn's ``send`` (its request cycle keeps it)."""
    return getattr(getattr(send, "__self__", None), "transport", None)


async def reset_connection(send: Send, receive: Receive) -> None:
    """Reset the client's connection without an answer.

    Under uvicorn the socket gets ``SO_LINGER`` 0 and the transport is aborted: the kernel
    sends a TCP RST. Then wait until the server has noticed, so it does not answer "500" in
    the app's place. Elsewhere, fall back to a response that promises a body it never sends.
    """
    transport = _transport(send)
    if transport is None or not hasattr(transport, "abort"):
        headers = [(b"content-type", b"application/json"), (b"content-length", b"4096")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b'{"data":', "more_body": True})
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    with contextlib.suppress(Exception):
        async with asyncio.timeout(5):
            while (await receive())["type"] != "http.disconnect":
                pass


_DATA_LINE = re.compile(rb"^data: ?(.*)$", re.MULTILINE)


def _half_data(chunk: bytes) -> bytes:
    """An event-stream chunk whose `data:` lines keep only their first half."""
    return _DATA_LINE.sub(lambda match: b"data: " + match.group(1)[: len(match.group(1)) // 2], chunk)


def _truncating(send: Send) -> Send:
    """A ``send`` that cuts a whole answer in half, as a broken proxy might (in an event
    stream: the data of every event)."""
    held: dict | None = None
    streamed = False

    async def wrapped(message: dict) -> None:
        nonlocal held, streamed
        if message["type"] == "http.response.start":
            held = message
            return
        if streamed and message["type"] == "http.response.body":
            await send({**message, "body": _half_data(message.get("body", b""))})
            return
        if message["type"] == "http.response.body" and held is not None:
            start, held = held, None
            if message.get("more_body"):  # an event stream: its events' data is garbled instead
                streamed = True
                await send(start)
                await send({**message, "body": _half_data(message.get("body", b""))})
                return
            body = message.get("body", b"")
            cut = body[: len(body) // 2] if len(body) >= 2 else b'{"data":'
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() not in (b"content-length",)]
            if not any(k.lower() == b"content-type" for k, _ in headers):
                headers.append((b"content-type", b"application/json"))
            headers.append((b"content-length", str(len(cut)).encode()))
            await send({**start, "headers": headers})
            await send({**message, "body": cut})
            return
        await send(message)

    return wrapped


class StreamCut(Exception):
    """Raised into a stream's producer once the fault ended the stream."""


def _cutting(send: Send, receive: Receive, after: int, reset: bool) -> Send:
    """A ``send`` that ends an event stream after ``after`` body chunks."""
    streaming = False
    chunks = 0
    cut = False

    async def finish() -> None:
        nonlocal cut
        cut = True
        if reset:
            await reset_connection(send, receive)
        else:
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def wrapped(message: dict) -> None:
        nonlocal streaming, chunks
        if cut:
            raise StreamCut()
        if message["type"] == "http.response.start":
            headers = dict((k.lower(), v) for k, v in message.get("headers", []))
            streaming = headers.get(b"content-type", b"").startswith(b"text/event-stream")
            await send(message)
            if streaming and after == 0:
                await finish()
            return
        if streaming and message["type"] == "http.response.body" and message.get("body"):
            await send({**message, "more_body": True})
            chunks += 1
            if chunks >= after:
                await finish()
            return
        await send(message)

    return wrapped
