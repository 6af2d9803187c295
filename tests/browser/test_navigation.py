"""Navigation that feels quick: boosted menu links, the progress bar, back and forward,
focus after htmx swaps, announcements, and the skip link."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.asgi_server import portal_asgi_server
from tests.browser.test_sign_in_and_accounts import sign_in
from tests.conftest import persona

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _same_document(page) -> bool:
    return page.evaluate("window.__sameDocument === true")


def test_menu_links_swap_the_page_and_history_works(page, portal_url):
    sign_in(page, portal_url, persona("admin"))
    expect(page.get_by_role("heading", name="Accounts", level=1)).to_be_visible()
    page.evaluate("window.__sameDocument = true")

    menu = page.get_by_role("navigation", name="Main")
    menu.get_by_role("link", name="Groups").click()
    expect(page).to_have_url(re.compile(r"/directory/groups/$"))
    expect(page.get_by_role("heading", name="Groups", level=1)).to_be_visible()
    assert _same_document(page), "a menu link reloaded the whole document"
    expect(menu.get_by_role("link", name="Groups")).to_have_attribute("aria-current", "page")
    expect(page).to_have_title(re.compile(r"^Groups"))
    # Focus moves to the new page's content, and the new page is announced.
    expect(page.locator("#main")).to_be_focused()
    expect(page.locator("#messages .announcement")).to_have_text("Groups")

    # The page's own look comes along (<body class>), and its scripts work again.
    menu.get_by_role("link", name="Security").click()
    expect(page.get_by_role("heading", name="Security", level=1)).to_be_visible()
    assert page.evaluate("document.body.classList.contains('page-security')")
    toggle = page.locator("button.theme-toggle")
    expect(toggle).to_be_visible()
    toggle.click()
    expect(page.locator("html")).to_have_attribute("data-theme", "light")

    # Back and forward give whole pages (never a fragment), with one h1 and one #results.
    page.go_back()
    expect(page).to_have_url(re.compile(r"/directory/groups/$"))
    expect(page.get_by_role("heading", name="Groups", level=1)).to_be_visible()
    expect(page.locator("h1")).to_have_count(1)
    page.go_back()
    expect(page.get_by_role("heading", name="Accounts", level=1)).to_be_visible()
    expect(page.locator("#results")).to_have_count(1)
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    page.go_forward()
    expect(page.get_by_role("heading", name="Groups", level=1)).to_be_visible()


def test_search_and_paging_keep_the_address_bar_back_and_focus(page, portal_url):
    sign_in(page, portal_url, persona("admin"))
    expect(page.get_by_role("heading", name="Accounts", level=1)).to_be_visible()
    search = page.get_by_label("Search accounts")
    search.fill("jane")
    expect(page).to_have_url(re.compile(r"q=jane"))
    # Typing keeps the focus in the search field; the result is announced.
    assert page.evaluate("document.activeElement.id") == "search"
    expect(page.locator("#messages .announcement")).to_contain_text("matching “jane”")

    search.fill("")
    expect(page.locator("table.data-table tbody tr")).to_have_count(25)
    page.get_by_role("link", name="Next").focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"page=2"))
    # The Next link went away with the old results: focus goes to the new ones.
    expect(page.locator("#results")).to_be_focused()
    expect(page.locator("#messages .announcement")).to_contain_text("page 2")

    page.go_back()
    expect(page.get_by_text(re.compile(r"Page 1 of"))).to_be_visible()
    expect(page.locator("#results")).to_have_count(1)
    expect(page.locator("h1")).to_have_count(1)


def answer_slowly(page, pattern: str) -> None:
    """Hold every request matching `pattern` for 0.7 s, so the progress bar has time to show."""

    def slow(route):
        page.wait_for_timeout(700)
        route.continue_()

    page.route(pattern, slow)


def test_progress_bar_shows_during_slow_navigation(page, portal_url):
    sign_in(page, portal_url, persona("admin"))
    expect(page.get_by_role("heading", name="Accounts", level=1)).to_be_visible()

    answer_slowly(page, "**/directory/roles/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Roles").click()
    expect(page.locator("body")).to_have_class(re.compile(r"\bis-loading\b"))
    expect(page.get_by_role("heading", name="Roles", level=1)).to_be_visible()
    expect(page.locator("body")).not_to_have_class(re.compile(r"\bis-loading\b"))


def test_skip_link_goes_to_the_content(page, portal_url):
    sign_in(page, portal_url, persona("admin"))
    expect(page.get_by_role("heading", name="Accounts", level=1)).to_be_visible()
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    assert page.evaluate("document.querySelector('.skip-link').getBoundingClientRect().top >= 0")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    # The next Tab lands inside the content, not back in the menu.
    page.keyboard.press("Tab")
    assert page.evaluate("document.getElementById('main').contains(document.activeElement)")


def test_quick_search_with_the_keyboard(page, portal_url):
    sign_in(page, portal_url, persona("admin"))
    expect(page.get_by_role("heading", name="Accounts", level=1)).to_be_visible()
    page.keyboard.press("Control+k")
    field = page.get_by_role("searchbox", name="Search the portal")
    expect(field).to_be_focused()
    field.press_sequentially("jane", delay=30)
    results = page.locator("#quick-results")
    expect(results).to_be_visible()
    expect(results.locator(f'a[href="/directory/accounts/{persona("user").name}/"]')).to_be_visible()
    page.keyboard.press("ArrowDown")
    first = results.locator("a[href]").first
    expect(first).to_be_focused()
    page.keyboard.press("Escape")
    expect(results).to_be_hidden()
    expect(field).to_be_focused()

    # Enter without choosing submits to the search page (also what happens without JavaScript).
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/search/\?q=jane"))
    expect(page.get_by_role("heading", name="Search", level=1)).to_be_visible()
    page.get_by_role("main").locator(f'a[href="/directory/accounts/{persona("user").name}/"]').click()
    expect(page).to_have_url(re.compile(r"/directory/accounts/" + re.escape(persona("user").name) + "/$"))


def test_links_in_the_page_swap_it_and_history_works(page, portal_url):
    """Row links, breadcrumbs and other links inside <main> are boosted like the menu: the
    address changes by pushState (the window survives), focus and the announcement follow,
    and back returns to the list."""
    sign_in(page, portal_url, persona("admin"))
    expect(page.get_by_role("heading", name="Accounts", level=1)).to_be_visible()
    page.evaluate("window.__sameDocument = true")

    page.locator("#results").get_by_role("link", name="bruno.moreau", exact=True).click()
    expect(page).to_have_url(re.compile(r"/directory/accounts/bruno\.moreau/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Bruno Moreau (Support)")
    assert _same_document(page), "a row link reloaded the whole document"
    expect(page.locator("#main")).to_be_focused()
    expect(page.locator("#messages .announcement")).to_have_text(re.compile(r"\S"))

    page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name="Accounts").click()
    expect(page).to_have_url(re.compile(r"/directory/accounts/$"))
    expect(page.get_by_role("heading", name="Accounts", level=1)).to_be_visible()
    assert _same_document(page), "a breadcrumb reloaded the whole document"

    page.go_back()
    expect(page).to_have_url(re.compile(r"/directory/accounts/bruno\.moreau/$"))
    expect(page.locator("h1")).to_have_count(1)
    page.go_back()
    expect(page).to_have_url(re.compile(r"/directory/accounts/$"))
    expect(page.get_by_role("heading", name="Accounts", level=1)).to_be_visible()
    expect(page.locator("#results")).to_have_count(1)
    assert _same_document(page), "back reloaded the whole document"


def test_a_boosted_form_shows_its_message_on_the_next_page(page, portal_url, sandbox):
    sign_in(page, portal_url, persona("admin"))
    expect(page.get_by_role("heading", name="Accounts", level=1)).to_be_visible()
    page.goto(f"{portal_url}/directory/groups/sales/")
    page.evaluate("window.__sameDocument = true")
    page.get_by_role("main").get_by_role("link", name="Edit", exact=True).click()
    expect(page).to_have_url(re.compile(r"/directory/groups/sales/edit$"))
    page.locator("#id_description").fill("Sales, boosted")
    sandbox.requests.clear()
    page.get_by_role("button", name="Save changes").click()
    # The POST redirects: the next page comes whole, with the message, at its own address.
    expect(page).to_have_url(re.compile(r"/directory/groups/sales/$"))
    expect(page.get_by_role("heading", name="Sales, boosted", level=1)).to_be_visible()
    expect(page.locator("#messages")).to_contain_text("saved")
    assert _same_document(page), "the form reloaded the whole document"
    assert len([r for r in sandbox.requests if r.method == "PATCH"]) == 1

    # A form answered in place (here: an error) keeps the address of the page it was on.
    page.get_by_role("main").get_by_role("link", name="Edit", exact=True).click()
    expect(page).to_have_url(re.compile(r"/directory/groups/sales/edit$"))
    page.locator("#id_name").fill("engineering")  # another group's name
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_text(re.compile(r"already used by another"))).to_be_visible()
    expect(page).to_have_url(re.compile(r"/directory/groups/sales/edit$"))
    assert _same_document(page)


@pytest.fixture
def asgi_url(sandbox):
    """The portal as it is deployed (uvicorn, ASGI): the exports stream from async iterators,
    which the WSGI test server could only drain whole first."""
    with portal_asgi_server() as url:
        yield url


def test_downloads_are_not_swapped_into_the_page(page, asgi_url):
    portal_url = asgi_url
    sign_in(page, portal_url, persona("admin"))
    expect(page.get_by_role("heading", name="Accounts", level=1)).to_be_visible()
    page.evaluate("window.__sameDocument = true")
    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    assert download.value.suggested_filename == "accounts.csv"
    expect(page).to_have_url(re.compile(r"/directory/accounts/$"))
    expect(page.get_by_role("heading", name="Accounts", level=1)).to_be_visible()
    expect(page.locator("body")).not_to_have_class(re.compile(r"\bis-loading\b"))


def test_progress_bar_shows_for_links_in_the_page(page, portal_url):
    sign_in(page, portal_url, persona("admin"))
    expect(page.get_by_role("heading", name="Accounts", level=1)).to_be_visible()

    answer_slowly(page, "**/directory/accounts/bruno.moreau/")
    page.locator("#results").get_by_role("link", name="bruno.moreau", exact=True).click()
    expect(page.locator("body")).to_have_class(re.compile(r"\bis-loading\b"))
    expect(page.get_by_role("heading", name="Bruno Moreau (Support)", level=1)).to_be_visible()
    expect(page.locator("body")).not_to_have_class(re.compile(r"\bis-loading\b"))
