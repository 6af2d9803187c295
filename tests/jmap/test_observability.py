"""Observability on Stalwart 0.16: logs (x:Log, anchor paging), message history (x:Trace),
the span timeline, live tracing and metrics (/api/token + /api/live) and the dashboard (x:Metric)."""

from __future__ import annotations

import asyncio
import re
from html import unescape

import pytest
from asgiref.sync import async_to_sync
from django.core.handlers.asgi import ASGIHandler

from portal.stalwart import backend
from portal.stalwart.jmap.observe import JmapLogs, JmapTelemetry, id_text
from portal.stalwart.logs import LogsApi
from portal.stalwart.telemetry import TelemetryApi
from sandbox.jmap import ids
from sandbox.jmap.observe import EVENT_RENAMES, LogKind
from sandbox.observability import Event, state
from tests.observability.test_live import Browser, _scope, _session_cookie, _wait_for

from .test_backend import _methods


def _posts(sandbox) -> int:
    """How many JMAP requests (round trips) reached the sandbox."""
    return sum(1 for r in sandbox.requests if r.path == "/jmap/")


def _log_ids(sandbox) -> list[str]:
    """The sandbox's log entries as x:Log ids, newest first (the order the server pages in)."""
    return [ids.encode(number) for number, _ in LogKind()._lines(sandbox)]


@pytest.fixture
def community(sandbox):
    sandbox.enterprise = False
    yield sandbox
    sandbox.enterprise = True


@pytest.fixture
def quick_streams(sandbox):
    obs = state(sandbox)
    obs.traffic_interval = 0
    obs.batch_interval = 0.05
    obs.poll_interval = 0.01
    obs.ping_interval = 0.3
    return obs


# --- the areas -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("protocol", "area"),
    [
        (backend.LogsArea, LogsApi),
        (backend.LogsArea, JmapLogs),
        (backend.TelemetryArea, TelemetryApi),
        (backend.TelemetryArea, JmapTelemetry),
    ],
)
def test_observability_areas_share_one_protocol(protocol, area):
    import inspect

    for name in _methods(protocol):
        wanted = inspect.signature(getattr(protocol, name)).parameters
        offered = inspect.signature(getattr(area, name)).parameters
        assert list(wanted)[: len(wanted)] == [p for p in offered if p in wanted], (area, name)
        assert inspect.iscoroutinefunction(getattr(area, name)), (area, name)


def test_both_backends_offer_the_areas():
    rest, jmap = backend.for_session("rest", "token"), backend.for_session("jmap", "token")
    for handle in (rest, jmap):
        assert isinstance(handle.logs, backend.LogsArea)
        assert isinstance(handle.telemetry, backend.TelemetryArea)


# --- logs ----------------------------------------------------------------------------------
def _log_rows(html: str) -> list[str]:
    return re.findall(r'<code class="cell-sub"><bdi[^>]*>([^<]*)</bdi></code>', html)


def test_logs_show_the_newest_entries_in_one_round_trip(signed_in, sandbox):
    client = signed_in("admin")
    response = client.get("/observability/logs/?size=25")
    assert response.status_code == 200
    html = response.content.decode()
    assert _posts(sandbox) == 1
    assert len(_log_rows(html)) == 25
    # 0.16 writes the event's name only: it is shown as the server writes it (0.16 names).
    assert "queue.message-queued" in html and "queue.queue-message" not in html
    assert re.search(r'class="badge badge-(ok|danger|warn|info)">(INFO|ERROR|WARN|DEBUG)<', html)
    assert "more available" in html


def _link(html: str, page: int) -> str:
    return unescape(re.search(rf'href="(/observability/logs/[^"]*page={page}[^"]*)"', html).group(1))


def test_older_link_carries_the_anchor_and_newer_goes_back(signed_in, sandbox):
    client = signed_in("admin")
    order = _log_ids(sandbox)
    first = client.get("/observability/logs/?size=25").content.decode()
    # "Older" names the last entry of the page: the next page starts right after it.
    older = _link(first, 2)
    assert f"anchor={order[24]}" in older and "trail" not in older
    sandbox.requests.clear()
    second = client.get(older).content.decode()
    assert _posts(sandbox) == 1 and "Entries 26–50" in second
    third_url = _link(second, 3)
    assert f"anchor={order[49]}" in third_url
    # The third page remembers the second page's anchor, so "Newer" goes back one page.
    assert f"trail={order[24]}" in third_url
    third = client.get(third_url).content.decode()
    assert "Entries 51–75" in third
    newer = _link(third, 2)
    assert f"anchor={order[24]}" in newer and "trail" not in newer
    assert 'href="/observability/logs/?size=25"' in second  # page 2's "Newer" is the newest page


