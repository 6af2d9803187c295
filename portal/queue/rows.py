"""The rows of the message queue list, rendered in Python (see portal/markup.py). The table
around them, its headers and the empty states stay in templates/queue/list.html."""

from __future__ import annotations

import functools

from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from portal.markup import NONE, clip, e, plain, rows_html, url_pattern
from portal.stalwart.queue_types import QueuedMessage, SmtpResponse
from portal.templatetags.portal import binary_size, when

# Any number that cannot appear in a script prefix: message ids are `<int:…>` in the URL.
_ID_PLACEHOLDER = "9081726354"


class MessageRows:
    """Renders the `<tr>` of one queued message; labels are translated when it is made."""

    def __init__(self, *, linked: bool):
        self.url_for = url_pattern("queue:detail", "message_id", placeholder=_ID_PLACEHOLDER) if linked else None
        self.daemon = e(_("Mailer daemon"))
        self.bounce_note = e(_("Delivery report (null sender <>)"))
        self.queued = e(_("Queued %(created)s"))
        self.labels = {
            "recipients": e(_("Recipients")),
            "status": e(_("Status")),
            "next": e(_("Next attempt")),
            "size": e(_("Size")),
        }

    def __call__(self, message: QueuedMessage) -> str:
        if self.url_for:
            title = self.daemon if message.is_bounce else clip(message.return_path, expand=False)
            title = f'<a class="cell-title" href="{e(self.url_for(str(int(message.id))))}">{title}</a>'
        else:
            title = self.daemon if message.is_bounce else clip(message.return_path)
            title = f'<span class="cell-title">{title}</span>'
        if message.is_bounce:
            sub = self.bounce_note
        else:
            sub = self.queued % {"created": when(message.created)}
        next_retry = message.next_retry
        labels = self.labels
        return (
            f'<tr><th scope="row">{title}<span class="cell-sub">{sub}</span></th>'
            f'<td data-label="{labels["recipients"]}">{self._recipients(message)}</td>'
            f'<td data-label="{labels["status"]}"><span class="status-counts">{self._status(message)}</span>'
            f"{self._problem(message)}</td>"
            f'<td data-label="{labels["next"]}">{when(next_retry) if next_retry else NONE}</td>'
            f'<td data-label="{labels["size"]}" class="cell-number">{e(binary_size(message.size))}</td></tr>'
        )

    def _recipients(self, message: QueuedMessage) -> str:
        addresses = [recipient.address for recipient in message.recipients]
        first = f'<span class="cell-wrap">{clip(addresses[0] if addresses else "")}</span>'
        if len(addresses) < 2:
            return first
        more = e(_("+ %(more)s more") % {"more": len(addresses) - 1})
        return f'{first} <span class="badge" title="{plain(", ".join(addresses[1:]))}">{more}</span>'

    def _problem(self, message: QueuedMessage) -> str:
        """Why it waits: the reply of a domain that will be retried, else of a recipient that
        failed, as `421 4.2.1 Mailbox busy` ("" when there is none)."""
        statuses = [d.status for d in message.pending_domains] + [r.effective for r in message.recipients]
        text = next((s.text for s in statuses if s.kind == "temp_fail" and s.text), "") or next(
            (s.text for s in statuses if s.kind == "perm_fail" and s.text), ""
        )
        if not text:
            return ""
        reply = SmtpResponse.parse(text)
        if reply is not None:
            text = " ".join(part for part in (reply.code, reply.enhanced, reply.message) if part)
        return f'<span class="cell-sub">{clip(text, 80, expand=False)}</span>'

    def _status(self, message: QueuedMessage) -> str:
        badges = []
        if count := message.delivered_count:
            text = ngettext("%(counter)s delivered", "%(counter)s delivered", count) % {"counter": count}
            badges.append(f'<span class="badge badge-ok">{e(text)}</span>')
        if count := message.pending_count:
            text = ngettext("%(counter)s pending", "%(counter)s pending", count) % {"counter": count}
            badges.append(f'<span class="badge badge-pending">{e(text)}</span>')
        if count := message.failed_count:
            text = ngettext("%(counter)s failed", "%(counter)s failed", count) % {"counter": count}
            badges.append(f'<span class="badge badge-danger">{e(text)}</span>')
        return " ".join(badges)


def render_rows(messages: tuple[QueuedMessage, ...], *, linked: bool) -> SafeString:
    """The `<tr>` of every message, one per line (empty when there are none)."""
    return rows_html(_renderer, messages, linked)


@functools.lru_cache(maxsize=16)
def _renderer(linked: bool, language: str | None, prefix: str) -> MessageRows:
    """One renderer per option, language and script prefix."""
    return MessageRows(linked=linked)
