"""Logs, message history, live streams and metrics on Stalwart 0.16+: the `logs` and
`telemetry` areas over `x:Log`, `x:Trace`, `x:Metric`, `/api/token/*` and `/api/live/*`
(v0.16 objects.md §20–§22, jmap-management.md §4).

The results are the typed values the REST areas return (`LogEntry`, `TraceSummary`,
`TraceEvent`, `MetricPoint`); what differs on the wire is mapped here, once:

* `x:Log` pages only by anchor (the id of the last entry seen; `position` is refused or
  ignored, `total` is always the query limit). `list(page=, anchor=)` gives the entries after
  the anchor, and a `total` that says whether more may follow, as the REST estimate does. A
  page asked for by number alone is read from the newest entry on (two requests). 0.16 writes
  only an event's name (`event_id`); `event` is its label from the server's schema.
* `x:Trace` events carry `keyValues` (`{"key", "value": {"@type", "value"}}`) instead of a
  `data` object; they become `TraceEvent.data` pairs with plain values (nested events as
  `TraceEvent`s, lists as tuples). Trace ids are the span ids written as Stalwart ids.
* `x:Metric` samples: `Counter`/`Gauge` `count` is the value, `Histogram` has `count`/`sum`.
* The live streams send the same `trace` and `metrics` frames in the 0.16 shapes; the
  `LiveStream` this area opens reads them (`stream.trace_batch`, `stream.metrics_frame`).

Event and metric names are the server's (0.16 renamed some: `queue.message-queued` was
`queue.queue-message`). 0.16 sends no description with an event: its label and explanation
are read from the server's schema (enum `EventType` of `/api/schema`, the schema the settings
area keeps per hash: `event_texts`) and become `text`/`details` as the REST ones (`LogEntry.event`
for a log line); where the schema cannot be read the names are shown bare. `x:Trace`, `x:Metric` and
the tracing and metrics streams need an Enterprise licence: the server's refusal (a
`forbidden` method error naming the Enterprise edition, a 404 for a live token) becomes
`EnterpriseRequired`, as on REST.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
from django.utils.translation import gettext

from .. import errors
from ..observability_types import LogEntry, MetricPoint, TraceEvent, TraceSummary, parse_time
from ..sse import SSEEvent
from ..telemetry import LiveStream, open_stream
from ..transport import api_url, failure, shared_client, status_failure
from ..types import Page
from .client import Call, JmapClient, Results, ref
from .ids import id_number, id_text, is_id
from .settings import JmapSettings

TOKEN_PATH = "/api/token/"
LIVE_PATH = "/api/live/"
#: the most results one query gives (x:Jmap `queryMaxResults`, 5000 by default)
QUERY_MAX = 5000


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _number(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _enterprise(exc: errors.StalwartError) -> errors.StalwartError:
    """The server's Enterprise refusal (`forbidden`, "... only available in the Enterprise
    edition") as the error the REST areas raise for it; any other error unchanged."""
    if isinstance(exc, errors.Forbidden) and "enterprise" in exc.message.lower():
        return errors.EnterpriseRequired(
            gettext("This is an Enterprise feature of Stalwart."),
            body={"error": "unsupported", "details": "Enterprise feature"},
            operation=exc.operation,
        )
    return exc


def _answer(results: Results, call_id: str) -> dict[str, Any]:
    try:
        return results[call_id]
    except errors.StalwartError as exc:
        raise _enterprise(exc) from exc


