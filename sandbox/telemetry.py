"""``/api/telemetry/*`` (spec §15, Enterprise only): stored traces, live tracing, metrics.

Check order: the Enterprise check (ME "Enterprise feature"), then the route, then the permission.
The two live endpoints are SSE streams; EventSource clients authenticate them with a 60-second
token in ``?token=`` (spec §2.2), handled by :func:`query_token_fallback`.
"""

from __future__ import annotations

import asyncio
import json
import time

from .auth import AccessToken, validate_token
from .dates import parse_rfc3339, snowflake
from .errors import ManagementError, ProblemError
from .http import data_response, event_stream_response, parse_uint
from .observability import (
    EVENT_TYPES,
    GAUGES,
    HISTOGRAMS,
    KEYS_BY_LOWER,
    METRIC_TYPES,
    Event,
    history_store,
    metric_history,
    state,
)
from .routing import QUERY_TOKEN_FALLBACKS, api_module

LIVE_TOKEN_LIFETIME = 60
_GRANTS = {"traces": "live_tracing", "metrics": "live_metrics"}


@api_module("telemetry")
def handle_telemetry(sb, req):
    if not sb.enterprise:
        raise ManagementError.enterprise()
    return _route(sb, req, req.access)


def _element(req, index: int) -> str | None:
    elements = req.elements[1:]
    return elements[index] if index < len(elements) else None


def _route(sb, req, access):
    first = _element(req, 1) or ""
    second = _element(req, 2)
    if req.method != "GET":
        raise ProblemError.not_found()
    if first == "traces" and second is None:
        access.require("tracing-list")
        return _list_traces(sb, req)
    if first == "traces" and second == "live":
        access.require("tracing-live")
        return event_stream_response(_trace_stream(sb, req))
    if first == "trace":
        access.require("tracing-get")
        return _get_trace(sb, req, second)
    if first == "live" and second == "tracing-token":
        access.require("tracing-live")
        return data_response(_mint_live(sb, "live_tracing", access.account_id))
    if first == "live" and second == "metrics-token":
        access.require("metrics-live")
        return data_response(_mint_live(sb, "live_metrics", access.account_id))
    if first == "metrics" and second is None:
        access.require("metrics-list")
        return _list_metrics(sb, req)
    if first == "metrics" and second == "live":
        access.require("metrics-live")
        return event_stream_response(_metrics_stream(sb, req))
    raise ProblemError.not_found()


def _mint_live(sb, grant: str, account_id: int) -> str:
    from .oauth import _mint

    return _mint(sb, grant, account_id, "web", LIVE_TOKEN_LIFETIME)


# --------------------------------------------------------------------------- ?token= fallback


def query_token_fallback(sb, req):
    """Authenticate ``/api/telemetry/{traces,metrics}...?token=`` with a live token (Enterprise only)."""
    if len(req.elements) < 3 or req.elements[1] != "telemetry":
        return None
    grant = _GRANTS.get(req.elements[2])
    token = req.params.get("token")
    if grant is None or token is None or not sb.enterprise:
        return None
    info = validate_token(sb, token, grant)
    mask = 0
    for name in ("metrics-live", "tracing-live"):
        mask |= 1 << sb.perms.id_of(name)
    access = AccessToken(info.account_id, "", mask, None, "token", sb)
    return _route(sb, req, access)


QUERY_TOKEN_FALLBACKS.append(query_token_fallback)


# --------------------------------------------------------------------------- stored traces


def _no_trace_store() -> ManagementError:
    return ManagementError.unsupported("No tracing store has been configured")


def _keywords(query: str) -> list[str]:
    """Split ``filter`` like the server: whitespace separates, double quotes group (and are kept)."""
    words, buf, in_quote = [], "", False
    for ch in query:
        if ch in " \t\n\r\x0c":
            if in_quote:
                buf += " "
            elif buf:
                words.append(buf)
                buf = ""
        elif ch == '"':
            buf += ch
            if in_quote:
                if buf:
                    words.append(buf)
                    buf = ""
                in_quote = False
            else:
                in_quote = True
        else:
            buf += ch
    if buf:
        words.append(buf)
    return words


