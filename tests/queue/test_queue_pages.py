"""Message queue pages against the sandbox: list, detail, retry/cancel, bulk, pause/resume."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest

from sandbox.mailflow import state
from sandbox.queue import enqueue

HOSTILE_SENDER = '"<script>alert(1)</script>"@evil.example'
HOSTILE_REPLY = (
    "perm_fail",
    'Code: 550, Enhanced code: 5.1.1, Message: <img src=x onerror=alert(2)> & "{{7*7}}" no such user',
)


def calls(sandbox, method=None, prefix="/api/queue"):
    return [r for r in sandbox.requests if r.path.startswith(prefix) and (method is None or r.method == method)]


def query(record) -> dict[str, list[str]]:
    return parse_qs(record.query, keep_blank_values=True)


def posts(sandbox) -> list:
    """The JMAP requests that reached the sandbox."""
    return [r for r in sandbox.requests if r.path == "/jmap/"]


@pytest.fixture
def scene(sandbox):
    """A small known queue: a normal message with two domains, a bounce, and a hostile one."""
    state(sandbox).clear()
    normal = enqueue(
        sandbox,
        return_path="alice@example.org",
        recipients=["bob@gmail.com", "jimbob@gmail.com", "carol@outlook.com", "dave@outlook.com.au"],
        hold=600,
    )
    bounce = enqueue(sandbox, return_path="", recipients=["someone@yahoo.com"], hold=900)
    hostile = enqueue(sandbox, return_path=HOSTILE_SENDER, recipients=["victim@example.com"], hold=1200)
    domain = hostile.domains[0]
    domain.retry_num = 3
    domain.recipients[0].status = HOSTILE_REPLY
    domain.status = ("perm_fail", "Unexpected response from 'mx.example.com': " + HOSTILE_REPLY[1])
    hostile.domains[0] = domain
    # keep the hostile message pending through a second domain
    enqueue_extra = enqueue(sandbox, return_path=HOSTILE_SENDER, recipients=["x@pending.example"], hold=1200)
    hostile.domains.append(enqueue_extra.domains[0])
    del state(sandbox).messages[enqueue_extra.id]
    sandbox.requests.clear()
    return {"normal": normal, "bounce": bounce, "hostile": hostile}


# --- list ---------------------------------------------------------------------------
def test_list_is_one_request_with_values(signed_in, generation, scene):
    sandbox = generation.sandbox
    client = signed_in("admin")
    response = client.get("/queue/")
    assert response.status_code == 200
    content = response.content.decode()
    assert "Mailer daemon" in content
    assert "alice@example.org" in content and "someone@yahoo.com" in content
    assert f'href="/queue/messages/{scene["normal"].id}/"' in content
    assert "bob@gmail.com" in content and "+ 3 more" in content
    assert "4 pending" in content and "1 failed" in content
    # Why a message waits, under its counts: the failed recipient's reply, short and escaped.
    assert "550 5.1.1 &lt;img src=x onerror=alert(2)&gt; &amp; &quot;{{7*7}}&quot; no such user" in content
    assert "<img src=x" not in content
    assert "Pause delivery" in content
    if generation.jmap:
        assert [(r.method, r.path) for r in sandbox.requests] == [("POST", "/jmap/")]
        # 0.16 does not say whether delivery is paused: the page offers both
        assert "Delivery state unknown." in content and "do not report whether delivery is paused" in content
        assert "Resume delivery" in content
        assert 'name="queue"' in content  # 0.16 selects by virtual queue
    else:
        (record,) = calls(sandbox)
        assert record.path == "/api/queue/messages" and record.method == "GET"
        assert query(record) == {"values": ["1"], "page": ["1"], "limit": ["25"]}
        assert "Delivery is running" in content


def test_search_and_recipient_narrow_the_list(signed_in, generation, scene):
    client = signed_in("admin")
    content = client.get("/queue/", {"q": "gmail"}).content.decode()
    assert "alice@example.org" in content and "someone@yahoo.com" not in content
    content = client.get("/queue/", {"recipient": "YAHOO"}).content.decode()
    assert "someone@yahoo.com" in content and "alice@example.org" not in content
    content = client.get("/queue/", {"q": "gmail", "recipient": "yahoo"}).content.decode()
    assert "alice@example.org" in content  # the search wins over the recipient field, as on the server


def test_list_filters_go_to_stalwart(signed_in, sandbox, scene):
    client = signed_in("admin")
    client.get("/queue/", {"sender": "alice", "recipient": "Gmail.COM", "after": "2999-01-01T10:30", "page": "2"})
    params = query(calls(sandbox)[0])
    assert params["from"] == ["alice"] and params["to"] == ["gmail.com"]
    assert params["after"] == ["2999-01-01T10:30:00Z"] and params["page"] == ["2"]
    sandbox.requests.clear()
    # the search overrides sender and recipient: they are not sent along
    client.get("/queue/", {"q": "example", "sender": "alice", "recipient": "bob"})
    params = query(calls(sandbox)[0])
    assert params["text"] == ["example"] and "from" not in params and "to" not in params


def test_past_times_are_refused_and_kept(signed_in, sandbox, scene):
    client = signed_in("admin")
    response = client.get("/queue/", {"before": "2001-02-03T04:05", "sender": "alice"})
    assert response.status_code == 422
    content = response.content.decode()
    assert "Stalwart ignores past times" in content
    assert 'value="2001-02-03T04:05"' in content
    assert "before" not in query(calls(sandbox)[0])


def test_paging_links_keep_filters(signed_in, sandbox):
    for index in range(30):
        enqueue(sandbox, return_path=f"s{index}@example.org", recipients=["r@gmail.com"], hold=600)
    client = signed_in("admin")
    content = client.get("/queue/", {"sender": "example.org"}).content.decode()
    assert 'href="?sender=example.org&amp;page=2"' in content


def test_a_message_that_will_be_retried_says_why_in_the_list(signed_in, generation, scene):
    """A domain that failed for now: its error is under the message's counts."""
    sandbox = generation.sandbox
    state(sandbox).retry_intervals = [1000]
    enqueue(
        sandbox,
        return_path="retry.me@example.org",
        recipients=["c@busy.example"],
        domain_errors={"busy.example": "Connection failed: connection refused"},
    )
    content = signed_in("admin").get("/queue/", {"q": "retry.me"}).content.decode()
    assert "retry.me@example.org" in content
    assert "Connection failed: connection refused" in content


