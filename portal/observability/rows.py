"""The rows of the log viewer, rendered in Python (see portal/markup.py): the page refreshes
itself while it is open, so each open page renders its rows again and again. The table
around them, its headers and the empty states stay in templates/observability/logs.html."""

from __future__ import annotations

import functools

from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from portal.markup import NONE, clip, e, rows_html
from portal.stalwart.observability_types import LogEntry
from portal.templatetags.mailflow import utc
from portal.templatetags.portal import when

#: How much of a log line the table shows before "Show all".
LINE = 500

_BADGES = {"ERROR": "badge-danger", "WARN": "badge-warn", "INFO": "badge-ok", "DEBUG": "badge-info"}


class LogRows:
    """Renders the `<tr>` of one log entry; labels are translated when it is made."""

    def __init__(self) -> None:
        self.when, self.level, self.event, self.details = (
            e(_("When")),
            e(_("Level")),
            e(_("Event")),
            e(_("Details")),
        )

    def __call__(self, entry: LogEntry) -> str:
        if entry.timestamp:
            time = f'{when(entry.timestamp)}<span class="cell-sub">{e(utc(entry.timestamp))}</span>'
        else:
            time = NONE
        badge = _BADGES.get(entry.level, "badge-neutral")
        level = e(entry.level) if entry.level in _BADGES else clip(entry.level, 20, expand=False)
        # Stalwart 0.16 writes only the event's name, no description: the name alone then.
        title = f'<span class="cell-title">{clip(entry.event)}</span>' if entry.event else ""
        name = f'<code class="cell-sub">{clip(entry.event_id)}</code>' if entry.event_id or not title else ""
        return (
            f'<tr><td data-label="{self.when}" class="cell-time">{time}</td>'
            f'<td data-label="{self.level}"><span class="badge {badge}">{level}</span></td>'
            f'<td data-label="{self.event}">{title}{name}</td>'
            f'<td data-label="{self.details}" class="cell-details">{clip(entry.details, LINE)}</td></tr>'
        )


def render_rows(entries: list[LogEntry]) -> SafeString:
    """The `<tr>` of every entry, one per line (empty when there are none)."""
    return rows_html(_renderer, entries)


@functools.lru_cache(maxsize=16)
def _renderer(language: str | None, prefix: str) -> LogRows:
    """One renderer per language (and script prefix, which its rows do not use)."""
    return LogRows()
