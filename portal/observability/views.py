"""Observability: logs, message history, live tracing and the metrics dashboard.

Message history, live tracing and the dashboard are Enterprise features of Stalwart: a person
whose server has no licence gets an explanation instead (without calling Stalwart), and so does
anyone when Stalwart answers "Enterprise feature" anyway (the licence may have lapsed).

The live pages relay Stalwart's event streams through the portal (`StreamingHttpResponse` with an
async iterator): Stalwart's token and address stay on the server; each frame is rendered into an
HTML fragment here, escaped like any page, and the upstream stream is closed as soon as the
browser goes away (the ASGI handler cancels the iterator).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from django.conf import settings
from django.core.handlers.wsgi import WSGIRequest
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.formats import number_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from portal.access import require
from portal.permissions import needs
from portal.request import PortalRequest
from portal.stalwart import errors
from portal.stalwart.observability_types import LEVELS, MetricPoint
from portal.stalwart.sse import SSEEvent, encode_comment, encode_event
from portal.stalwart.telemetry import DELIVERY, RECEIVED, LiveStream
from portal.templatetags.portal import binary_size

from .display import bucket, event_view, human_duration, now_utc, span_summary, sparkline
from .rows import render_rows

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

log = logging.getLogger("portal.observability")

PAGE_SIZES = (25, 50, 100)
LOG_REFRESH_SECONDS = 10


def _int(value: str | None, default: int, *, low: int = 1, high: int = 1_000_000) -> int:
    try:
        number = int(value or "")
    except ValueError:
        return default
    return number if low <= number <= high else default



def _enterprise_notice(request: PortalRequest, feature: str, *, detail: str = "") -> HttpResponse:
    context = {"feature": feature, "detail": detail}
    template = "observability/enterprise.html#notice" if request.htmx else "observability/enterprise.html"
    return render(request, template, context)


# --- logs --------------------------------------------------------------------------
#: How many anchors of newer pages a log URL carries (for its "Newer" link).
TRAIL = 30
_ANCHOR = re.compile(r"^[a-z0-9]{1,13}$")


@dataclass(frozen=True)
class LogQuery:
    """What the logs page shows. A server that pages by anchor (0.16) gives each entry an id:
    the "Older" link then carries the last id of the page (`anchor`), and `trail` keeps the
    anchors of the newer pages, so "Newer" goes back one page too."""

    q: str = ""
    level: str = ""
    page: int = 1
    size: int = 50
    auto: bool = False
    anchor: str = ""
    trail: tuple[str, ...] = ()

    @classmethod
    def from_request(cls, request: PortalRequest) -> LogQuery:
        level = request.GET.get("level", "").upper()
        size = _int(request.GET.get("size"), 50)
        page = _int(request.GET.get("page"), 1)
        anchor = request.GET.get("anchor", "")
        trail = tuple(part for part in request.GET.get("trail", "").split(".") if _ANCHOR.match(part))
        anchored = page > 1 and bool(_ANCHOR.match(anchor))
        return cls(
            q=request.GET.get("q", "").strip()[:200],
            level=level if level in LEVELS else "",
            page=page,
            size=size if size in PAGE_SIZES else 50,
            auto=request.GET.get("auto") == "1",
            anchor=anchor if anchored else "",
            trail=trail[-TRAIL:] if anchored else (),
        )

    def url(self, **changes: object) -> str:
        query = replace(self, **changes)
        params = {
            "q": query.q,
            "level": query.level,
            "page": query.page if query.page != 1 else "",
            "size": query.size if query.size != 50 else "",
            "auto": "1" if query.auto else "",
            "anchor": query.anchor if query.page != 1 else "",
            "trail": ".".join(query.trail) if query.page != 1 else "",
        }
        clean = {key: value for key, value in params.items() if value not in ("", None)}
        return reverse("observability:logs") + ("?" + urlencode(clean) if clean else "")

    @property
    def api_filter(self) -> str:
        """Stalwart filters on a substring of the raw line: the search, else ` LEVEL `."""
        if self.q:
            return self.q
        return f" {self.level} " if self.level else ""

    @property
    def levels(self) -> tuple[str, ...]:
        return LEVELS

    def older(self, last_id: str) -> str:
        """The next page: after `last_id` where entries have ids, else by number."""
        if not last_id:
            return self.url(page=self.page + 1, anchor="", trail=())
        trail = (*self.trail, self.anchor)[-TRAIL:] if self.anchor else ()
        return self.url(page=self.page + 1, anchor=last_id, trail=trail)

    def newer(self) -> str:
        if self.page <= 1:
            return ""
        if not self.anchor or self.page == 2:
            return self.url(page=self.page - 1, anchor="", trail=())
        if not self.trail:  # the anchors of the newer pages are not known: start again
            return self.url(page=1, anchor="", trail=())
        return self.url(page=self.page - 1, anchor=self.trail[-1], trail=self.trail[:-1])


@require_GET
@require(needs("logs-view"))
async def logs(request: PortalRequest) -> HttpResponse:
    query = LogQuery.from_request(request)
    context: dict = {
        "query": query,
        "refresh_seconds": LOG_REFRESH_SECONDS,
        "toggle_url": query.url(auto=not query.auto, page=1),
    }
    try:
        page = await request.stalwart.logs.list(
            filter=query.api_filter, page=query.page, limit=query.size, anchor=query.anchor
        )
    except errors.Unsupported as exc:
        context["problem"] = "not-configured"
        context["problem_detail"] = exc.details
    except errors.OtherError as exc:
        context["problem"] = "unreadable"
        context["problem_detail"] = exc.reason or exc.details
    else:
        entries = [entry for entry in page.items if not query.level or entry.level == query.level]
        has_next = page.total > query.page * query.size
        context.update(
            entries=entries,
            rows=render_rows(entries),
            hidden_by_level=len(page.items) - len(entries),
            first_index=(query.page - 1) * query.size + 1,
            last_index=(query.page - 1) * query.size + len(page.items),
            has_next=has_next,
            previous_url=query.newer(),
            next_url=query.older(page.items[-1].id) if has_next and page.items else "",
        )
    template = "observability/logs.html#results" if request.htmx else "observability/logs.html"
    return render(request, template, context)


# --- message history ----------------------------------------------------------------
HISTORY_KINDS = {
    "received": (_("Received messages"), RECEIVED),
    "delivery": (_("Delivery attempts"), DELIVERY),
}


@dataclass(frozen=True)
class HistoryQuery:
    kind: str
    q: str = ""
    queue: int | None = None
    page: int = 1
    size: int = 25

    @classmethod
    def from_request(cls, request: PortalRequest, kind: str) -> HistoryQuery:
        size = _int(request.GET.get("size"), 25)
        queue = request.GET.get("queue", "").strip()
        return cls(
            kind=kind,
            q=request.GET.get("q", "").strip()[:200],
            queue=int(queue) if queue.isdigit() and len(queue) <= 20 else None,
            page=_int(request.GET.get("page"), 1),
            size=size if size in PAGE_SIZES else 25,
        )

    def url(self, **changes: object) -> str:
        query = replace(self, **changes)
        params = {
            "q": query.q,
            "queue": query.queue if query.queue is not None else "",
            "page": query.page if query.page != 1 else "",
            "size": query.size if query.size != 25 else "",
        }
        clean = {key: value for key, value in params.items() if value not in ("", None)}
        base = reverse("observability:history", kwargs={"kind": query.kind})
        return base + ("?" + urlencode(clean) if clean else "")

    @property
    def sizes(self) -> tuple[int, ...]:
        return PAGE_SIZES


@require_GET
@require(needs("tracing-list"))
async def history(request: PortalRequest, kind: str) -> HttpResponse:
    if kind not in HISTORY_KINDS:
        raise Http404("No such history.")
    user = request.portal_user
    title, event_type = HISTORY_KINDS[kind]
    if not user.enterprise:
        return _enterprise_notice(request, gettext("Message history"))
    query = HistoryQuery.from_request(request, kind)
    context: dict = {
        "query": query,
        "title": title,
        "kinds": HISTORY_KINDS,
        "can_get": user.has("tracing-get"),
        # 0.15: a list without a search covers only the last 24 hours
        "window_hours": user.capabilities.trace_default_window_hours,
    }
    try:
        page = await request.stalwart.telemetry.traces(
            event_type, filter=query.q, queue_id=query.queue, page=query.page, limit=query.size
        )
    except errors.EnterpriseRequired:
        return _enterprise_notice(request, gettext("Message history"))
    except errors.Unsupported as exc:
        context["problem"] = exc.details
    else:
        pages = max(1, -(-page.total // query.size))
        context.update(
            page=page,
            pages=pages,
            previous_url=query.url(page=query.page - 1) if query.page > 1 else "",
            next_url=query.url(page=query.page + 1) if query.page < pages else "",
        )
    template = "observability/history.html#results" if request.htmx else "observability/history.html"
    return render(request, template, context)


@require_GET
@require(needs("tracing-get"))
async def span(request: PortalRequest, span_id: int) -> HttpResponse:
    user = request.portal_user
    if not user.enterprise:
        return _enterprise_notice(request, gettext("Message history"))
    try:
        events = await request.stalwart.telemetry.trace(span_id)
    except errors.EnterpriseRequired:
        return _enterprise_notice(request, gettext("Message history"))
    except errors.Unsupported as exc:
        return render(request, "observability/span.html", {"problem": exc.details, "span_id": span_id})
    if not events:
        raise Http404("Stalwart has no trace with this id. Traces are kept for a limited time.")
    summary = span_summary(events)
    start = events[0].created
    context = {
        "span_id": span_id,
        "summary": summary,
        "timeline": [event_view(event, start) for event in events],
        "back_kind": "received" if summary.received else "delivery",
        "can_list": user.has("tracing-list"),
    }
    return render(request, "observability/span.html", context)


# --- live tracing -------------------------------------------------------------------
@dataclass(frozen=True)
class LiveFilter:
    """`remoteIp:192.0.2.1 domain:example.com words` -> key filters and free text."""

    raw: str
    text: str
    keys: tuple[tuple[str, str], ...]

    @classmethod
    def parse(cls, raw: str) -> LiveFilter:
        raw = raw.strip()[:300]
        words, keys = [], {}
        for word in raw.split():
            key, sep, value = word.partition(":")
            if sep and key and value and key.replace("-", "").isalnum():
                # "remote-ip" and "remoteIp" both name Stalwart's remoteIp key.
                parts = key.split("-")
                keys[parts[0] + "".join(part.capitalize() for part in parts[1:])] = value
            else:
                words.append(word)
        return cls(raw, " ".join(words), tuple(keys.items()))


def _live_seconds(name: str, default: float) -> float:
    return float(getattr(settings, name, default))


@require_GET
@require(needs("tracing-live"))
async def live(request: PortalRequest) -> HttpResponse:
    """The live tracing page. With JavaScript, portal.js streams from `live_stream`; without
    it, "Start" captures a few seconds of events here and shows them."""
    user = request.portal_user
    if not user.enterprise:
        return _enterprise_notice(request, gettext("Live tracing"))
    live_filter = LiveFilter.parse(request.GET.get("filter", ""))
    stream_url = reverse("observability:live-stream")
    if live_filter.raw:
        stream_url += "?" + urlencode({"filter": live_filter.raw})
    context: dict = {"filter": live_filter, "stream_url": stream_url, "captured": None}
    if request.GET.get("capture") == "1":
        capture_seconds = _live_seconds("PORTAL_LIVE_CAPTURE_SECONDS", 5)
        captured: list = []
        try:
            stream = await request.stalwart.telemetry.open_live_traces(
                text=live_filter.text, keys=dict(live_filter.keys)
            )
        except errors.EnterpriseRequired:
            return _enterprise_notice(request, gettext("Live tracing"))
        async with stream:
            try:
                async with asyncio.timeout(capture_seconds):
                    async for event in stream.events():
                        if event.event == "trace":
                            captured.extend(
                                event_view(item, link_spans=False) for item in stream.trace_batch(event)
                            )
                        if len(captured) >= 200:
                            break
            except TimeoutError:
                pass
        context["captured"] = captured
        context["capture_seconds"] = capture_seconds
    return render(request, "observability/live.html", context)


def _stream_limit(request: PortalRequest) -> float:
    """How long one relay may run. Under WSGI Django buffers the whole answer, so keep it short."""
    if isinstance(request, WSGIRequest):
        return _live_seconds("PORTAL_LIVE_CAPTURE_SECONDS", 5)
    return _live_seconds("PORTAL_LIVE_MAX_SECONDS", 900)


def _sse_response(body: AsyncIterator[str]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(body, content_type="text/event-stream")
    response["Cache-Control"] = "no-store"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each frame on at once
    return response


async def _failure_stream(html: str) -> AsyncIterator[str]:
    yield encode_event(html, event="failure")


def _failure_html(title: str, text: str) -> str:
    return render_to_string("observability/live.html#failure", {"title": title, "text": text})


def _enterprise_failure(title: str) -> str:
    return _failure_html(title, gettext("This Stalwart server has no Enterprise licence."))


def _open_failure(exc: errors.StalwartError, enterprise_title: str) -> str:
    if isinstance(exc, errors.EnterpriseRequired):
        return _enterprise_failure(enterprise_title)
    if isinstance(exc, errors.Forbidden):
        return _failure_html(
            gettext("Stalwart refused this"), gettext("Your account lacks the permission Stalwart requires.")
        )
    if isinstance(exc, errors.Unauthorized):
        return _failure_html(gettext("Your session has ended"), gettext("Reload the page to sign in again."))
    log.info("live stream could not start: %s", type(exc).__name__)
    return _failure_html(gettext("The stream could not start"), exc.message)


async def _relay(
    opener: Callable[[], Awaitable[LiveStream]],
    render_frame: Callable[[LiveStream, SSEEvent], str | None],
    *,
    kind: str, enterprise_title: str, limit: float
) -> AsyncIterator[str]:
    """Frames of Stalwart's stream as HTML fragments.

    The upstream stream is opened on the first read (an answer nobody reads costs nothing)
    and closed however the relay ends: finished, broken, timed out, or cancelled because the
    browser went away."""
    stream: LiveStream | None = None
    try:
        try:
            stream = await opener()
        except errors.StalwartError as exc:
            yield encode_event(_open_failure(exc, enterprise_title), event="failure")
            return
        yield encode_comment("connected")
        try:
            async with asyncio.timeout(limit):
                async for event in stream.events():
                    fragment = render_frame(stream, event)
                    if fragment is not None:
                        yield encode_event(fragment, event=kind)
                    elif event.event == "ping":
                        yield encode_comment("ping")
        except TimeoutError:
            yield encode_event(
                _failure_html(
                    gettext("Stopped"), gettext("The stream ran for its maximum time. Start it again to go on.")
                ),
                event="end",
            )
            return
        yield encode_event(_failure_html(gettext("Stream ended"), gettext("Stalwart closed the stream.")), event="end")
    except errors.StalwartError as exc:
        yield encode_event(_failure_html(gettext("The stream broke off"), exc.message), event="failure")
    finally:
        if stream is not None:
            await stream.aclose()
            log.debug("live %s relay closed", kind)


def _trace_fragment(stream: LiveStream, event: SSEEvent) -> str | None:
    if event.event != "trace":
        return None
    views = [event_view(item, link_spans=False) for item in stream.trace_batch(event)]
    if not views:
        return None
    return render_to_string("observability/live.html#events", {"events": views})


@require_GET
@require(needs("tracing-live"))
async def live_stream(request: PortalRequest) -> StreamingHttpResponse:
    """`text/event-stream` for portal.js: `trace` events carry rendered rows."""
    user = request.portal_user
    if not user.enterprise:
        return _sse_response(_failure_stream(_enterprise_failure(gettext("Live tracing is an Enterprise feature"))))
    live_filter = LiveFilter.parse(request.GET.get("filter", ""))
    telemetry = request.stalwart.telemetry
    return _sse_response(
        _relay(
            lambda: telemetry.open_live_traces(text=live_filter.text, keys=dict(live_filter.keys)),
            _trace_fragment,
            kind="trace",
            enterprise_title=gettext("Live tracing is an Enterprise feature"),
            limit=_stream_limit(request),
        )
    )


# --- dashboard ----------------------------------------------------------------------
@dataclass(frozen=True)
class Card:
    title: StrOrPromise
    ids: tuple[str, ...]
    how: str  # "sum", "last" or "mean"
    unit: str  # "count", "bytes" or "ms"
    caption: StrOrPromise


#: Only names Stalwart's metrics history store writes (its list is the same in v0.11.8 and
#: v0.12.4): every connection-start, delivery.attempt-start, the queue-* and message-ingest
#: counters, auth.failed, the security bans and blocks, incoming reports; the gauges queue.count
#: and server.memory; the histograms message-ingest.time/index-time, delivery.total-time,
#: delivery.attempt-time and dns.lookup-time. Successful deliveries (`delivery.delivered`),
#: SMTP rejections and the other gauges are never stored, so a card must not read them.
#: Stalwart 0.16 stores the same list under its own names (crates/common/src/telemetry/metrics/
#: store.rs at v0.16.18): only the queue counters were renamed (`queue.message-queued` was
#: `queue.queue-message`), so a card lists both names; each server writes one of them.
CARDS = (
    Card(_("Queue size"), ("queue.count",), "last", "count", _("Messages waiting in the queue")),
    Card(
        _("Delivery attempts"),
        ("delivery.attempt-start",),
        "sum",
        "count",
        _("Attempts to hand messages to remote servers, successful or not"),
    ),
    Card(
        _("Received messages"),
        ("queue.queue-message", "queue.message-queued"),
        "sum",
        "count",
        _("Messages accepted over SMTP"),
    ),
    Card(
        _("Blocked and banned"),
        (
            "security.ip-blocked",
            "security.authentication-ban",
            "security.abuse-ban",
            "security.scan-ban",
            "security.loiter-ban",
        ),
        "sum",
        "count",
        _("Connections from blocked addresses, and addresses banned for failed sign-ins, abuse, scanning or loitering"),
    ),
    Card(_("Authentication failures"), ("auth.failed",), "sum", "count", _("Failed sign-ins on every protocol")),
    Card(
        _("Connections"),
        (
            "smtp.connection-start",
            "imap.connection-start",
            "pop3.connection-start",
            "manage-sieve.connection-start",
            "http.connection-start",
        ),
        "sum",
        "count",
        _("New SMTP, IMAP, POP3, ManageSieve and HTTP connections"),
    ),
    Card(_("Memory"), ("server.memory",), "last", "bytes", _("Memory used by the server")),
    Card(_("Delivery time"), ("delivery.total-time",), "mean", "ms", _("Average time from submission to delivery")),
)
#: Every metric a card reads (the server is asked only for these).
CARD_METRICS = tuple(sorted({metric for card in CARDS for metric in card.ids}))
PERIODS = {"24h": (_("Last 24 hours"), 24), "7d": (_("Last 7 days"), 7 * 24)}
LIVE_METRICS = (
    ("user.count", _("Accounts"), "count"),
    ("domain.count", _("Domains"), "count"),
    ("queue.count", _("Queued messages"), "count"),
    ("server.memory", _("Memory"), "bytes"),
    ("smtp.active-connections", _("SMTP connections"), "count"),
    ("imap.active-connections", _("IMAP connections"), "count"),
    ("pop3.active-connections", _("POP3 connections"), "count"),
    ("http.active-connections", _("HTTP connections"), "count"),
    ("delivery.active-connections", _("Outgoing deliveries"), "count"),
)


HOUR = timedelta(hours=1)


def _window_end(latest: datetime | None, clock_end: datetime) -> datetime:
    """Where the charts end: after the hour of Stalwart's newest sample, so the last point of
    every chart (and the value shown beside it) is that sample's hour, on the server's clock.

    Stalwart writes its history at the top of each hour; until this hour's write arrives the
    newest sample is an hour old, and a window ending on the portal's clock would end on an
    empty hour. A store that has written nothing for longer keeps the portal's clock, so the
    gap shows."""
    if latest is None or latest < clock_end - 2 * HOUR:
        return clock_end
    return latest.replace(minute=0, second=0, microsecond=0) + HOUR


def _format(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "bytes":
        return binary_size(value)
    if unit == "ms":
        return human_duration(value)
    return number_format(round(value), force_grouping=True)


def _live_values(points: tuple[MetricPoint, ...]) -> list[dict]:
    by_id = {point.id: point for point in points}
    values = []
    for metric_id, label, unit in LIVE_METRICS:
        point = by_id.get(metric_id)
        values.append({"id": metric_id, "label": label, "unit": unit, "value": point.value if point else None})
    return values


async def _first_live_frame(request: PortalRequest) -> list[dict] | None:
    """The values of the first live metrics frame (sent at once), for pages without JavaScript."""
    try:
        stream = await request.stalwart.telemetry.open_live_metrics([m for m, _, _ in LIVE_METRICS])
    except errors.StalwartError as exc:
        if isinstance(exc, errors.Unauthorized):
            raise
        return None
    async with stream:
        try:
            async with asyncio.timeout(_live_seconds("PORTAL_LIVE_FIRST_FRAME_SECONDS", 5)):
                async for event in stream.events():
                    if event.event == "metrics":
                        return _live_values(stream.metrics_frame(event))
        except (TimeoutError, errors.StalwartError):
            return None
    return None


@require_GET
@require(needs("metrics-list"))
async def dashboard(request: PortalRequest) -> HttpResponse:
    user = request.portal_user
    if not user.enterprise:
        return _enterprise_notice(request, gettext("The dashboard"))
    period = request.GET.get("period", "24h")
    if period not in PERIODS:
        period = "24h"
    label, hours = PERIODS[period]
    clock_end = now_utc().replace(minute=0, second=0, microsecond=0) + HOUR
    context: dict = {"period": period, "periods": PERIODS, "period_label": label, "can_live": user.has("metrics-live")}
    try:
        # One hour more than shown: the window may end an hour early (see _window_end).
        points = await request.stalwart.telemetry.metrics(after=clock_end - HOUR * (hours + 1), ids=CARD_METRICS)
    except errors.EnterpriseRequired:
        return _enterprise_notice(request, gettext("The dashboard"))
    except errors.OtherError as exc:
        context["problem"] = exc.details
        context["problem_reason"] = exc.reason
        points = ()
    stamps = [point.timestamp for point in points if point.timestamp is not None]
    end = _window_end(max(stamps, default=None), clock_end)
    start = end - HOUR * hours
    context["latest_sample"] = max(stamps, default=None)
    cards = []
    for card in CARDS:
        series = bucket(
            points, card.ids, start=start, step=HOUR, count=hours, how=card.how, recorded_from=min(stamps, default=None)
        )
        cards.append(
            {
                "card": card,
                "series": series,
                "spark": sparkline(series),
                "total": _format(series.total, card.unit),
                "latest": _format(series.latest, card.unit),
                "low": _format(series.low, card.unit),
                "high": _format(series.high, card.unit),
            }
        )
    context["cards"] = cards
    context["has_points"] = bool(points)
    if context["can_live"]:
        context["live_values"] = await _first_live_frame(request)
        context["live_stream_url"] = reverse("observability:metrics-stream")
    return render(request, "observability/dashboard.html", context)


def _metrics_fragment(stream: LiveStream, event: SSEEvent) -> str | None:
    if event.event != "metrics":
        return None
    return render_to_string(
        "observability/dashboard.html#live-values", {"live_values": _live_values(stream.metrics_frame(event))}
    )


@require_GET
@require(needs("metrics-live"))
async def metrics_stream(request: PortalRequest) -> StreamingHttpResponse:
    user = request.portal_user
    if not user.enterprise:
        return _sse_response(_failure_stream(_enterprise_failure(gettext("Live metrics are an Enterprise feature"))))
    telemetry = request.stalwart.telemetry
    interval = int(getattr(settings, "PORTAL_LIVE_METRICS_INTERVAL", 15))
    return _sse_response(
        _relay(
            lambda: telemetry.open_live_metrics([m for m, _, _ in LIVE_METRICS], interval=interval),
            _metrics_fragment,
            kind="metrics",
            enterprise_title=gettext("Live metrics are an Enterprise feature"),
            limit=_stream_limit(request),
        )
    )
