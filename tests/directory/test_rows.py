"""The directory list rows are written in Python (portal/markup.py): everything Stalwart
sends must come out as text."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from portal.directory.kinds import KINDS
from portal.directory.rows import render_rows
from portal.stalwart.types import Principal

PAYLOAD = "\"><img src=x onerror=alert(1)><script>alert(2)</script>'&{{7*7}}{% debug %}"
TAGS = {"tr", "td", "th", "a", "span", "input", "meter", "bdi", "details", "summary"}


class Collect(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def hostile(kind: str) -> Principal:
    return Principal.from_api(
        {
            "id": 1,
            "type": kind,
            "name": f"x{PAYLOAD}/../%2F+&=?#",
            "description": PAYLOAD,
            "emails": [f"a{PAYLOAD}@example.org", f"b{PAYLOAD}@example.org"],
            "quota": 1000,
            "usedQuota": 10,
            "memberOf": [PAYLOAD],
            "roles": [PAYLOAD],
            "members": [PAYLOAD],
            "enabledPermissions": ["x"],
            "urls": [f"javascript:alert(3)//{PAYLOAD}"],
        }
    )


@pytest.mark.parametrize("slug", sorted(KINDS))
@pytest.mark.parametrize("linked", [True, False])
def test_every_value_is_text(slug, linked):
    kind = KINDS[slug]
    row = render_rows(
        kind, (hostile(kind.type),), linked=linked, selectable=True, email_label=PAYLOAD, count_label=PAYLOAD
    )
    parsed = Collect()
    parsed.feed(str(row))
    assert {tag for tag, _ in parsed.tags} <= TAGS
    for tag, attrs in parsed.tags:
        assert not [name for name in attrs if name.startswith("on")], (tag, attrs)
        if tag == "a":
            assert attrs["href"].startswith(f"/directory/{slug}/") and "<" not in attrs["href"]
    # The payload survived as text: in the cell, or in the checkbox's value and label.
    assert PAYLOAD in "".join(parsed.text) or any(PAYLOAD in value for _, a in parsed.tags for value in a.values())
    assert "<script" not in str(row) and "<img" not in str(row)


def test_rows_match_what_the_page_shows(signed_in, sandbox):
    """One row per account of the page, each linking to its detail page."""
    client = signed_in("admin")
    page = client.get("/directory/accounts/", {"size": 25}).content.decode()
    accounts = [p for p in sandbox.principals.values() if p.type == "individual"]
    assert page.count('<th scope="row">') == min(25, len(accounts))
    assert 'class="cell-select"' in page and '<a class="cell-title" href="/directory/accounts/' in page


NAMES = [
    "jane",
    "jane.doe@example.org",
    "a+b=c",
    "it's",
    "..",
    ".",
    ".hidden",
    "a..b",
    "a/b",
    "%2F",
    "jörg",
    "a b",
    "x?y#z",
    "~u_1-2",
]


@pytest.mark.parametrize("name", NAMES)
def test_detail_links_are_those_reverse_gives(name):
    from django.urls import reverse

    from portal.directory.rows import detail_url_factory

    kind = KINDS["accounts"]
    assert detail_url_factory(kind)(name) == reverse("directory:detail", kwargs={"kind": kind.slug, "name": name})


def test_the_cached_list_heading_follows_permissions_and_search(client, sandbox):
    """The heading and search form of a list are rendered once per key (templates/directory/
    list.html): what one person may do, or searched for, never shows on another's page."""
    from tests.conftest import sign_in

    def top(page: str) -> str:
        return page[page.index('<header class="page-header">') : page.index('<div id="results"')]

    sign_in(client, "admin")
    admin = top(client.get("/directory/accounts/").content.decode())
    assert "New account" in admin and "Import CSV" in admin
    assert "New group" in top(client.get("/directory/groups/").content.decode())
    searched = top(client.get("/directory/accounts/", {"q": PAYLOAD, "size": 50, "sort": "-name"}).content.decode())
    assert 'value="-name"' in searched and '<option value="50" selected>' in searched
    parsed = Collect()
    parsed.feed(searched)
    assert PAYLOAD in [attrs.get("value") for tag, attrs in parsed.tags if tag == "input"]
    assert "<img" not in searched and "<script" not in searched
    client.post("/auth/sign-out")

    sign_in(client, "helpdesk")
    helpdesk = top(client.get("/directory/accounts/").content.decode())
    assert "New account" not in helpdesk and "Import CSV" not in helpdesk
    assert "Export CSV" in helpdesk
    assert "New group" not in top(client.get("/directory/groups/").content.decode())
    other = top(client.get("/directory/accounts/", {"q": "jane"}).content.decode())
    assert 'value="jane"' in other and PAYLOAD not in other and 'value="-name"' not in other