# --- values ------------------------------------------------------------------------------
def _indexed(value: Any) -> list[Any]:
    """A JMAP list (`{"0": ..., "1": ...}`, or a JSON array) in index order."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        pairs = sorted(value.items(), key=lambda kv: int(kv[0]) if str(kv[0]).isdigit() else 0)
        return [item for _, item in pairs]
    return []


def trace_value(value: Any) -> Any:
    """One typed trace value (`{"@type": "UnsignedInt", "value": 3}`) as a plain one."""
    if not isinstance(value, dict):
        return value
    kind, inner = value.get("@type"), value.get("value")
    if kind == "Null":
        return None
    if kind == "List":
        return tuple(trace_value(item) for item in _indexed(inner))
    if kind == "Event":
        return trace_event(inner) if isinstance(inner, dict) else None
    if kind in ("UnsignedInt", "Integer", "Duration"):
        return _number(inner)
    if kind == "Float":
        return float(inner) if isinstance(inner, int | float) and not isinstance(inner, bool) else None
    if kind == "Boolean":
        return inner if isinstance(inner, bool) else None
    if inner is None or isinstance(inner, dict | list):
        return None
    return str(inner)  # String, IpAddr, UTCDateTime and what a later server adds


def _key_values(value: Any) -> tuple[tuple[str, Any], ...]:
    pairs = []
    for entry in _indexed(value):
        if isinstance(entry, dict) and isinstance(entry.get("key"), str):
            pairs.append((entry["key"], trace_value(entry.get("value"))))
    return tuple(pairs)


def trace_event(item: Mapping[str, Any]) -> TraceEvent:
    """An `x:TraceEvent` (`event`, `timestamp`, `keyValues`), or a nested event's `{event, value}`."""
    name = item.get("event")
    if not isinstance(name, str):
        raise errors.StalwartBadResponse("Unexpected trace event.")
    values = item.get("keyValues") if "keyValues" in item else item.get("value")
    return TraceEvent(
        type=name, text="", details="", created=parse_time(item.get("timestamp")), data=_key_values(values)
    )


#: The schema's enum of event names, with a label and an explanation each.
EVENT_ENUM = "EventType"
NO_TEXTS: Mapping[str, tuple[str, str]] = {}


async def event_texts(client: JmapClient) -> Mapping[str, tuple[str, str]]:
    """`{event name: (label, explanation)}` from the server's schema (kept per schema hash by
    the settings area, parsed once); empty when the schema cannot be read: the names stay bare."""
    try:
        schema = await JmapSettings(client).schema()
    except errors.StalwartError:
        return NO_TEXTS
    return schema.enum_texts(EVENT_ENUM)


def labelled(event: TraceEvent, texts: Mapping[str, tuple[str, str]]) -> TraceEvent:
    """The event (and the events nested in its values) with the schema's label and explanation."""
    label, explanation = texts.get(event.type, ("", ""))
    return dataclasses.replace(
        event,
        text=label or event.text,
        details=explanation or event.details,
        data=tuple((key, _labelled_value(value, texts)) for key, value in event.data),
    )


def _labelled_value(value: Any, texts: Mapping[str, tuple[str, str]]) -> Any:
    if isinstance(value, TraceEvent):
        return labelled(value, texts)
    if isinstance(value, tuple):
        return tuple(_labelled_value(item, texts) for item in value)
    return value


def metric_point(item: Any) -> MetricPoint:
    """An `x:Metric` sample or a live metrics entry (`metric`, `@type`, `count`[, `sum`])."""
    if not isinstance(item, dict) or not isinstance(item.get("metric"), str):
        raise errors.StalwartBadResponse("Unexpected metric.")
    kind = str(item.get("@type") or "").lower()
    count = _number(item.get("count")) or 0
    total = item.get("sum")
    total = total if isinstance(total, int | float) and not isinstance(total, bool) else 0
    histogram = kind == "histogram"
    return MetricPoint(
        kind=kind,
        id=item["metric"],
        timestamp=parse_time(item.get("timestamp")),
        value=0 if histogram else count,
        count=count if histogram else 0,
        sum=total if histogram else 0,
    )


def _frame_items(event: SSEEvent) -> list[Any]:
    try:
        items = json.loads(event.data)
    except ValueError:
        return []
    return items if isinstance(items, list) else []


