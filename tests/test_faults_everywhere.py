"""Every page survives a misbehaving Stalwart: slow, failing, garbled or hanging up.

The URL conf is walked like `test_url_walk` does. Signed in as the administrator, each page
that answers GET is loaded once normally and then once per fault the sandbox injects
(`sandbox.faults`). A page that called Stalwart must explain the failure with 502/503/504;
one that did not must answer as it normally does. Never a 500, never a traceback. Event
streams must report the failure as an event and end.

Then the paths that change something: a failed change is recorded as a failure in the
audit trail, and an access token that dies mid-session is refreshed and the read retried
once, while a change is never sent twice.
"""

from __future__ import annotations

import asyncio
import re
from urllib.parse import unquote

import pytest
from asgiref.sync import async_to_sync
from django.core.handlers.asgi import ASGIHandler
from django.urls import NoReverseMatch, reverse

from portal.models import AuditEntry
from sandbox.toolstate import tools_state
from tests.conftest import persona
from tests.test_url_walk import concrete, rule_of, walk

JANE = persona("user").name
STREAM_TIMEOUT = 15

# Fault kind -> (the statuses that explain it, the title of the error page).
FAULTS = {
    "latency": ((504,), "Stalwart did not answer in time"),
    "5xx": ((502,), "Stalwart reported an internal error"),
    "malformed": ((502,), "Stalwart sent an unexpected answer"),
    "reset": ((502,), "Stalwart could not be reached"),
}


def _url(name: str, route: str, pattern) -> str:
    """A concrete URL: the walk's sample values, and for regex routes the first alternative."""
    url, kwargs = concrete(route, pattern)
    if "(?P<" not in route:
        return url
    for group, alternatives in re.findall(r"\(\?P<(\w+)>([\w|-]+)\)", route):
        kwargs[group] = alternatives.split("|")[0]
    try:
        return reverse(name, kwargs=kwargs)
    except NoReverseMatch:
        return url


#: Downloads whose database reads go through a connection of their own, which sees
#: committed rows only (the audit export: `EXPORT_READERS`).
OWN_CONNECTION = {"audit:csv"}

PAGES = [
    pytest.param(
        _url(name, route, pattern),
        id=name,
        marks=[pytest.mark.django_db(transaction=True)] if name in OWN_CONNECTION else [],
    )
    for name, route, pattern in walk()
    if name and rule_of(pattern) is not None
] + [
    # Pages that call Stalwart only with a query.
    pytest.param("/directory/accounts/?q=jane", id="directory:list-search"),
    pytest.param("/tools/delivery/run?target=example.org", id="tools:delivery-run-target"),
    pytest.param("/tools/delivery/events?target=example.org", id="tools:delivery-events-target"),
]


def inject(sandbox, settings, kind: str) -> None:
    faults = sandbox.faults
    if kind == "latency":
        settings.STALWART_TIMEOUT = 0.15
        faults.latency(2000, prefix="/api/")
    elif kind == "5xx":
        faults.server_error(500, prefix="/api/")
    elif kind == "malformed":
        faults.malformed_json(prefix="/api/")
    elif kind == "reset":
        faults.reset_connection(prefix="/api/")


def read(response) -> str:
    if not response.streaming:
        return response.content.decode(errors="replace")
    if not response.is_async:
        return b"".join(response.streaming_content).decode(errors="replace")

    async def collect() -> bytes:
        async def chunks() -> bytes:
            return b"".join([chunk async for chunk in response.streaming_content])

        return await asyncio.wait_for(chunks(), STREAM_TIMEOUT)

    return async_to_sync(collect)().decode(errors="replace")


def upstream_calls(sandbox) -> list:
    return [r for r in sandbox.requests if r.path.startswith("/api/")]


