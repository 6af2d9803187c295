"""A form whose change fails in Stalwart comes back with what was typed, in a real browser."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.browser.test_sign_in_and_accounts import sign_in
from tests.conftest import persona

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("javascript", [True, False], ids=["htmx", "plain"])
def test_failed_create_keeps_the_typed_account(browser, portal_url, sandbox, javascript):
    context = browser.new_context(viewport={"width": 1280, "height": 860}, java_script_enabled=javascript)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    # The 502 itself is the one console error expected (htmx reports the failed response).
    page.on(
        "console",
        lambda msg: problems.append(msg.text) if msg.type == "error" and "502" not in msg.text else None,
    )
    try:
        sign_in(page, portal_url, persona("admin"))
        expect(page.get_by_role("heading", name="Accounts", level=1)).to_be_visible()
        page.goto(f"{portal_url}/directory/accounts/new")
        page.locator("#id_name").fill("kept.in.browser")
        page.locator("#id_description").fill("Typed before Stalwart failed")
        page.locator("#id_password").fill("Secret-Browser-Pass-5")
        sandbox.faults.server_error(500, prefix="/api/principal", methods={"POST"})
        page.get_by_role("button", name="Create account").click()

        failure = page.locator(".submit-failure")
        expect(failure).to_be_visible()
        expect(failure).to_contain_text("may or may not have been applied")
        expect(page.locator("#id_name")).to_have_value("kept.in.browser")
        expect(page.locator("#id_description")).to_have_value("Typed before Stalwart failed")
        expect(page.locator("#id_password")).to_have_value("")
        assert "Secret-Browser-Pass-5" not in page.content()
        link = failure.get_by_role("link", name="Look for kept.in.browser in the list")
        expect(link).to_have_attribute("href", re.compile(r"/directory/accounts/\?q=kept\.in\.browser$"))
        suffix = "" if javascript else "-no-js"
        screenshot(page, f"submit-failure-create{suffix}")
        page.set_viewport_size({"width": 390, "height": 844})
        screenshot(page, f"submit-failure-create{suffix}-390")

        # Once Stalwart answers again, the kept form goes through as it is (password typed again).
        sandbox.faults.clear()
        page.set_viewport_size({"width": 1280, "height": 860})
        page.locator("#id_password").fill("Secret-Browser-Pass-5")
        page.get_by_role("button", name="Create account").click()
        expect(page.get_by_text("Account kept.in.browser created.")).to_be_visible()
        assert sandbox.get("kept.in.browser").description == "Typed before Stalwart failed"
    finally:
        context.close()
    assert problems == [], f"the browser reported errors: {problems}"