def live_traces(event: SSEEvent) -> tuple[TraceEvent, ...]:
    """The events of one 0.16 `trace` frame; unreadable ones are skipped."""
    result = []
    for item in _frame_items(event):
        if isinstance(item, dict):
            try:
                result.append(trace_event(item))
            except errors.StalwartBadResponse:
                continue
    return tuple(result)


def live_metrics(event: SSEEvent) -> tuple[MetricPoint, ...]:
    """The values of one 0.16 `metrics` frame; unreadable ones are skipped."""
    result = []
    for item in _frame_items(event):
        try:
            result.append(metric_point(item))
        except errors.StalwartBadResponse:
            continue
    return tuple(result)


def log_entry(item: Mapping[str, Any]) -> LogEntry:
    return LogEntry(
        timestamp=parse_time(item.get("timestamp")),
        level=str(item.get("level") or "").upper(),
        event="",
        event_id=str(item.get("event") or ""),
        details=str(item.get("details") or ""),
        id=str(item.get("id") or ""),
    )


# --- logs ---------------------------------------------------------------------------------
class JmapLogs:
    """`logs.list` over `x:Log` (see the module's docstring for anchor paging)."""

    def __init__(self, client: JmapClient) -> None:
        self._client = client

    async def list(self, *, filter: str = "", page: int = 1, limit: int = 50, anchor: str = "") -> Page[LogEntry]:
        """One page of entries, newest first: those after `anchor` (an entry id), else the
        `page`-th `limit` entries from the newest. `filter` is a substring of the raw line.

        `total` is an estimate, as the REST one: a full page counts one more entry after it."""
        if page < 1 or limit < 1:
            raise ValueError("page and limit start at 1.")
        conditions: dict[str, Any] = {"text": filter} if filter else {}
        query: dict[str, Any] = {"filter": conditions, "sort": [{"property": "id", "isAscending": False}]}
        anchor = anchor if is_id(anchor) else ""
        skip = 0
        if anchor:
            query["anchor"] = anchor
            query["limit"] = limit
        else:
            skip = (page - 1) * limit
            if skip + limit > QUERY_MAX:
                return Page(items=(), total=skip)
            query["limit"] = skip + limit
        query_id, get_id = self._client.next_id(), self._client.next_id()
        calls = [Call("x:Log/query", query, query_id)]
        if not skip:
            calls.append(Call("x:Log/get", {"#ids": ref(query_id, "x:Log/query")}, get_id))
        try:
            results = await self._client.call(calls)
            ids = [str(item) for item in results[query_id].get("ids") or []]
            if skip:
                # A page by number: the ids of the pages before it are skipped here.
                ids = ids[skip:]
                found = await self._client.get("Log", ids) if ids else []
            else:
                found = [item for item in results[get_id].get("list") or [] if isinstance(item, dict)]
        except errors.BadRequest as exc:
            detail = exc.detail or exc.message
            if "tracer" not in detail.lower():
                raise
            raise errors.Unsupported(
                detail, body={"error": "unsupported", "details": detail}, operation=exc.operation
            ) from exc
        except errors.MethodFailed as exc:  # the server could not read its log files (not an HTTP 5xx)
            detail = exc.detail or exc.message
            raise errors.OtherError(
                detail, body={"error": "other", "details": detail, "reason": ""}, operation=exc.operation
            ) from exc
        by_id = {str(item.get("id")): item for item in found}
        entries = tuple(log_entry(by_id[i]) for i in ids if i in by_id)
        if entries:
            texts = await event_texts(self._client)
            entries = tuple(
                dataclasses.replace(entry, event=texts.get(entry.event_id, ("", ""))[0]) for entry in entries
            )
        before = (page - 1) * limit
        full = len(ids) >= limit
        return Page(items=entries, total=before + len(ids) + (1 if full else 0))


