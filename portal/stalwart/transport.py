"""Pooled `httpx.AsyncClient`s, one of each kind per event loop.

Under uvicorn a portal process runs one event loop, so it shares one pool for API calls
and one for event streams (delivery checks, live tracing and metrics). Streams hold their
connection for as long as someone watches; in their own pool they never keep a page
waiting for a connection. A loop that is gone (tests run each request in a fresh loop)
takes its clients with it.
"""

from __future__ import annotations

import asyncio
import weakref
from urllib.parse import urlencode

import httpx
from django.conf import settings

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = weakref.WeakKeyDictionary()
_stream_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = weakref.WeakKeyDictionary()
_transports: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncHTTPTransport] = (
    weakref.WeakKeyDictionary()
)

USER_AGENT = "stalwart-admin-portal"


def timeout() -> httpx.Timeout:
    return httpx.Timeout(settings.STALWART_TIMEOUT, connect=settings.STALWART_CONNECT_TIMEOUT)


API_LIMITS = httpx.Limits(max_connections=200, max_keepalive_connections=50, keepalive_expiry=30)


def _transport(limits: httpx.Limits) -> httpx.AsyncHTTPTransport:
    # The pool's limits belong to the transport: a client given its own transport ignores
    # the `limits` it is passed. Connection failures are retried once; requests never are.
    return httpx.AsyncHTTPTransport(retries=1, verify=settings.STALWART_VERIFY_TLS, limits=limits)


def _build(transport: httpx.AsyncHTTPTransport) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=settings.STALWART_URL,
        timeout=timeout(),
        verify=settings.STALWART_VERIFY_TLS,
        headers={"User-Agent": USER_AGENT},
        follow_redirects=False,
        transport=transport,
    )


def _stale(client: httpx.AsyncClient | None) -> bool:
    return client is None or client.is_closed or str(client.base_url).rstrip("/") != settings.STALWART_URL


def api_url(path: str, query: dict[str, str]) -> str:
    """The absolute URL of an API call (`path` already encoded, as `paths.api_path()` makes it).

    Given a relative path and `params`, httpx parses the URL three times (joining the base,
    then merging the query); an absolute URL with its query encoded the same way
    (`urlencode`, as httpx does) is parsed once.
    """
    url = settings.STALWART_URL + path
    return f"{url}?{urlencode(query)}" if query else url


def shared_client() -> httpx.AsyncClient:
    """The pool for API calls: up to 200 connections per process."""
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if _stale(client):
        transport = _transports[loop] = _transport(API_LIMITS)
        client = _clients[loop] = _build(transport)
    return client


def stream_client() -> httpx.AsyncClient:
    """The pool for event streams: up to `STALWART_MAX_STREAMS` open at once per process."""
    loop = asyncio.get_running_loop()
    client = _stream_clients.get(loop)
    if _stale(client):
        limits = httpx.Limits(
            max_connections=settings.STALWART_MAX_STREAMS, max_keepalive_connections=20, keepalive_expiry=30
        )
        client = _stream_clients[loop] = _build(_transport(limits))
    return client


def shared_transport() -> httpx.AsyncHTTPTransport:
    """The connection pool behind `shared_client()`, for authlib's token client."""
    shared_client()
    return _transports[asyncio.get_running_loop()]


async def close_shared_client() -> None:
    loop = asyncio.get_running_loop()
    _transports.pop(loop, None)
    for clients in (_clients, _stream_clients):
        client = clients.pop(loop, None)
        if client is not None:
            await client.aclose()
