"""Presentational filters for the mail-flow pages (queue, reports). No API calls."""

from __future__ import annotations

from datetime import UTC, datetime

from django import template
from django.utils.translation import gettext, ngettext_lazy

register = template.Library()

_UNITS = (
    (ngettext_lazy("%(count)s year", "%(count)s years", "count"), 365 * 86400),
    (ngettext_lazy("%(count)s day", "%(count)s days", "count"), 86400),
    (ngettext_lazy("%(count)s hour", "%(count)s hours", "count"), 3600),
    (ngettext_lazy("%(count)s minute", "%(count)s minutes", "count"), 60),
)


def _span(seconds: float) -> str:
    seconds = abs(seconds)
    if seconds < 60:
        return gettext("less than a minute")
    for text, size in _UNITS:
        if seconds >= size:
            return text % {"count": int(seconds // size)}
    return gettext("less than a minute")  # pragma: no cover


@register.filter
def relative_time(value: object) -> str:
    """An aware datetime as "in 5 minutes" or "3 hours ago"."""
    if not isinstance(value, datetime):
        return ""
    delta = (value - datetime.now(UTC)).total_seconds()
    if abs(delta) < 60:
        return gettext("now") if delta >= 0 else gettext("just now")
    if delta > 0:
        return gettext("in %(time)s") % {"time": _span(delta)}
    return gettext("%(time)s ago") % {"time": _span(delta)}


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
