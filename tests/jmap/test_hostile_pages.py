"""Hostile content from a Stalwart 0.16 server comes out as text on every page.

The 0.16 sandbox with the ``hostile`` seed (``sandbox.hostile_seed``: payloads in names,
descriptions, report fields, log lines, queue senders, archived subjects) is walked as the
administrator (`tests.page_list.jmap_admin_pages`, plus list pages searched for a payload).
Every answer must keep the payloads escaped, isolate names in ``<bdi>``, cut the 100 KB value
short (``clip``), and never put a hostile value into a link without percent-encoding it. The
browser check of the same seed on <= 0.15 is `tests/browser/test_hostile_content.py`.
"""

from __future__ import annotations

import html
import re
from urllib.parse import quote

import pytest

from sandbox.hostile_seed import BIG, EVIL_SENDER, IMG, SCRIPT
from sandbox.server import run_in_thread
from sandbox.state import Sandbox
from tests.page_list import jmap_admin_pages, prepare_jmap

ESCAPED_SCRIPT = html.escape(SCRIPT, quote=False)
SEARCHES = [
    "/directory/accounts/?q={q}",
    "/directory/groups/?q={q}",
    "/directory/lists/?q={q}",
    "/queue/?q={q}",
    "/observability/logs/?q={q}",
    "/reports/dmarc/?q={q}",
]
# Where each kind of hostile value is shown (the page must carry it, escaped).
SHOWN = {
    "/directory/accounts/?q=x%2By": "principal names and descriptions",
    "/queue/": "queue senders",
    "/reports/dmarc/": "report fields",
    "/observability/logs/": "log lines",
    "/undelete/jane.doe@example.org/": "archived subjects",
}
HREF = re.compile(r'(?:href|action|hx-get|hx-post)="([^"]*)"')


@pytest.fixture(scope="module")
def hostile_server():
    state = Sandbox(version="0.16.18", enterprise=True, seed="hostile")
    with run_in_thread(state) as url:
        yield state, url


@pytest.fixture
def sandbox(hostile_server, settings) -> Sandbox:
    state, url = hostile_server
    state.reset()
    settings.STALWART_URL = url
    prepare_jmap(url)
    return state


def problems_of(path: str, status: int, body: str) -> list[str]:
    found = []
    if status >= 500:
        found.append(f"{path}: answered {status}")
    if SCRIPT in body or "<img src=x" in body:
        found.append(f"{path}: a payload is in the page as markup")
    if BIG[:5000] in body:
        found.append(f"{path}: the 100 KB value is not cut short")
    for url in HREF.findall(body):
        url = html.unescape(url)
        if re.match(r"\s*javascript:", url, re.I) or re.search(r"[<>\"'\s{}]", url):
            found.append(f"{path}: a link built from a hostile value without encoding: {url[:120]}")
    return found


def test_hostile_values_are_text_on_every_016_page(signed_in, sandbox):
    client = signed_in("admin")

    def fetch(path: str) -> str:
        return client.get(path).content.decode()

    problems: list[str] = []
    bodies: dict[str, str] = {}
    paths = [item.path for item in jmap_admin_pages(fetch)]
    paths += [template.format(q=quote(term, safe="")) for template in SEARCHES for term in (SCRIPT, IMG, "evil")]
    paths += list(SHOWN)
    for path in dict.fromkeys(paths):
        response = client.get(path)
        body = response.content.decode(errors="replace")
        bodies[path] = body
        problems += problems_of(path, response.status_code, body)
    assert problems == [], "\n".join(problems[:40])
    for path, what in SHOWN.items():
        assert ESCAPED_SCRIPT in bodies[path] or html.escape(IMG, quote=False) in bodies[path], (
            f"{what} ({path}) do not show the hostile values"
        )


def test_hostile_names_are_isolated_and_their_links_encoded(signed_in, sandbox):
    client = signed_in("admin")
    accounts = client.get("/directory/accounts/?q=" + quote("x+y&z", safe="")).content.decode()
    assert "<bdi" in accounts and "x+y&amp;z=1@example.org" in accounts
    # The account's link carries its "&" percent-encoded (twice: portal.converters.PrincipalName).
    links = re.findall(r'href="(/directory/accounts/x[^"]*)"', accounts)
    assert "/directory/accounts/x+y%2526z=1@example.org/" in links, links
    queue = client.get("/queue/?q=evil").content.decode()
    assert html.escape(EVIL_SENDER, quote=False) in queue or html.escape(EVIL_SENDER) in queue
    assert re.search(r"<bdi[^>]*>[^<]*&lt;script&gt;", queue)