def test_htmx_gets_the_results_only(signed_in, sandbox, scene):
    client = signed_in("admin")
    response = client.get("/queue/?q=gmail", headers={"HX-Request": "true"})
    content = response.content.decode()
    assert content.lstrip().startswith('<div id="results"') and "<html" not in content
    # "Retry or cancel all matching" follows filters chosen in place (out of band).
    assert 'id="all-matching" class="button" href="/queue/bulk?q=gmail" hx-swap-oob="true"' in content
    assert "hx-swap-oob" not in client.get("/queue/?q=gmail").content.decode()


def test_refused_without_permission(signed_in, generation, scene):
    sandbox = generation.sandbox
    client = signed_in("user")
    for url in ("/queue/", f"/queue/messages/{scene['normal'].id}/", "/queue/bulk", "/queue/reports/"):
        response = client.get(url)
        assert response.status_code == 403, url
    assert client.post("/queue/status", {"running": "0"}).status_code == 403
    assert client.post(f"/queue/messages/{scene['normal'].id}/cancel").status_code == 403
    assert sandbox.requests == []


def test_hostile_content_is_escaped(signed_in, generation, scene):
    client = signed_in("admin")
    for url in ("/queue/", f"/queue/messages/{scene['hostile'].id}/"):
        content = client.get(url).content.decode()
        assert "<script>alert(1)</script>" not in content
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content
    assert "<img src=x" not in content and "&lt;img src=x onerror=alert(2)&gt;" in content
    assert "{{7*7}}" in content


