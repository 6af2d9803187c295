"""Observability objects of the 0.16 front-end (objects.md §20–§22), read from the REST
sandbox's one observability state (``sandbox.observability``): ``x:Log`` (the file tracer's
lines, anchor paging), ``x:Trace`` (stored spans, Enterprise) and ``x:Metric`` (the metrics
history, Enterprise).

Event and metric names are the 0.16 ones (``EVENT_RENAMES``, checked against schema.json
``enums.EventType``/``enums.MetricType``): the REST sandbox keeps the ≤0.15 names."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ..logs import parse_line
from ..observability import log_path, metric_history
from ..observability import state as obs_state
from . import ids
from .errors import MethodError, SetError
from .objects import Kind
from .store import parse_utc, utc

#: ≤0.15 event (and counter) names → 0.16 (crates/trc/src/event/enums_impl.rs at v0.16.18).
#: The last three have no 0.16 event of the same meaning; the nearest one is used.
EVENT_RENAMES = {
    "queue.queue-message": "queue.message-queued",
    "queue.queue-message-authenticated": "queue.authenticated-message-queued",
    "queue.queue-dsn": "queue.dsn-queued",
    "queue.queue-report": "queue.report-queued",
    "config.build-warning": "registry.build-warning",
    "delivery.unexpected-response": "delivery.rcpt-to-rejected",
    "store.data-error": "store.unexpected-error",
    "housekeeper.run": "task-manager.task-acquired",
}
EVENT_SOURCES = {new: old for old, new in EVENT_RENAMES.items()}
_TIME_KEYS = {"nextRetry", "nextDsn", "expires", "due", "validFrom", "validTo", "rangeFrom", "rangeTo"}
_IP_KEYS = {"remoteIp", "localIp"}
#: the query limit ``total`` reports for logs (x:Jmap queryMaxResults)
QUERY_MAX_RESULTS = 5000


def event_name(name: str) -> str:
    return EVENT_RENAMES.get(name, name)


def trace_value(key: str, value) -> dict:
    if value is None:
        return {"@type": "Null"}
    if isinstance(value, bool):
        return {"@type": "Boolean", "value": value}
    if isinstance(value, int):
        if key in _TIME_KEYS:
            return {"@type": "UTCDateTime", "value": utc(value)}
        if key == "elapsed":
            return {"@type": "Duration", "value": value}
        return {"@type": "UnsignedInt" if value >= 0 else "Integer", "value": value}
    if isinstance(value, float):
        return {"@type": "Float", "value": value}
    if isinstance(value, list):
        return {"@type": "List", "value": {str(i): trace_value(key, v) for i, v in enumerate(value)}}
    if isinstance(value, dict):  # a nested event
        return {"@type": "Event", "value": {"event": event_name(str(value.get("type", ""))),
                                            "value": key_values(value.get("data") or {})}}
    if key in _IP_KEYS:
        try:
            ipaddress.ip_address(str(value))
            return {"@type": "IpAddr", "value": str(value)}
        except ValueError:
            pass
    return {"@type": "String", "value": str(value)}


def key_values(data: dict) -> dict:
    return {str(i): {"key": k, "value": trace_value(k, v)} for i, (k, v) in enumerate(data.items())}


def trace_event(event) -> dict:
    """``x:TraceEvent``: also the shape ``/api/live/tracing`` streams."""
    return {"event": event_name(event.type), "timestamp": utc(event.ts), "keyValues": key_values(event.data)}


@dataclass
class Rec:
    id: int
    item: object


# ------------------------------------------------------------------------------ logs
class LogKind(Kind):
    name = "Log"
    prefix = "sysLog"
    tenant_scoped = False
    properties = ("details", "event", "level", "timestamp")
    filters = ("text",)
    sorts = ("id",)

    def _lines(self, sb) -> list[tuple[int, str]]:
        """(id, line), newest first; the id holds the file number and the line's position."""
        if log_path(sb) is None:
            raise MethodError("invalidArguments", "No log tracers configured on the server")
        obs = obs_state(sb)
        out = []
        for index, (_, lines) in reversed(list(enumerate(obs.log_files))):
            for offset in range(len(lines) - 1, -1, -1):
                out.append(((index + 1) << 32 | offset, lines[offset]))
        return out

    def records(self, sb, caller) -> dict:
        return {number: Rec(number, line) for number, line in self._lines(sb)}

    def view(self, sb, caller, rec) -> dict:
        entry = parse_line(rec.item) or {"timestamp": None, "level": "INFO", "event_id": "", "details": rec.item}
        return {"details": entry["details"], "event": event_name(entry["event_id"]),
                "level": entry["level"].lower(), "timestamp": entry["timestamp"]}

    def custom_query(self, sb, caller, args: dict, conditions: list) -> dict:
        sort = args.get("sort") or []
        if sort and (not isinstance(sort[0], dict) or sort[0].get("property") != "id"):
            raise MethodError("unsupportedSort", "Unsupported sort property.")
        lines = self._lines(sb)
        texts = [str(v) for p, _, v in conditions if p == "text"]
        matching = [number for number, line in lines if all(t in line for t in texts)]
        limit = args.get("limit")
        limit = QUERY_MAX_RESULTS if not isinstance(limit, int) or limit <= 0 else min(limit, QUERY_MAX_RESULTS)
        total = args.get("calculateTotal") is True
        anchor_offset = args.get("anchorOffset") or 0
        if (total or anchor_offset) and args.get("position"):
            raise MethodError("invalidArguments", "Pagination is only possible using anchors for logs")
        start = 0
        if args.get("anchor") is not None:
            number = ids.decode(args["anchor"])
            index = next((i for i, n in enumerate(matching) if n == number), None)
            start = len(matching) if index is None else index + 1 + (anchor_offset if isinstance(
                anchor_offset, int) else 0)
        page = matching[max(start, 0): max(start, 0) + limit]
        result = {"queryState": "n", "canCalculateChanges": True, "position": 0,
                  "ids": [ids.encode(n) for n in page]}
        if total:
            result["total"] = QUERY_MAX_RESULTS
            result["limit"] = limit
        return result

    def create(self, sb, caller, obj):
        raise SetError("forbidden", "Logs are read-only")

    def update(self, sb, caller, rec, patch):
        raise SetError("forbidden", "Logs are read-only")

    def destroy(self, sb, caller, rec):
        raise SetError("forbidden", "Logs are read-only")


