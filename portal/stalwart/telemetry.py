"""`/api/telemetry/*` (Enterprise): message history, live tracing and metrics (api-behaviour §15).

Without an Enterprise licence every call raises `EnterpriseRequired`. The two live endpoints
are server-sent event streams; `open_live_traces` and `open_live_metrics` fetch a 60-second
token with the person's own credentials and open the stream with it, so the stream is what
Stalwart would hand an EventSource. The portal relays it; the browser never sees the token or
Stalwart's address. Always `aclose()` a `LiveStream` (or use it with `async with`).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx
from django.conf import settings
from django.utils.translation import gettext

from . import errors
from .observability_types import MetricPoint, TraceEvent, TraceSummary
from .paths import api_path
from .sse import SSEError, SSEEvent, aiter_events
from .transport import decode_response, failure, stream_client
from .types import Page

if TYPE_CHECKING:
    from .transport import Caller

log = logging.getLogger("portal.stalwart")

#: Event ids of the two history lists.
RECEIVED = "smtp.connection-start"
DELIVERY = "delivery.attempt-start"
# Stalwart pings idle trace streams every 30 s; a stream silent for much longer is dead.
LIVE_READ_TIMEOUT = 75.0


def _rfc3339(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment.utcoffset() is not None else moment.isoformat()


class LiveStream:
    """An open SSE answer from Stalwart. Iterate `events()`; `aclose()` ends it upstream.

    `trace_batch(event)` and `metrics_frame(event)` read one frame of this stream as typed
    values; a backend whose server writes frames differently (0.16) gives its own readers."""

    def __init__(
        self,
        response: httpx.Response,
        operation: str,
        *,
        traces: Callable[[SSEEvent], tuple[TraceEvent, ...]] | None = None,
        metrics: Callable[[SSEEvent], tuple[MetricPoint, ...]] | None = None,
    ) -> None:
        self._response = response
        self.operation = operation
        self.closed = False
        self._traces = traces or trace_batch
        self._metrics = metrics or metrics_frame

    def trace_batch(self, event: SSEEvent) -> tuple[TraceEvent, ...]:
        return self._traces(event)

    def metrics_frame(self, event: SSEEvent) -> tuple[MetricPoint, ...]:
        return self._metrics(event)

    async def events(self) -> AsyncIterator[SSEEvent]:
        try:
            async for event in aiter_events(self._response.aiter_bytes()):
                yield event
        except (httpx.HTTPError, SSEError) as exc:
            raise failure(
                exc,
                self.operation,
                timed_out=gettext("Stalwart's live stream went silent."),
                broken=gettext("Stalwart's live stream broke off."),
            ) from exc

    async def aclose(self) -> None:
        if not self.closed:
            self.closed = True
            await self._response.aclose()

    async def __aenter__(self) -> LiveStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def trace_batch(event: SSEEvent) -> tuple[TraceEvent, ...]:
    """The events of one `trace` frame (a JSON array); unreadable ones are skipped."""
    try:
        items = json.loads(event.data)
    except ValueError:
        return ()
    result = []
    for item in items if isinstance(items, list) else ():
        try:
            result.append(TraceEvent.from_api(item))
        except errors.StalwartBadResponse:
            continue
    return tuple(result)


def metrics_frame(event: SSEEvent) -> tuple[MetricPoint, ...]:
    """The values of one `metrics` frame; unreadable ones are skipped."""
    try:
        items = json.loads(event.data)
    except ValueError:
        return ()
    result = []
    for item in items if isinstance(items, list) else ():
        try:
            result.append(MetricPoint.from_api(item))
        except errors.StalwartBadResponse:
            continue
    return tuple(result)


class TelemetryApi:
    def __init__(self, client: Caller) -> None:
        self._client = client

    # --- stored history ------------------------------------------------------------
    async def traces(
        self,
        event_type: str,
        *,
        filter: str = "",
        queue_id: int | None = None,
        page: int = 1,
        limit: int = 25,
    ) -> Page[TraceSummary]:
        """Spans of one type (`RECEIVED` or `DELIVERY`), newest first, with their first
        queue or delivery event. `filter` holds keywords (addresses, hosts, IPs; a prefix
        matches, a double-quoted word must match exactly)."""
        if page < 1 or limit < 1:
            raise ValueError("page and limit start at 1 (0 would mean 'everything').")
        data = await self._client.request(
            "GET",
            api_path("telemetry", "traces"),
            params={
                "type": event_type,
                "filter": filter.strip(),
                "queue_id": queue_id,
                "page": page,
                "limit": limit,
                "values": 1,
            },
        )
        if not isinstance(data, dict) or not isinstance(data.get("items"), list):
            raise errors.StalwartBadResponse("Unexpected trace list.", operation="GET /api/telemetry/traces")
        items = tuple(TraceSummary.from_api(item) for item in data["items"])
        total = data.get("total")
        return Page(items, total if isinstance(total, int) else len(items))

    async def trace(self, span_id: int) -> tuple[TraceEvent, ...]:
        """Every event of one span, in order (an empty tuple when Stalwart has none)."""
        data = await self._client.request("GET", api_path("telemetry", "trace", span_id))
        if not isinstance(data, list):
            raise errors.StalwartBadResponse("Unexpected trace.", operation="GET /api/telemetry/trace")
        return tuple(TraceEvent.from_api(item) for item in data)

    async def metrics(
        self, *, after: datetime | None = None, before: datetime | None = None, ids: Iterable[str] = ()
    ) -> tuple[MetricPoint, ...]:
        """Stored samples between `after` and `before`; only those of `ids` when given (this
        API has no such filter: the others are dropped here)."""
        data = await self._client.request(
            "GET", api_path("telemetry", "metrics"), params={"after": _rfc3339(after), "before": _rfc3339(before)}
        )
        if not isinstance(data, list):
            raise errors.StalwartBadResponse("Unexpected metrics.", operation="GET /api/telemetry/metrics")
        wanted = frozenset(ids)
        points = (MetricPoint.from_api(item) for item in data)
        return tuple(point for point in points if not wanted or point.id in wanted)

    # --- live streams ------------------------------------------------------------------
    async def tracing_token(self) -> str:
        return self._token(await self._client.request("GET", api_path("telemetry", "live", "tracing-token")))

    async def metrics_token(self) -> str:
        return self._token(await self._client.request("GET", api_path("telemetry", "live", "metrics-token")))

    @staticmethod
    def _token(data: Any) -> str:
        if not isinstance(data, str) or not data:
            raise errors.StalwartBadResponse(gettext("Stalwart did not return a live token."))
        return data

    async def open_live_traces(self, *, text: str = "", keys: Mapping[str, str] | None = None) -> LiveStream:
        """Open the live trace stream: `trace` frames (JSON arrays of events) and `ping`s.

        `text` matches any text value; `keys` (e.g. `{"remoteIp": "192.0.2.1"}`) must all match.
        """
        token = await self.tracing_token()
        params = {key: value for key, value in (keys or {}).items() if key not in ("token", "filter") and value}
        if text:
            params["filter"] = text
        return await open_stream(api_path("telemetry", "traces", "live"), params, token)

    async def open_live_metrics(self, metrics: list[str], *, interval: int = 30) -> LiveStream:
        """Open the live metrics stream: a `metrics` frame now, then one every `interval` seconds."""
        token = await self.metrics_token()
        params = {"interval": str(max(1, interval)), "metrics": ",".join(metrics)}
        return await open_stream(api_path("telemetry", "metrics", "live"), params, token)


async def open_stream(
    path: str,
    params: dict[str, str],
    token: str,
    *,
    traces: Callable[[SSEEvent], tuple[TraceEvent, ...]] | None = None,
    metrics: Callable[[SSEEvent], tuple[MetricPoint, ...]] | None = None,
) -> LiveStream:
    """Open Stalwart's event stream at `path` with a live token (`?token=`); a non-SSE answer
    raises the error it carries."""
    operation = f"GET {path}"
    client = stream_client()
    timeout = httpx.Timeout(LIVE_READ_TIMEOUT, connect=settings.STALWART_CONNECT_TIMEOUT)
    request = client.build_request(
        "GET", path, params={**params, "token": token}, headers={"Accept": "text/event-stream"}, timeout=timeout
    )
    started = time.perf_counter()
    try:
        response = await client.send(request, stream=True)
    except httpx.HTTPError as exc:
        raise failure(exc, operation, started=started) from exc
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if response.status_code == 200 and content_type == "text/event-stream":
        log.info("stalwart live stream opened: %s (%.0f ms)", operation, (time.perf_counter() - started) * 1000)
        return LiveStream(response, operation, traces=traces, metrics=metrics)
    try:
        await response.aread()
    finally:
        await response.aclose()
    decode_response(response, operation=operation, started=started)
    raise errors.StalwartBadResponse(gettext("Stalwart did not answer with an event stream."), operation=operation)
