"""0.16 logs, traces, metrics (objects.md §20–§22) and the token/live endpoints
(jmap-management.md §4), from the REST sandbox's observability and troubleshooting state."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from sandbox.jmap import ids
from sandbox.jmap.store import parse_utc, utc
from sandbox.observability import Event, state
from sandbox.toolstate import tools_state
from sandbox.troubleshoot import delivery_stages


def _read_events(v16, path: str, params: dict, *, count: int, headers=None, timeout: float = 5.0):
    events, name, data = [], "", []
    with httpx.stream("GET", v16.url + path, params=params, headers=headers or {}, timeout=timeout) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"] == "text/event-stream"
        assert response.headers["cache-control"] == "no-store"
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
            elif line == "" and data:
                events.append((name, json.loads("\n".join(data))))
                name, data = "", []
                if len(events) >= count:
                    break
    return events


def _wait_for(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


# ------------------------------------------------------------------------------ x:Log
def test_logs_newest_first_with_anchor_paging_and_text(v16):
    first = v16.call("admin", "x:Log/query", {"limit": 3})[1]
    assert first["position"] == 0 and len(first["ids"]) == 3
    entries = v16.call("admin", "x:Log/get", {"ids": first["ids"]})[1]["list"]
    stamps = [e["timestamp"] for e in entries]
    assert stamps == sorted(stamps, reverse=True)
    assert {"details", "event", "level", "timestamp", "id"} == set(entries[0])
    assert entries[0]["level"] in ("error", "warn", "info", "debug", "trace")
    following = v16.call("admin", "x:Log/query", {"limit": 3, "anchor": first["ids"][-1]})[1]
    assert set(following["ids"]).isdisjoint(first["ids"])
    assert ids.decode(following["ids"][0]) < ids.decode(first["ids"][-1])
    # position is ignored on the pushed-down path, refused with calculateTotal
    assert v16.call("admin", "x:Log/query", {"limit": 3, "position": 5})[1]["ids"] == first["ids"]
    err = v16.call("admin", "x:Log/query", {"position": 5, "calculateTotal": True})[1]
    assert err == {"type": "invalidArguments", "description": "Pagination is only possible using anchors for logs"}
    total = v16.call("admin", "x:Log/query", {"calculateTotal": True, "limit": 2})[1]
    assert total["total"] == 5000 and total["limit"] == 2
    assert v16.call("admin", "x:Log/query", {"anchor": "zzzzzzzz"})[1]["ids"] == []
    auth = v16.call("admin", "x:Log/query", {"filter": {"text": "auth.failed"}, "limit": 5})[1]["ids"]
    assert auth and all(e["event"] == "auth.failed"
                        for e in v16.call("admin", "x:Log/get", {"ids": auth})[1]["list"])
    assert v16.call("admin", "x:Log/query", {"filter": {"level": "info"}})[1]["type"] == "unsupportedFilter"


def test_logs_use_the_016_event_names_and_need_a_log_tracer(v16):
    obs = state(v16.sb)
    with v16.sb.lock:
        obs.emit([Event("queue.queue-message", v16.sb.now(), {"queueId": 7, "from": "a@b.example"})],
                 store_span=False)
    newest = v16.call("admin", "x:Log/get", {"ids": v16.call("admin", "x:Log/query", {"limit": 1})[1]["ids"]})
    assert newest[1]["list"][0]["event"] == "queue.message-queued"
    for key in [k for k in v16.sb.settings if k.startswith("tracer.") and k.endswith(".type")]:
        v16.sb.settings[key] = "stdout"
    assert v16.call("admin", "x:Log/query", {})[1] == {"type": "invalidArguments",
                                                      "description": "No log tracers configured on the server"}


# ------------------------------------------------------------------------------ x:Trace
def test_traces_query_get_and_key_values(v16, v16ce):
    obs = state(v16.sb)
    q = v16.call("admin", "x:Trace/query", {"filter": {"timestampIsGreaterThan": utc(0)}, "calculateTotal": True})[1]
    assert q["total"] == len(obs.spans)
    recent = v16.call("admin", "x:Trace/query", {"calculateTotal": True})[1]  # the last 24 hours only
    cutoff = v16.sb.now() - 86400
    assert recent["total"] == sum(1 for s in obs.spans.values() if s.events[0].ts >= cutoff)
    span = next(s for s in obs.spans.values() if any("queueId" in e.data for e in s.events))
    queue_id = next(e.data["queueId"] for e in span.events if "queueId" in e.data)
    by_queue = v16.call("admin", "x:Trace/query", {"filter": {"queueId": ids.encode(queue_id)}})[1]["ids"]
    assert ids.encode(span.id) in by_queue
    trace = v16.call("admin", "x:Trace/get", {"ids": [ids.encode(span.id)]})[1]["list"][0]
    assert trace["timestamp"] == utc(span.events[0].ts)
    first = trace["events"]["0"]
    assert first["event"] == span.events[0].type.replace("queue.queue-message", "queue.message-queued")
    pairs = {kv["key"]: kv["value"] for kv in first["keyValues"].values()}
    if "remoteIp" in pairs:
        assert pairs["remoteIp"]["@type"] == "IpAddr"
    assert all("@type" in v for v in pairs.values())
    assert v16ce.call("admin", "x:Trace/query", {})[1]["type"] == "forbidden"


# ------------------------------------------------------------------------------ x:Metric
def test_metric_samples_with_016_names(v16, v16ce):
    q = v16.call("admin", "x:Metric/query", {"filter": {"metric": ["queue.message-queued", "queue.count"]},
                                             "sort": [{"property": "anything", "isAscending": True}],
                                             "calculateTotal": True})[1]
    items = v16.call("admin", "x:Metric/get", {"ids": q["ids"][:50]})[1]["list"]
    assert q["total"] > 0 and {i["metric"] for i in items} <= {"queue.message-queued", "queue.count"}
    stamps = [i["timestamp"] for i in items]
    assert stamps == sorted(stamps)
    counter = next(i for i in items if i["metric"] == "queue.message-queued")
    assert counter["@type"] == "Counter" and counter["count"] > 0
    hist = v16.call("admin", "x:Metric/query", {"filter": {"metric": ["delivery.total-time"]}, "limit": 1,
                                                "position": 0})[1]
    h = v16.call("admin", "x:Metric/get", {"ids": hist["ids"]})[1]["list"][0]
    assert h["@type"] == "Histogram" and h["sum"] >= h["count"] > 0
    assert not any(p["id"] == "queue.message-queued" for p in state(v16.sb).metrics)  # REST keeps ≤0.15 names
    later = v16.call("admin", "x:Metric/query", {"filter": {"timestampIsGreaterThan": utc(v16.sb.now() - 7200)},
                                                 "calculateTotal": True})[1]
    assert 0 < later["total"] < q["total"] * 20
    assert v16ce.call("admin", "x:Metric/query", {})[1]["type"] == "forbidden"



def test_metric_samples_gain_a_write_every_hour(v16):
    v16.sb.advance(3600 + 1800 - v16.sb.now() % 3600)  # half past the next hour: none turns meanwhile

    def newest():
        q = v16.call("admin", "x:Metric/query", {"filter": {"metric": ["server.memory"]}})[1]
        items = v16.call("admin", "x:Metric/get", {"ids": q["ids"]})[1]["list"]
        return max(parse_utc(item["timestamp"]) for item in items)

    hour = v16.sb.now() - v16.sb.now() % 3600
    assert newest() == hour - 3600
    v16.sb.advance(2 * 3600)
    assert newest() == hour + 3600


# ------------------------------------------------------------------------------ tokens and live streams
@pytest.fixture
def fast(v16):
    tools_state(v16.sb).frame_delay = (0.0, 0.002)
    tools_state(v16.sb).time_scale = 0.01
    return v16


def test_delivery_token_and_stream_with_camel_case_keys(fast):
    r = fast.client.get("/api/token/delivery", headers=fast.bearer("admin"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    token = r.text
    events = _read_events(fast, "/api/live/delivery/jane%40example.org", {"token": token}, count=100)
    assert all(name == "event" and len(data) == 1 for name, data in events)
    stages = [data[0] for _, data in events]
    assert stages[-1] == {"type": "completed"}
    assert len(stages) == len(delivery_stages("jane@example.org")) + 1
    ips = next(s for s in stages if s["type"] == "ipLookupSuccess")
    assert "remoteIps" in ips and "remote_ips" not in ips
    assert "remoteIp" in next(s for s in stages if s["type"] == "connectionStart")
    assert tools_state(fast.sb).streams[-1].completed
    # header credentials work too; a token is only good on its own path
    assert _read_events(fast, "/api/live/delivery/nomx.example.net", {}, count=100,
                        headers=fast.bearer("admin"))[-1][1] == [{"type": "completed"}]
    assert fast.client.get("/api/live/metrics", params={"token": token}).status_code == 401
    assert fast.client.get("/api/live/delivery/x@y.example", params={"token": "nope"}).status_code == 401


def test_live_permissions_and_enterprise(v16, v16ce):
    assert v16.client.get("/api/token/delivery", headers=v16.bearer("user")).status_code == 403
    assert v16.client.get("/api/token/delivery", headers=v16.bearer("helpdesk")).status_code == 200
    assert v16.client.get("/api/token/tracing", headers=v16.bearer("helpdesk")).status_code == 403
    assert v16.client.get("/api/token/delivery").status_code == 401
    assert v16ce.client.get("/api/token/tracing", headers=v16ce.bearer("admin")).status_code == 404
    assert v16ce.client.get("/api/token/metrics", headers=v16ce.bearer("admin")).status_code == 404
    assert v16ce.client.get("/api/token/delivery", headers=v16ce.bearer("admin")).status_code == 200
    assert v16.client.get("/api/token/nothing", headers=v16.bearer("admin")).status_code == 404


def test_live_tracing_streams_trace_events(v16):
    obs = state(v16.sb)
    obs.traffic_interval = 0
    obs.batch_interval = 0.05
    obs.poll_interval = 0.01
    token = v16.client.get("/api/token/tracing", headers=v16.bearer("admin")).text

    def emit_later() -> None:
        _wait_for(lambda: obs.open_streams == 1)
        with v16.sb.lock:
            obs.emit([Event("auth.failed", v16.sb.now(), {"accountName": "other", "remoteIp": "10.1.1.1"})],
                     store_span=False)
            obs.emit([Event("auth.failed", v16.sb.now(), {"accountName": "mallory", "remoteIp": "192.0.2.9"})],
                     store_span=False)

    thread = threading.Thread(target=emit_later)
    thread.start()
    events = _read_events(v16, "/api/live/tracing", {"token": token, "filter": "mallory"}, count=2)
    thread.join()
    assert events[0] == ("ping", {"interval": 30000})
    name, batch = events[1]
    assert name == "trace" and len(batch) == 1
    pairs = {kv["key"]: kv["value"] for kv in batch[0]["keyValues"].values()}
    assert batch[0]["event"] == "auth.failed"
    assert pairs["accountName"] == {"@type": "String", "value": "mallory"}
    assert pairs["remoteIp"] == {"@type": "IpAddr", "value": "192.0.2.9"}
    _wait_for(lambda: obs.open_streams == 0)


def test_live_metrics_frames_with_016_names(v16):
    obs = state(v16.sb)
    obs.metrics_interval = 0.05
    token = v16.client.get("/api/token/metrics", headers=v16.bearer("admin")).text
    events = _read_events(v16, "/api/live/metrics",
                          {"token": token, "metrics": "user.count,queue.message-queued,delivery.total-time"}, count=2)
    first = events[0][1]
    assert events[0][0] == "metrics"
    by_name = {m["metric"]: m for m in first}
    assert set(by_name) == {"user.count", "queue.message-queued", "delivery.total-time"}
    assert by_name["user.count"]["@type"] == "Gauge" and by_name["user.count"]["count"] > 5
    assert by_name["queue.message-queued"]["@type"] == "Counter"
    assert set(by_name["delivery.total-time"]) == {"metric", "@type", "count", "sum"}
    _wait_for(lambda: obs.open_streams == 0)


def test_every_name_served_is_in_the_016_schema(v16):
    from sandbox.jmap.schema import schema

    events = {e["name"] for e in schema()["enums"]["EventType"]}
    metrics = {e["name"] for e in schema()["enums"]["MetricType"]}
    token = v16.token("admin")
    (q, g) = v16.jmap(token, [["x:Metric/query", {"position": 0, "limit": 500}, "q"],
                              ["x:Metric/get", {"#ids": {"resultOf": "q", "name": "x:Metric/query", "path": "/ids"}},
                               "g"]])
    assert {m["metric"] for m in g[1]["list"]} <= metrics
    (q, g) = v16.jmap(token, [["x:Log/query", {"limit": 500}, "q"],
                              ["x:Log/get", {"#ids": {"resultOf": "q", "name": "x:Log/query", "path": "/ids"}}, "g"]])
    assert {e["event"] for e in g[1]["list"]} <= events
