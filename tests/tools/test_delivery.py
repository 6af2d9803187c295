"""Delivery troubleshooting pages: the form, the streamed page, the event stream."""

from __future__ import annotations

import re
import time
import warnings

import pytest
from django.urls import reverse

from sandbox.toolstate import tools_state
from tests.conftest import persona

pytestmark = pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume")


@pytest.fixture
def fast(sandbox):
    state = tools_state(sandbox)
    state.frame_delay = (0.0, 0.001)
    state.time_scale = 0.001
    return sandbox


def body(response) -> str:
    """The whole streamed body (the test client consumes async streams in one go)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return b"".join(iter(response)).decode()


def run_url(target: str) -> str:
    return reverse("tools:delivery-run") + f"?target={target}"


def events_url(target: str) -> str:
    return reverse("tools:delivery-events") + f"?target={target}"


def test_internationalised_domains_are_checked_in_ascii(signed_in, fast):
    client = signed_in("admin")
    body(client.get(run_url("jane%40b%C3%BCcher.example")))
    assert tools_state(fast).streams[-1].target == "jane@xn--bcher-kva.example"


def test_form_is_prefilled_from_target(signed_in, sandbox):
    client = signed_in("helpdesk")
    response = client.get(reverse("tools:delivery") + "?target=jane%40example.org")
    assert response.status_code == 200
    assert 'value="jane@example.org"' in response.content.decode()
    assert sandbox.requests == []


def test_refused_without_troubleshoot(signed_in, generation):
    client = signed_in("user")
    for name in ("tools:delivery", "tools:delivery-run", "tools:delivery-events"):
        assert client.get(reverse(name) + "?target=example.org").status_code == 403, name
    assert generation.sandbox.requests == []


def test_bad_target_keeps_what_was_typed(signed_in, sandbox):
    client = signed_in("admin")
    response = client.get(run_url("not a domain"))
    assert response.status_code == 422
    content = response.content.decode()
    assert 'value="not a domain"' in content and "Enter an e-mail address or a domain" in content
    htmx = client.get(run_url("nope"), headers={"HX-Request": "true"})
    assert htmx.status_code == 422 and "<html" not in htmx.content.decode()
    assert client.get(events_url("bad target")).status_code == 400
    assert sandbox.requests == []


def test_htmx_gets_a_live_panel_and_no_upstream_call_yet(signed_in, sandbox):
    client = signed_in("admin")
    response = client.get(run_url("jane%40example.org"), headers={"HX-Request": "true"})
    assert response.status_code == 200
    content = response.content.decode()
    assert "<html" not in content
    assert 'hx-ext="sse"' in content and 'sse-close="done"' in content
    assert f'sse-connect="{reverse("tools:delivery-events")}?target=jane%40example.org"' in content
    assert sandbox.requests == []


#: Where the delivery check runs, for jane@example.org: REST up to 0.15, 0.16.
TOKEN_PATH = ("/api/troubleshoot/token", "/api/token/delivery")
CHECK_PATH = ("/api/troubleshoot/delivery/jane%40example%2Eorg", "/api/live/delivery/jane%40example%2Eorg")


def test_page_without_javascript_streams_the_whole_check(signed_in, generation, fast):
    client = signed_in("admin")
    response = client.get(run_url("jane%40example.org"))
    assert response.status_code == 200 and response.streaming
    assert "no-store" in response["Cache-Control"]
    page = body(response)
    assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")
    assert page.index("Looking up the mail servers (MX) of example.org") < page.index("jane@example.org accepts mail")
    assert "Found 2 mail servers" in page and "mx1.example.org (preference 10)" in page
    assert page.count('class="step ') > 20
    assert 'id="ticket-summary"' in page and "Result: OK - jane@example.org accepts mail" in page
    assert 'data-copy="#ticket-summary"' in page
    # 0.16's camelCase remoteIps/remoteIp reach the steps like the REST keys
    assert re.search(r"has \d+ address", page) and re.search(r"Connecting to \d+\.\d+\.\d+\.\d+ on port 25", page)
    # the token, then the check with it (never with the person's credentials)
    assert [f"{r.method} {r.path}" for r in fast.requests] == [
        f"GET {TOKEN_PATH[generation.jmap]}",
        f"GET {CHECK_PATH[generation.jmap]}",
    ]
    delivery = fast.requests[1]
    assert delivery.auth_scheme is None and "token=" in delivery.query
    if not generation.jmap:
        assert "timeout=25" in delivery.query
    # the browser never learns where Stalwart is, nor the token
    token = re.search(r"token=([^&]+)", delivery.query).group(1)
    assert token not in page and fast_url(fast) not in page


def fast_url(sandbox) -> str:
    from django.conf import settings

    return settings.STALWART_URL


def test_event_stream_relays_fragments(signed_in, generation, fast):
    client = signed_in("helpdesk")
    response = client.get(events_url("example.org"))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/event-stream")
    assert response["X-Accel-Buffering"] == "no"
    stream = body(response)
    events = re.findall(r"^event: (\w+)$", stream, re.M)
    assert events[0] == "status" and events[-3:] == ["verdict", "status", "done"]
    assert events.count("step") > 15
    assert "retry: 3000" in stream and "id: 1\n" in stream
    assert 'data: <li class="step step-start">' in stream
    assert "example.org can receive mail" in stream
    assert "token" not in stream.lower().replace("tokens", "")
    # the event stream is one call, with the person's credentials
    check = CHECK_PATH[generation.jmap].replace("jane%40", "")
    assert [(r.path, r.auth_scheme) for r in fast.requests] == [(check, "Bearer")]


def test_a_refused_token_gives_the_error_page(signed_in, generation):
    sandbox = generation.sandbox
    client = signed_in("admin")
    sandbox.faults.server_error(503, prefix=TOKEN_PATH[generation.jmap])
    response = client.get(run_url("example.org"))
    assert response.status_code in (502, 503) and not response.streaming
    assert [r.path for r in sandbox.requests] == [TOKEN_PATH[generation.jmap]]


@pytest.mark.parametrize(
    ("target", "headline"),
    [
        ("someone%40nomx.example.net", "Mail to someone@nomx.example.net cannot be delivered"),
        ("nullmx.example.net", "nullmx.example.net does not accept mail"),
        ("bob%40reject.example.net", "The recipient bob@reject.example.net was refused"),
        ("badtls.example.net", "TLS could not be established"),
        ("noconnect.example.net", "No mail server of noconnect.example.net could be reached"),
        ("stsmismatch.example.net", "No mail server is allowed by the domain&#x27;s MTA-STS policy"),
        ("slow.example.net", "No mail server of slow.example.net could be reached"),
    ],
)
def test_verdicts(signed_in, fast, target, headline):
    client = signed_in("admin")
    page = body(client.get(run_url(target)))
    assert headline in page
    assert "verdict-error" in page


def test_a_stalled_stream_shows_a_timeout(signed_in, sandbox, settings):
    settings.TROUBLESHOOT_STALL_SECONDS = 0.4
    tools_state(sandbox).frame_delay = (0.0, 0.0)
    client = signed_in("admin")
    stream = body(client.get(events_url("stall.example.net")))
    assert "Fetching the MTA-STS policy" in stream
    assert "Stalwart sent nothing for 0 seconds, so the portal stopped waiting." in stream
    assert "The check did not finish" in stream and "event: done" in stream
    record = tools_state(sandbox).streams[-1]
    deadline = time.monotonic() + 5
    while not record.closed and time.monotonic() < deadline:  # the sandbox notices in its own thread
        time.sleep(0.02)
    assert record.closed and not record.completed  # the portal hung up on Stalwart


def test_reconnect_never_reruns_the_check(signed_in, sandbox):
    client = signed_in("admin")
    stream = body(client.get(events_url("example.org"), headers={"Last-Event-ID": "4"}))
    assert "interrupted" in stream and "event: done" in stream
    assert sandbox.requests == []


def test_upstream_down(signed_in, sandbox, settings, closed_port):
    client = signed_in("admin")
    settings.STALWART_URL = f"http://127.0.0.1:{closed_port}"
    response = client.get(run_url("example.org"))
    assert response.status_code == 502
    stream = body(client.get(events_url("example.org")))
    assert "Stalwart could not be reached" in stream and "event: done" in stream


def test_nav_and_landing(signed_in):
    client = signed_in("helpdesk")
    page = client.get(reverse("tools:delivery")).content.decode()
    assert 'href="/tools/delivery/"' in page and 'href="/tools/dmarc/"' in page
    # the page loads htmx's SSE extension; every page does, so that a boosted menu link
    # (which keeps the <head>) can open this one
    assert "ext/hx-sse-2" in page
    assert "ext/hx-sse-2" in client.get(reverse("tools:dmarc")).content.decode()


def test_helpdesk_persona_can_run(signed_in, fast):
    client = signed_in("helpdesk")
    assert "Check finished" in body(client.get(run_url(persona("user").name + "%40example.org")))
