"""The delivery check streams through the portal under a real ASGI server.

Arrival is measured against the sandbox, not the clock: when the browser receives a step,
the test looks at how many frames the sandbox has sent so far. Relayed as it arrives, the
first step shows up while Stalwart still has most of the check ahead of it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import httpx
import pytest

from portal.stalwart.sse import SSEParser
from sandbox.toolstate import tools_state
from sandbox.troubleshoot import delivery_stages
from tests.asgi_server import portal_asgi_server, signed_in_client
from tests.conftest import persona

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def portal(sandbox):
    with portal_asgi_server() as url:
        yield url


@contextlib.contextmanager
def http(portal: str, who: str = "admin") -> Iterator[httpx.Client]:
    """Signed in over HTTP, without Django's test client: nothing here runs the portal in this thread."""
    account = persona(who)
    client = signed_in_client(portal, account.name, account.password, timeout=20)
    try:
        yield client
    finally:
        client.close()


def wait_closed(record, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not record.closed and time.monotonic() < deadline:
        time.sleep(0.02)


def test_event_stream_relays_each_stage_as_it_arrives(sandbox, portal):
    target = "noconnect.example.net"
    total = len(delivery_stages(target)) + 1  # and "completed"
    tools_state(sandbox).frame_delay = (0.1, 0.1)
    seen: list[int] = []  # frames the sandbox had sent when each step reached the browser
    parser = SSEParser()
    with http(portal) as h, h.stream("GET", f"/tools/delivery/events?target={target}") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for chunk in response.iter_raw():
            for event in parser.feed(chunk):
                if event.event == "step":
                    seen.append(tools_state(sandbox).streams[-1].frames_sent)
    assert len(seen) == total
    assert seen[0] <= total // 3, seen  # the first step arrived while Stalwart had barely started
    assert seen[len(seen) // 2] < total - 3, seen
    assert seen == sorted(seen) and len(set(seen)) > total // 3, seen


def test_plain_page_grows_while_the_check_runs(sandbox, portal):
    target = "badtls.example.net"
    total = len(delivery_stages(target)) + 1
    tools_state(sandbox).frame_delay = (0.1, 0.1)
    received, seen = b"", []
    with http(portal) as h, h.stream("GET", f"/tools/delivery/run?target={target}") as response:
        assert response.status_code == 200
        for chunk in response.iter_raw():
            before = received.count(b'<li class="step ')
            received += chunk
            if received.count(b'<li class="step ') > before:
                seen.append(tools_state(sandbox).streams[-1].frames_sent)
            if b"<!doctype html>" in received and not seen:
                # the page head (navigation, form) is already there before any step
                assert b"Checking badtls.example.net" in received
    assert received.rstrip().endswith(b"</html>") and b"TLS could not be established" in received
    assert seen[0] <= total // 3 and seen[-1] >= total - 1 and len(set(seen)) > total // 3, seen


def test_closing_the_page_closes_the_upstream_stream(sandbox, portal):
    """Stalwart has gone quiet (a slow remote server); the person closes the tab."""
    tools_state(sandbox).frame_delay = (0.0, 0.0)
    with http(portal) as h, h.stream("GET", "/tools/delivery/events?target=stall.example.net") as response:
        received = b""
        for chunk in response.iter_raw():
            received += chunk
            if b"Fetching the MTA-STS policy" in received:
                break
    record = tools_state(sandbox).streams[-1]
    wait_closed(record)
    assert record.closed and record.stalled and not record.completed


def test_leaving_a_plain_page_halfway_closes_the_upstream_stream(sandbox, portal):
    tools_state(sandbox).frame_delay = (0.05, 0.05)
    with http(portal) as h, h.stream("GET", "/tools/delivery/run?target=example.org") as response:
        received = b""
        for chunk in response.iter_raw():
            received += chunk
            if received.count(b'<li class="step ') >= 3:
                break
    record = tools_state(sandbox).streams[-1]
    wait_closed(record)
    assert record.closed and not record.completed
    assert record.frames_sent < len(delivery_stages("example.org"))


def test_the_load_tests_watcher_reads_every_step_and_can_walk_away(sandbox, portal):
    """loadtest/watcher.py, which the live-stream benchmark watches a thousand checks with, reads
    what a browser reads: every step by number, then "done"; or hangs up after the first step."""
    import asyncio

    from loadtest.watcher import watch

    tools_state(sandbox).frame_delay = (0.0, 0.0)
    target = "jane@example.org"
    with http(portal) as h:
        cookies = dict(h.cookies.items())

    def check(cookies: dict[str, str], **options):
        return watch(portal, "/tools/delivery/events", {"target": target}, cookies, **options)

    async def both():
        return await check(cookies), await check(cookies, leave_after_first_step=True), await check({})

    whole, left, refused = asyncio.run(both())
    steps = len(delivery_stages(target)) + 1
    assert (whole.status, whole.error, whole.finished) == (200, "", True)
    assert sorted(whole.arrivals) == list(range(1, steps + 1))
    assert (left.status, left.error, left.finished, sorted(left.arrivals)) == (200, "", False, [1])
    wait_closed(tools_state(sandbox).streams[-1])
    assert tools_state(sandbox).streams[-1].closed
    assert refused.status != 200 and refused.error == f"answer {refused.status}" and not refused.arrivals
