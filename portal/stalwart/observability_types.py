"""Typed results of the logs, settings and telemetry APIs (api-behaviour §9, §10, §15, §16).

Everything here comes from the server and is untrusted: templates show it escaped, and
nothing is interpreted beyond its JSON shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from . import errors


def parse_time(value: Any) -> datetime | None:
    """`2025-01-05T14:06:29Z` (or with an offset) -> an aware datetime; None when unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _str(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


# --- logs -------------------------------------------------------------------------
LEVELS = ("ERROR", "WARN", "INFO", "DEBUG", "TRACE")


@dataclass(frozen=True, slots=True)
class LogEntry:
    timestamp: datetime | None
    level: str
    event: str
    event_id: str
    details: str
    #: the entry's id where the server pages by anchor (0.16: `x:Log` ids), else ""
    id: str = ""

    @classmethod
    def from_api(cls, data: Any) -> LogEntry:
        if not isinstance(data, dict):
            raise errors.StalwartBadResponse("Unexpected log entry.")
        return cls(
            timestamp=parse_time(data.get("timestamp")),
            level=_str(data.get("level")).upper(),
            event=_str(data.get("event")),
            event_id=_str(data.get("event_id")),
            details=_str(data.get("details")),
        )


# --- settings -----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SettingsPage:
    """`/api/settings/list`: keys (prefix stripped) and values, in key order."""

    items: tuple[tuple[str, str], ...]
    total: int


@dataclass(frozen=True, slots=True)
class SettingsRecord:
    """One record of `/api/settings/group`: its id and its fields (sub-key -> value)."""

    id: str
    fields: tuple[tuple[str, str], ...]

    def get(self, name: str, default: str = "") -> str:
        return next((value for key, value in self.fields if key == name), default)


@dataclass(frozen=True, slots=True)
class ReloadIssue:
    key: str
    kind: str
    message: str


_WARNING_TEXT = {
    "missing": _("A required value is missing."),
    "appliedDefault": _("Not set; the default %(default)s applies."),
    "unread": _("Not used by any part of the server."),
}


@dataclass(frozen=True, slots=True)
class ReloadResult:
    warnings: tuple[ReloadIssue, ...]
    errors: tuple[ReloadIssue, ...]

    @property
    def ok(self) -> bool:
        return not self.errors

    @classmethod
    def from_api(cls, data: Any) -> ReloadResult:
        if not isinstance(data, dict):
            raise errors.StalwartBadResponse("Unexpected reload result.")
        return cls(warnings=cls._issues(data.get("warnings")), errors=cls._issues(data.get("errors")))

    @staticmethod
    def _issues(raw: Any) -> tuple[ReloadIssue, ...]:
        if not isinstance(raw, dict):
            return ()
        issues = []
        for key, value in sorted(raw.items()):
            value = value if isinstance(value, dict) else {}
            kind = _str(value.get("type"))
            if "error" in value:
                message = _str(value.get("error"))
            elif kind in _WARNING_TEXT:
                message = _WARNING_TEXT[kind] % {"default": _str(value.get("default"))}
            else:
                message = kind or gettext("Reported by the server.")
            issues.append(ReloadIssue(_str(key), kind, message))
        return tuple(issues)


# --- telemetry ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TraceEvent:
    """One event of a span (or a nested one): its id, texts, time and key/value data."""

    type: str
    text: str
    details: str
    created: datetime | None
    data: tuple[tuple[str, Any], ...]

    @classmethod
    def from_api(cls, data: Any) -> TraceEvent:
        if not isinstance(data, dict) or not isinstance(data.get("type"), str):
            raise errors.StalwartBadResponse("Unexpected trace event.")
        raw = data.get("data")
        pairs = tuple((str(key), cls._value(value)) for key, value in raw.items()) if isinstance(raw, dict) else ()
        return cls(
            type=data["type"],
            text=_str(data.get("text")),
            details=_str(data.get("details")),
            created=parse_time(data.get("createdAt")),
            data=pairs,
        )

    @classmethod
    def _value(cls, value: Any) -> Any:
        if isinstance(value, dict) and isinstance(value.get("type"), str):
            return cls.from_api(value)
        if isinstance(value, list):
            return tuple(cls._value(item) for item in value)
        if isinstance(value, dict):
            return tuple((str(key), cls._value(item)) for key, item in value.items())
        return value

    def get(self, key: str, default: Any = None) -> Any:
        return next((value for name, value in self.data if name == key), default)


@dataclass(frozen=True, slots=True)
class TraceSummary:
    """A row of the message history: the first queue or delivery event of a span."""

    span_id: int
    created: datetime | None
    type: str
    sender: str
    recipients: tuple[str, ...]
    size: int | None
    queue_id: int | None
    remote_ip: str

    @classmethod
    def from_api(cls, data: Any) -> TraceSummary:
        event = TraceEvent.from_api(data)
        span_id = event.get("spanId")
        if not isinstance(span_id, int) or isinstance(span_id, bool):
            raise errors.StalwartBadResponse("A trace has no span id.")
        to = event.get("to")
        recipients = tuple(str(item) for item in to) if isinstance(to, tuple) else ((str(to),) if to else ())
        size = event.get("size")
        queue_id = event.get("queueId")
        return cls(
            span_id=span_id,
            created=event.created,
            type=event.type,
            sender=_str(event.get("from")),
            recipients=recipients,
            size=size if isinstance(size, int) and not isinstance(size, bool) else None,
            queue_id=queue_id if isinstance(queue_id, int) and not isinstance(queue_id, bool) else None,
            remote_ip=_str(event.get("remoteIp")),
        )


@dataclass(frozen=True, slots=True)
class MetricPoint:
    kind: str  # "counter", "gauge" or "histogram"
    id: str
    timestamp: datetime | None
    value: float = 0
    count: int = 0
    sum: float = 0

    @classmethod
    def from_api(cls, data: Any) -> MetricPoint:
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            raise errors.StalwartBadResponse("Unexpected metric.")

        def number(name: str) -> float:
            value = data.get(name)
            return value if isinstance(value, int | float) and not isinstance(value, bool) else 0

        return cls(
            kind=_str(data.get("type")),
            id=data["id"],
            timestamp=parse_time(data.get("timestamp")),
            value=number("value"),
            count=int(number("count")),
            sum=number("sum"),
        )
