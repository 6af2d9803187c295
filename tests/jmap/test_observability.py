"""Observability on Stalwart 0.16 only: both areas behind one protocol, log paging by anchor
(x:Log) and the typed values of x:Trace events. What behaves alike on both generations is
tested once, against each, in tests/observability/."""

from __future__ import annotations

import re
from html import unescape

import pytest

from portal.stalwart import backend
from portal.stalwart.jmap.observe import JmapLogs, JmapTelemetry, id_text
from portal.stalwart.logs import LogsApi
from portal.stalwart.telemetry import TelemetryApi
from sandbox.jmap import ids
from sandbox.jmap.observe import LogKind

from .test_backend import _methods


def _posts(sandbox) -> int:
    """How many JMAP requests (round trips) reached the sandbox."""
    return sum(1 for r in sandbox.requests if r.path == "/jmap/")


def _log_ids(sandbox) -> list[str]:
    """The sandbox's log entries as x:Log ids, newest first (the order the server pages in)."""
    return [ids.encode(number) for number, _ in LogKind()._lines(sandbox)]


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


def test_a_page_asked_for_by_number_alone_is_counted_from_the_newest(signed_in, sandbox):
    client = signed_in("admin")
    order = _log_ids(sandbox)
    html = client.get("/observability/logs/?size=25&page=2").content.decode()
    assert "Entries 26–50" in html and len(_log_rows(html)) == 25
    assert f"anchor={order[49]}" in _link(html, 3)  # the 26th to 50th newest entries


# --- message history and live tracing ------------------------------------------------------
def test_span_ids_are_x_trace_ids():
    assert id_text(77) == ids.encode(77)


async def _drain(response) -> list[bytes]:
    return [chunk async for chunk in response.streaming_content]


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
