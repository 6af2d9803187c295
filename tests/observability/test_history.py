"""Message history (Enterprise): the two lists, the span timeline, notices and refusals."""

from __future__ import annotations

import re

import pytest

from sandbox.observability import state


def _trace_calls(sandbox):
    return [r for r in sandbox.requests if r.path.startswith("/api/telemetry/")]


def _posts(sandbox) -> int:
    """How many JMAP requests (round trips) reached the sandbox."""
    return sum(1 for r in sandbox.requests if r.path == "/jmap/")


def _span_links(html: str) -> list[int]:
    return [int(s) for s in re.findall(r'href="/observability/history/span/(\d+)/"', html)]


@pytest.fixture
def community(sandbox):
    """The session's sandbox without an Enterprise licence, for one test."""
    sandbox.enterprise = False
    yield sandbox
    sandbox.enterprise = True


def test_received_messages_list(signed_in, generation):
    sandbox = generation.sandbox
    client = signed_in("admin")
    response = client.get("/observability/history/received/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Received messages" in html
    spans = _span_links(html)
    assert len(spans) >= 10
    stored = state(sandbox).spans
    assert all(stored[span].events[0].type == "smtp.connection-start" for span in spans)
    assert re.search(r"\d+(\.\d)? (KiB|MiB)", html)
    # 0.15 and 0.16 search only the last 24 hours without a search: the page says so.
    assert "lists only the last 24 hours" in html
    if generation.jmap:
        assert _posts(sandbox) == 1
    else:
        assert [r.query for r in _trace_calls(sandbox)] == ["type=smtp.connection-start&page=1&limit=25&values=1"]


def test_delivery_attempts_and_queue_filter(signed_in, generation):
    sandbox = generation.sandbox
    client = signed_in("admin")
    html = client.get("/observability/history/delivery/").content.decode()
    assert "Delivery attempts" in html
    span_id = int(re.search(r"/observability/history/span/(\d+)/", html).group(1))
    queue_id = state(sandbox).spans[span_id].events[0].data["queueId"]
    sandbox.requests.clear()
    filtered = client.get(f"/observability/history/delivery/?queue={queue_id}").content.decode()
    if not generation.jmap:
        query = f"type=delivery.attempt-start&queue_id={queue_id}&page=1&limit=25&values=1"
        assert _trace_calls(sandbox)[0].query == query
    shown = set(_span_links(filtered))
    assert span_id in shown
    assert all(queue_id in state(sandbox).spans[s].index_values()[0] for s in shown)
    assert "Only message" in filtered


def test_search(signed_in, generation):
    sandbox = generation.sandbox
    client = signed_in("admin")
    html = client.get("/observability/history/received/?q=partner&size=25").content.decode()
    if not generation.jmap:
        assert _trace_calls(sandbox)[0].query == "type=smtp.connection-start&filter=partner&page=1&limit=25&values=1"
    assert "partner.example" in html


def test_paging(signed_in, sandbox):
    """Up to 0.14 a list without a search covers the whole history: enough for two pages."""
    client = signed_in("admin")
    page2 = client.get("/observability/history/received/?page=2").content.decode()
    assert "page=2" in _trace_calls(sandbox)[0].query
    assert "Page 2 of" in page2


def test_htmx_fragment(signed_in, sandbox):
    html = (
        signed_in("admin")
        .get("/observability/history/received/?q=partner", headers={"HX-Request": "true"})
        .content.decode()
    )
    assert html.lstrip().startswith('<div id="results"') and "<h1>" not in html


def test_hostile_trace_values_are_escaped(signed_in, sandbox):
    client = signed_in("admin")
    html = client.get("/observability/history/received/?q=%3Cimg").content.decode()
    assert "<script>alert(1)" not in html
    span_ids = re.findall(r"/observability/history/span/(\d+)/", html)
    assert span_ids, html[-2000:]
    detail = client.get(f"/observability/history/span/{span_ids[0]}/").content.decode()
    assert "<script>alert(1)" not in detail and "<img src=x" not in detail
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in detail


def _event_name(generation, name: str) -> str:
    """An event's name as the server writes it: 0.16 renamed a few."""
    from sandbox.jmap.observe import EVENT_RENAMES

    return EVENT_RENAMES.get(name, name) if generation.jmap else name


def test_span_timeline(signed_in, generation):
    sandbox = generation.sandbox
    client = signed_in("admin")
    spans = state(sandbox).spans
    span_id = next(
        sid
        for sid, span in spans.items()
        if span.type == "delivery.attempt-start" and any(e.type == "delivery.delivered" for e in span.events)
    )
    sandbox.requests.clear()
    response = client.get(f"/observability/history/span/{span_id}/")
    assert response.status_code == 200
    html = response.content.decode()
    if generation.jmap:
        assert _posts(sandbox) == 1
    else:
        assert [r.path for r in _trace_calls(sandbox)] == [f"/api/telemetry/trace/{span_id}"]
    assert "<h1>Delivery attempt</h1>" in html
    assert "Event timeline" in html
    assert "Message delivered" in html and "delivery.delivered" in html
    assert "Connecting to remote server" in html
    # Friendly values: a queue id links to the history of that message, sizes and durations read well.
    assert "/observability/history/delivery/?queue=" in html
    assert re.search(r"<dt><bdi>Took</bdi></dt>\s*<dd>\s*<bdi>[\d.]+ (ms|s)", html)
    assert "<dt><bdi>TLS</bdi></dt>" in html and "enabled" in html


def test_received_span_timeline_shows_every_event(signed_in, generation):
    sandbox = generation.sandbox
    client = signed_in("admin")
    span_id, span = next(
        (sid, s) for sid, s in sorted(state(sandbox).spans.items()) if s.events[0].type == "smtp.connection-start"
    )
    response = client.get(f"/observability/history/span/{span_id}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Received message" in html
    assert html.count('class="timeline-item') == len(span.events)
    # Event names as the server writes them; typed values shown plainly.
    assert all(_event_name(generation, e.type) in html for e in span.events)
    remote_ip = span.events[0].data.get("remoteIp")
    assert remote_ip and str(remote_ip) in html


def test_nested_events_are_shown(signed_in, sandbox):
    client = signed_in("admin")
    spans = state(sandbox).spans
    span_id = next(
        (sid for sid, span in spans.items() if any(e.type == "delivery.rcpt-to-rejected" for e in span.events)), None
    )
    if span_id is None:
        pytest.skip("the seed has no rejected recipient")
    html = client.get(f"/observability/history/span/{span_id}/").content.decode()
    assert "Caused by" in html and "event-nested" in html and "Recipient address rejected" in html


def test_unknown_span_is_404(signed_in, generation):
    response = signed_in("admin").get("/observability/history/span/999999999/")
    assert response.status_code == 404


def test_unknown_kind_is_404(signed_in, sandbox):
    assert signed_in("admin").get("/observability/history/other/").status_code == 404


def test_refused_without_tracing_permissions(signed_in, generation):
    for who in ("user", "helpdesk"):
        client = signed_in(who)
        for url in ("/observability/history/received/", "/observability/history/span/1/"):
            assert client.get(url).status_code == 403, (who, url)
        assert generation.sandbox.requests == []


def test_community_edition_gets_a_notice_without_calling_stalwart(client, generation, community):
    from tests.conftest import sign_in

    assert sign_in(client, "admin").status_code == 302
    community.requests.clear()
    for url in ("/observability/history/received/", "/observability/dashboard/", "/observability/live/"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert b"needs Stalwart Enterprise" in response.content, url
    assert community.requests == []


def test_lapsed_licence_gets_the_notice_from_stalwart(signed_in, generation):
    sandbox = generation.sandbox
    client = signed_in("admin")  # signed in while Enterprise
    sandbox.enterprise = False
    try:
        response = client.get("/observability/history/delivery/")
        span = client.get("/observability/history/span/1/")
        history_calls = _posts(sandbox) if generation.jmap else len(_trace_calls(sandbox))
        dashboard = client.get("/observability/dashboard/")
    finally:
        sandbox.enterprise = True
    assert response.status_code == 200 and b"needs Stalwart Enterprise" in response.content
    assert span.status_code == 200 and b"needs Stalwart Enterprise" in span.content
    assert dashboard.status_code == 200 and b"needs Stalwart Enterprise" in dashboard.content
    assert history_calls == 2  # the server said no, twice


def test_no_tracing_store(signed_in, sandbox):
    client = signed_in("admin")
    sandbox.settings["tracing.history.enable"] = "false"
    html = client.get("/observability/history/received/").content.decode()
    assert "Message history is not recorded" in html
    assert "No tracing store has been configured" in html


def test_upstream_failure(signed_in, generation, settings, closed_port):
    client = signed_in("admin")
    settings.STALWART_URL = f"http://127.0.0.1:{closed_port}"
    assert client.get("/observability/history/received/").status_code == 502