def test_log_search_and_level_go_to_the_text_filter(signed_in, sandbox):
    client = signed_in("admin")
    html = client.get("/observability/logs/?level=ERROR").content.decode()
    assert set(re.findall(r'class="badge badge-\w+">(\w+)<', html)) == {"ERROR"}
    html = client.get("/observability/logs/?q=auth.failed").content.decode()
    assert _log_rows(html) and set(_log_rows(html)) == {"auth.failed"}


def test_a_page_asked_for_by_number_alone_is_counted_from_the_newest(signed_in, sandbox):
    client = signed_in("admin")
    order = _log_ids(sandbox)
    html = client.get("/observability/logs/?size=25&page=2").content.decode()
    assert "Entries 26–50" in html and len(_log_rows(html)) == 25
    assert f"anchor={order[49]}" in _link(html, 3)  # the 26th to 50th newest entries


def test_hostile_log_lines_are_escaped(signed_in, sandbox):
    state(sandbox).emit(
        [Event("http.error", sandbox.now() + 5, {"url": "<script>alert(1)</script>"})], store_span=False
    )
    html = signed_in("admin").get("/observability/logs/").content.decode()
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_no_log_tracer_is_explained(signed_in, sandbox):
    client = signed_in("admin")
    sandbox.settings["tracer.log.enable"] = "false"
    html = client.get("/observability/logs/").content.decode()
    assert "This server writes no log file" in html
    assert "No log tracers configured on the server" in html


def test_logs_refused_without_permission_before_any_call(signed_in, sandbox):
    assert signed_in("user").get("/observability/logs/").status_code == 403
    assert sandbox.requests == []


def test_logs_upstream_failure(signed_in, settings, closed_port):
    client = signed_in("admin")
    settings.STALWART_URL = f"http://127.0.0.1:{closed_port}"
    assert client.get("/observability/logs/").status_code == 502


# --- message history -----------------------------------------------------------------------
def test_received_messages_are_one_round_trip(signed_in, sandbox):
    client = signed_in("admin")
    response = client.get("/observability/history/received/")
    assert response.status_code == 200
    html = response.content.decode()
    assert _posts(sandbox) == 1
    spans = [int(s) for s in re.findall(r'href="/observability/history/span/(\d+)/"', html)]
    stored = state(sandbox).spans
    assert spans and all(stored[span].events[0].type == "smtp.connection-start" for span in spans)
    assert re.search(r"\d+(\.\d)? (KiB|MiB)", html)
    # 0.16 searches only the last 24 hours without a search: the page says so.
    assert "lists only the last 24 hours" in html


def test_delivery_history_by_queue_id_and_search(signed_in, sandbox):
    client = signed_in("admin")
    html = client.get("/observability/history/delivery/").content.decode()
    span_id = int(re.search(r"/observability/history/span/(\d+)/", html).group(1))
    queue_id = state(sandbox).spans[span_id].events[0].data["queueId"]
    sandbox.requests.clear()
    filtered = client.get(f"/observability/history/delivery/?queue={queue_id}").content.decode()
    shown = {int(s) for s in re.findall(r'href="/observability/history/span/(\d+)/"', filtered)}
    assert span_id in shown
    assert all(queue_id in state(sandbox).spans[s].index_values()[0] for s in shown)
    assert "Only message" in filtered
    found = client.get("/observability/history/received/?q=partner").content.decode()
    assert "partner.example" in found


