import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.browser.test_sign_in_and_accounts import sign_in
from tests.conftest import persona

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_theme_switch_is_remembered(page, portal_url):
    sign_in(page, portal_url, persona("admin"))
    toggle = page.locator("button.theme-toggle")
    expect(toggle).to_have_text("Theme: system")
    toggle.click()
    expect(page.locator("html")).to_have_attribute("data-theme", "light")
    toggle.click()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    page.reload()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    screenshot(page, "accounts-dark", full_page=False)
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(17, 20, 24)"
    toggle.click()
    expect(page.locator("html")).not_to_have_attribute("data-theme", "dark")


def test_follows_the_system_without_a_choice(browser, portal_url):
    context = browser.new_context(color_scheme="dark", viewport={"width": 1280, "height": 800})
    page = context.new_page()
    try:
        page.goto(portal_url + "/auth/sign-in")
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(17, 20, 24)"
        screenshot(page, "sign-in-dark", full_page=False)
    finally:
        context.close()


def test_the_script_words_go_through_the_catalog(page, portal_url):
    """portal.js asks the JavaScript catalog for its words: a catalog with other words is
    used, and a catalog that does not load leaves them in English."""
    translated = 'window.gettext = function (text) { return text === "Theme: system" ? "Thème : système" : text; };'
    page.route(
        "**/i18n/catalog.js",
        lambda route: route.fulfill(status=200, content_type="text/javascript", body=translated),
    )
    sign_in(page, portal_url, persona("admin"))
    expect(page.locator("button.theme-toggle")).to_have_text("Thème : système")

    page.unroute("**/i18n/catalog.js")
    page.route("**/i18n/catalog.js", lambda route: route.fulfill(status=404, body=""))
    page.reload()
    toggle = page.locator("button.theme-toggle")
    expect(toggle).to_have_text("Theme: system")
    toggle.click()
    expect(toggle).to_have_text("Theme: light")
    assert page.evaluate("typeof django") == "undefined"


def test_the_catalog_loads_under_the_csp_signed_out_too(page, portal_url):
    page.goto(portal_url + "/auth/sign-in")
    expect(page.get_by_role("heading", name="Sign in", level=1)).to_be_visible()
    page.wait_for_function("typeof django === 'object'")
    assert page.evaluate("typeof django.gettext === 'function' && window.gettext === django.gettext")
