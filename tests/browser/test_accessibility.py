"""WCAG 2.2 AA on every page, checked by axe-core in Chromium, light and dark.

Every page the URL walk reaches with GET (plus representative detail pages, see
`tests.page_list`) is loaded as the administrator, the account pages as a plain user and
the sign-in page signed out. axe-core (pinned in package.json; `make test` installs it)
runs with the WCAG 2.0/2.1/2.2 A and AA rules; colour contrast is checked again in the
dark theme. Any violation fails the test, listed page by page.

The portal's Content-Security-Policy allows no inline script, so these contexts use
Playwright's `bypass_csp` to inject axe; the CSP itself is checked by the other browser
tests, which report any blocked script as a console error.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.asgi_server import portal_asgi_server
from tests.browser.conftest import screenshot
from tests.conftest import persona
from tests.page_list import Page, admin_pages, signed_out_pages, user_pages

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa", "best-practice"]

# Runs axe in the page and returns only what the report needs.
RUN_AXE = """async (options) => {
  const result = await axe.run(document, options);
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 6).map(n => ({target: n.target.join(' '), summary: n.failureSummary || ''})),
    count: v.nodes.length,
  }));
}"""


@pytest.fixture
def portal_url(sandbox):
    with portal_asgi_server() as url:
        yield url


def axe_context(browser, width: int = 1280, height: int = 860):
    """A browser context where every page gets axe-core as it loads (sent to the browser once:
    adding it to each page after loading took longer than the first axe run on it)."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `make test` (it runs `npm ci`) or `npm ci --no-audit --no-fund`.")
    context = browser.new_context(viewport={"width": width, "height": height}, bypass_csp=True, color_scheme="light")
    context.add_init_script(path=str(AXE))
    return context


@pytest.fixture
def axe_page(browser):
    context = axe_context(browser)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert errors == [], f"the browser reported errors: {errors}"


