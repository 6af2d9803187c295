import re

import pyotp
import pytest
from playwright.sync_api import expect

from tests.auth.test_sign_in import totp_secret
from tests.browser.conftest import screenshot
from tests.conftest import persona

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page, portal_url, who):
    page.goto(portal_url + "/")
    expect(page).to_have_url(re.compile(r"/auth/sign-in"))
    page.get_by_label("Account name").fill(who.name)
    page.get_by_label("Password").fill(who.password)
    page.get_by_role("button", name="Sign in").click()


def test_admin_signs_in_and_searches_accounts(page, portal_url):
    page.goto(portal_url + "/")
    screenshot(page, "sign-in")
    sign_in(page, portal_url, persona("admin"))
    expect(page).to_have_url(re.compile(r"/directory/accounts/$"))
    expect(page.get_by_role("heading", name="Accounts", level=1)).to_be_visible()
    rows = page.locator("table.data-table tbody tr")
    expect(rows).to_have_count(25)
    screenshot(page, "accounts")

    # Live search (htmx) updates the table and the address bar.
    user = persona("user").name
    page.get_by_label("Search accounts").fill(user)
    expect(page).to_have_url(re.compile(r"q="))
    expect(rows.first).to_contain_text(user)
    screenshot(page, "accounts-search")

    # The same URL works as a plain page load (deep link).
    page.reload()
    expect(rows.first).to_contain_text(user)

    # Paging.
    page.get_by_label("Search accounts").fill("")
    expect(page.get_by_role("link", name="Next")).to_be_visible()
    page.get_by_role("link", name="Next").click()
    expect(page).to_have_url(re.compile(r"page=2"))
    expect(page.get_by_text(re.compile(r"Page 2 of"))).to_be_visible()


def test_two_factor_sign_in(page, portal_url):
    sign_in(page, portal_url, persona("totp_user"))
    expect(page.get_by_role("heading", name="Two-factor code")).to_be_visible()
    screenshot(page, "sign-in-totp")
    page.get_by_label("Code from your authenticator app").fill(pyotp.TOTP(totp_secret()).now())
    page.get_by_role("button", name="Verify and sign in").click()
    expect(page.get_by_role("heading", name="Security", level=1)).to_be_visible()


def test_wrong_password_message(page, portal_url):
    who = persona("admin")
    page.goto(portal_url + "/auth/sign-in")
    page.get_by_label("Account name").fill(who.name)
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not correct")
    expect(page.get_by_label("Account name")).to_have_value(who.name)
    screenshot(page, "sign-in-wrong-password")


def test_plain_user_sees_a_403_page(page, portal_url):
    sign_in(page, portal_url, persona("user"))
    expect(page.get_by_role("heading", name="Security", level=1)).to_be_visible()
    page.goto(portal_url + "/account/")
    expect(page.get_by_role("heading", name="My account", level=1)).to_be_visible()
    screenshot(page, "my-account")
    page.goto(portal_url + "/directory/accounts/")
    expect(page.get_by_role("heading", name="You don't have access to this page")).to_be_visible()
    screenshot(page, "forbidden")


def test_phone_width(browser, portal_url):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        sign_in(page, portal_url, persona("admin"))
        expect(page.get_by_role("heading", name="Accounts", level=1)).to_be_visible()
        # The menu starts folded on phones and opens on demand.
        menu = page.locator("details.nav-menu")
        expect(menu).not_to_have_attribute("open", "")
        screenshot(page, "accounts-phone", full_page=False)
        page.get_by_text("Menu", exact=True).click()
        expect(page.get_by_role("link", name="Groups")).to_be_visible()
        screenshot(page, "menu-phone", full_page=False)
    finally:
        context.close()