# ------------------------------------------------------------------------------ traces
class TraceKind(Kind):
    name = "Trace"
    prefix = "sysTrace"
    tenant_scoped = False
    enterprise_only = True
    properties = ("events", "from", "size", "timestamp", "to")
    filters = ("timestamp", "event", "queueId", "text")
    sorts = ("id", "timestamp")

    def records(self, sb, caller) -> dict:
        return {sid: Rec(sid, span) for sid, span in obs_state(sb).spans.items()}

    def _first(self, span, key):
        for event in span.events:
            if key in event.data:
                return event.data[key]
        return None

    def view(self, sb, caller, rec) -> dict:
        span = rec.item
        to = self._first(span, "to")
        size = self._first(span, "size")
        sender = self._first(span, "from")
        return {"events": {str(i): trace_event(e) for i, e in enumerate(span.events)},
                "from": sender if isinstance(sender, str) else None,
                "size": size if isinstance(size, int) else 0,
                "timestamp": utc(span.events[0].ts) if span.events else None,
                "to": "; ".join(to) if isinstance(to, list) else to}

    def prepare_conditions(self, sb, caller, conditions):
        if not any(p in ("timestamp", "text", "queueId") for p, _, _ in conditions):
            conditions = [*conditions, ("timestamp", "GreaterThanOrEqual", utc(sb.now() - 86400))]
        return conditions

    def matches(self, sb, caller, rec, prop, op, value) -> bool:
        span = rec.item
        if prop == "event":
            return any(event_name(e.type) == value for e in span.events)
        if prop == "queueId":
            number = ids.decode(value) if isinstance(value, str) else None
            return number is not None and number in span.index_values()[0]
        if prop == "text":
            words = [w.strip('"').lower() for w in str(value).split() if w.strip('"')]
            values = " ".join(v.lower() for v in span.index_values()[1])
            return all(w in values for w in words)
        at = parse_utc(value)
        if at is None or not span.events:
            return False
        ts = span.events[0].ts
        return {"": ts == at, "GreaterThan": ts > at, "GreaterThanOrEqual": ts >= at,
                "LessThan": ts < at, "LessThanOrEqual": ts <= at}[op]

    def sort_key(self, sb, rec, prop):
        return rec.id

    def create(self, sb, caller, obj):
        raise SetError("forbidden", "Traces are read-only")

    def update(self, sb, caller, rec, patch):
        raise SetError("forbidden", "Traces are read-only")

    def destroy(self, sb, caller, rec):
        raise SetError("forbidden", "Traces are read-only")


# ------------------------------------------------------------------------------ metrics
class MetricKind(Kind):
    name = "Metric"
    prefix = "sysMetric"
    tenant_scoped = False
    enterprise_only = True
    properties = ("@type", "count", "metric", "sum", "timestamp")
    filters = ("timestamp", "metric")
    sorts = None  # the sort property is not checked, only isAscending counts

    def records(self, sb, caller) -> dict:
        return {i + 1: Rec(i + 1, point) for i, point in enumerate(metric_history(sb))}

    def view(self, sb, caller, rec) -> dict:
        point = rec.item
        kind = point["type"]
        obj = {"@type": kind.capitalize(), "metric": event_name(point["id"]), "timestamp": utc(point["ts"])}
        if kind == "histogram":
            obj.update({"count": point.get("count", 0), "sum": point.get("sum", 0)})
        else:
            obj["count"] = point.get("value", 0)
        return obj

    def matches(self, sb, caller, rec, prop, op, value) -> bool:
        if prop == "metric":
            if not isinstance(value, list):
                raise MethodError("invalidArguments", "metric must be an array of metric names.")
            return event_name(rec.item["id"]) in value
        at = parse_utc(value)
        ts = rec.item["ts"]
        if at is None:
            return False
        return {"": ts == at, "GreaterThan": ts > at, "GreaterThanOrEqual": ts >= at,
                "LessThan": ts < at, "LessThanOrEqual": ts <= at}[op]

    def sort_key(self, sb, rec, prop):
        return rec.id  # chronological whatever the property

    def create(self, sb, caller, obj):
        raise SetError("forbidden", "Metrics are read-only")

    def update(self, sb, caller, rec, patch):
        raise SetError("forbidden", "Metrics are read-only")

    def destroy(self, sb, caller, rec):
        raise SetError("forbidden", "Metrics are read-only")


KINDS = (LogKind(), TraceKind(), MetricKind())