def test_upstream_failure_page(signed_in, generation, scene, settings, closed_port):
    client = signed_in("admin")
    generation.upstream_failure()  # every API request answers 500
    response = client.get("/queue/?q=x")
    detail = client.get(f"/queue/messages/{scene['normal'].id}/")
    assert response.status_code == 502
    assert "Stalwart reported an internal error" in response.content.decode()
    assert ("POST /jmap/" if generation.jmap else "GET /api/queue/messages") in response.content.decode()
    assert detail.status_code in (502, 503)
    settings.STALWART_URL = f"http://127.0.0.1:{closed_port}"
    assert client.get("/queue/").status_code == 502


# --- pause and resume ------------------------------------------------------------------
def test_pause_and_resume(signed_in, generation, scene):
    sandbox = generation.sandbox
    client = signed_in("helpdesk")
    response = client.post("/queue/status", {"running": "0"})
    assert response.status_code == 302
    assert state(sandbox).queue_running is False
    if generation.jmap:
        assert [(r.method, r.path) for r in sandbox.requests] == [("POST", "/jmap/")]  # an action
    else:
        (record,) = calls(sandbox)
        assert record.method == "PATCH" and record.path == "/api/queue/status/stop"
    content = client.get("/queue/").content.decode()
    assert "Resume delivery" in content and "Delivery paused." in content
    assert ("Delivery is paused" in content) is not generation.jmap  # 0.16 does not tell
    sandbox.requests.clear()
    client.post("/queue/status", {"running": "1"})
    if not generation.jmap:
        assert calls(sandbox)[0].path == "/api/queue/status/start"
    assert state(sandbox).queue_running is True


# --- detail ----------------------------------------------------------------------------
def test_detail_with_headers_split_responses(signed_in, sandbox, scene):
    client = signed_in("admin")
    message = scene["hostile"]
    content = client.get(f"/queue/messages/{message.id}/").content.decode()
    blob = [r for r in sandbox.requests if r.path.startswith("/api/store/blobs/")]
    assert len(blob) == 1 and query(blob[0]) == {"limit": ["10240"]}
    assert '<pre class="raw-text" tabindex="0">' in content
    assert "Subject: Test message" in content and "Hello." not in content
    assert '<strong class="smtp-code">550 5.1.1</strong>' in content
    assert "no such user" in content
    assert "Unexpected response from &#x27;mx.example.com&#x27;" in content
    assert "3 attempts" in content


def test_detail_lists_every_recipient_and_the_headers(signed_in, generation, scene):
    sandbox = generation.sandbox
    client = signed_in("admin")
    content = client.get(f"/queue/messages/{scene['normal'].id}/").content.decode()
    for address in ("bob@gmail.com", "jimbob@gmail.com", "carol@outlook.com", "dave@outlook.com.au"):
        assert address in content
    assert "Delivery is paused" not in content
    assert "Subject: Test message" in content and "Hello." not in content
    if generation.jmap:  # the headers, downloaded with fetchAnyBlob
        assert len([r for r in sandbox.requests if r.path.startswith("/jmap/download/")]) == 1
    else:
        blob = [r for r in sandbox.requests if r.path.startswith("/api/store/blobs/")]
        assert len(blob) == 1 and query(blob[0]) == {"limit": ["10240"]}


def test_detail_without_blob_fetch_hides_headers(signed_in, generation, scene):
    sandbox = generation.sandbox
    client = signed_in("helpdesk")
    content = client.get(f"/queue/messages/{scene['normal'].id}/").content.decode()
    assert "Headers" not in content
    assert not [r for r in sandbox.requests if r.path.startswith(("/api/store/", "/jmap/download/"))]
    # helpdesk may retry but not cancel
    assert "Retry now" in content and "Cancel" not in content


