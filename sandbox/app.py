"""ASGI application of the sandbox: raw-path routing, authentication and error conversion."""

from __future__ import annotations

import asyncio
import importlib
import logging
import traceback

from . import limits
from .auth import authenticate_request
from .errors import ManagementError, ProblemError
from .faults import reset_connection
from .http import (
    MAX_JSON_BODY,
    PROBLEM_CONTENT_TYPE,
    Request,
    Response,
    dump_json,
    empty_response,
    json_response,
)
from .routing import API_MODULES, QUERY_TOKEN_FALLBACKS, ROUTE_MODULES, TOP_LEVEL
from .state import RequestRecord, Sandbox

log = logging.getLogger("sandbox")

_REALM_HEADERS = [
    ("www-authenticate", 'Bearer realm="Stalwart Server"'),
    ("www-authenticate", 'Basic realm="Stalwart Server"'),
]


def load_routes() -> None:
    for module in ROUTE_MODULES:
        importlib.import_module(module)


def error_response(sb: Sandbox, exc: Exception) -> Response:
    if isinstance(exc, ManagementError):
        return json_response(exc.body)
    if isinstance(exc, ProblemError):
        headers = []
        if exc.status == 401 and sb.at_least((0, 13)):
            # v0.13+: every 401 names the realms except a failed sign-in at /api
            if not getattr(exc, "bare_401", False):
                headers = list(_REALM_HEADERS)
        elif exc.auth_failed and exc.status == 401 and sb.at_least((0, 12)):
            headers = list(_REALM_HEADERS)
        return Response(exc.status, dump_json(exc.body()), PROBLEM_CONTENT_TYPE, headers)
    log.error("sandbox handler crashed:\n%s", "".join(traceback.format_exception(exc)))
    return error_response(sb, ProblemError.internal())


def _api(sb: Sandbox, req: Request) -> Response:
    if req.method == "OPTIONS":
        return empty_response(204)
    try:
        req.access = authenticate_request(sb, req)
    except ProblemError as exc:
        if exc.auth_failed:
            for fallback in QUERY_TOKEN_FALLBACKS:
                response = fallback(sb, req)
                if response is not None:
                    return response
            exc.bare_401 = True
        raise
    module = req.elements[1] if len(req.elements) > 1 else ""
    handler = API_MODULES.get(module)
    if handler is None:
        raise ProblemError.not_found()
    return handler(sb, req)


def dispatch(sb: Sandbox, req: Request) -> Response:
    """Route one request and turn raised API errors into responses."""
    if limits.is_blocked(sb, req.client_ip):
        return empty_response(403)  # a banned forwarded address (a banned socket never gets here)
    if sb.generation == "jmap":  # Stalwart 0.16: its own front-end over the same state
        from .jmap.front import dispatch as dispatch_jmap

        return dispatch_jmap(sb, req)
    try:
        first = req.elements[0] if req.elements else ""
        if first == "api":
            return _api(sb, req)
        handler = TOP_LEVEL.get(first)
        if handler is not None:
            response = handler(sb, req)
            if response is not None:
                return response
        raise ProblemError.not_found()
    except Exception as exc:  # noqa: BLE001 - converted in one place
        return error_response(sb, exc)


def _auth_scheme(header: str | None) -> str | None:
    if header is None:
        return None
    scheme = header.split(" ", 1)[0]
    lowered = scheme.lower()
    if lowered == "basic":
        return "Basic"
    if lowered == "bearer":
        return "Bearer"
    return scheme


def _configured_headers(sb: Sandbox) -> list[tuple[str, str]]:
    """CORS headers when ``server.http.permissive-cors`` is true (§1.6)."""
    if sb.settings.get("server.http.permissive-cors", "false").lower() != "true":
        return []
    return [
        ("access-control-allow-origin", "*"),
        ("access-control-allow-headers", "Authorization, Content-Type, Accept, X-Requested-With"),
        ("access-control-allow-methods", "POST, GET, PATCH, PUT, DELETE, HEAD, OPTIONS"),
    ]


async def _send_stream(stream, receive, send) -> None:
    """Send a streamed body (SSE) until it ends or the client disconnects; always closes it."""

    async def pump() -> None:
        async for chunk in stream:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def disconnected() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    tasks = [asyncio.ensure_future(pump()), asyncio.ensure_future(disconnected())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await stream.aclose()


def create_app(sandbox: Sandbox):
    """Return an ASGI app serving ``sandbox``."""
    load_routes()

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return

        raw_path = scope.get("raw_path") or scope["path"].encode("utf-8")
        path = raw_path.decode("utf-8", errors="surrogateescape")
        query = scope.get("query_string", b"").decode("utf-8", errors="surrogateescape")
        headers: dict[str, str] = {}
        for name, value in scope.get("headers", []):
            key = name.decode("latin-1").lower()
            if key not in headers:
                headers[key] = value.decode("latin-1")

        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            data = message.get("body", b"")
            size += len(data)
            if size <= MAX_JSON_BODY:
                chunks.append(data)
            more = message.get("more_body", False)
        body = b"".join(chunks) if size <= MAX_JSON_BODY else None

        client = scope.get("client") or ("127.0.0.1", 0)
        with sandbox.lock:
            address = limits.client_address(sandbox, client[0], headers)
            banned_socket = limits.is_blocked(sandbox, client[0])
        req = Request(
            method=scope["method"].upper(),
            raw_path=path,
            query_string=query,
            headers=headers,
            body=body,
            client_ip=address,
            base_url=f"http://{headers.get('host', 'localhost')}",
        )
        record = RequestRecord(req.method, path, query, _auth_scheme(headers.get("authorization")), address=address)
        sandbox.requests.append(record)
        if banned_socket:  # the listener drops a banned address's connections unanswered
            await reset_connection(send, receive)
            return
        faults = sandbox.faults.take(req.method, path, body or b"")  # injected failures, see sandbox.faults
        if faults is not None and (send := await faults.apply(record, receive, send)) is None:
            return
        with sandbox.lock:
            response = dispatch(sandbox, req)
            extra_headers = _configured_headers(sandbox)
        record.status = response.status
        response.headers.extend(extra_headers)

        out_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.all_headers()]
        if response.stream is not None:
            await send({"type": "http.response.start", "status": response.status, "headers": out_headers})
            await _send_stream(response.stream, receive, send)
            return
        out_headers.append((b"content-length", str(len(response.body)).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": out_headers})
        await send({"type": "http.response.body", "body": response.body})

    app.sandbox = sandbox
    return app
