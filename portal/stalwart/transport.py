"""The one transport: pooled `httpx.AsyncClient`s, and the one mapping of failures to errors.

Every backend (REST `client.py`, the JMAP client, OAuth, event streams, the generation
probe) turns what went wrong into the portal's error tree (`errors.py`) here:
`failure()` for a request that got no answer (timeouts, refused or reset connections,
broken streams), `status_failure()` for a non-2xx answer (the server's error families:
problem+json, 401/403/404/429/5xx) and `decode_response()` for a REST answer (its `data`,
or a management error, or an unreadable body).


Under uvicorn a portal process runs one event loop, so it shares one pool for API calls
and a few small ones for event streams (delivery checks, live tracing and metrics; see
`_StreamPools`); their connections are asyncio's own (`network.py`). Streams hold their
connection for as long as someone watches; in pools of their own they never keep a page
waiting for a connection. A loop that is gone (tests run each request in a fresh loop)
takes its clients with it.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import logging
import ssl
import time
import weakref
from typing import Any, Protocol
from urllib.parse import urlencode

import httpcore
import httpx
from django.conf import settings
from django.utils.translation import gettext

from . import errors
from .network import AsyncioBackend

log = logging.getLogger("portal.stalwart")

JSON_TYPES = ("application/json", "application/problem+json")

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = weakref.WeakKeyDictionary()
_stream_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _StreamPools] = weakref.WeakKeyDictionary()
_transports: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncHTTPTransport] = (
    weakref.WeakKeyDictionary()
)

USER_AGENT = "stalwart-admin-portal"


def timeout() -> httpx.Timeout:
    return httpx.Timeout(settings.STALWART_TIMEOUT, connect=settings.STALWART_CONNECT_TIMEOUT)


API_LIMITS = httpx.Limits(max_connections=200, max_keepalive_connections=50, keepalive_expiry=30)


class _ConnectionPool(httpcore.AsyncConnectionPool):
    """httpcore's pool, with its housekeeping linear in the number of connections, and without
    asking every idle connection's socket whether the server closed it on every request.

    httpcore 1.0 runs `_assign_requests_to_connections` whenever a request joins or leaves
    the pool. There it measured the pool once for every idle connection by building a list of
    all of them (quadratic in the pool's size; a report list fetching 25 details at once made
    some 40,000 such calls per page), built the list of idle connections again for every
    queued request, and asked every idle connection `has_expired()`: a `poll()` of its socket
    through anyio, which builds its dictionary of extra attributes on each call. On the cold
    report list that last check was over a third of the portal's CPU time.

    This copy of the method (tests/test_speed_tripwire.py pins httpcore's) keeps its rules:
    a connection the server closed is never handed out (the one about to be given to a
    request is asked first, and replaced if it expired), closed ones leave the pool, idle ones
    beyond the keep-alive limit are closed, and a full pool recycles an idle connection. Idle
    connections nobody asks for are checked in a sweep at most once a second, so one the
    server closed, or whose keep-alive ran out, is closed within a second of the next request.
    """

    _sweep_every = 1.0
    _next_sweep = 0.0

    def _assign_requests_to_connections(self) -> list[Any]:
        closing_connections: list[Any] = []
        now = time.monotonic()
        sweep = now >= self._next_sweep
        if sweep:
            self._next_sweep = now + self._sweep_every
        for connection in list(self._connections):
            if connection.is_closed():
                self._connections.remove(connection)
            elif not connection.is_idle():
                # In use: its keep-alive clock is off (httpcore clears it when a request
                # starts) and a failed connect reads as closed, so it cannot have expired.
                continue
            elif len(self._connections) > self._max_keepalive_connections or (sweep and connection.has_expired()):
                self._connections.remove(connection)
                closing_connections.append(connection)

        for pool_request in [request for request in self._requests if request.is_queued()]:
            origin = pool_request.request.url.origin
            connection = self._available(origin, closing_connections)
            if connection is not None:
                pool_request.assign_to_connection(connection)
            elif len(self._connections) < self._max_connections:
                connection = self.create_connection(origin)
                self._connections.append(connection)
                pool_request.assign_to_connection(connection)
            else:
                idle = next((each for each in self._connections if each.is_idle()), None)
                if idle is not None:
                    self._connections.remove(idle)
                    closing_connections.append(idle)
                    connection = self.create_connection(origin)
                    self._connections.append(connection)
                    pool_request.assign_to_connection(connection)
        return closing_connections

    def _available(self, origin: httpcore.Origin, closing_connections: list[Any]) -> Any:
        """The first connection that can take a request for `origin` now; an idle one is
        asked first whether it expired (keep-alive ran out, or the server closed it)."""
        for connection in list(self._connections):
            if not (connection.can_handle_request(origin) and connection.is_available()):
                continue
            if connection.is_idle() and connection.has_expired():
                self._connections.remove(connection)
                closing_connections.append(connection)
                continue
            return connection
        return None

    @property
    def load(self) -> int:
        """Requests in the pool: waiting for a connection, or answered and not yet closed."""
        return len(self._requests)


def _transport(limits: httpx.Limits, verify: ssl.SSLContext | bool | None = None) -> httpx.AsyncHTTPTransport:
    # The pool's limits belong to the transport: a client given its own transport ignores
    # the `limits` it is passed. Connection failures are retried once; requests never are.
    verify = settings.STALWART_VERIFY_TLS if verify is None else verify
    transport = httpx.AsyncHTTPTransport(retries=1, verify=verify, limits=limits)
    if type(transport._pool) is httpcore.AsyncConnectionPool:  # the same object, less work
        transport._pool.__class__ = _ConnectionPool
        transport._pool._network_backend = AsyncioBackend()  # see network.py
    return transport


class _KeepsNoCookies(httpx.Cookies):
    """A cookie jar that never takes a cookie from an answer (it stays empty)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class _SharedClient(httpx.AsyncClient):
    """The pooled client that every signed-in person's calls share.

    Stalwart's API authenticates each call by its own header. A cookie in an answer (a load
    balancer's stickiness cookie in front of Stalwart, say) would be kept in the client's one
    jar and sent with everyone's calls after it: answers' cookies are never kept. That also
    spares httpx building a urllib request around every answer to look for them (about 2 % of
    an account list page's CPU time).
    """

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._cookies = _KeepsNoCookies()  # what `client.cookies` returns (tests/stalwart/test_connection_pool.py)


def _build(transport: httpx.AsyncHTTPTransport) -> httpx.AsyncClient:
    return _SharedClient(
        base_url=settings.STALWART_URL,
        timeout=timeout(),
        verify=settings.STALWART_VERIFY_TLS,
        headers={"User-Agent": USER_AGENT},
        follow_redirects=False,
        transport=transport,
    )


def _stale(client: httpx.AsyncClient) -> bool:
    return client.is_closed or str(client.base_url).rstrip("/") != settings.STALWART_URL


def api_url(path: str, query: dict[str, str]) -> str:
    """The absolute URL of an API call (`path` already encoded, as `paths.api_path()` makes it).

    Given a relative path and `params`, httpx parses the URL three times (joining the base,
    then merging the query); an absolute URL with its query encoded the same way
    (`urlencode`, as httpx does) is parsed once.
    """
    url = settings.STALWART_URL + path
    return f"{url}?{urlencode(query)}" if query else url


@functools.lru_cache(maxsize=2048)
def parsed(url: str) -> httpx.URL:
    """`url` parsed once: httpx parses (and checks every character of) a URL given as text on
    each request, and pages ask for the same few URLs again and again."""
    return httpx.URL(url)


def shared_client() -> httpx.AsyncClient:
    """The pool for API calls: up to 200 connections per process."""
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None or _stale(client):
        transport = _transports[loop] = _transport(API_LIMITS)
        client = _clients[loop] = _build(transport)
    return client


#: Event streams per connection pool (see `_StreamPools`).
STREAMS_PER_POOL = 50


class _StreamPools:
    """Connections for event streams, in pools of at most `STREAMS_PER_POOL`.

    A stream holds its connection for as long as someone watches, so with a thousand checks
    open a single pool held a thousand busy connections, and httpcore walks all of them (and
    all of its requests) whenever a request joins or leaves: 2-3 ms of CPU for every stream
    opened or closed, an eighth of the relay's work. Each new stream goes to the pool with
    the fewest, and a pool is added when all are full, up to `STALWART_MAX_STREAMS` streams in
    all; beyond that a stream waits in the least busy pool, as it waited in the one before.
    The pools share one TLS context (building one reads the system's certificates).
    """

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self.url = settings.STALWART_URL
        self.clients: list[httpx.AsyncClient] = []
        self.pools: list[_ConnectionPool] = []
        self._verify: ssl.SSLContext | bool | None = None

    def client(self) -> httpx.AsyncClient:
        loads = [pool.load for pool in self.pools]
        index = min(range(len(loads)), key=loads.__getitem__, default=-1)
        capacity = len(self.pools) * STREAMS_PER_POOL
        if index < 0 or (loads[index] >= self.pools[index]._max_connections and capacity < self.limit):
            return self._add(min(STREAMS_PER_POOL, self.limit - capacity))
        return self.clients[index]

    def _add(self, size: int) -> httpx.AsyncClient:
        if self._verify is None:
            self._verify = httpx.create_ssl_context() if settings.STALWART_VERIFY_TLS else False
        transport = _transport(
            httpx.Limits(max_connections=size, max_keepalive_connections=5, keepalive_expiry=30), self._verify
        )
        client = _build(transport)
        self.clients.append(client)
        self.pools.append(transport._pool)  # type: ignore[arg-type]  # made a _ConnectionPool in _transport
        return client

    def stale(self) -> bool:
        """Made for another Stalwart or another limit, or closed."""
        return (
            self.url != settings.STALWART_URL
            or self.limit != max(1, settings.STALWART_MAX_STREAMS)
            or any(client.is_closed for client in self.clients)
        )

    async def aclose(self) -> None:
        for client in self.clients:
            await client.aclose()


def stream_client() -> httpx.AsyncClient:
    """A client for one event stream: up to `STALWART_MAX_STREAMS` open at once per process."""
    loop = asyncio.get_running_loop()
    pools = _stream_pools.get(loop)
    if pools is None or pools.stale():
        pools = _stream_pools[loop] = _StreamPools(settings.STALWART_MAX_STREAMS)
    return pools.client()


def shared_transport() -> httpx.AsyncHTTPTransport:
    """The connection pool behind `shared_client()`, for authlib's token client."""
    shared_client()
    return _transports[asyncio.get_running_loop()]


async def close_shared_client() -> None:
    loop = asyncio.get_running_loop()
    _transports.pop(loop, None)
    client = _clients.pop(loop, None)
    if client is not None:
        await client.aclose()
    pools = _stream_pools.pop(loop, None)
    if pools is not None:
        await pools.aclose()


class Caller(Protocol):
    """What an API-area module needs of the client it is attached to (`client.StalwartClient`)."""

    @property
    def authorization(self) -> str: ...

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        content_type: str = "application/octet-stream",
    ) -> Any: ...

    async def request_raw(self, method: str, path: str, *, params: dict[str, Any] | None = None) -> bytes: ...


