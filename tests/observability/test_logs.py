"""The logs page: paging, search, level filter, auto-refresh, escaping, refusals, failures."""

from __future__ import annotations

import re

from sandbox.observability import Event, state


def _log_calls(sandbox):
    return [r for r in sandbox.requests if r.path == "/api/logs"]


def _posts(sandbox) -> int:
    """How many JMAP requests (round trips) reached the sandbox."""
    return sum(1 for r in sandbox.requests if r.path == "/jmap/")


def _log_rows(html: str) -> list[str]:
    """The event name of each row."""
    return re.findall(r'<code class="cell-sub"><bdi[^>]*>([^<]*)</bdi></code>', html)


def test_admin_sees_newest_entries_with_level_badges(signed_in, generation):
    sandbox = generation.sandbox
    client = signed_in("admin")
    response = client.get("/observability/logs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Logs</h1>" in html
    assert html.count("<tr>") == 51  # a full page (header row included)
    assert len(_log_rows(html)) == 50
    assert re.search(r'class="badge badge-(ok|danger|warn|info)">(INFO|ERROR|WARN|DEBUG)<', html)
    if generation.jmap:
        assert _posts(sandbox) == 1
        # 0.16 writes the event's name only: it is shown as the server writes it (0.16 names).
        assert "queue.message-queued" in html and "queue.queue-message" not in html
    else:
        assert [r.query for r in _log_calls(sandbox)] == ["page=1&limit=50"]
    # Stalwart's total is an estimate: "more available" and an Older link.
    assert "more available" in html and 'rel="next"' in html


def test_hostile_log_content_is_escaped(signed_in, generation):
    sandbox = generation.sandbox
    obs = state(sandbox)
    obs.emit(
        [
            Event(
                "http.error",
                sandbox.now() + 5,
                {"url": "<script>alert('pwn')</script>", "reason": '"><img src=x onerror=alert(2)>'},
            )
        ],
        store_span=False,
    )
    html = signed_in("admin").get("/observability/logs/").content.decode()
    assert "<script>alert('pwn')" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#x27;pwn&#x27;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html


def test_search_is_passed_to_stalwart_and_kept_in_the_url(signed_in, generation):
    sandbox = generation.sandbox
    client = signed_in("admin")
    response = client.get("/observability/logs/?q=auth.failed&size=25")
    html = response.content.decode()
    if not generation.jmap:  # 0.16 passes it as the x:Log text filter
        assert _log_calls(sandbox)[0].query == "page=1&limit=25&filter=auth.failed"
    assert 'value="auth.failed"' in html
    assert "Authentication failed" in html
    # Every row is an auth.failed line.
    assert _log_rows(html) and set(_log_rows(html)) == {"auth.failed"}
    assert len(_log_rows(html)) == html.count("<tr>") - 1


def test_level_filter_narrows_to_one_level(signed_in, generation):
    sandbox = generation.sandbox
    client = signed_in("admin")
    html = client.get("/observability/logs/?level=ERROR").content.decode()
    if not generation.jmap:
        assert _log_calls(sandbox)[0].query == "page=1&limit=50&filter=+ERROR+"
    levels = set(re.findall(r'class="badge badge-\w+">(\w+)<', html))
    assert levels == {"ERROR"}
    assert '<option value="ERROR" selected>' in html


def test_paging_links_keep_the_query(signed_in, sandbox):
    client = signed_in("admin")
    html = client.get("/observability/logs/?q=smtp&level=INFO&page=2&size=25").content.decode()
    assert _log_calls(sandbox)[0].query == "page=2&limit=25&filter=smtp"
    assert 'href="/observability/logs/?q=smtp&amp;level=INFO&amp;size=25"' in html  # newer = page 1
    assert 'href="/observability/logs/?q=smtp&amp;level=INFO&amp;page=3&amp;size=25"' in html


def test_auto_refresh_polls_only_when_on(signed_in, sandbox):
    client = signed_in("admin")
    off = client.get("/observability/logs/?q=smtp").content.decode()
    assert 'hx-trigger="every' not in off and 'http-equiv="refresh"' not in off
    assert 'href="/observability/logs/?q=smtp&amp;auto=1"' in off  # the toggle is a plain link
    on = client.get("/observability/logs/?q=smtp&auto=1").content.decode()
    assert 'hx-get="/observability/logs/?q=smtp&amp;auto=1" hx-trigger="every 10s"' in on
    assert '<noscript><meta http-equiv="refresh" content="10"></noscript>' in on
    assert 'href="/observability/logs/?q=smtp"' in on  # turning it off
    assert 'name="auto" value="1"' in on


def test_htmx_gets_the_results_fragment(signed_in, sandbox):
    response = signed_in("admin").get("/observability/logs/?q=smtp&auto=1", headers={"HX-Request": "true"})
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="results"')
    assert "<h1>" not in html
    assert 'hx-trigger="every 10s"' in html


def test_no_match_explains_the_search(signed_in, sandbox):
    html = signed_in("admin").get("/observability/logs/?q=nothing-like-this-anywhere").content.decode()
    assert "No log entries match" in html and "case-sensitive" in html


def test_refused_without_logs_view(signed_in, generation):
    for who in ("user", "helpdesk"):
        response = signed_in(who).get("/observability/logs/")
        assert response.status_code == 403, who
        assert b"logs-view" in response.content
        assert generation.sandbox.requests == []


def test_server_without_a_log_file(signed_in, generation):
    client = signed_in("admin")
    generation.sandbox.settings["tracer.log.enable"] = "false"
    html = client.get("/observability/logs/").content.decode()
    assert "This server writes no log file" in html
    # the server's own words
    reason = "No log tracers configured on the server" if generation.jmap else "Tracer log path not configured"
    assert reason in html


def test_unreadable_log_files(signed_in, sandbox):
    client = signed_in("admin")
    state(sandbox).log_read_error = True
    html = client.get("/observability/logs/").content.decode()
    assert "Stalwart could not read its log files" in html


def test_upstream_failure_page(signed_in, generation, settings, closed_port):
    client = signed_in("admin")
    settings.STALWART_URL = f"http://127.0.0.1:{closed_port}"
    response = client.get("/observability/logs/")
    assert response.status_code == 502
    assert b"Stalwart could not be reached" in response.content
