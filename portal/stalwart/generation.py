"""Which API a Stalwart server speaks: "rest" (<= 0.15) or "jmap" (0.16 and later).

One unauthenticated request tells them apart (v0.16 jmap-management.md §6.1):
`GET /api/discover/<probe address>` answers 200 with an OpenID discovery document on
0.16+, and 401 on every earlier release (their `/api` router authenticates first). The
probe address names no real account (the server only uses its domain to pick an external
OIDC directory). The answer is kept per server URL for `STALWART_API_CACHE_SECONDS`;
`STALWART_API=rest|jmap` skips the question.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any, Literal

import httpx
from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext

from . import errors
from .transport import api_url, failure, shared_client

log = logging.getLogger("portal.stalwart")

Generation = Literal["rest", "jmap"]
REST: Generation = "rest"
JMAP: Generation = "jmap"
PROBE_ADDRESS = "probe@example.invalid"
PROBE_PATH = "/api/discover/" + PROBE_ADDRESS


def _cache_key(url: str) -> str:
    return "stalwart-generation:" + hashlib.sha256(url.encode()).hexdigest()[:32]


async def detect(*, fresh: bool = False) -> Generation:
    """The generation of the server at `STALWART_URL` (forced, cached, or asked now).

    `fresh` asks the server again (a live session found the server changed under it).
    Raises a transport error when the server cannot be asked.
    """
    forced = settings.STALWART_API
    if forced == REST or forced == JMAP:
        return REST if forced == REST else JMAP
    key = _cache_key(settings.STALWART_URL)
    if not fresh:
        known = await cache.aget(key)
        if known in (REST, JMAP):
            return known  # type: ignore[no-any-return]
    generation = await _probe()
    await cache.aset(key, generation, timeout=settings.STALWART_API_CACHE_SECONDS)
    return generation


async def discovery() -> dict[str, Any]:
    """The OpenID discovery document of a 0.16+ server (`/api/discover/<probe>`), kept like the
    generation. Its endpoints may be relative (the server over plain HTTP); join them with
    the server's address."""
    key = _cache_key(settings.STALWART_URL) + ":discovery"
    known = await cache.aget(key)
    if isinstance(known, dict):
        return known
    operation = "GET " + PROBE_PATH
    try:
        response = await shared_client().get(api_url(PROBE_PATH, {}), headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise failure(exc, operation) from exc
    if response.status_code != 200:
        raise errors.status_error(response.status_code, None, operation=operation)
    try:
        document = response.json()
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise errors.StalwartBadResponse(gettext("Stalwart's discovery document is unreadable."), operation=operation)
    await cache.aset(key, document, timeout=settings.STALWART_API_CACHE_SECONDS)
    return document


async def _probe() -> Generation:
    operation = "GET " + PROBE_PATH
    try:
        response = await shared_client().get(api_url(PROBE_PATH, {}), headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise failure(exc, operation) from exc
    status = response.status_code
    if status == 200:
        return JMAP
    if status in (401, 404):  # <= 0.15 authenticates every /api route first
        return REST
    if status == 429:
        raise errors.status_error(
            status, None, operation=operation, retry_after=errors.parse_retry_after(response.headers.get("retry-after"))
        )
    log.warning("generation probe: unexpected status %s", status)
    if status >= 500:
        raise errors.status_error(status, None, operation=operation)
    return REST