# --- what went wrong, in the portal's terms ------------------------------------------------
# Failures that happen before a request leaves the portal: Stalwart cannot have acted on it.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol, httpx.ProxyError)


def was_sent(exc: BaseException) -> bool:
    """Whether the failed request may have reached Stalwart (and so may have changed something)."""
    return not isinstance(exc, _NOT_SENT)


def elapsed_ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def failure(
    exc: BaseException,
    operation: str,
    *,
    started: float | None = None,
    timed_out: str = "",
    broken: str = "",
) -> errors.StalwartError:
    """The error for a request (or a stream) that got no usable answer.

    A timeout (httpx's or asyncio's) is `StalwartTimeout`, anything else (refused, reset,
    a protocol error, a broken stream) `StalwartUnavailable`; both say whether the request
    may have reached Stalwart. `timed_out`/`broken` replace the default sentences. Callers
    raise it `from exc`.
    """
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        took = f" after {elapsed_ms(started):.0f} ms" if started is not None else ""
        log.warning("stalwart timeout: %s%s", operation, took)
        return errors.StalwartTimeout(
            timed_out or gettext("Stalwart did not answer in time."), operation=operation, sent=was_sent(exc)
        )
    log.warning("stalwart unreachable: %s: %s", operation, type(exc).__name__)
    return errors.StalwartUnavailable(
        broken or gettext("Stalwart could not be reached."), operation=operation, sent=was_sent(exc)
    )