def test_span_timeline_from_the_trace_events(signed_in, sandbox):
    client = signed_in("admin")
    span_id, span = next(
        (sid, s) for sid, s in sorted(state(sandbox).spans.items()) if s.events[0].type == "smtp.connection-start"
    )
    response = client.get(f"/observability/history/span/{span_id}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert _posts(sandbox) == 1 and id_text(span_id) == ids.encode(span_id)
    assert "Received message" in html
    assert html.count('class="timeline-item') == len(span.events)
    # Event names as the 0.16 server writes them; typed values shown plainly.
    assert "smtp.connection-start" in html
    remote_ip = span.events[0].data.get("remoteIp")
    assert remote_ip and str(remote_ip) in html
    renamed = [EVENT_RENAMES[e.type] for e in span.events if e.type in EVENT_RENAMES]
    assert all(name in html for name in renamed)


def test_unknown_span_is_404(signed_in, sandbox):
    assert signed_in("admin").get("/observability/history/span/999999999/").status_code == 404


@pytest.mark.parametrize("url", ["/observability/history/received/", "/observability/history/span/1/"])
def test_history_refused_without_permission(signed_in, sandbox, url):
    assert signed_in("helpdesk").get(url).status_code == 403
    assert sandbox.requests == []


def test_community_server_gets_the_notice_without_calling(client, community):
    from tests.conftest import sign_in

    assert sign_in(client, "admin").status_code == 302
    community.requests.clear()
    for url in ("/observability/history/received/", "/observability/dashboard/", "/observability/live/"):
        response = client.get(url)
        assert response.status_code == 200 and b"needs Stalwart Enterprise" in response.content
    assert community.requests == []


def test_lapsed_licence_is_explained_from_the_servers_refusal(signed_in, sandbox):
    client = signed_in("admin")
    sandbox.enterprise = False
    try:
        pages = [client.get(url) for url in ("/observability/history/delivery/", "/observability/dashboard/")]
    finally:
        sandbox.enterprise = True
    for response in pages:
        assert response.status_code == 200 and b"needs Stalwart Enterprise" in response.content


def test_history_upstream_failure(signed_in, settings, closed_port):
    client = signed_in("admin")
    settings.STALWART_URL = f"http://127.0.0.1:{closed_port}"
    assert client.get("/observability/history/received/").status_code == 502


# --- dashboard -----------------------------------------------------------------------------
def test_dashboard_reads_the_0_16_metric_names(signed_in, sandbox):
    client = signed_in("admin")
    response = client.get("/observability/dashboard/")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('<svg class="sparkline"') == 8
    assert _posts(sandbox) == 1  # a day of samples: one query and get
    # The received-messages card counts what 0.16 stores as queue.message-queued.
    card = html[html.index(">Received messages</h2>") :]
    card = card[: card.index("</section>")]
    assert re.search(r'<polyline class="spark-line"', card)
    total = int(re.search(r'class="metric-value">\s*([\d,]+)', card).group(1).replace(",", ""))
    stored = sum(p["value"] for p in state(sandbox).metrics if p["id"] == "queue.queue-message")
    assert 0 < total <= stored
    # The live values: a token, then the first frame of the stream.
    paths = [r.path for r in sandbox.requests]
    assert "/api/token/metrics" in paths and "/api/live/metrics" in paths
    assert "Right now" in html and "Accounts" in html


def test_a_week_of_metrics_is_read_in_pages(signed_in, sandbox):
    client = signed_in("admin")
    response = client.get("/observability/dashboard/?period=7d")
    assert response.status_code == 200
    # More samples than one /get may return: the first page, then the rest together.
    assert _posts(sandbox) == 2
    html = response.content.decode()
    card = html[html.index(">Delivery attempts</h2>") :]
    card = card[: card.index("</section>")]
    total = int(re.search(r'class="metric-value">\s*([\d,]+)', card).group(1).replace(",", ""))
    # The chart ends after the hour of the newest sample and covers the 168 hours before.
    end = max(p["ts"] for p in state(sandbox).metrics) // 3600 * 3600 + 3600
    stored = [p for p in state(sandbox).metrics if p["id"] == "delivery.attempt-start"]
    assert total == sum(p["value"] for p in stored if end - 168 * 3600 <= p["ts"] < end)


def test_dashboard_refused_for_users(signed_in, sandbox):
    assert signed_in("user").get("/observability/dashboard/").status_code == 403
    assert sandbox.requests == []


def test_live_metrics_relay(signed_in, sandbox, settings):
    client = signed_in("admin")
    obs = state(sandbox)
    obs.metrics_interval = 0.05
    browser = Browser(_scope("/observability/dashboard/live", "", _session_cookie(client)))

    async def run() -> None:
        task = asyncio.ensure_future(ASGIHandler()(browser.scope, browser.receive, browser.send))
        body = ""
        while "event: metrics" not in body:
            body = await browser.next_body()
        assert "Accounts" in body and "<dl" in body
        browser.hang_up.set()
        await asyncio.wait_for(task, 5)
        await _wait_for(lambda: state(sandbox).open_streams == 0)

    async_to_sync(run)()
    live = [r for r in sandbox.requests if r.path == "/api/live/metrics"]
    assert live and "token=" in live[0].query and "user.count" in unescape(live[0].query).replace("%2C", ",")


# --- live tracing --------------------------------------------------------------------------
def test_live_tracing_relays_0_16_events(signed_in, sandbox, quick_streams):
    client = signed_in("admin")
    browser = Browser(_scope("/observability/live/stream", "filter=remoteIp%3A203.0.113.25", _session_cookie(client)))

    async def run() -> None:
        task = asyncio.ensure_future(ASGIHandler()(browser.scope, browser.receive, browser.send))
        assert (await browser.next_body()).startswith(": connected")
        await _wait_for(lambda: quick_streams.open_streams == 1)
        with sandbox.lock:
            quick_streams.emit(
                [Event("smtp.connection-start", sandbox.now(), {"remoteIp": "203.0.113.25", "spanId": 77})]
            )
        body = await browser.next_body()
        while "event: trace" not in body:
            body = await browser.next_body()
        assert "smtp.connection-start" in body and "203.0.113.25" in body
        browser.hang_up.set()
        await asyncio.wait_for(task, 5)
        await _wait_for(lambda: state(sandbox).open_streams == 0)

    async_to_sync(run)()
    # (the schema, read for the events' labels where it is not kept yet, aside)
    calls = [(r.method, r.path, r.auth_scheme) for r in sandbox.requests if r.path.startswith("/api/")]
    calls = [call for call in calls if not call[1].startswith("/api/schema")]
    assert calls == [("GET", "/api/token/tracing", "Bearer"), ("GET", "/api/live/tracing", None)]
    query = [r.query for r in sandbox.requests if r.path == "/api/live/tracing"][0]
    assert query.startswith("remoteIp=203.0.113.25") and "token=" in query


def test_live_capture_without_javascript(signed_in, sandbox, settings, quick_streams):
    settings.PORTAL_LIVE_CAPTURE_SECONDS = 0.6
    quick_streams.traffic_interval = 0.1
    html = signed_in("admin").get("/observability/live/?capture=1").content.decode()
    assert re.search(r"Captured \d+ events? in 0.6 seconds", html)
    assert "smtp.connection-start" in html


def test_live_stream_on_a_lapsed_licence_says_why(signed_in, sandbox):
    client = signed_in("admin")
    sandbox.enterprise = False
    try:
        response = client.get("/observability/live/stream")
        body = b"".join(async_to_sync(_drain)(response)).decode()
    finally:
        sandbox.enterprise = True
    assert "event: failure" in body and "Enterprise" in body


async def _drain(response) -> list[bytes]:
    return [chunk async for chunk in response.streaming_content]


def test_live_refused_without_permission(signed_in, sandbox):
    assert signed_in("helpdesk").get("/observability/live/stream").status_code == 403
    assert sandbox.requests == []


def test_typed_trace_values_become_plain_ones():
    from portal.stalwart.jmap.observe import trace_event

    tls = {"0": {"key": "tls", "value": {"@type": "Boolean", "value": True}}}
    event = trace_event(
        {
            "event": "delivery.attempt-start",
            "timestamp": "2026-01-02T03:04:05Z",
            "keyValues": {
                "1": {"key": "to", "value": {"@type": "List", "value": {"0": {"@type": "String", "value": "a@x"}}}},
                "0": {"key": "queueId", "value": {"@type": "UnsignedInt", "value": 12}},
                "2": {"key": "elapsed", "value": {"@type": "Duration", "value": 350}},
                "3": {"key": "remoteIp", "value": {"@type": "IpAddr", "value": "192.0.2.1"}},
                "4": {"key": "causedBy", "value": {"@type": "Event", "value": {"event": "dns.lookup", "value": tls}}},
                "5": {"key": "reason", "value": {"@type": "Null"}},
            },
        }
    )
    assert event.type == "delivery.attempt-start" and event.created.hour == 3
    assert [key for key, _ in event.data] == ["queueId", "to", "elapsed", "remoteIp", "causedBy", "reason"]
    assert event.get("queueId") == 12 and event.get("to") == ("a@x",) and event.get("elapsed") == 350
    assert event.get("remoteIp") == "192.0.2.1" and event.get("reason") is None
    nested = event.get("causedBy")
    assert nested.type == "dns.lookup" and nested.get("tls") is True
