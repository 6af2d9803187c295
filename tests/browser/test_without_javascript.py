"""The portal with JavaScript switched off: sign in, search, open an account, edit it.

Every htmx element also has a plain-HTML fallback (tests/test_without_javascript.py checks
the markup of every page); this walks the main path a helpdesk agent takes, for real.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.conftest import persona

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(params=[(1280, 860), (390, 844)], ids=["wide", "phone"])
def no_js_page(browser, request):
    width, height = request.param
    context = browser.new_context(viewport={"width": width, "height": height}, java_script_enabled=False)
    page = context.new_page()
    page.width = width
    yield page
    context.close()


def test_sign_in_search_open_and_edit_an_account(no_js_page, portal_url, sandbox):
    page = no_js_page
    admin, user = persona("admin"), persona("user")
    page.goto(portal_url + "/")
    expect(page).to_have_url(re.compile(r"/auth/sign-in"))
    page.get_by_label("Account name").fill(admin.name)
    page.get_by_label("Password").fill(admin.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Accounts", level=1)).to_be_visible()
    # The menu is a <details> that portal.js folds on phones; without it, it stays open.
    expect(page.get_by_role("link", name="Groups")).to_be_visible()

    # Searching submits the form (no live search without JavaScript).
    page.get_by_label("Search accounts").fill(user.name)
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page).to_have_url(re.compile(r"\?q=" + re.escape(user.name)))
    rows = page.locator("table.data-table tbody tr")
    expect(rows).to_have_count(1)
    screenshot(page, f"no-js-accounts-search-{page.width}")

    page.get_by_role("link", name=user.name, exact=True).click()
    expect(page).to_have_url(re.compile(r"/directory/accounts/" + re.escape(user.name) + "/$"))
    expect(page.get_by_role("heading", name="Sign-in and security")).to_be_visible()

    page.get_by_role("link", name="Edit", exact=True).click()
    page.get_by_label("Full name").fill("Jane Doe, edited without JavaScript")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_text("saved.")).to_be_visible()
    expect(page.get_by_role("heading", name="Jane Doe, edited without JavaScript", level=1)).to_be_visible()
    screenshot(page, f"no-js-account-saved-{page.width}")
    assert sandbox.get(user.name).description == "Jane Doe, edited without JavaScript"

    # Paging is plain links.
    page.goto(portal_url + "/directory/accounts/")
    page.get_by_role("link", name="Next").click()
    expect(page).to_have_url(re.compile(r"page=2"))
    expect(page.get_by_text(re.compile(r"Page 2 of"))).to_be_visible()


def test_a_form_with_errors_keeps_what_was_typed(no_js_page, portal_url, sandbox):
    page = no_js_page
    admin = persona("admin")
    page.goto(portal_url + "/auth/sign-in?next=/directory/groups/new")
    page.get_by_label("Account name").fill(admin.name)
    page.get_by_label("Password").fill(admin.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="New group", level=1)).to_be_visible()
    page.locator("#id_name").fill("sales")  # exists already
    page.locator("#id_description").fill("Typed without JavaScript")
    page.get_by_role("button", name="Create group").click()
    expect(page.locator(".field-error").first).to_be_visible()
    expect(page.locator("#id_description")).to_have_value("Typed without JavaScript")