def test_gone_message_is_a_friendly_404(signed_in, generation):
    client = signed_in("admin")
    response = client.get("/queue/messages/12345/")
    assert response.status_code == 404
    assert "no longer in the queue" in response.content.decode()


# --- retry -----------------------------------------------------------------------------
def test_retry_asks_first_then_patches(signed_in, generation, scene):
    sandbox = generation.sandbox
    client = signed_in("helpdesk")
    message = scene["normal"]
    url = f"/queue/messages/{message.id}/retry"
    page = client.get(url, {"domain": "gmail.com"})
    assert page.status_code == 200 and "Retry delivery now?" in page.content.decode()
    assert not calls(sandbox, "PATCH")
    partial = client.get(url, {"domain": "gmail.com"}, headers={"HX-Request": "true"})
    assert "<html" not in partial.content.decode() and 'role="alertdialog"' in partial.content.decode()
    state(sandbox).queue_running = False  # keep the attempt from happening, to see the schedule
    assert all(d.next_retry > sandbox.now() for d in state(sandbox).messages[message.id].domains)  # asked only
    response = client.post(url, {"domain": "gmail.com"})
    assert response.status_code == 302 and response["Location"] == f"/queue/messages/{message.id}/"
    domains = {d.name: d.next_retry for d in state(sandbox).messages[message.id].domains}
    assert domains["gmail.com"] <= sandbox.now() < domains["outlook.com"]
    if not generation.jmap:  # 0.16 patches the domain's recipients
        (patch,) = calls(sandbox, "PATCH")
        assert patch.path == f"/api/queue/messages/{message.id}" and query(patch) == {"filter": ["gmail.com"]}


def test_retry_everything_sends_no_filter(signed_in, generation, scene):
    sandbox = generation.sandbox
    client = signed_in("admin")
    state(sandbox).queue_running = False
    client.post(f"/queue/messages/{scene['normal'].id}/retry")
    assert all(d.next_retry <= sandbox.now() for d in state(sandbox).messages[scene["normal"].id].domains)
    if not generation.jmap:
        (patch,) = calls(sandbox, "PATCH")
        assert patch.query == ""


# --- cancel ----------------------------------------------------------------------------
def test_cancel_recipient_shows_substring_matches(signed_in, sandbox, scene):
    client = signed_in("admin")
    message = scene["normal"]
    url = f"/queue/messages/{message.id}/cancel"
    content = client.get(url, {"recipient": "bob@gmail.com"}).content.decode()
    assert "Cancel delivery to <bdi>bob@gmail.com</bdi>?" in content
    assert "also cancels" in content and "jimbob@gmail.com" in content
    assert not calls(sandbox, "DELETE")
    response = client.post(url, {"recipient": "Bob@gmail.com"})
    assert response.status_code == 302
    (delete,) = calls(sandbox, "DELETE")
    assert query(delete) == {"filter": ["bob@gmail.com"]}
    remaining = state(sandbox).messages[message.id]
    cancelled = [r.address for r in remaining.recipients() if r.status[0] == "perm_fail"]
    assert cancelled == ["bob@gmail.com", "jimbob@gmail.com"]


def test_cancel_domain_uses_an_at_sign(signed_in, sandbox, scene):
    client = signed_in("admin")
    url = f"/queue/messages/{scene['normal'].id}/cancel"
    content = client.get(url, {"domain": "outlook.com"}).content.decode()
    assert "dave@outlook.com.au" in content  # matched by accident, and said so
    client.post(url, {"domain": "outlook.com"})
    assert query(calls(sandbox, "DELETE")[0]) == {"filter": ["@outlook.com"]}


def test_cancel_whole_message(signed_in, generation, scene):
    sandbox = generation.sandbox
    client = signed_in("admin")
    message = scene["bounce"]
    content = client.get(f"/queue/messages/{message.id}/cancel").content.decode()
    assert "Cancel this message?" in content
    response = client.post(f"/queue/messages/{message.id}/cancel")
    assert response.status_code == 302 and response["Location"] == "/queue/"
    assert message.id not in state(sandbox).messages
    if not generation.jmap:
        (delete,) = calls(sandbox, "DELETE")
        assert delete.query == ""


