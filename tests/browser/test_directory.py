import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.browser.test_sign_in_and_accounts import sign_in
from tests.conftest import persona

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_account_pages(page, portal_url, sandbox):
    sign_in(page, portal_url, persona("admin"))
    expect(page.get_by_role("heading", name="Accounts", level=1)).to_be_visible()
    page.get_by_label("Search accounts").fill(persona("totp_user").name)
    page.get_by_role("link", name=persona("totp_user").name, exact=True).click()
    expect(page.get_by_role("heading", name="Sign-in and security")).to_be_visible()
    screenshot(page, "account-360")
    page.get_by_role("link", name="Edit").click()
    expect(page.get_by_label("Full name")).to_be_visible()
    screenshot(page, "account-edit")
    page.get_by_label("Full name").fill("Theo Martin (edited)")
    # The picker finds groups as you type and adds them to the list.
    page.get_by_placeholder("Find names to add…").first.fill("sup")
    page.get_by_role("button", name=re.compile(r"^support")).click()
    expect(page.locator("#id_memberOf")).to_have_value(re.compile(r"support"))
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_text("saved.")).to_be_visible()
    expect(page.get_by_role("heading", name="Theo Martin (edited)")).to_be_visible()
    page.get_by_role("link", name="Permissions").click()
    expect(page.get_by_text(re.compile(r"will hold \d+ of"))).to_be_visible()
    screenshot(page, "account-permissions")


def test_create_edit_delete_each_type(page, portal_url, sandbox):
    sign_in(page, portal_url, persona("admin"))
    examples = [
        ("groups", "browser-group"),
        ("lists", "browser-list"),
        ("roles", "browser-role"),
        ("domains", "browser.example"),
    ]
    for kind, name in examples:
        page.goto(f"{portal_url}/directory/{kind}/")
        page.get_by_role("link", name=re.compile(r"^New ")).first.click()
        page.locator("#id_name").fill(name)
        page.locator("#id_description").fill(f"Made by the browser test ({kind})")
        screenshot(page, f"create-{kind}")
        page.get_by_role("button", name=re.compile(r"^Create ")).click()
        expect(page.get_by_text(f"{name} created.")).to_be_visible()
        page.get_by_role("link", name="Edit").click()
        page.locator("#id_description").fill("Edited")
        page.get_by_role("button", name="Save changes").click()
        expect(page.get_by_role("heading", name="Edited")).to_be_visible()
        page.get_by_role("link", name="Delete", exact=True).click()
        screenshot(page, f"delete-{kind}")
        page.get_by_role("button", name=f"Delete {name}").click()
        expect(page.get_by_text("deleted.")).to_be_visible()
        assert sandbox.get(name) is None


def test_phone_account_detail(browser, portal_url, sandbox):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        sign_in(page, portal_url, persona("admin"))
        page.goto(f"{portal_url}/directory/accounts/{persona('totp_user').name}/")
        expect(page.get_by_role("heading", name="Sign-in and security")).to_be_visible()
        screenshot(page, "account-360-phone")
        page.goto(f"{portal_url}/directory/accounts/{persona('user').name}/permissions")
        screenshot(page, "account-permissions-phone", full_page=False)
    finally:
        context.close()