def sign_in(page, portal_url: str, who: str) -> None:
    person = persona(who)
    page.goto(portal_url + "/auth/sign-in")
    page.get_by_label("Account name").fill(person.name)
    page.get_by_label("Password").fill(person.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url(re.compile(r"/auth/sign-in"))


def fetcher(page, portal_url: str):
    def fetch(path: str) -> str:
        response = page.request.get(portal_url + path)
        assert response.ok, (path, response.status)
        return response.text()

    return fetch


# What axe leaves to best practice or does not check, in the portal's own words.
OWN_CHECKS = """() => {
  const problems = [];
  const seen = new Map();
  document.querySelectorAll('[id]').forEach(el => seen.set(el.id, (seen.get(el.id) || 0) + 1));
  seen.forEach((count, id) => { if (count > 1) problems.push(`id "${id}" is used ${count} times`); });
  const h1 = document.querySelectorAll('h1').length;
  if (h1 !== 1) problems.push(`${h1} h1 headings (one expected)`);
  document.querySelectorAll('table').forEach((table, i) => {
    const named = table.querySelector('caption')
      || table.getAttribute('aria-label') || table.getAttribute('aria-labelledby');
    if (!named) problems.push(`table #${i + 1} (${table.className}) has no caption`);
    if (!table.querySelector('th')) problems.push(`table #${i + 1} (${table.className}) has no header cells`);
  });
  if (!document.querySelector('a.skip-link[href="#main"]') || !document.getElementById('main'))
    problems.push('no skip link to #main');
  document.querySelectorAll('input:not([type=hidden]), select, textarea').forEach(el => {
    if (!el.labels?.length && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby'))
      problems.push(`${el.tagName.toLowerCase()} name=${el.name} has no label`);
  });
  return problems;
}"""


def axe_violations(page) -> list[dict]:
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    # Folded parts of the page count too: open them (the user menu is checked on its own,
    # open it would cover the page's top-right buttons).
    page.evaluate("document.querySelectorAll('main details:not([open])').forEach(d => { d.open = true; })")
    options = {"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]}
    found = page.evaluate(RUN_AXE, options)
    # Dark theme: only the colours change, so only contrast is checked again.
    page.emulate_media(color_scheme="dark")
    try:
        dark = page.evaluate(RUN_AXE, {"runOnly": ["color-contrast"], "resultTypes": ["violations"]})
    finally:
        page.emulate_media(color_scheme="light")
    for violation in dark:
        violation["id"] += " (dark theme)"
    own = page.evaluate(OWN_CHECKS)
    if own:
        found.append(
            {
                "id": "portal-checks",
                "impact": "serious",
                "help": "ids, headings, table captions, skip link, labels",
                "count": len(own),
                "nodes": [{"target": problem, "summary": ""} for problem in own],
            }
        )
    return found + dark


def report(failures: dict[str, list[dict]]) -> str:
    lines = [f"axe-core found WCAG violations on {len(failures)} page(s):"]
    for where, violations in failures.items():
        lines.append(f"\n{where}")
        for v in violations:
            lines.append(f"  [{v['impact']}] {v['id']}: {v['help']} ({v['count']} element(s))")
            for node in v["nodes"]:
                summary = " ".join(node["summary"].split())
                lines.append(f"      {node['target']}  —  {summary[:300]}")
    return "\n".join(lines)


def check_pages(page, portal_url: str, pages: list[Page]) -> dict[str, list[dict]]:
    failures: dict[str, list[dict]] = {}
    for item in pages:
        response = page.goto(portal_url + item.path)
        assert response is not None and response.status < 500, (item.path, response and response.status)
        violations = axe_violations(page)
        if violations:
            failures[f"{item.slug}: {item.path} (as {item.who or 'a visitor'})"] = violations
    return failures


#: The admin pages are checked in this many parts, so that the test processes share them.
PARTS = 3


@pytest.mark.parametrize("part", range(PARTS))
def test_every_admin_page_meets_wcag_aa(axe_page, portal_url, part):
    sign_in(axe_page, portal_url, "admin")
    pages = admin_pages(fetcher(axe_page, portal_url))
    assert len(pages) > 60
    failures = check_pages(axe_page, portal_url, pages[part::PARTS])
    assert not failures, report(failures)


def test_account_pages_for_a_plain_user_meet_wcag_aa(axe_page, portal_url):
    failures = check_pages(axe_page, portal_url, signed_out_pages())
    sign_in(axe_page, portal_url, "user")
    failures |= check_pages(axe_page, portal_url, user_pages())
    assert not failures, report(failures)


def test_interactive_states_meet_wcag_aa(axe_page, portal_url):
    """What only appears after an action: inline errors, messages, htmx results, confirmations."""
    page = axe_page
    failures: dict[str, list[dict]] = {}

    def check(label: str) -> None:
        violations = axe_violations(page)
        if violations:
            failures[f"{label}: {page.url}"] = violations

    sign_in(page, portal_url, "admin")
    page.locator("details.user-menu > summary").click()
    expect(page.get_by_role("link", name="My account")).to_be_visible()
    check("user menu")

    page.goto(portal_url + "/directory/accounts/new")
    page.get_by_role("button", name="Create account").click()
    expect(page.locator(".field-error").first).to_be_visible()
    check("form with errors")

    page.goto(portal_url + "/directory/groups/new")
    page.locator("#id_name").fill("axe-group")
    page.get_by_role("button", name="Create group").click()
    expect(page.locator(".toast-success")).to_be_visible()
    check("success message")

    page.goto(portal_url + "/directory/accounts/")
    page.get_by_label("Search accounts").fill("jane")
    expect(page).to_have_url(re.compile(r"q=jane"))
    check("live search results")

    page.get_by_role("searchbox", name="Search the portal").fill("jane")
    expect(page.locator("#quick-results .search-hit").first).to_be_visible()
    check("quick search results")

    page.goto(portal_url + "/queue/")
    page.locator("table.queue-table tbody tr").first.get_by_role("link").first.click()
    page.get_by_role("link", name="Retry now").click()
    expect(page.get_by_role("alertdialog")).to_be_visible()
    check("confirmation in place")

    assert not failures, report(failures)


# Pages checked again at phone width, where the top bar and some tables change shape.
PHONE_PAGES = ["/", "/reports/dmarc/overview", "/observability/logs/", "/audit/", "/directory/accounts/"]


def test_phone_width_meets_wcag_aa(browser, portal_url):
    """At 390 px the user menu keeps its name ("Account menu") though the person's name is hidden."""
    context = axe_context(browser, 390, 844)
    page = context.new_page()
    try:
        sign_in(page, portal_url, "admin")
        failures: dict[str, list[dict]] = {}
        for path in PHONE_PAGES:
            response = page.goto(portal_url + path)
            assert response is not None and response.status < 500, path
            violations = axe_violations(page)
            if violations:
                failures[f"{path} at 390 px"] = violations
        summary = page.locator("details.user-menu > summary")
        expect(summary).to_have_accessible_name("Account menu")
        summary.click()
        expect(page.get_by_role("link", name="My account")).to_be_visible()
        screenshot(page, "user-menu-390", full_page=False)
        violations = axe_violations(page)
        if violations:
            failures["user menu at 390 px"] = violations
        page.set_viewport_size({"width": 1280, "height": 860})
        expect(summary).to_have_accessible_name("Account menu admin")
        screenshot(page, "user-menu-1280", full_page=False)
    finally:
        context.close()
    assert not failures, report(failures)
