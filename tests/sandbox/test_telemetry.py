"""``/api/telemetry/*`` (spec §15, §17, §2.2): Enterprise gating, traces, tokens, SSE streams, metrics."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from sandbox.observability import Event, state

ENTERPRISE = {"error": "unsupported", "details": "Enterprise feature"}


def _read_events(env, path: str, params: dict, *, count: int, timeout: float = 5.0) -> list[tuple[str, str, float]]:
    """(event, data, seconds since open) of the first `count` SSE events."""
    events, name, data = [], "", []
    started = time.monotonic()
    with httpx.stream("GET", env.url + path, params=params, timeout=timeout) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"] == "text/event-stream"
        assert response.headers["cache-control"] == "no-store"
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
            elif line == "" and data:
                events.append((name, "\n".join(data), time.monotonic() - started))
                name, data = "", []
                if len(events) >= count:
                    break
    return events


def _wait_for(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.mark.parametrize(
    "path",
    [
        "/api/telemetry/traces",
        "/api/telemetry/trace/1",
        "/api/telemetry/metrics",
        "/api/telemetry/live/tracing-token",
        "/api/telemetry/nothing",
    ],
)
def test_every_route_needs_enterprise_first(ce, path):
    response = ce.get(path, auth="user")
    assert response.status_code == 200 and response.json() == ENTERPRISE


def test_route_then_permission(ee):
    assert ee.get("/api/telemetry/nothing", auth="user").status_code == 404
    for path in (
        "/api/telemetry/traces",
        "/api/telemetry/trace/1",
        "/api/telemetry/metrics",
        "/api/telemetry/live/metrics-token",
    ):
        assert ee.get(path, auth="user").status_code == 403


def test_trace_list_needs_a_query(ee):
    assert ee.data("GET", "/api/telemetry/traces") == {"items": [], "total": 0}


def test_trace_list_by_type_newest_first_with_paging(ee):
    data = ee.data("GET", "/api/telemetry/traces?type=smtp.connection-start")
    assert data["total"] == len(data["items"]) > 10
    assert data["items"] == sorted(data["items"], reverse=True)
    page = ee.data("GET", "/api/telemetry/traces?type=smtp.connection-start&page=2&limit=5")
    assert page["items"] == data["items"][5:10] and page["total"] == data["total"]


def test_trace_list_values(ee):
    data = ee.data("GET", "/api/telemetry/traces?type=delivery.attempt-start&values=1&limit=3")
    first = data["items"][0]
    assert first["type"] == "delivery.attempt-start" and "text" not in first
    assert {"spanId", "queueId", "from", "to", "size"} <= set(first["data"])
    received = ee.data("GET", "/api/telemetry/traces?type=smtp.connection-start&values=1&limit=3")
    assert all(item["type"] == "queue.queue-message" for item in received["items"])


def test_trace_keyword_and_queue_filters(ee):
    spans = state(ee.sb).spans
    span = next(span for span in spans.values() if span.type == "delivery.attempt-start")
    queue_id = span.events[0].data["queueId"]
    data = ee.data("GET", f"/api/telemetry/traces?type=delivery.attempt-start&queue_id={queue_id}")
    assert span.id in data["items"]
    host = next(e.data["hostname"] for e in span.events if "hostname" in e.data)
    prefix = ee.data("GET", "/api/telemetry/traces", params={"type": "delivery.attempt-start", "filter": host[:5]})
    assert span.id in prefix["items"]
    exact = ee.data(
        "GET", "/api/telemetry/traces", params={"type": "delivery.attempt-start", "filter": f'"{host[:5]}"'}
    )
    assert span.id not in exact["items"]
    both = ee.data("GET", "/api/telemetry/traces", params={"type": "smtp.connection-start", "filter": f'"{host}"'})
    assert span.id not in both["items"]


def test_trace_detail_and_multi_get(ee):
    span = next(iter(state(ee.sb).spans.values()))
    events = ee.data("GET", f"/api/telemetry/trace/{span.id}")
    assert events[0]["type"] == span.type and {"text", "details", "createdAt", "type", "data"} <= set(events[0])
    assert "spanId" not in events[0]["data"]
    assert ee.data("GET", "/api/telemetry/trace/1") == []
    multi = ee.data("GET", f"/api/telemetry/trace?id={span.id}")
    assert multi == [events]
    assert ee.data("GET", f"/api/telemetry/trace?id={span.id},x") == [events, []]


def test_no_trace_store(ee):
    ee.sb.settings["tracing.history.enable"] = "false"
    expected = {"error": "unsupported", "details": "No tracing store has been configured"}
    assert ee.get("/api/telemetry/traces?type=smtp.connection-start").json() == expected
    assert ee.get("/api/telemetry/trace/1").json() == expected


def test_metrics_history_and_filters(ee):
    points = ee.data("GET", "/api/telemetry/metrics")
    kinds = {point["type"] for point in points}
    assert kinds == {"counter", "gauge", "histogram"}
    gauge = next(point for point in points if point["id"] == "server.memory")
    assert set(gauge) == {"type", "id", "timestamp", "value"} and gauge["timestamp"].endswith("Z")
    histogram = next(point for point in points if point["type"] == "histogram")
    assert set(histogram) == {"type", "id", "timestamp", "count", "sum"}
    recent = ee.data("GET", "/api/telemetry/metrics", params={"after": points[-1]["timestamp"]})
    assert 0 < len(recent) < len(points)
    assert all(point["timestamp"] >= points[-1]["timestamp"] for point in recent)


def test_metrics_history_holds_only_what_stalwarts_store_writes(ee):
    """The history store writes a fixed list of names (v0.11.8 and v0.12.4), and never a zero:
    no successful deliveries, no SMTP rejections, no user or connection gauges."""
    from sandbox.observability import HISTORY_COUNTERS, HISTORY_GAUGES, HISTORY_HISTOGRAMS

    points = ee.data("GET", "/api/telemetry/metrics")
    allowed = {"counter": HISTORY_COUNTERS, "gauge": HISTORY_GAUGES, "histogram": HISTORY_HISTOGRAMS}
    for point in points:
        assert point["id"] in allowed[point["type"]], point
        assert (point["count"] if point["type"] == "histogram" else point["value"]) > 0, point
    ids = {point["id"] for point in points}
    assert {"delivery.attempt-start", "queue.count", "server.memory", "delivery.total-time"} <= ids
    assert not ids & {"delivery.delivered", "auth.success", "user.count", "smtp.active-connections"}


def test_metrics_history_gains_a_write_at_the_top_of_every_hour(ee):
    """As a running server's store does: the hours that turned since the last write are there
    when the history is next read, the same however often it is read."""
    from sandbox.dates import parse_rfc3339

    def newest(points):
        return max(parse_rfc3339(point["timestamp"]) for point in points)

    ee.sb.advance(3600 + 1800 - ee.sb.now() % 3600)  # half past the next hour: no hour turns during the test
    hour = ee.sb.now() - ee.sb.now() % 3600
    before = ee.data("GET", "/api/telemetry/metrics")
    assert newest(before) == hour - 3600  # the write at the top of this hour covers the last one
    ee.sb.advance(3 * 3600)
    after = ee.data("GET", "/api/telemetry/metrics")
    assert newest(after) == hour + 2 * 3600
    assert after[: len(before)] == before  # what was written stays as it was
    added = after[len(before) :]
    assert {parse_rfc3339(point["timestamp"]) for point in added} == {hour, hour + 3600, hour + 2 * 3600}
    assert {"queue.queue-message", "server.memory"} <= {point["id"] for point in added}
    assert ee.data("GET", "/api/telemetry/metrics") == after


def test_no_metrics_store(ee):
    ee.sb.settings["metrics.history.enable"] = "false"
    assert ee.get("/api/telemetry/metrics").json() == {
        "error": "other",
        "details": "No metrics store has been defined",
        "reason": "You need to configure a metrics store in order to use this feature.",
    }


def test_live_tokens_and_the_query_token_fallback(ee):
    tracing = ee.data("GET", "/api/telemetry/live/tracing-token")
    metrics = ee.data("GET", "/api/telemetry/live/metrics-token")
    assert tracing != metrics
    # The token is accepted only on its own path, only without a valid header, never for the list.
    assert ee.get("/api/telemetry/metrics/live", auth=None, params={"token": tracing}).status_code == 401
    assert ee.get("/api/telemetry/traces", auth=None, params={"token": tracing}).status_code == 403
    assert ee.get("/api/telemetry/traces/live", auth=None, params={"token": "bm9wZQ=="}).status_code == 401
    ee.sb.advance(61)
    assert ee.get("/api/telemetry/traces/live", auth=None, params={"token": tracing}).status_code == 401


def test_query_token_needs_enterprise(ce, ee):
    token = ee.data("GET", "/api/telemetry/live/tracing-token")
    assert ce.get("/api/telemetry/traces/live", auth=None, params={"token": token}).status_code == 401


def test_live_tracing_batches_events_and_pings(ee):
    obs = state(ee.sb)
    obs.traffic_interval = 0
    obs.batch_interval = 0.3
    obs.ping_interval = 0.2
    obs.poll_interval = 0.01
    token = ee.data("GET", "/api/telemetry/live/tracing-token")

    import threading

    def emit_later() -> None:
        _wait_for(lambda: obs.open_streams == 1)
        with ee.sb.lock:
            obs.emit(
                [Event("auth.failed", ee.sb.now(), {"accountName": "a", "remoteIp": "192.0.2.1"})], store_span=False
            )
        time.sleep(0.05)
        with ee.sb.lock:
            obs.emit(
                [Event("auth.failed", ee.sb.now(), {"accountName": "b", "remoteIp": "192.0.2.2"})], store_span=False
            )

    thread = threading.Thread(target=emit_later)
    thread.start()
    events = _read_events(ee, "/api/telemetry/traces/live", {"token": token}, count=4)
    thread.join()
    names = [name for name, _, _ in events]
    assert "ping" in names
    assert json.loads(next(data for name, data, _ in events if name == "ping")) == {"interval": 200}
    traces = [json.loads(data) for name, data, _ in events if name == "trace"]
    accounts = [event["data"]["accountName"] for batch in traces for event in batch]
    assert accounts == ["a", "b"]
    assert traces[0][0]["text"] == "Authentication failed" and "details" in traces[0][0]
    _wait_for(lambda: obs.open_streams == 0)


def test_live_tracing_key_filters_and_span_follow(ee):
    obs = state(ee.sb)
    obs.traffic_interval = 0
    obs.batch_interval = 0.05
    obs.poll_interval = 0.01
    token = ee.data("GET", "/api/telemetry/live/tracing-token")
    import random
    import threading

    session = obs.received_session(ee.sb.now(), random.Random(3))
    ip = session[0].data["remoteIp"]

    def emit_later() -> None:
        _wait_for(lambda: obs.open_streams == 1)
        with ee.sb.lock:
            obs.emit([Event("auth.failed", ee.sb.now(), {"remoteIp": "10.9.9.9"})], store_span=False)
            obs.emit(session)

    thread = threading.Thread(target=emit_later)
    thread.start()
    events = _read_events(ee, "/api/telemetry/traces/live", {"token": token, "REMOTEIP": ip}, count=1)
    thread.join()
    batch = json.loads(events[0][1])
    # Every event of the matching session (they carry the span's keys), none of the other one.
    assert [event["type"] for event in batch] == [event.type for event in session]


def test_live_metrics_frames(ee):
    obs = state(ee.sb)
    obs.metrics_interval = 0.05
    token = ee.data("GET", "/api/telemetry/live/metrics-token")
    events = _read_events(
        ee, "/api/telemetry/metrics/live", {"token": token, "metrics": "user.count,auth.failed"}, count=2
    )
    first = json.loads(events[0][1])
    assert events[0][0] == "metrics"
    assert {item["id"] for item in first} == {"user.count", "auth.failed"}
    users = next(item for item in first if item["id"] == "user.count")
    assert users["type"] == "gauge" and users["value"] > 5
    _wait_for(lambda: obs.open_streams == 0)


def test_streams_close_when_the_client_leaves(ee):
    obs = state(ee.sb)
    token = ee.data("GET", "/api/telemetry/live/tracing-token")
    with httpx.stream("GET", ee.url + "/api/telemetry/traces/live", params={"token": token}, timeout=5) as response:
        assert response.status_code == 200
        _wait_for(lambda: obs.open_streams == 1)
    _wait_for(lambda: obs.open_streams == 0)
