import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.browser.test_sign_in_and_accounts import sign_in
from tests.conftest import persona

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def open_context(browser, width, height):
    context = browser.new_context(
        viewport={"width": width, "height": height}, permissions=["clipboard-read", "clipboard-write"]
    )
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: (
            errors.append(f"{page.url}: {msg.text}")
            if msg.type == "error" and "the server responded with a status of 4" not in msg.text
            else None
        ),
    )
    return context, page, errors


def no_horizontal_scroll(page):
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_dns_page_copy_and_create_key(browser, portal_url, sandbox):
    context, page, errors = open_context(browser, 1280, 900)
    try:
        sign_in(page, portal_url, persona("admin"))
        page.goto(f"{portal_url}/directory/domains/example.org/dns")
        expect(page.get_by_role("heading", name="DNS records of example.org", level=1)).to_be_visible()
        rows = page.locator("table.dns-table tbody tr")
        expect(rows).to_have_count(22)
        expect(page.get_by_role("cell", name=re.compile(r"202504r\._domainkey\.example\.org\.")).first).to_be_visible()
        assert no_horizontal_scroll(page)
        screenshot(page, "domain-dns")
        # Playwright's screenshots leave empty style attributes on inputs, which htmx would then
        # try to settle (and the CSP refuse): start the interactions from a fresh page.
        page.reload()

        # Copy buttons appear with JavaScript and put the text on the clipboard.
        copy_zone = page.get_by_role("button", name="Copy the zone file")
        expect(copy_zone).to_be_visible()
        copy_zone.click()
        expect(copy_zone).to_have_text("Copied")
        copied = page.evaluate("navigator.clipboard.readText()")
        assert copied.startswith("; DNS records for example.org.") and "$ORIGIN example.org." in copied
        page.get_by_role("button", name="Copy the content of the MX record example.org.").click()
        assert page.evaluate("navigator.clipboard.readText()") == "10 mail.example.org."

        # An existing key: the error appears next to the algorithm, through htmx.
        page.get_by_label(re.compile(r"^Ed25519")).check()
        page.get_by_label("Selector").fill("again")
        page.get_by_role("button", name="Create key").click()
        expect(page.get_by_text(re.compile(r"already has an Ed25519 key"))).to_be_visible()
        expect(page.get_by_label("Selector")).to_have_value("again")
        page.locator("#dkim-form").scroll_into_view_if_needed()
        screenshot(page, "domain-dns-key-exists", full_page=False)

        # A new key on a domain without one.
        page.goto(f"{portal_url}/directory/domains/example.net/dns")
        expect(page.get_by_text("example.net has no DKIM key")).to_be_visible()
        page.get_by_label(re.compile(r"^RSA 2048-bit")).check()
        page.get_by_label("Selector").fill("browser1")
        page.get_by_role("button", name="Create key").click()
        expect(page.get_by_text("RSA DKIM key generated with the selector browser1")).to_be_visible()
        expect(page.get_by_role("cell", name=re.compile(r"browser1\._domainkey\.example\.net\.")).first).to_be_visible()
        assert sandbox.settings["signature.rsa-example.net.selector"] == "browser1"
        screenshot(page, "domain-dns-created", full_page=False)
    finally:
        context.close()
    assert errors == [], errors


def test_dns_page_on_a_phone(browser, portal_url, sandbox):
    context, page, errors = open_context(browser, 390, 844)
    try:
        sign_in(page, portal_url, persona("admin"))
        page.goto(f"{portal_url}/directory/domains/example.org/dns")
        expect(page.get_by_role("heading", name="DNS records of example.org", level=1)).to_be_visible()
        assert no_horizontal_scroll(page)
        screenshot(page, "domain-dns-phone", full_page=False)
        page.locator("#records-title").scroll_into_view_if_needed()
        page.evaluate("window.scrollBy(0, 300)")
        screenshot(page, "domain-dns-phone-records", full_page=False)
        page.locator("#zone-snippet").scroll_into_view_if_needed()
        screenshot(page, "domain-dns-phone-zone", full_page=False)
        page.locator("#dkim-form").scroll_into_view_if_needed()
        screenshot(page, "domain-dns-phone-dkim", full_page=False)
        screenshot(page, "domain-dns-phone-full")
    finally:
        context.close()
    assert errors == [], errors
