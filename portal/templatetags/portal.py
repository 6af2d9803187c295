"""Small presentational filters. No logic, no API calls."""

from __future__ import annotations

from django import template

register = template.Library()

_UNITS = ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB")


@register.filter
def binary_size(value: object) -> str:
    """1536 -> "1.5 KiB" (binary units, as Stalwart counts quotas)."""
    try:
        size = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""
    unit = 0
    while size >= 1024 and unit < len(_UNITS) - 1:
        size /= 1024
        unit += 1
    if unit == 0:
        return f"{int(size)} bytes" if size != 1 else "1 byte"
    return f"{size:.1f} {_UNITS[unit]}".replace(".0 ", " ")


@register.filter
def more_than_one(items: object) -> int:
    """How many items follow the first one (for "a@x.org + 2 more")."""
    try:
        return max(0, len(items) - 1)  # type: ignore[arg-type]
    except TypeError:
        return 0


_LIMIT_LABELS = {1: "Accounts", 2: "Groups", 6: "Mailing lists", 8: "Domains", 10: "Roles", 11: "API keys"}


@register.filter
def tenant_limits(limits: object) -> list[tuple[str, int]]:
    """A tenant's per-type quota array as (label, value) pairs."""
    values = list(limits) if isinstance(limits, list | tuple) else []
    return [(label, values[index]) for index, label in _LIMIT_LABELS.items() if index < len(values)]


@register.filter
def ago(value: object) -> str:
    """A datetime -> "3 days ago" (one unit, like the official web admin); "" for anything else."""
    from datetime import datetime

    from django.utils import timezone
    from django.utils.timesince import timesince

    if not isinstance(value, datetime):
        return ""
    if timezone.is_naive(value):
        value = timezone.make_aware(value, timezone.get_default_timezone())
    if value > timezone.now():
        return "just now"
    text = timesince(value, depth=1)
    return "just now" if text.startswith("0\xa0") else f"{text} ago"
