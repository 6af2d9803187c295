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


def _build(transport: httpx.AsyncHTTPTransport, limits: httpx.Limits | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=settings.STALWART_URL,
        timeout=timeout(),
        limits=limits or httpx.Limits(max_connections=200, max_keepalive_connections=50, keepalive_expiry=30),
        verify=settings.STALWART_VERIFY_TLS,
        headers={"User-Agent": USER_AGENT},
        follow_redirects=False,
        transport=transport,
    )


def shared_client() -> httpx.AsyncClient:
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None or client.is_closed or str(client.base_url).rstrip("/") != settings.STALWART_URL:
        # Connection failures are retried once; requests never are.
        transport = _transports[loop] = httpx.AsyncHTTPTransport(retries=1, verify=settings.STALWART_VERIFY_TLS)
        client = _clients[loop] = _build(transport)
    return client


def stream_client() -> httpx.AsyncClient:
    """The pool for event streams: up to `STALWART_MAX_STREAMS` open at once per process."""
    loop = asyncio.get_running_loop()
    client = _stream_clients.get(loop)
    if client is None or client.is_closed or str(client.base_url).rstrip("/") != settings.STALWART_URL:
        transport = httpx.AsyncHTTPTransport(retries=1, verify=settings.STALWART_VERIFY_TLS)
        limits = httpx.Limits(
            max_connections=settings.STALWART_MAX_STREAMS, max_keepalive_connections=20, keepalive_expiry=30
        )
        client = _stream_clients[loop] = _build(transport, limits)
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
