"""Presentational filters for the mail-flow pages (queue, reports). No API calls."""

from __future__ import annotations

from datetime import UTC, datetime

from django import template

register = template.Library()

_UNITS = (("year", 365 * 86400), ("day", 86400), ("hour", 3600), ("minute", 60))


def _span(seconds: float) -> str:
    seconds = abs(seconds)
    if seconds < 60:
        return "less than a minute"
    for name, size in _UNITS:
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {name}{'s' if count != 1 else ''}"
    return "less than a minute"  # pragma: no cover


@register.filter
def relative_time(value: object) -> str:
    """An aware datetime as "in 5 minutes" or "3 hours ago"."""
    if not isinstance(value, datetime):
        return ""
    delta = (value - datetime.now(UTC)).total_seconds()
    if abs(delta) < 60:
        return "now" if delta >= 0 else "just now"
    return f"in {_span(delta)}" if delta > 0 else f"{_span(delta)} ago"


@register.filter
def utc(value: object) -> str:
    """An aware datetime as "2025-04-30 14:03:00 UTC" (for titles and tables)."""
    if not isinstance(value, datetime):
        return ""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@register.filter
def utc_date(value: object) -> str:
    if not isinstance(value, datetime):
        return ""
    return value.astimezone(UTC).strftime("%Y-%m-%d")


@register.filter
def duration(seconds: object) -> str:
    try:
        return _span(float(seconds))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""


@register.filter
def percent(part: object, whole: object) -> str:
    try:
        part_n, whole_n = float(part), float(whole)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""
    if whole_n <= 0:
        return "—"
    return f"{part_n * 100 / whole_n:.0f}%"
