"""Hostile content from Stalwart never runs, loads or breaks anything in the portal.

A second sandbox runs with the ``hostile`` seed (``sandbox.hostile_seed``): the demo
organisation with script and template-injection payloads, ``javascript:`` URLs, a 100 KB
string, bidi overrides and URL-significant characters in every free-text field. The portal
is pointed at it and the administrator opens every page of ``tests.page_list``, list pages
searched for a payload, and the detail pages those searches link to. Any of these fails:

* a dialog (every payload calls ``alert``), or a payload calling ``alert``/``confirm``/
  ``prompt`` (trapped by an init script that sets ``window.__pwned``);
* an element a payload would have created (``img[src=x]``, an ``on*`` attribute from a
  payload, a ``javascript:`` link, a script mentioning ``alert``);
* a request to any origin but the portal's own (aborted, and reported);
* a Content-Security-Policy violation (the ``securitypolicyviolation`` event or a console
  error);
* a page or htmx fragment answering 5xx;
* the raw ``<script>alert(1)</script>`` in a response body (it must always be escaped).
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

import pytest

from sandbox.hostile_seed import IMG, SCRIPT
from sandbox.server import run_in_thread
from sandbox.state import Sandbox
from tests.asgi_server import portal_asgi_server
from tests.browser.conftest import screenshot
from tests.conftest import persona
from tests.page_list import admin_pages

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TRAPS = """
(() => {
  window.__csp = [];
  document.addEventListener('securitypolicyviolation', (e) => {
    window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'} at ${e.sourceFile}:${e.lineNumber}`);
  });
  for (const name of ['alert', 'confirm', 'prompt', 'print']) {
    const real = window[name];
    window[name] = function (...args) {
      window.__pwned = `${name}(${args.join(', ')})`;
      return real ? real.apply(this, args) : undefined;
    };
  }
})();
"""

# Elements only an injected payload would create.
INJECTED = """() => {
  const found = [];
  document.querySelectorAll('img[src="x"], [onerror], [onload]:not(body), svg [onload]').forEach(
    (el) => found.push(el.outerHTML.slice(0, 120)));
  document.querySelectorAll('a[href], form[action], iframe[src], [formaction]').forEach((el) => {
    const url = ['href', 'action', 'src', 'formaction'].map((name) => el.getAttribute(name)).find(Boolean);
    if (/^\\s*javascript:/i.test(url)) found.push(el.outerHTML.slice(0, 120));
  });
  document.querySelectorAll('script').forEach((el) => {
    if (/alert/.test(el.textContent)) found.push(el.outerHTML.slice(0, 120));
  });
  return {found, pwned: window.__pwned, csp: window.__csp || []};
}"""

# List pages searched for a payload (the search box reflects it, results show hostile rows).
SEARCHES = [
    "/directory/accounts/?q={q}",
    "/directory/groups/?q={q}",
    "/directory/lists/?q={q}",
    "/directory/domains/?q={q}",
    "/directory/roles/?q={q}",
    "/directory/tenants/?q={q}",
    "/directory/api-keys/?q={q}",
    "/directory/oauth-clients/?q={q}",
    "/queue/?q={q}",
    "/queue/?sender={q}",
    "/queue/reports/?domain={q}",
    "/observability/logs/?q={q}",
    "/observability/history/received/?q={q}",
    "/settings/?q={q}",
    "/settings/?prefix=server.hostile",
    "/audit/?actor={q}",
]
SEARCH_TERMS = [SCRIPT, IMG, "a/../b%2Fc+d&e=f?g#h", "evil"]
# Detail pages linked from the search results (hostile principals, queued messages).
DETAIL_LINK = re.compile(r'href="(/(?:directory/[a-z-]+|queue/messages)/(?!new\b)[^"?#]+/)"')


@pytest.fixture(scope="session")
def hostile_server():
    state = Sandbox(version="0.11.8", enterprise=True, seed="hostile")
    with run_in_thread(state) as url:
        yield state, url


@pytest.fixture
def hostile_portal(hostile_server, settings):
    state, url = hostile_server
    state.reset()
    settings.STALWART_URL = url
    with portal_asgi_server() as portal:
        yield portal


class Watch:
    """Everything the browser reports that a hostile payload could cause."""

    def __init__(self, context, portal_url: str):
        self.origin = "{0.scheme}://{0.netloc}".format(urlsplit(portal_url))
        self.problems: list[str] = []
        self.where = ""
        context.add_init_script(TRAPS)
        context.route("**/*", self._route)

    def attach(self, page) -> None:
        page.on("dialog", self._dialog)
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.problems.append(f"{self.where}: page error {exc}"))
        page.on("response", self._response)

    def _route(self, route) -> None:
        url = route.request.url
        if url.startswith(("data:", "blob:", "about:")) or url.startswith(self.origin + "/") or url == self.origin:
            route.continue_()
        else:
            self.problems.append(f"{self.where}: request to another origin {url[:200]}")
            route.abort()

    def _dialog(self, dialog) -> None:
        self.problems.append(f"{self.where}: dialog {dialog.type} {dialog.message[:100]!r}")
        dialog.dismiss()

    def _console(self, msg) -> None:
        text = msg.text
        if "Content Security Policy" in text or "Content-Security-Policy" in text:
            self.problems.append(f"{self.where}: CSP violation: {text[:300]}")
        elif msg.type == "error" and "the server responded with a status of 4" not in text:
            self.problems.append(f"{self.where}: console error: {text[:300]}")

    def _response(self, response) -> None:
        if response.status >= 500:
            self.problems.append(f"{self.where}: {response.status} from {response.url[:200]}")


def sign_in(page, portal_url: str) -> None:
    admin = persona("admin")
    page.goto(portal_url + "/auth/sign-in")
    page.get_by_label("Account name").fill(admin.name)
    page.get_by_label("Password").fill(admin.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"^(?!.*/auth/sign-in)"))


def visit(page, watch: Watch, portal_url: str, path: str) -> str:
    """Open a page, let htmx fragments load, check it; return its HTML."""
    watch.where = path
    response = page.goto(portal_url + path, wait_until="load")
    assert response is not None, path
    if response.status >= 500:
        watch.problems.append(f"{path}: answered {response.status}")
    body = response.text()
    if page.locator("[data-stream-url]").count():
        # No fragment loads by itself (nothing is hx-trigger="load"); a live page's event
        # stream is given a moment to deliver its first events.
        page.wait_for_timeout(1000)
    if SCRIPT in body:
        watch.problems.append(f"{path}: the raw {SCRIPT} is in the response body")
    state = page.evaluate(INJECTED)
    if state["found"]:
        watch.problems.append(f"{path}: injected elements {state['found']}")
    if state["pwned"] is not None:
        watch.problems.append(f"{path}: a payload ran {state['pwned']}")
    for violation in state["csp"]:
        watch.problems.append(f"{path}: CSP violation {violation}")
    if SCRIPT in page.content():
        watch.problems.append(f"{path}: the raw {SCRIPT} is in the DOM")
    return body


#: What each part of the walk opens: the pages in two halves, then the searches and the detail
#: pages they link to (the parts run in parallel test processes).
PARTS = ["pages-1", "pages-2", "searches"]


@pytest.mark.parametrize("part", PARTS)
def test_hostile_content_is_inert_on_every_page(browser, hostile_portal, part):
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    watch = Watch(context, hostile_portal)
    page = context.new_page()
    watch.attach(page)
    try:
        sign_in(page, hostile_portal)

        def fetch(path: str) -> str:
            return visit(page, watch, hostile_portal, path)

        if part != "searches":
            pages = admin_pages(fetch)
            assert len(pages) > 60
            for item in pages[PARTS.index(part) :: 2]:
                fetch(item.path)
            assert watch.problems == [], "hostile content got through:\n" + "\n".join(watch.problems[:80])
            return

        details: set[str] = set()
        for template in SEARCHES:
            for term in SEARCH_TERMS:
                body = fetch(template.format(q=quote(term, safe="")))
                details.update(match for match in DETAIL_LINK.findall(body))
        # Principal names are encoded twice in portal URLs (portal.converters.PrincipalName).
        assert any("alert(1)" in link for link in details), sorted(details)[:20]
        for path in sorted(details):
            fetch(path.replace("&amp;", "&"))

        fetch("/directory/accounts/" + quote(SCRIPT, safe="") + "/")
        screenshot(page, "hostile-account-detail")
        fetch("/directory/accounts/?q=" + quote(SCRIPT, safe=""))
        screenshot(page, "hostile-account-search")
        problems = list(watch.problems)

        # The traps work: markup really injected into a portal page is blocked and reported.
        watch.problems.clear()
        page.evaluate("document.querySelector('main').insertAdjacentHTML('beforeend', '<img src=x onerror=alert(1)>')")
        page.wait_for_timeout(300)
        canary = page.evaluate(INJECTED)
        assert canary["found"] and canary["csp"] and canary["pwned"] is None, canary
    finally:
        context.close()
    assert problems == [], "hostile content got through:\n" + "\n".join(problems[:80])


# Pages where one 100 KB value used to make the page a million pixels wide or hundreds of
# thousands tall (report lists and details, the DMARC overview, the log viewer).
LAYOUT_PAGES = [
    "/reports/dmarc/overview",
    "/reports/dmarc/",
    "/reports/tls/",
    "/reports/arf/",
    "/observability/logs/",
    "/queue/",
    "/settings/?prefix=server.hostile",
    "/directory/accounts/",
    "/audit/",
]
# A report's detail page, found on its list (the hostile one sorts first: it arrived last).
REPORT_LINK = re.compile(r'href="(/reports/(?:dmarc|tls|arf)/(?!overview)[^/"?]+/)"')
# The document's width (it must not scroll sideways) and height.
MEASURE = """() => {
  const doc = document.documentElement;
  return {width: doc.scrollWidth, viewport: doc.clientWidth, height: doc.scrollHeight};
}"""


@pytest.mark.parametrize("width", [1280, 390])
def test_hostile_values_keep_pages_within_the_viewport(browser, hostile_portal, width):
    context = browser.new_context(viewport={"width": width, "height": 860})
    page = context.new_page()
    try:
        sign_in(page, hostile_portal)
        paths = list(LAYOUT_PAGES)
        for kind in ("dmarc", "tls", "arf"):
            page.goto(f"{hostile_portal}/reports/{kind}/")
            paths += list(dict.fromkeys(REPORT_LINK.findall(page.content())))[:3]
        assert sum("/reports/dmarc/" in path for path in paths) > 2, paths
        problems = []
        for path in paths:
            page.goto(hostile_portal + path, wait_until="load")
            size = page.evaluate(MEASURE)
            if size["width"] > size["viewport"]:
                problems.append(f"{path}: {size['width']} px wide in a {size['viewport']} px window")
            # A generous bound: the tallest of these pages is a few screens of ordinary rows.
            if size["height"] > 20_000:
                problems.append(f"{path}: {size['height']} px tall")
        first_dmarc = next(path for path in paths if REPORT_LINK.fullmatch(f'href="{path}"') and "/dmarc/" in path)
        page.goto(hostile_portal + first_dmarc)
        screenshot(page, f"hostile-dmarc-report-{width}")
        screenshot(page, f"hostile-dmarc-report-{width}-top", full_page=False)
        page.goto(hostile_portal + "/reports/dmarc/overview")
        screenshot(page, f"hostile-dmarc-overview-{width}")
        screenshot(page, f"hostile-dmarc-overview-{width}-top", full_page=False)
        page.goto(hostile_portal + "/observability/logs/")
        screenshot(page, f"hostile-logs-{width}")
        screenshot(page, f"hostile-logs-{width}-top", full_page=False)
    finally:
        context.close()
    assert problems == [], "\n".join(problems)