def _span_matches(span, kind: str, value) -> bool:
    if kind == "type":
        return span.type == value
    queue_ids, values = span.index_values()
    if kind == "queue":
        return value in queue_ids
    if value.startswith('"') and value.endswith('"') and len(value) >= 2:
        exact = value[1:-1]
        return exact in values
    return any(item.startswith(value) for item in values)


def _list_traces(sb, req):
    params = req.params
    if history_store(sb, "tracing") is None:
        raise _no_trace_store()
    page = params.get_uint("page") or 0
    limit = params.get_uint("limit") or 0
    query: list[tuple[str, object]] = []
    event_type = params.get("type")
    if event_type in EVENT_TYPES:
        query.append(("type", event_type))
    queue_id = parse_uint(params.get("queue_id"))
    if queue_id is not None:
        query.append(("queue", queue_id))
    if params.get("filter") is not None:
        query.extend(("keyword", word) for word in _keywords(params.get("filter")))
    before = parse_rfc3339(params.get("before"))
    after = parse_rfc3339(params.get("after"))
    low = snowflake(after) if after is not None else 0
    high = snowflake(before) if before is not None else 0
    obs = state(sb)
    span_ids = []
    scan = bool(query)
    if sb.at_least((0, 15)):
        # v0.15: without keywords, a queue id or a time bound, only the last 24 hours
        if not any(kind in ("keyword", "queue") for kind, _ in query) and before is None and after is None:
            low = max(low, snowflake(sb.now() - 86400))
        scan = True
    if scan:
        for span_id, span in obs.spans.items():
            if (low and span_id < low) or (high and span_id > high):
                continue
            if all(_span_matches(span, kind, value) for kind, value in query):
                span_ids.append(span_id)
    span_ids.sort(reverse=True)
    total = len(span_ids)
    if limit > 0:
        offset = max(page - 1, 0) * limit
        span_ids = span_ids[offset : offset + limit]
    if "values" in params and span_ids:
        items = []
        for span_id in span_ids:
            for event in obs.spans[span_id].events:
                if event.type in ("delivery.attempt-start", "queue.queue-message", "queue.queue-message-authenticated"):
                    items.append(event.json(description=False, spans=True))
                    break
        return data_response({"items": items, "total": total})
    return data_response({"items": span_ids, "total": total})


def _get_trace(sb, req, element: str | None):
    if history_store(sb, "tracing") is None:
        raise _no_trace_store()
    obs = state(sb)
    raw = element if element is not None else (req.params.get("id") or "")
    results = []
    for part in raw.split(","):
        span_id = parse_uint(part)
        span = obs.spans.get(span_id) if span_id is not None else None
        if span_id is None:
            results.append([])
        else:
            events = span.events if span is not None else []
            results.append([event.json(description=True, spans=False) for event in events])
    if len(results) == 1 and element is not None:
        return data_response(results[0])
    return data_response(results)


# --------------------------------------------------------------------------- live tracing


def _value_matches(value, needle: str) -> bool:
    if isinstance(value, bool):
        return needle == ("true" if value else "false")
    if isinstance(value, str):
        return needle in value
    return False  # numbers, durations, arrays and nested events never match


def _trace_filter(req):
    """The filters of a live tracing request: free text and key filters (matched as the server does)."""
    text = None
    keys: dict[str, str] = {}
    for name, value in req.params.items():
        if name == "filter":
            text = value
        elif name.lower() in KEYS_BY_LOWER:
            keys[KEYS_BY_LOWER[name.lower()]] = value
    active_spans: set[int] = set()

    def matches(event: Event) -> bool:
        span_id = event.data.get("spanId")
        if (text is None and not keys) or (isinstance(span_id, int) and span_id in active_spans):
            return True
        matched: set[str] = set()
        for key, value in event.data.items():
            needle = keys.get(key, text)
            if needle is not None and _value_matches(value, needle):
                matched.add(key)
                if text is not None or len(matched) == len(keys):
                    if isinstance(span_id, int):
                        active_spans.add(span_id)
                    return True
        return False

    return matches


def _frame(event: str, data) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n".encode()