@pytest.mark.parametrize("url", PAGES)
def test_every_page_explains_upstream_faults(signed_in, sandbox, settings, url):
    tools_state(sandbox).frame_delay = (0.0, 0.002)  # delivery checks stream quickly
    client = signed_in("admin")
    normal = client.get(url)
    if normal.status_code == 405:
        pytest.skip("not a GET view")
    live = normal.streaming and normal["Content-Type"].startswith("text/event-stream")
    normal_body = "" if live else read(normal)  # a live stream would never end
    assert normal.status_code < 500, (url, normal.status_code, normal_body[:300])
    called = bool(upstream_calls(sandbox))
    problems = []
    for kind, (statuses, title) in FAULTS.items():
        sandbox.faults.clear()
        sandbox.requests.clear()
        timeout = settings.STALWART_TIMEOUT
        inject(sandbox, settings, kind)
        try:
            response = client.get(url)
            body = read(response)
        finally:
            settings.STALWART_TIMEOUT = timeout
            sandbox.faults.clear()
        verdict = f"{kind}: {response.status_code}"
        if "Traceback" in body or response.status_code == 500:
            problems.append(f"{verdict} with a crash: {body[:300]!r}")
        elif not called and upstream_calls(sandbox) == []:
            if response.status_code != normal.status_code:
                problems.append(f"{verdict}, normally {normal.status_code} without calling Stalwart")
        elif response.streaming and response.status_code == 200:
            if "event: failure" not in body and "The check stopped" not in body:
                problems.append(f"{verdict}: the stream did not report the failure: {body[:300]!r}")
        elif kind == "malformed" and normal.status_code == response.status_code == 404:
            pass  # Stalwart's "404" status line survives the garbled body: a clear "not found"
        elif response.status_code not in statuses or title not in body:
            problems.append(f"{verdict}, expected {statuses} with {title!r}: {body[:300]!r}")
    assert problems == [], f"{url}:\n" + "\n".join(problems)


# --- changes ---------------------------------------------------------------------------------
def edit_form(client) -> dict:
    page = client.get(f"/directory/accounts/{JANE}/edit")
    assert page.status_code == 200
    html = page.content.decode()
    data = {}
    for name, value in re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', html):
        data.setdefault(name, value)
    for name, body in re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>([^<]*)</textarea>', html):
        data.setdefault(name, body)
    data.pop("csrfmiddlewaretoken", None)
    return data


def test_failed_change_is_shown_and_audited(signed_in, sandbox):
    client = signed_in("admin")
    data = {**edit_form(client), "description": "Changed while Stalwart fails"}
    sandbox.faults.server_error(500, prefix="/api/principal", methods={"PATCH"})
    sandbox.requests.clear()
    response = client.post(f"/directory/accounts/{JANE}/edit", data)
    html = response.content.decode()
    assert response.status_code in (200, 422, 502), html[:500]
    assert "Traceback" not in html
    assert "Stalwart reported an internal error" in html or "internal error" in html.lower()
    assert "Changed while Stalwart fails" in html or response.status_code == 502
    patches = [r for r in sandbox.requests if r.method == "PATCH"]
    assert len(patches) == 1 and patches[0].status == 500
    entry = AuditEntry.objects.get(method="PATCH")
    assert entry.outcome == AuditEntry.FAILURE
    assert entry.status == 500
    assert entry.target == JANE and entry.actor == persona("admin").name
    assert sandbox.get(JANE).description != "Changed while Stalwart fails"


def test_expired_token_on_a_read_is_refreshed_and_retried_once(signed_in, sandbox):
    client = signed_in("admin")
    sandbox.faults.expire_tokens(prefix="/api/principal", methods={"GET"}, times=1)
    response = client.get(f"/directory/accounts/{JANE}/")
    assert response.status_code == 200
    assert JANE in response.content.decode()
    calls = [(r.method, unquote(r.path), r.status) for r in sandbox.requests]
    assert calls[0] == ("GET", f"/api/principal/{JANE}", 401)
    assert ("POST", "/auth/token", 200) in calls
    refreshed = calls.index(("POST", "/auth/token", 200))
    assert calls[refreshed + 1][0:2] == ("GET", f"/api/principal/{JANE}")
    assert calls[refreshed + 1][2] == 200
    # Still signed in, with the new token.
    sandbox.requests.clear()
    assert client.get("/directory/accounts/").status_code == 200
    assert not any(r.path == "/auth/token" for r in sandbox.requests)