def test_the_cached_table_frame_follows_the_page_and_the_total(signed_in, sandbox):
    from sandbox.state import Principal as SandboxPrincipal

    client = signed_in("admin")

    def frame(params: dict) -> tuple[str, str]:
        page = client.get("/directory/accounts/", params).content.decode()
        return page[page.index('<div class="bulk-bar">') : page.index("<tbody>")], page[page.index("</tbody>") :]

    total = sandbox.type_counts["individual"]
    head, foot = frame({})
    assert f"Delete all {total}…" in head and "page 1 of" in head and 'aria-sort="ascending"' in head
    assert f"1–25 of {total}" in foot and 'rel="next"' in foot and 'rel="prev"' not in foot

    head, foot = frame({"page": 2, "sort": "-name"})
    assert "page 2 of" in head and 'aria-sort="descending"' in head and 'href="?"' in head
    assert f"26–{min(50, total)} of {total}" in foot and 'rel="prev"' in foot and "sort=-name" in foot

    sandbox.insert(SandboxPrincipal(sandbox.allocate_id(), "individual", "zz-one-more"))
    head, foot = frame({})
    assert f"Delete all {total + 1}…" in head and f"of {total + 1}" in foot


def test_links_follow_the_script_prefix_of_each_request():
    """The prepared renderer is kept per prefix: a portal served under /portal/ links there."""
    from django.urls import set_script_prefix

    kind = KINDS["accounts"]
    item = Principal.from_api({"type": "individual", "name": "jane"})
    links = []
    try:
        for prefix in ("/", "/portal/", "/"):
            set_script_prefix(prefix)
            row = str(render_rows(kind, (item,), linked=True, selectable=False, email_label="E", count_label=""))
            links.append(row.split('href="')[1].split('"')[0])
    finally:
        set_script_prefix("/")
    assert links == ["/directory/accounts/jane/", "/portal/directory/accounts/jane/", "/directory/accounts/jane/"]


def test_bidi_controls_in_names_are_shown_on_the_pages(signed_in, sandbox):
    """The hostile seed's spoofed administrator reads as what it is, on the list and its own page."""
    from urllib.parse import quote

    from sandbox.hostile_seed import BIDI
    from sandbox.state import Principal as SandboxPrincipal

    spoof = "\u202eadmin\u200b@example.org"
    principal = SandboxPrincipal(sandbox.allocate_id(), "individual", spoof)
    principal.description = BIDI
    principal.emails = ["adm\u2067in@example.org"]
    sandbox.insert(principal)
    client = signed_in("admin")
    listing = client.get("/directory/accounts/", {"q": "example.org", "size": 100}).content.decode()
    detail = client.get(f"/directory/accounts/{quote(quote(spoof, safe=''), safe='')}/").content.decode()
    for page in (listing, detail):
        body = page[page.index("<main") :]
        text = " ".join(re.sub(r"<[^>]+>", "", body).split())
        assert "⟨U+202E⟩admin⟨U+200B⟩@example.org" in text
        assert "invoice⟨U+202E⟩txt.exe⟨U+202C⟩" in text and "adm⟨U+2067⟩in@example.org" in text
        # No control character reaches the page's text (the link's address carries it encoded).
        assert not any(char in text for char in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200b")
        assert '<span class="control-char" title="Hidden control character: RIGHT-TO-LEFT OVERRIDE">' in body


def test_a_principal_seen_before_reuses_its_row_and_a_changed_one_does_not():
    import dataclasses

    from django.urls import get_script_prefix
    from django.utils.translation import get_language

    from portal.directory import rows
    from portal.markup import kept

    kind = KINDS["accounts"]
    first = Principal.from_api({"type": "individual", "name": "row.memo", "description": "Before", "quota": 0})

    def render(item):
        return render_rows(kind, (item,), linked=True, selectable=False, email_label="E", count_label="C")

    assert "Before" in render(first)
    renderer = kept(rows._renderer)(kind.slug, True, False, "E", "C", False, True, get_language(), get_script_prefix())
    again = Principal.from_api({"type": "individual", "name": "row.memo", "description": "Before", "quota": 0})
    assert renderer(again) is renderer(first)  # equal principal, the same row
    changed = dataclasses.replace(first, description="After <b>")
    html = render(changed)
    assert "After &lt;b&gt;" in html and "Before" not in html