def test_cancel_refused_for_helpdesk(signed_in, generation, scene):
    sandbox = generation.sandbox
    client = signed_in("helpdesk")
    assert client.get(f"/queue/messages/{scene['normal'].id}/cancel").status_code == 403
    assert client.post(f"/queue/messages/{scene['normal'].id}/cancel").status_code == 403
    assert sandbox.requests == []


# --- bulk ------------------------------------------------------------------------------
def test_bulk_preview_then_retry_with_the_same_selection(signed_in, generation, scene):
    sandbox = generation.sandbox
    client = signed_in("admin")
    page = client.get("/queue/bulk", {"q": "gmail"})
    content = page.content.decode()
    assert "1 message matches" in content and "Retry all 1 now" in content and "Cancel all 1" in content
    if not generation.jmap:
        (preview,) = calls(sandbox)
        assert query(preview) == {"text": ["gmail"], "values": ["1"], "page": ["1"], "limit": ["10"]}
    sandbox.requests.clear()
    state(sandbox).queue_running = False
    response = client.post("/queue/bulk", {"q": "gmail", "action": "retry", "expected": "1"})
    assert response.status_code == 302
    messages = state(sandbox).messages
    assert all(d.next_retry <= sandbox.now() for d in messages[scene["normal"].id].domains)
    assert all(d.next_retry > sandbox.now() for d in messages[scene["bounce"].id].domains)
    if not generation.jmap:
        (patch,) = calls(sandbox, "PATCH")
        assert patch.path == "/api/queue/messages" and query(patch) == {"text": ["gmail"]}


def test_bulk_cancel_uses_from_and_to(signed_in, generation, scene):
    sandbox = generation.sandbox
    client = signed_in("admin")
    response = client.post(
        "/queue/bulk", {"sender": "alice", "recipient": "gmail", "action": "cancel", "expected": "1"}
    )
    assert response.status_code == 302
    assert sorted(state(sandbox).messages) == sorted([scene["bounce"].id, scene["hostile"].id])
    if not generation.jmap:
        (delete,) = calls(sandbox, "DELETE")
        assert query(delete) == {"from": ["alice"], "to": ["gmail"]}


def test_bulk_refuses_when_the_count_changed(signed_in, generation, scene):
    sandbox = generation.sandbox
    client = signed_in("admin")
    response = client.post("/queue/bulk", {"q": "example", "action": "cancel", "expected": "99"})
    assert response.status_code == 409
    assert "The queue changed" in response.content.decode()
    assert not calls(sandbox, "DELETE") and len(state(sandbox).messages) == 3
    # asked again, the preview counts the selection: the cancel takes exactly it
    assert "2 messages match" in client.get("/queue/bulk", {"q": "example"}).content.decode()
    response = client.post("/queue/bulk", {"q": "example", "action": "cancel", "expected": "2"})
    assert response.status_code == 302
    assert sorted(state(sandbox).messages) == [scene["bounce"].id]  # alice@example.org and victim@example.com


def test_bulk_cancel_refused_for_helpdesk(signed_in, generation, scene):
    sandbox = generation.sandbox
    client = signed_in("helpdesk")
    content = client.get("/queue/bulk").content.decode()
    assert "Retry all" in content and "Cancel all" not in content
    sandbox.requests.clear()
    response = client.post("/queue/bulk", {"action": "cancel", "expected": "3"})
    assert response.status_code == 403
    assert not calls(sandbox, "DELETE")


def test_bulk_with_past_time_does_nothing(signed_in, sandbox, scene):
    client = signed_in("admin")
    response = client.post("/queue/bulk", {"before": "2001-01-01T00:00", "action": "cancel", "expected": "3"})
    assert response.status_code == 422
    assert sandbox.requests == []