def test_a_read_is_retried_only_once(signed_in, sandbox):
    client = signed_in("admin")
    sandbox.faults.expire_tokens(prefix="/api/principal", methods={"GET"}, times=2)
    response = client.get(f"/directory/accounts/{JANE}/")
    assert response.status_code == 302 and response.url.startswith("/auth/sign-in")
    reads = [r.status for r in sandbox.requests if r.path.startswith("/api/principal")]
    assert reads == [401, 401]


def test_expired_token_on_a_change_is_not_retried(signed_in, sandbox):
    client = signed_in("admin")
    data = {**edit_form(client), "description": "Sent once"}
    sandbox.faults.expire_tokens(prefix="/api/principal", methods={"PATCH"}, times=1)
    sandbox.requests.clear()
    response = client.post(f"/directory/accounts/{JANE}/edit", data)
    assert response.status_code == 302
    assert response.url.startswith("/auth/sign-in")
    patches = [r for r in sandbox.requests if r.method == "PATCH"]
    assert len(patches) == 1 and patches[0].status == 401
    assert sandbox.get(JANE).description != "Sent once"
    entry = AuditEntry.objects.get(method="PATCH")
    assert entry.outcome == AuditEntry.FAILURE and entry.status == 401
    # The session is over: the next page asks to sign in again.
    assert client.get("/directory/accounts/").status_code == 302


# --- event streams cut short -------------------------------------------------------------------
def asgi_get(client, path: str, query: str = "") -> str:
    """GET through the ASGI handler in one event loop (the relays keep Stalwart's stream open
    across the view and its body, which the test client would run in two loops)."""
    cookie = client.cookies["portal_session"].value
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"cookie", f"portal_session={cookie}".encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    body: list[bytes] = []
    done = asyncio.Event()

    async def receive() -> dict:
        if not body and not done.is_set() and not getattr(receive, "sent", False):
            receive.sent = True  # type: ignore[attr-defined]
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            assert message["status"] == 200, message
        elif message["type"] == "http.response.body":
            body.append(message.get("body", b""))
            if not message.get("more_body"):
                done.set()

    async def run() -> None:
        try:
            await asyncio.wait_for(ASGIHandler()(scope, receive, send), STREAM_TIMEOUT)
        except TimeoutError:
            raise AssertionError(f"{path} did not end: {b''.join(body)[-2000:]!r}") from None

    async_to_sync(run)()
    return b"".join(body).decode()


@pytest.mark.parametrize(
    ("reset", "delivery_text", "live_text"),
    [
        (False, "Stalwart ended the check before it completed", "Stream ended"),
        (True, "The connection to Stalwart broke off", "The stream broke off"),
    ],
)
def test_truncated_streams_are_reported(signed_in, sandbox, reset, delivery_text, live_text):
    tools_state(sandbox).frame_delay = (0.0, 0.002)
    client = signed_in("admin")
    sandbox.faults.truncate_sse(after=2, reset=reset, prefix="/api/troubleshoot/delivery")
    sandbox.faults.truncate_sse(after=0, reset=reset, prefix="/api/telemetry/traces/live")

    delivery = asgi_get(client, "/tools/delivery/events", "target=example.org")
    assert delivery_text in delivery and "event: done" in delivery
    assert "Traceback" not in delivery

    live = asgi_get(client, "/observability/live/stream")
    assert live_text in live and "Traceback" not in live
    assert [r.faults for r in sandbox.requests if r.path.startswith("/api/telemetry/traces/live")] == [
        ("truncate-sse",)
    ]
