"""``GET /api/token/{delivery,tracing,metrics}`` and ``GET /api/live/…`` of the 0.16 front-end
(jmap-management.md §4): plain-text tokens valid 60 s, and the SSE streams.

* delivery: the REST sandbox's troubleshooting table (``sandbox.troubleshoot.delivery_stages``)
  with the 0.16 camelCase keys (``remoteIps``, ``remoteIp``), paced and stalled by the same
  knobs (``tools_state(sb).frame_delay``/``time_scale``/``stall_after``), recorded in
  ``tools_state(sb).streams``.
* tracing: the live events of ``sandbox.observability`` as ``x:TraceEvent`` objects.
* metrics: counters, gauges and histograms under their 0.16 names.

A token is only honoured on the matching ``/api/live/…`` path and grants just that permission.
Tracing and metrics are Enterprise (404 otherwise)."""

from __future__ import annotations

import asyncio
import json
import random
import secrets
import time
import zlib
from urllib.parse import unquote

from ..errors import ProblemError
from ..http import Response, event_stream_response
from ..observability import COUNTERS, GAUGES, HISTOGRAMS, KEYS_BY_LOWER
from ..observability import state as obs_state
from ..toolstate import StreamRecord, tools_state
from ..troubleshoot import delivery_stages
from . import auth
from .observe import EVENT_SOURCES, event_name, trace_event
from .ops import ops_state

TOKEN_LIFETIME = 60
PERMISSIONS = {"delivery": "liveDeliveryTest", "tracing": "liveTracing", "metrics": "liveMetrics"}
ENTERPRISE = ("tracing", "metrics")


def _caller_permission(sb, req, what: str, *, live: bool) -> int:
    """The account id allowed to use ``what``: by credentials, or (live paths) by ``?token=``."""
    permission = PERMISSIONS[what]
    token = req.params.get("token") if live else None
    if token is not None and not req.header("authorization"):
        entry = ops_state(sb).live_tokens.get(token)
        if entry is None or entry[0] != what or entry[2] <= sb.now():
            raise auth.unauthorized()
        return entry[1]
    caller = auth.authenticate(sb, req)
    if not caller.has(permission):
        raise ProblemError(403, "Forbidden", f"You do not have the {permission} permission.")
    return caller.account_id


def handle(sb, req, kind: str, el: list[str]) -> Response:
    what = el[2] if len(el) > 2 else ""
    if what not in PERMISSIONS or req.method != "GET" or (what in ENTERPRISE and not sb.enterprise):
        raise ProblemError.not_found()
    if kind == "token":
        if len(el) > 3:
            raise ProblemError.not_found()
        account = _caller_permission(sb, req, what, live=False)
        token = secrets.token_urlsafe(40)
        ops_state(sb).live_tokens[token] = (what, account, sb.now() + TOKEN_LIFETIME)
        return Response(200, token.encode(), "text/plain; charset=utf-8", [("cache-control", "no-store")])
    if what == "delivery":
        if len(el) < 4 or not el[3]:
            raise ProblemError.not_found()
        _caller_permission(sb, req, what, live=True)
        timeout = req.params.get("timeout")
        timeout = int(timeout) if timeout and timeout.isdigit() and int(timeout) >= 1 else 30
        return event_stream_response(_delivery(sb, unquote(el[3]).lower(), timeout))
    if len(el) > 3:
        raise ProblemError.not_found()
    _caller_permission(sb, req, what, live=True)
    if what == "tracing":
        return event_stream_response(_tracing(sb, req))
    return event_stream_response(_metrics(sb, req))


# ------------------------------------------------------------------------------ delivery
def _camel_stage(stage: dict) -> dict:
    renames = {"remote_ips": "remoteIps", "remote_ip": "remoteIp"}
    return {renames.get(k, k): v for k, v in stage.items()}


def _frame(event: str, data) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n".encode()


async def _delivery(sb, target: str, wait_seconds: int):
    tools = tools_state(sb)
    stages = [*delivery_stages(target, wait_seconds), {"type": "completed"}]
    low, high = tools.frame_delay
    delays = random.Random(zlib.crc32(b"delay:" + target.encode()))
    record = StreamRecord(target)
    tools.streams.append(record)
    try:
        for index, stage in enumerate(stages):
            if stage is None or (tools.stall_after is not None and index >= tools.stall_after):
                record.stalled = True
                await asyncio.Event().wait()  # until the client goes away
            if index:
                await asyncio.sleep(delays.uniform(low, high) * tools.time_scale)
            yield _frame("event", [_camel_stage(stage)])
            record.frames_sent += 1
        record.completed = True
    finally:
        record.closed = True


