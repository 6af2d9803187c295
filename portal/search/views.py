"""Quick search: pages, accounts, groups, domains and queued messages, in one place.

The search field in the top bar (Ctrl+K) shows these results as you type (htmx); without
JavaScript it submits to this page. What is searched follows what the person may list:

* pages by name, from the menu the person sees (no call to Stalwart);
* accounts, groups and domains: one `GET /api/principal?types=…&filter=…&limit=5` per type
  the person may list (individual-list, group-list, domain-list), run together;
* queued messages by address: one `GET /api/queue/messages?text=…&limit=5`, with
  message-queue-list.

A query of one character, or one starting with ">", searches pages only.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from portal.access import require
from portal.capabilities import unavailable
from portal.directory.kinds import KINDS, Kind
from portal.navigation import sections_for
from portal.permissions import SIGNED_IN, PortalUser
from portal.request import PortalRequest

PER_TYPE = 5
MAX_QUERY = 100
PAGE_PREFIX = ">"
# The principal types quick search looks at, in the order it shows them.
SEARCHED_KINDS = ("accounts", "groups", "domains")


@dataclass
class Hit:
    title: str
    url: str
    detail: str = ""


@dataclass
class Section:
    heading: str
    hits: list[Hit]
    total: int = 0
    more_url: str = ""  # the full list of matches, when there are more than shown
    more: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.more = max(0, self.total - len(self.hits))


def _pages(user: PortalUser, text: str) -> Section:
    wanted = text.casefold()
    hits = []
    for section_label, items in sections_for(user):
        for label, url in items:
            if wanted in str(label).casefold() or wanted in str(section_label).casefold():
                hits.append(Hit(str(label), url, str(section_label)))
    return Section(_("Pages"), hits, len(hits))


async def _principals(request: PortalRequest, kind: Kind, text: str) -> Section:
    page = await request.stalwart.principals.list(
        types=[kind.type], filter=text, page=1, limit=PER_TYPE, fields=("name", "description", "emails")
    )
    linked = kind.access("get").allows(request.portal_user)
    list_url = reverse("directory:list", kwargs={"kind": kind.slug}) + "?" + urlencode({"q": text})
    hits = []
    for item in page.items:
        url = reverse("directory:detail", kwargs={"kind": kind.slug, "name": item.name}) if linked else list_url
        detail = " · ".join(part for part in (item.description, item.primary_email) if part)
        hits.append(Hit(item.name, url, detail))
    return Section(str(kind.plural), hits, page.total, list_url)


async def _queue(request: PortalRequest, text: str) -> Section:
    from portal.stalwart.queue_types import QueueSelection

    page = await request.stalwart.queue.messages(QueueSelection(text=text), page=1, limit=PER_TYPE)
    linked = request.portal_user.has("message-queue-get")
    list_url = reverse("queue:list") + "?" + urlencode({"q": text})
    hits = []
    for message in page.items:
        sender = _("Mailer daemon") if message.is_bounce else message.return_path
        url = reverse("queue:detail", kwargs={"message_id": message.id}) if linked else list_url
        more = f" +{message.more_recipients}" if message.more_recipients else ""
        hits.append(Hit(sender, url, _("to %(recipient)s") % {"recipient": message.first_recipient} + more))
    return Section(_("Queued messages"), hits, page.total, list_url)


@require_GET
@require(SIGNED_IN)
async def search(request: PortalRequest) -> HttpResponse:
    user: PortalUser = request.portal_user
    query = request.GET.get("q", "").strip()[:MAX_QUERY]
    pages_only = query.startswith(PAGE_PREFIX) or len(query) < 2
    text = query.removeprefix(PAGE_PREFIX).strip()
    sections: list[Section] = []
    if text:
        sections.append(_pages(user, text))
    if text and not pages_only:
        calls = []
        for slug in SEARCHED_KINDS:
            kind = KINDS[slug]
            offered = not unavailable(user.capabilities, "directory:list", {"kind": slug})
            if kind.access("list").allows(user) and offered:
                calls.append(_principals(request, kind, text))
        if user.has("message-queue-list") and not unavailable(user.capabilities, "queue:list", {}):
            calls.append(_queue(request, text))
        sections.extend(await asyncio.gather(*calls))
    found = [section for section in sections if section.hits]
    context = {
        "query": query,
        "text": text,
        "sections": found,
        "count": sum(len(section.hits) for section in found),
        "pages_only": pages_only,
    }
    template = "search/index.html#results" if request.htmx else "search/index.html"
    return render(request, template, context)