async def _trace_stream(sb, req):
    matches = _trace_filter(req)
    with sb.lock:
        obs = state(sb)
        obs.open_streams += 1
        obs.streams_opened += 1
        cursor = obs.live_seq
    pending: list[Event] = []
    last_message = time.monotonic() - 3600
    last_ping = time.monotonic()
    try:
        while True:
            with sb.lock:
                obs = state(sb)
                obs.tick(sb)
                fresh = obs.events_after(cursor)
                batch_interval, ping_interval, poll = obs.batch_interval, obs.ping_interval, obs.poll_interval
            if fresh:
                cursor = fresh[-1][0]
                pending.extend(event for _, event in fresh if matches(event))
            now = time.monotonic()
            if pending:
                if now - last_message >= batch_interval:
                    last_message = now
                    events = [event.json(description=True, spans=False) for event in pending]
                    pending = []
                    yield _frame("trace", events)
            elif now - last_ping >= ping_interval:
                last_ping = now
                yield f'event: ping\ndata: {{"interval": {int(ping_interval * 1000)}}}\n\n'.encode()
            await asyncio.sleep(poll)
    finally:
        with sb.lock:
            state(sb).open_streams -= 1


# --------------------------------------------------------------------------- metrics


def _list_metrics(sb, req):
    if history_store(sb, "metrics") is None:
        raise ManagementError.other(
            "No metrics store has been defined", "You need to configure a metrics store in order to use this feature."
        )
    params = req.params
    after = parse_rfc3339(params.get("after"))
    before = parse_rfc3339(params.get("before"))
    low = after if after is not None else 0
    high = before if before is not None else 2**63
    items = []
    for point in metric_history(sb):
        if low <= point["ts"] <= high:
            items.append({key: value for key, value in point.items() if key != "ts"})
    return data_response(items)


def _live_metrics(sb, counters: set[str], metrics: set[str], rng) -> list[dict]:
    obs = state(sb)
    frame: list[dict] = []
    for counter_id in sorted(EVENT_TYPES):
        if counter_id.endswith(("connection-start", "queue-message", "delivered", "failed")) or counter_id.startswith(
            ("auth.", "security.", "message-ingest.")
        ):
            if counters and counter_id not in counters:
                continue
            obs.counter_totals[counter_id] = obs.counter_totals.get(counter_id, 0) + rng.randint(0, 5)
            frame.append({"id": counter_id, "type": "counter", "value": obs.counter_totals[counter_id]})
    users = sum(1 for p in sb.principals.values() if p.type == "individual")
    domains = sum(1 for p in sb.principals.values() if p.type == "domain")
    flow = getattr(sb, "mailflow", None)
    queued = len(getattr(flow, "messages", {}) or {}) if flow is not None else 0
    gauges = {
        "server.memory": (330 + rng.randint(-10, 25)) * 1024 * 1024,
        "queue.count": queued,
        "user.count": users,
        "domain.count": domains,
        "smtp.active-connections": rng.randint(0, 6),
        "imap.active-connections": rng.randint(8, 30),
        "pop3.active-connections": rng.randint(0, 2),
        "http.active-connections": rng.randint(1, 9),
        "delivery.active-connections": rng.randint(0, 4),
        "sieve.active-connections": rng.randint(0, 1),
    }
    for gauge_id in GAUGES:
        if not metrics or gauge_id in metrics:
            frame.append({"id": gauge_id, "type": "gauge", "value": gauges[gauge_id]})
    for histogram_id in HISTOGRAMS:
        if not metrics or histogram_id in metrics:
            count = rng.randint(5, 60)
            frame.append({"id": histogram_id, "type": "histogram", "count": count, "sum": count * rng.randint(10, 900)})
    return frame


async def _metrics_stream(sb, req):
    import random

    params = req.params
    interval = parse_uint(params.get("interval"))
    interval = interval if interval is not None and interval >= 1 else 30
    counters: set[str] = set()
    metrics: set[str] = set()
    for name in (params.get("metrics") or "").split(","):
        name = name.strip()
        if name in EVENT_TYPES:
            counters.add(name)
        elif name in METRIC_TYPES:
            metrics.add(name)
    rng = random.Random(11)
    with sb.lock:
        obs = state(sb)
        obs.open_streams += 1
        obs.streams_opened += 1
    try:
        while True:
            with sb.lock:
                frame = _live_metrics(sb, counters, metrics, rng)
                override = state(sb).metrics_interval
            yield _frame("metrics", frame)
            await asyncio.sleep(override if override is not None else interval)
    finally:
        with sb.lock:
            state(sb).open_streams -= 1