# ------------------------------------------------------------------------------ tracing
def _trace_matcher(req):
    text = (req.params.get("filter") or "").lower()
    conditions = []
    for name, value in req.params.items():
        key = KEYS_BY_LOWER.get(name.lower())
        if key is not None and name not in ("filter", "token"):
            conditions.append((key, value.lower()))
    spans: set = set()

    def matches(event) -> bool:
        span = event.data.get("spanId")
        if span is not None and span in spans:
            return True
        values = {k: str(v).lower() for k, v in event.data.items() if isinstance(v, str | int) and k != "spanId"}
        ok = (not text or any(text in v for v in values.values())) and all(
            needle in values.get(key, "\0") for key, needle in conditions)
        if ok and span is not None:
            spans.add(span)
        return ok

    return matches


async def _tracing(sb, req):
    matches = _trace_matcher(req)
    with sb.lock:
        obs = obs_state(sb)
        obs.open_streams += 1
        obs.streams_opened += 1
        cursor = obs.live_seq
        ping_interval = obs.ping_interval
    yield f'event: ping\ndata: {{"interval": {int(ping_interval * 1000)}}}\n\n'.encode()
    pending: list = []
    last_batch = time.monotonic() - 3600
    last_ping = time.monotonic()
    try:
        while True:
            with sb.lock:
                obs = obs_state(sb)
                obs.tick(sb)
                fresh = obs.events_after(cursor)
                batch_interval, ping_interval, poll = obs.batch_interval, obs.ping_interval, obs.poll_interval
            if fresh:
                cursor = fresh[-1][0]
                pending.extend(event for _, event in fresh if matches(event))
            now = time.monotonic()
            if pending and now - last_batch >= batch_interval:
                last_batch = now
                yield _frame("trace", [trace_event(e) for e in pending])
                pending = []
            elif not pending and now - last_ping >= ping_interval:
                last_ping = now
                yield f'event: ping\ndata: {{"interval": {int(ping_interval * 1000)}}}\n\n'.encode()
            await asyncio.sleep(poll)
    finally:
        with sb.lock:
            obs_state(sb).open_streams -= 1


# ------------------------------------------------------------------------------ metrics
def _metric_frame(sb, wanted: set[str], rng) -> list[dict]:
    obs = obs_state(sb)
    frame = []
    for counter in COUNTERS:
        name = event_name(counter)
        if wanted and name not in wanted:
            continue
        obs.counter_totals[counter] = obs.counter_totals.get(counter, 0) + rng.randint(0, 5)
        frame.append({"metric": name, "@type": "Counter", "count": obs.counter_totals[counter]})
    live = {
        "server.memory": (330 + rng.randint(-10, 25)) * 1024 * 1024,
        "queue.count": len(sb.mailflow.messages),
        "user.count": sum(1 for p in sb.principals.values() if p.type == "individual"),
        "domain.count": sum(1 for p in sb.principals.values() if p.type == "domain"),
    }
    for gauge in GAUGES:
        if not wanted or gauge in wanted:
            frame.append({"metric": gauge, "@type": "Gauge", "count": live.get(gauge, rng.randint(0, 20))})
    for histogram in HISTOGRAMS:
        if not wanted or histogram in wanted:
            count = rng.randint(5, 60)
            frame.append({"metric": histogram, "@type": "Histogram", "count": count,
                          "sum": count * rng.randint(10, 900)})
    return frame


async def _metrics(sb, req):
    interval = req.params.get("interval")
    interval = int(interval) if interval and interval.isdigit() and int(interval) >= 1 else 30
    known = {event_name(c) for c in COUNTERS} | set(GAUGES) | set(HISTOGRAMS) | set(EVENT_SOURCES)
    wanted = {m.strip() for m in (req.params.get("metrics") or "").split(",") if m.strip() in known}
    rng = random.Random(11)
    with sb.lock:
        obs = obs_state(sb)
        obs.open_streams += 1
        obs.streams_opened += 1
    try:
        while True:
            with sb.lock:
                frame = _metric_frame(sb, wanted, rng)
                override = obs_state(sb).metrics_interval
            yield _frame("metrics", frame)
            await asyncio.sleep(override if override is not None else interval)
    finally:
        with sb.lock:
            obs_state(sb).open_streams -= 1
