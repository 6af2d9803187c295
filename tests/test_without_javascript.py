"""Every htmx element is also plain HTML: pages work without JavaScript.

Each page of `tests.page_list` (the URL walk plus detail pages) is rendered, and every
element with `hx-get`/`hx-post` must do the same thing without htmx: a link whose `href`
goes where `hx-get` goes, a form whose `action` and `method` match, or a control inside
such a form. Elements inside `.js-only` (hidden until portal.js reveals them) are
enhancements by definition and are left out, and so is live feedback: a field of a working
form that updates an `aria-live` region as you type (password strength), since submitting
the form gives the same answer. The browser side (signing in, searching,
editing with JavaScript off) is tests/browser/test_without_javascript.py.
"""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

from tests.page_list import Page, admin_pages, user_pages

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class HtmxElements(HTMLParser):
    """Collects (tag, attributes, enclosing form's attributes, inside .js-only)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, dict]] = []
        self.forms: dict[str, dict] = {}
        self.live_regions: set[str] = set()
        self.found: list[tuple[str, dict, dict | None, bool]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form" and attributes.get("id"):
            self.forms[attributes["id"]] = attributes
        if attributes.get("aria-live") and attributes.get("id"):
            self.live_regions.add(attributes["id"])
        if "hx-get" in attributes or "hx-post" in attributes:
            form = next((a for t, a in reversed(self.stack) if t == "form"), None)
            if tag == "form":
                form = attributes
            elif attributes.get("form"):
                form = {"ref": attributes["form"]}
            js_only = any("js-only" in a.get("class", "").split() for _, a in self.stack)
            self.found.append((tag, attributes, form, js_only))
        if tag not in VOID:
            self.stack.append((tag, attributes))

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index][0] == tag:
                del self.stack[index:]
                break


def _path(url: str, page_path: str) -> str:
    return urlsplit(url).path if url else urlsplit(page_path).path


def problems_on(page_path: str, html: str) -> list[str]:
    parser = HtmxElements()
    parser.feed(html)
    problems = []
    for tag, attributes, form, js_only in parser.found:
        if js_only:
            continue
        if form and "ref" in form:
            form = parser.forms.get(form["ref"])
        method = "post" if "hx-post" in attributes else "get"
        target = attributes.get(f"hx-{method}", "")
        described = f"<{tag} hx-{method}={target!r}>"
        if tag == "a":
            href = attributes.get("href", "")
            if method != "get" or not href or href.startswith("#") or href != target:
                problems.append(f"{described}: the link's href is {href!r}")
            continue
        if form is None:
            problems.append(f"{described}: neither a link nor in a form")
            continue
        form_method = form.get("method", "get").lower()
        action = _path(form.get("action", ""), page_path)
        formaction = attributes.get("formaction")
        if formaction is not None:
            action = _path(formaction, page_path)
        live_feedback = (
            tag in {"input", "textarea", "select"}
            and attributes.get("hx-target", "").removeprefix("#") in parser.live_regions
            and form.get("action")
        )
        if (form_method != method or action != _path(target, page_path)) and not live_feedback:
            problems.append(f"{described}: its form is method={form_method} action={action}")
        if tag not in {"form", "button", "input", "select", "textarea"}:
            problems.append(f"{described}: in a form, but not a form control")
    return problems


def _fetch(client):
    def fetch(path: str) -> str:
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        return response.content.decode()

    return fetch


def _check(client, pages: list[Page]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for page in pages:
        response = client.get(page.path)
        if response.status_code in (301, 302) or response.get("Content-Type", "").split(";")[0] != "text/html":
            continue
        problems = problems_on(page.path, response.content.decode())
        if problems:
            found[page.path] = problems
    return found


@pytest.mark.parametrize("who", ["admin", "user"])
def test_every_htmx_element_has_a_plain_html_fallback(signed_in, who):
    client = signed_in(who)
    pages = admin_pages(_fetch(client)) if who == "admin" else user_pages()
    assert _check(client, pages) == {}


def test_the_check_finds_htmx_without_a_fallback():
    html = """<main>
      <a href="#" hx-get="/x/">no href</a>
      <a href="/a/" hx-get="/b/">elsewhere</a>
      <div hx-get="/poll/">polling only</div>
      <form method="post" action="/save"><button hx-post="/other">x</button></form>
      <form method="get" action="/list/"><input name="q" hx-get="/list/"></form>
      <div class="js-only" hidden><input hx-get="/picker/"></div>
      <form method="get" hx-get="/page/"><button>ok</button></form>
      <form method="post" action="/pw">
        <input hx-post="/pw/strength" hx-target="#meter"><div id="meter" aria-live="polite"></div>
      </form>
      <form method="post" action="/pw"><input hx-post="/pw/other" hx-target="#quiet"><div id="quiet"></div></form>
    </main>"""
    problems = problems_on("/page/?q=1", html)
    assert len(problems) == 5, problems
    assert not any(word in p for p in problems for word in ("/list/", "/picker/", "/page/", "strength"))