def json_or_none(response: httpx.Response) -> Any:
    """The decoded JSON body, or None when the answer is not JSON or cannot be read."""
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in JSON_TYPES:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def status_failure(
    response: httpx.Response, operation: str, *, body: Any = None, started: float | None = None
) -> errors.StalwartStatusError:
    """The error for a non-2xx answer (`body`: its decoded JSON, read here when not given)."""
    if body is None:
        body = json_or_none(response)
    error = errors.status_error(
        response.status_code,
        body,
        operation=operation,
        retry_after=errors.parse_retry_after(response.headers.get("retry-after")),
    )
    elapsed = elapsed_ms(started) if started is not None else 0.0
    level = logging.WARNING if response.status_code >= 500 else logging.INFO
    log.log(level, "stalwart %s: %s -> %s %s (%.0f ms)", "error", operation, response.status_code, error.title, elapsed)
    return error


def decode_response(response: httpx.Response, *, operation: str, started: float | None = None) -> Any:
    """A REST answer's `data`, or the matching error raised."""
    body = json_or_none(response)
    if response.status_code >= 300:
        raise status_failure(response, operation, body=body, started=started)
    if not isinstance(body, dict):
        elapsed = elapsed_ms(started) if started is not None else 0.0
        log.warning("stalwart bad response: %s -> %s (%.0f ms)", operation, response.status_code, elapsed)
        raise errors.StalwartBadResponse(
            gettext("Stalwart sent an answer the portal cannot read."), operation=operation
        )
    if "error" in body and "data" not in body:
        error = errors.management_error(body, operation=operation)
        log.info("stalwart management error: %s -> %s", operation, error.code)
        raise error
    if "data" not in body:
        raise errors.StalwartBadResponse(gettext("Stalwart's answer has no data."), operation=operation)
    return body["data"]


def authorization(access_token: str | None, basic: tuple[str, str] | None) -> str:
    """The Authorization header for one person: a bearer token, or Basic credentials (exactly one)."""
    if (access_token is None) == (basic is None):
        raise ValueError("Give either an access token or Basic credentials.")
    if access_token is not None:
        return f"Bearer {access_token}"
    assert basic is not None
    return "Basic " + base64.b64encode(f"{basic[0]}:{basic[1]}".encode()).decode("ascii")
