"""Small presentational filters. No logic, no API calls."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy, ngettext

from portal import markup
from portal.templatetags.mailflow import relative_time, utc

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
        return ngettext("%(count)s byte", "%(count)s bytes", int(size)) % {"count": int(size)}
    return f"{size:.1f} {_UNITS[unit]}".replace(".0 ", " ")


@register.filter(is_safe=True)
def clip(value: object, limit: object = markup.CLIP) -> SafeString:
    """A value from Stalwart or from mail, escaped, direction-isolated, controls made visible and
    cut to `limit` characters (200 by default) with the whole value behind "Show all"
    (`portal.markup.clip`). `{{ report.org_name|default:"—"|clip }}`, `{{ line|clip:2000 }}`."""
    try:
        size = int(limit)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        size = markup.CLIP
    return SafeString(markup.clip(value, size))


@register.filter(is_safe=True)
def clip_short(value: object, limit: object = markup.CLIP) -> SafeString:
    """As `clip`, but only cut (no "Show all"): for values inside links, buttons and summaries."""
    try:
        size = int(limit)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        size = markup.CLIP
    return SafeString(markup.clip(value, size, expand=False))


@register.filter(is_safe=True)
def plain(value: object, limit: object = markup.CLIP) -> SafeString:
    """A value from Stalwart for attributes and `<option>` text: escaped, control characters
    written as ⟨U+202E⟩, cut to `limit` characters (`portal.markup.plain`)."""
    try:
        size = int(limit)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        size = markup.CLIP
    return SafeString(markup.plain(value, size))


@register.filter
def more_than_one(items: object) -> int:
    """How many items follow the first one (for "a@x.org + 2 more")."""
    try:
        return max(0, len(items) - 1)  # type: ignore[arg-type]
    except TypeError:
        return 0


_LIMIT_LABELS = {
    1: gettext_lazy("Accounts"),
    2: gettext_lazy("Groups"),
    6: gettext_lazy("Mailing lists"),
    8: gettext_lazy("Domains"),
    10: gettext_lazy("Roles"),
    11: gettext_lazy("API keys"),
}


@register.filter
def tenant_limits(limits: object) -> list[tuple[str, int]]:
    """A tenant's per-type quota array as (label, value) pairs."""
    values = list(limits) if isinstance(limits, list | tuple) else []
    return [(label, values[index]) for index, label in _LIMIT_LABELS.items() if index < len(values)]


class _PageLinks:
    """What `components/ui.html#pagination` reads, for pages that do not use `Paging`."""

    def __init__(self, page: object, pages: object, previous_url: str, next_url: str) -> None:
        self.page = page
        self.pages = pages
        self.previous_url = previous_url
        self.next_url = next_url
        self.total = None


@register.inclusion_tag("components/ui.html#pagination")
def pagination(
    *,
    page: object,
    pages: object = None,
    previous_url: str = "",
    next_url: str = "",
    summary: str = "",
    previous_label: str = "",
    next_label: str = "",
    htmx: bool = True,
) -> dict:
    """The shared pager for lists paged their own way (logs, traces, settings, the audit trail).

    `pages` may be unknown (None: "Page 3"); `summary` replaces "1–25 of 80"; `htmx=False`
    gives plain links for pages without an htmx results partial.
    """
    return {
        "paging": _PageLinks(page, pages, previous_url or "", next_url or ""),
        "pagination_summary": summary,
        "previous_label": previous_label,
        "next_label": next_label,
        "plain_links": not htmx,
    }


@register.filter
def when(value: object) -> str:
    """A datetime as "3 hours ago" / "in 5 minutes", with the exact UTC time on hover.

    `<time datetime="…" title="2025-04-30 14:03:00 UTC">3 hours ago</time>`; "" for anything else.
    """
    if not isinstance(value, datetime):
        return ""
    if timezone.is_naive(value):
        value = timezone.make_aware(value, timezone.get_default_timezone())
    return format_html('<time datetime="{}" title="{}">{}</time>', value.isoformat(), utc(value), relative_time(value))


@register.filter(needs_autoescape=True)
def highlight(text: object, query: object, autoescape: bool = True) -> str:
    """`text` with the first match of `query` in <mark>, as `clip_short` shows a value: escaped
    (both may come from Stalwart), direction-isolated, control characters visible, and cut to
    200 characters around the match."""
    value, wanted = str(text or ""), str(query or "").strip()
    start = value.casefold().find(wanted.casefold()) if wanted else -1
    if start < 0 or len(value.casefold()) != len(value):
        return SafeString(markup.clip(value, markup.CLIP, expand=False))
    end = start + len(wanted)
    before, after = "", ""
    if end > markup.CLIP:  # show the match with a little of what precedes it
        cut = max(0, start - 40)
        value, start, end, before = value[cut:], start - cut, end - cut, "…"
    if len(value) > max(markup.CLIP, end):
        value, after = value[: max(markup.CLIP, end)], "…"
    visible = markup.visible
    tag = '<bdi class="clip-break">' if markup.UNBROKEN.search(value) else "<bdi>"
    return SafeString(
        f"{tag}{before}{visible(value[:start])}<mark>{visible(value[start:end])}</mark>{visible(value[end:])}{after}</bdi>"
    )