# --- telemetry ------------------------------------------------------------------------------
class JmapTelemetry:
    """Message history, metrics and the live streams (Enterprise) over 0.16 objects."""

    def __init__(self, client: JmapClient) -> None:
        self._client = client

    # --- stored history ------------------------------------------------------------
    async def traces(
        self,
        event_type: str,
        *,
        filter: str = "",
        queue_id: int | None = None,
        page: int = 1,
        limit: int = 25,
    ) -> Page[TraceSummary]:
        """Traces whose events include `event_type`, newest first; one request."""
        if page < 1 or limit < 1:
            raise ValueError("page and limit start at 1 (0 would mean 'everything').")
        conditions: dict[str, Any] = {"event": event_type}
        if filter.strip():
            conditions["text"] = filter.strip()
        if queue_id is not None:
            conditions["queueId"] = id_text(queue_id)
        query = {
            "filter": conditions,
            "sort": [{"property": "timestamp", "isAscending": False}],
            "position": (page - 1) * limit,
            "limit": limit,
            "calculateTotal": True,
        }
        query_id, get_id = self._client.next_id(), self._client.next_id()
        properties = ["from", "to", "size", "timestamp"]
        results = await self._client.call(
            [
                Call("x:Trace/query", query, query_id),
                Call("x:Trace/get", {"#ids": ref(query_id, "x:Trace/query"), "properties": properties}, get_id),
            ]
        )
        answer = _answer(results, query_id)
        listed = _answer(results, get_id).get("list") or []
        found = {str(item.get("id")): item for item in listed if isinstance(item, dict)}
        items = []
        for trace_id in answer.get("ids") or []:
            item, span = found.get(str(trace_id)), id_number(trace_id)
            if item is None or span is None:
                continue
            to = str(item.get("to") or "")
            items.append(
                TraceSummary(
                    span_id=span,
                    created=parse_time(item.get("timestamp")),
                    type=event_type,
                    sender=str(item.get("from") or ""),
                    recipients=tuple(part.strip() for part in to.split(";") if part.strip()),
                    size=_number(item.get("size")),
                    queue_id=queue_id,
                    remote_ip="",
                )
            )
        total = _number(answer.get("total"))
        return Page(tuple(items), total if total is not None else len(items))

    async def trace(self, span_id: int) -> tuple[TraceEvent, ...]:
        """Every event of one trace, in order (an empty tuple when the server has none)."""
        call_id = self._client.next_id()
        results = await self._client.call(
            [Call("x:Trace/get", {"ids": [id_text(span_id)], "properties": ["events"]}, call_id)]
        )
        found = [item for item in _answer(results, call_id).get("list") or [] if isinstance(item, dict)]
        if not found:
            return ()
        events = tuple(trace_event(item) for item in _indexed(found[0].get("events")) if isinstance(item, dict))
        if not events:
            return ()
        texts = await event_texts(self._client)
        return tuple(labelled(event, texts) for event in events)

    async def metrics(
        self, *, after: datetime | None = None, before: datetime | None = None, ids: Iterable[str] = ()
    ) -> tuple[MetricPoint, ...]:
        """Stored samples, oldest first: pages of `maxObjectsInGet` (query and get by
        back-reference), the first in one request, the rest together in a second."""
        conditions: dict[str, Any] = {}
        if after is not None:
            conditions["timestampIsGreaterThanOrEqual"] = _stamp(after)
        if before is not None:
            conditions["timestampIsLessThan"] = _stamp(before)
        names = sorted(set(ids))
        if names:
            conditions["metric"] = names
        limits = await self._client.limits()
        size = limits.max_get

        def page_calls(position: int) -> tuple[list[Call], str, str]:
            query_id, get_id = self._client.next_id(), self._client.next_id()
            query = {
                "filter": conditions,
                "sort": [{"property": "timestamp", "isAscending": True}],
                "position": position,
                "limit": size,
                "calculateTotal": True,
            }
            calls = [
                Call("x:Metric/query", query, query_id),
                Call("x:Metric/get", {"#ids": ref(query_id, "x:Metric/query")}, get_id),
            ]
            return calls, query_id, get_id

        calls, query_id, get_id = page_calls(0)
        results = await self._client.call(calls)
        total = _number(_answer(results, query_id).get("total")) or 0
        pages = [(results, get_id)]
        rest = list(range(size, min(total, QUERY_MAX), size))
        if rest:
            more: list[Call] = []
            get_ids = []
            for position in rest:
                page, _, page_get = page_calls(position)
                more += page
                get_ids.append(page_get)
            # Pairs never straddle a split (`call` refuses that): send them in pairs' worth.
            step = max(2, limits.max_calls - limits.max_calls % 2)
            for start in range(0, len(more), step):
                batch = await self._client.call(more[start : start + step])
                pages += [(batch, gid) for gid in get_ids if gid in batch.answers]
        points: list[MetricPoint] = []
        for batch, gid in pages:
            for item in _answer(batch, gid).get("list") or []:
                try:
                    points.append(metric_point(item))
                except errors.StalwartBadResponse:
                    continue
        points.sort(key=lambda point: point.timestamp or datetime.min.replace(tzinfo=UTC))
        return tuple(points)

    # --- live streams ------------------------------------------------------------------
    async def _token(self, what: str) -> str:
        """A 60-second token for `/api/live/<what>` (plain text); 404 means no Enterprise licence."""
        path = TOKEN_PATH + what
        operation = f"GET {path}"
        headers = {"Authorization": self._client.authorization, "Accept": "text/plain"}
        started = time.perf_counter()
        try:
            response = await shared_client().get(api_url(path, {}), headers=headers)
        except httpx.HTTPError as exc:
            raise failure(exc, operation, started=started) from exc
        if response.status_code == 404:
            raise errors.EnterpriseRequired(
                gettext("This is an Enterprise feature of Stalwart."),
                body={"error": "unsupported", "details": "Enterprise feature"},
                operation=operation,
            )
        if response.status_code >= 300:
            raise status_failure(response, operation, started=started)
        token = response.text.strip()
        if not token or any(ch.isspace() for ch in token):
            raise errors.StalwartBadResponse(gettext("Stalwart did not return a live token."), operation=operation)
        return token

    async def tracing_token(self) -> str:
        return await self._token("tracing")

    async def metrics_token(self) -> str:
        return await self._token("metrics")

    async def open_live_traces(self, *, text: str = "", keys: Mapping[str, str] | None = None) -> LiveStream:
        """The live trace stream: `trace` frames of `x:TraceEvent`s, and `ping`s.

        `text` matches any value; `keys` (`{"remoteIp": "192.0.2.1"}`) must all match."""
        texts = await event_texts(self._client)  # before the token, which lives a minute
        token = await self.tracing_token()
        params = {key: value for key, value in (keys or {}).items() if key not in ("token", "filter") and value}
        if text:
            params["filter"] = text

        def traces(event: SSEEvent) -> tuple[TraceEvent, ...]:
            return tuple(labelled(found, texts) for found in live_traces(event))

        return await _open(LIVE_PATH + "tracing", params, token, traces=traces)

    async def open_live_metrics(self, metrics: Sequence[str], *, interval: int = 30) -> LiveStream:
        """The live metrics stream: a `metrics` frame now, then one every `interval` seconds."""
        token = await self.metrics_token()
        params = {"interval": str(max(1, interval)), "metrics": ",".join(metrics)}
        return await _open(LIVE_PATH + "metrics", params, token)


async def _open(
    path: str,
    params: dict[str, str],
    token: str,
    *,
    traces: Callable[[SSEEvent], tuple[TraceEvent, ...]] = live_traces,
) -> LiveStream:
    try:
        return await open_stream(path, params, token, traces=traces, metrics=live_metrics)
    except errors.NotFound as exc:
        raise errors.EnterpriseRequired(
            gettext("This is an Enterprise feature of Stalwart."),
            body={"error": "unsupported", "details": "Enterprise feature"},
            operation=exc.operation,
        ) from exc
