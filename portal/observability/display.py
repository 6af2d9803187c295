"""Turning telemetry into things to show: event rows, durations, sparklines. No API calls.

Everything produced here is plain data for templates, which escape it; nothing is marked safe.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from portal.stalwart.observability_types import MetricPoint, TraceEvent
from portal.templatetags.portal import binary_size

LABELS = {
    "accountName": _("Account"),
    "accountId": _("Account id"),
    "causedBy": _("Caused by"),
    "code": _("Code"),
    "details": _("Details"),
    "domain": _("Domain"),
    "elapsed": _("Took"),
    "expires": _("Expires"),
    "from": _("From"),
    "hostname": _("Host"),
    "id": _("Id"),
    "listenerId": _("Listener"),
    "localIp": _("Local IP"),
    "localPort": _("Local port"),
    "messageId": _("Message id"),
    "nextRetry": _("Next retry"),
    "nextDsn": _("Next DSN"),
    "policy": _("Policy"),
    "queueId": _("Queue id"),
    "queueName": _("Queue"),
    "reason": _("Reason"),
    "remoteIp": _("Remote IP"),
    "remotePort": _("Remote port"),
    "result": _("Result"),
    "size": _("Size"),
    "spanId": _("Span"),
    "tls": "TLS",
    "to": _("To"),
    "total": _("Total"),
    "totalFailures": _("Failed"),
    "totalSuccesses": _("Succeeded"),
    "url": "URL",
    "version": _("Version"),
}
_FAILURE_WORDS = ("fail", "error", "invalid", "reject", "does-not-exist", "not-allowed", "blocked", "ban")


def human_duration(milliseconds: float | int | None) -> str:
    """350 -> "350 ms", 1500 -> "1.5 s", 95_000 -> "1 min 35 s"."""
    if milliseconds is None:
        return ""
    ms = float(milliseconds)
    if ms < 1000:
        return f"{ms:.0f} ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s".replace(".0 s", " s")
    minutes, seconds = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def tone(event_type: str) -> str:
    """ "start", "end", "failure" or "info": how the timeline marks an event."""
    if any(word in event_type for word in _FAILURE_WORDS):
        return "failure"
    if event_type.endswith("-start"):
        return "start"
    if event_type.endswith("-end"):
        return "end"
    return "info"


@dataclass
class Row:
    label: str
    key: str
    text: str = ""
    url: str = ""
    items: list[str] = field(default_factory=list)
    event: EventView | None = None


@dataclass
class EventView:
    type: str
    text: str
    details: str
    created: datetime | None
    offset: str
    tone: str
    rows: list[Row]


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if isinstance(value, tuple):
        return ", ".join(_scalar(item) for item in value if not isinstance(item, TraceEvent))
    return "" if value is None else str(value)


def _row(key: str, value: Any, *, link_spans: bool) -> Row:
    row = Row(LABELS.get(key, key), key)
    if isinstance(value, TraceEvent):
        row.event = event_view(value, link_spans=link_spans)
    elif key == "elapsed" and isinstance(value, int | float) and not isinstance(value, bool):
        row.text = human_duration(value)
    elif key == "size" and isinstance(value, int) and not isinstance(value, bool):
        row.text = binary_size(value)
    elif key == "tls" and isinstance(value, bool):
        row.text = gettext("enabled") if value else gettext("disabled")
    elif key == "queueId" and isinstance(value, int) and not isinstance(value, bool):
        row.text = str(value)
        row.url = reverse("observability:history", kwargs={"kind": "delivery"}) + f"?queue={value}"
    elif key == "spanId" and isinstance(value, int) and not isinstance(value, bool) and link_spans:
        row.text = str(value)
        row.url = reverse("observability:span", kwargs={"span_id": value})
    elif isinstance(value, tuple) and not any(isinstance(item, tuple) for item in value):
        row.items = [_scalar(item) for item in value]
    else:
        row.text = _scalar(value)
    return row


def event_view(event: TraceEvent, start: datetime | None = None, *, link_spans: bool = True) -> EventView:
    offset = ""
    if start is not None and event.created is not None:
        seconds = (event.created - start).total_seconds()
        offset = "" if seconds <= 0 else f"+{human_duration(seconds * 1000)}"
    return EventView(
        type=event.type,
        text=event.text or event.type,
        details=event.details,
        created=event.created,
        offset=offset,
        tone=tone(event.type),
        rows=[_row(key, value, link_spans=link_spans) for key, value in event.data],
    )


@dataclass(frozen=True)
class SpanSummary:
    kind: str
    started: datetime | None
    duration: str
    events: int
    received: bool = False  # a received message (else a delivery attempt)


def span_summary(events: Sequence[TraceEvent]) -> SpanSummary:
    first, last = events[0], events[-1]
    received = first.type.startswith("smtp.")
    kind = gettext("Received message") if received else gettext("Delivery attempt")
    duration = ""
    if first.created is not None and last.created is not None:
        duration = human_duration((last.created - first.created).total_seconds() * 1000)
    elapsed = last.get("elapsed")
    if isinstance(elapsed, int) and not isinstance(elapsed, bool) and elapsed > 0:
        duration = human_duration(elapsed)
    return SpanSummary(kind, first.created, duration, len(events), received)


# --- sparklines -------------------------------------------------------------------------
@dataclass(frozen=True)
class Series:
    """Values per time bucket (None where nothing was recorded), oldest first."""

    values: tuple[float | None, ...]
    start: datetime
    step: timedelta

    @property
    def known(self) -> list[float]:
        return [value for value in self.values if value is not None]

    @property
    def total(self) -> float:
        return sum(self.known)

    @property
    def latest(self) -> float | None:
        known = self.known
        return known[-1] if known else None

    @property
    def low(self) -> float | None:
        return min(self.known) if self.known else None

    @property
    def high(self) -> float | None:
        return max(self.known) if self.known else None


def bucket(
    points: Iterable[MetricPoint],
    ids: Iterable[str],
    *,
    start: datetime,
    step: timedelta,
    count: int,
    how: str,
    recorded_from: datetime | None = None,
) -> Series:
    """Group points of the given metric ids into `count` buckets from `start`.

    `how` is "sum" (counters: what happened in the bucket), "last" (gauges: the last value
    seen) or "mean" (histograms: sum / count, e.g. an average time).

    Stalwart's history store writes a counter only when it grew and a gauge only when it is
    above zero, so from `recorded_from` (the store's first sample) on, a bucket without a
    counter or gauge point is 0; before it, and for histograms (no average of nothing), None.
    """
    wanted = set(ids)
    sums = [0.0] * count
    counts = [0] * count
    seen = [False] * count
    last: list[tuple[datetime, float] | None] = [None] * count
    for point in points:
        if point.id not in wanted or point.timestamp is None:
            continue
        index = math.floor((point.timestamp - start) / step)
        if not 0 <= index < count:
            continue
        seen[index] = True
        if how == "mean":
            sums[index] += point.sum
            counts[index] += point.count
        elif how == "last":
            current = last[index]
            if current is None or point.timestamp >= current[0]:
                last[index] = (point.timestamp, point.value)
        else:
            sums[index] += point.value
    values: list[float | None] = []
    for index in range(count):
        if not seen[index]:
            recorded = recorded_from is not None and how != "mean" and start + step * (index + 1) > recorded_from
            values.append(0.0 if recorded else None)
        elif how == "mean":
            values.append(sums[index] / counts[index] if counts[index] else None)
        elif how == "last":
            entry = last[index]
            values.append(entry[1] if entry else None)
        else:
            values.append(sums[index])
    return Series(tuple(values), start, step)


SPARK_WIDTH = 240
SPARK_HEIGHT = 48


@dataclass(frozen=True)
class Sparkline:
    line: str  # polyline points
    area: str  # polygon points (the line closed down to the baseline)
    width: int = SPARK_WIDTH
    height: int = SPARK_HEIGHT
    last_x: float = 0
    last_y: float = 0

    @property
    def empty(self) -> bool:
        return not self.line


def sparkline(series: Series, *, width: int = SPARK_WIDTH, height: int = SPARK_HEIGHT) -> Sparkline:
    """SVG coordinates for a series; buckets without data are drawn at the previous value
    (or zero at the start), so the line never breaks."""
    values = list(series.values)
    if not any(value is not None for value in values):
        return Sparkline("", "", width, height)
    filled: list[float] = []
    previous = 0.0
    for value in values:
        previous = value if value is not None else previous
        filled.append(previous)
    low, high = min(filled), max(filled)
    if low > 0 and (high - low) < high * 0.05:
        low = 0  # a flat series sits at the top instead of wobbling across the whole height
    span = (high - low) or 1
    pad = 3
    step = (width - 2 * pad) / max(1, len(filled) - 1)
    coordinates = []
    for index, value in enumerate(filled):
        x = pad + index * step
        y = height - pad - (value - low) / span * (height - 2 * pad)
        coordinates.append((round(x, 1), round(y, 1)))
    line = " ".join(f"{x},{y}" for x, y in coordinates)
    area = f"{coordinates[0][0]},{height} {line} {coordinates[-1][0]},{height}"
    return Sparkline(line, area, width, height, coordinates[-1][0], coordinates[-1][1])


def now_utc() -> datetime:
    return datetime.now(UTC)
