"""Pages rendered once around the parts that change on every request.

Opened twice at the same address by the same person, a list page differs only in its rows
and in the CSRF token (masked afresh for every response): the chrome, the heading, the
search form, the table's head and the pager are the same HTML. `render_around` renders the
page once with markers where those two go, keeps the pieces in this process's
"page_skeletons" cache, and answers later requests by joining the pieces with that
request's rows and token: no template runs.

The key holds everything else the page shows: the template, the language, the path, the
person's name, server and menu (what the top bar and the side menu show), the view's own
values (`vary`: its paging, flags) and whether there are rows at all. A page with
messages to show is rendered in full (they are shown once), and nothing is kept under
DEBUG, where templates change under a running process.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Hashable
from typing import Any

from django.conf import settings
from django.contrib.messages import get_messages
from django.core.cache import caches
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.urls import get_script_prefix
from django.utils.safestring import SafeString
from django.utils.translation import get_language

from portal.navigation import menu_key

#: Markers for the holes, unguessable (new in every process) so that nothing a page shows
#: (a search typed by the person, a name from Stalwart) can be taken for one.
_MARK = secrets.token_hex(16)
ROWS = f"rows-{_MARK}"
TOKEN = f"csrf-{_MARK}"
_HOLES = re.compile(f"({ROWS}|{TOKEN})")


def render_around(
    request: HttpRequest,
    template: str,
    context: dict[str, Any],
    *,
    rows: SafeString,
    vary: tuple[Hashable, ...],
    rows_name: str = "rows",
) -> HttpResponse:
    """`render(request, template, {**context, rows_name: rows})`, from kept pieces when it can.

    `vary` must hold every value of `context` the template shows that the path and the
    person do not already decide: the paging (query, page, size, order, total), flags from
    permissions. The query string is not in the key: the view's own reading of it is.
    Whatever else of the context the template tests for being empty must be empty exactly
    when `rows` is (the key says only whether there are rows)."""
    user = getattr(request, "portal_user", None)
    if settings.DEBUG or user is None or get_messages(request):
        return render(request, template, {**context, rows_name: rows})
    key = (
        template,
        get_language(),
        get_script_prefix(),
        request.path,
        user.name,
        user.version,
        user.enterprise,
        user.generation,
        user.tenant,
        menu_key(user),
        bool(rows),
        *vary,
    )
    name = "page-skeleton:" + hashlib.md5(repr(key).encode(), usedforsecurity=False).hexdigest()
    store = caches["page_skeletons"]
    pieces: tuple[str, ...] | None = store.get(name)
    if pieces is None:
        marked = {**context, rows_name: SafeString(ROWS) if rows else rows, "csrf_token": TOKEN}
        pieces = tuple(_HOLES.split(render(request, template, marked).content.decode()))
        store.set(name, pieces)
    token = get_token(request) if TOKEN in pieces else ""
    return HttpResponse("".join(rows if piece == ROWS else token if piece == TOKEN else piece for piece in pieces))
