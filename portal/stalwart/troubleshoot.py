"""`/api/troubleshoot/*`: live delivery checks and DMARC analysis (api-behaviour §14, §2.2).

A delivery check is a server-sent event stream. `TroubleshootApi.delivery()` asks for a
60-second token with the person's own credentials, opens the stream with that token (no
Authorization header, as an EventSource would) and yields its stages as they arrive. The
upstream answer is always closed when the generator ends, fails or is closed early, so a
browser that goes away ends the check at Stalwart too. The token never leaves this module.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import TYPE_CHECKING

import httpx
from django.conf import settings
from django.utils.translation import gettext

from . import errors
from .paths import api_path
from .sse import SSEError, SSEParser
from .tools_types import DeliveryStage, DmarcReport
from .transport import decode_response, failure, stream_client

if TYPE_CHECKING:
    from .transport import Caller

log = logging.getLogger("portal.stalwart")

#: No frame for this long and the check counts as stalled.
DEFAULT_STALL_SECONDS = 30.0


class DeliveryStalled(errors.StalwartTimeout):
    """The delivery stream sent nothing for too long."""


class DeliveryInterrupted(errors.StalwartUnavailable):
    """The delivery stream broke off, or ended before its `completed` stage."""


def stall_seconds() -> float:
    return float(getattr(settings, "TROUBLESHOOT_STALL_SECONDS", DEFAULT_STALL_SECONDS))


def step_timeout(stall: float) -> int:
    """The `timeout` Stalwart gets for each network step: shorter than the stall limit, so a
    slow but healthy step reports its own time-out before the portal gives up."""
    return max(1, int(stall) - 5)


class TroubleshootApi:
    def __init__(self, client: Caller) -> None:
        self._client = client

    async def token(self) -> str:
        data = await self._client.request("GET", api_path("troubleshoot", "token"))
        if not isinstance(data, str) or not data:
            raise errors.StalwartBadResponse(gettext("Stalwart did not return a troubleshooting token."))
        return data

    async def dmarc(self, remote_ip: str, ehlo_domain: str, mail_from: str, message: str | None = None) -> DmarcReport:
        """Check SPF, reverse IP, DKIM, ARC and DMARC as if the message arrived now.

        Without a message Stalwart uses `From: <mail_from>` and checks SPF only. An unreadable
        message raises `errors.OtherError` ("Invalid message body").
        """
        body = {"remoteIp": remote_ip, "ehloDomain": ehlo_domain, "mailFrom": mail_from, "body": message}
        return DmarcReport.from_api(
            await self._client.request("POST", api_path("troubleshoot", "dmarc"), json_body=body)
        )

    def delivery(
        self, target: str, *, token: str | None = None, stall: float | None = None
    ) -> AsyncIterator[DeliveryStage]:
        """The stages of a delivery check of `target` (an address or a domain), as they arrive.

        Ends after the `completed` stage. Raises `DeliveryStalled` when nothing arrives for
        `stall` seconds, `DeliveryInterrupted` when the stream breaks or ends early, and the
        usual errors when it cannot be opened. Without a `token`, the stream is opened with the
        person's own credentials; pass one from `token()` to surface permission and connection
        errors before anything is streamed.
        """
        path = api_path("troubleshoot", "delivery", target.strip().lower())
        return delivery_stream(path, authorization=self._client.authorization, token=token, stall=stall)


async def delivery_stream(
    path: str, *, authorization: str, token: str | None = None, stall: float | None = None
) -> AsyncGenerator[DeliveryStage]:
    """The stages of the delivery check at `path` (`/api/troubleshoot/delivery/…` up to 0.15,
    `/api/live/delivery/…` from 0.16), as `TroubleshootApi.delivery` describes them."""
    stall = stall_seconds() if stall is None else stall
    operation = f"GET {path}"
    params = {"timeout": str(step_timeout(stall))}
    headers = {"Accept": "text/event-stream"}
    if token is None:
        # The portal can send headers (a browser's EventSource cannot): the person's own
        # credentials open the stream, without asking for a token first (§2.2, §14).
        headers["Authorization"] = authorization
    else:
        params["token"] = token
    client = stream_client()
    request = client.build_request(
        "GET",
        path,
        params=params,
        headers=headers,
        # Each read waits at most the stall limit (httpcore times every read of the socket),
        # not the normal page timeout.
        timeout=httpx.Timeout(None, connect=settings.STALWART_CONNECT_TIMEOUT, read=stall),
    )
    started = time.perf_counter()
    try:
        # The answer's head must come within the page timeout; its events then have the
        # stall limit.
        async with asyncio.timeout(settings.STALWART_TIMEOUT):
            response = await client.send(request, stream=True)
    except (httpx.HTTPError, TimeoutError) as exc:
        raise failure(exc, operation, started=started) from exc
    try:
        await _check_stream(response, operation, started)
        log.info("stalwart delivery check opened: %s", operation)
        async for stage in _stages(response, operation, stall):
            yield stage
            if stage.type == "completed":
                return
        raise DeliveryInterrupted(gettext("Stalwart ended the check before it completed."), operation=operation)
    finally:
        await response.aclose()
        log.info("stalwart delivery check closed: %s (%.0f ms)", operation, (time.perf_counter() - started) * 1000)


async def _check_stream(response: httpx.Response, operation: str, started: float) -> None:
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if response.status_code == 200 and content_type == "text/event-stream":
        return
    await response.aread()
    decode_response(response, operation=operation, started=started)
    raise errors.StalwartBadResponse(gettext("Stalwart did not answer with an event stream."), operation=operation)


async def _stages(response: httpx.Response, operation: str, stall: float) -> AsyncIterator[DeliveryStage]:
    # The stall limit is the request's read timeout: no timer of our own for every chunk.
    parser = SSEParser()
    chunks = response.aiter_bytes()
    while True:
        try:
            chunk = await anext(chunks)
        except StopAsyncIteration:
            break
        except httpx.ReadTimeout:
            raise DeliveryStalled(
                gettext("Stalwart sent nothing for %(seconds)s seconds.") % {"seconds": f"{stall:.0f}"},
                operation=operation,
            ) from None
        except httpx.HTTPError as exc:
            raise DeliveryInterrupted(gettext("The connection to Stalwart broke off."), operation=operation) from exc
        try:
            events = parser.feed(chunk)
        except SSEError as exc:
            raise errors.StalwartBadResponse(str(exc), operation=operation) from exc
        for event in events:
            if event.event == "event":
                yield DeliveryStage.from_event(event)
    for event in parser.close():  # pragma: no cover - a stream never ends inside an event
        if event.event == "event":
            yield DeliveryStage.from_event(event)
