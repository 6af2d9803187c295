"""Browser tests of the helpdesk tools, with the portal under a real ASGI server.

The delivery check streams, which Django's (WSGI) live server would buffer; these tests
serve the portal with uvicorn instead (`tests.asgi_server`).
"""

from __future__ import annotations

import contextlib
import re

import pytest
from playwright.sync_api import expect

from sandbox.spamfilter import GTUBE
from sandbox.toolstate import tools_state
from tests.asgi_server import portal_asgi_server
from tests.browser.conftest import screenshot
from tests.browser.test_sign_in_and_accounts import sign_in
from tests.conftest import persona

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SPAMMY = (
    "From: Prize Desk <prizes@lottery.example>\nTo: jane@example.org\nSubject: YOU ARE A WINNER\n\n"
    "Claim your lottery prize now, it is urgent.\n"
)


@pytest.fixture
def portal_url(sandbox):
    with portal_asgi_server() as url:
        yield url


def top(page) -> None:
    """Full-page screenshots of a scrolled page draw the sticky top bar mid-page."""
    page.evaluate("window.scrollTo(0, 0)")


@contextlib.contextmanager
def phone_page(browser, *, javascript: bool = True):
    context = browser.new_context(viewport={"width": 390, "height": 844}, java_script_enabled=javascript)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    try:
        yield page
    finally:
        context.close()
    assert errors == [], errors


def test_live_delivery_check(page, portal_url, sandbox):
    tools_state(sandbox).frame_delay = (0.15, 0.15)
    sign_in(page, portal_url, persona("helpdesk"))
    page.get_by_role("link", name="Delivery troubleshooting").click()
    page.get_by_label("E-mail address or domain").fill("jane@example.org")
    page.get_by_role("button", name="Run the check").click()
    steps = page.locator("ol.steps > li")
    expect(steps.nth(6)).to_be_visible()
    expect(page.locator(".run-status")).to_contain_text("Running")
    assert page.locator(".verdict").count() == 0  # still running: no verdict yet
    screenshot(page, "tools-delivery-running")
    expect(page.get_by_role("heading", name="jane@example.org accepts mail")).to_be_visible(timeout=20_000)
    expect(page.locator(".run-status")).to_contain_text("Finished in")
    expect(page.get_by_role("button", name="Copy summary")).to_be_visible()
    assert steps.count() > 25
    assert "Result: OK - jane@example.org accepts mail" in page.locator("#ticket-summary").inner_text()
    top(page)
    screenshot(page, "tools-delivery-finished")
    # the browser only ever talked to the portal
    assert tools_state(sandbox).streams[-1].completed


def test_delivery_failure_verdict(page, portal_url, sandbox):
    tools_state(sandbox).frame_delay = (0.0, 0.01)
    sign_in(page, portal_url, persona("admin"))
    page.goto(f"{portal_url}/tools/delivery/?target=bob%40reject.example.net")
    page.get_by_role("button", name="Run the check").click()
    expect(page.get_by_role("heading", name="The recipient bob@reject.example.net was refused")).to_be_visible(
        timeout=20_000
    )
    screenshot(page, "tools-delivery-rejected", full_page=False)


def test_delivery_without_javascript_on_a_phone(browser, portal_url, sandbox):
    tools_state(sandbox).frame_delay = (0.0, 0.01)
    with phone_page(browser, javascript=False) as page:
        sign_in(page, portal_url, persona("admin"))
        page.goto(f"{portal_url}/tools/delivery/")
        page.get_by_label("E-mail address or domain").fill("badtls.example.net")
        page.get_by_role("button", name="Run the check").click()
        expect(page).to_have_url(re.compile(r"/tools/delivery/run\?target=badtls"))
        expect(page.get_by_role("heading", name="TLS could not be established")).to_be_visible(timeout=20_000)
        screenshot(page, "tools-delivery-nojs-phone")


def test_dmarc_result(page, portal_url, browser, sandbox):
    sign_in(page, portal_url, persona("helpdesk"))
    page.goto(f"{portal_url}/tools/dmarc/")
    page.get_by_label("Sender IP address").fill("198.51.100.7")
    page.get_by_label("EHLO name").fill("mx.example.net")
    page.get_by_label("MAIL FROM").fill("bob@quarantine.example.net")
    page.get_by_role("button", name="Check").click()
    expect(page.get_by_role("heading", name="The message fails DMARC")).to_be_visible()
    top(page)
    screenshot(page, "tools-dmarc-result")
    with phone_page(browser) as phone:
        sign_in(phone, portal_url, persona("helpdesk"))
        phone.goto(f"{portal_url}/tools/dmarc/")
        phone.get_by_label("Sender IP address").fill("192.0.2.25")
        phone.get_by_label("EHLO name").fill("mx.example.com")
        phone.get_by_label("MAIL FROM").fill("alice@example.com")
        phone.get_by_role("button", name="Check").click()
        expect(phone.get_by_role("heading", name="The message passes DMARC")).to_be_visible()
        top(phone)
        screenshot(phone, "tools-dmarc-result-phone")


def test_spam_classify_result(page, portal_url, browser, sandbox):
    sign_in(page, portal_url, persona("user"))
    page.get_by_role("link", name="Spam filter").click()
    page.get_by_label("Sender IP address").fill("203.0.113.9")
    page.get_by_label("EHLO name").fill("mail.lottery.example")
    page.get_by_label("Envelope sender (MAIL FROM)").fill("prizes@lottery.example")
    page.get_by_label("Envelope recipients").fill("jane@example.org")
    page.get_by_label("Message", exact=True).fill(SPAMMY)
    page.get_by_role("button", name="Classify").click()
    expect(page.get_by_role("heading", name=re.compile(r"^Spam, with a score of"))).to_be_visible()
    expect(page.locator("table.spam-tags tbody tr").first).to_contain_text("SPAM_KEYWORDS")
    top(page)
    screenshot(page, "tools-spam-classify")
    with phone_page(browser) as phone:
        sign_in(phone, portal_url, persona("user"))
        phone.goto(f"{portal_url}/tools/spam-filter/")
        phone.get_by_label("Sender IP address").fill("192.0.2.25")
        phone.get_by_label("EHLO name").fill("mx.example.com")
        phone.get_by_label("Envelope recipients").fill("jane@example.org")
        phone.get_by_label("Message", exact=True).fill(f"Subject: test\n\n{GTUBE}\n")
        phone.get_by_role("button", name="Classify").click()
        expect(phone.get_by_role("heading", name="Stalwart would reject this message")).to_be_visible()
        top(phone)
        screenshot(phone, "tools-spam-classify-phone")


def test_maintenance(page, portal_url, browser, sandbox):
    sandbox.settings["mystery.key"] = "42"
    sign_in(page, portal_url, persona("admin"))
    page.get_by_role("link", name="Maintenance").click()
    expect(page.get_by_role("heading", name="Maintenance", level=1)).to_be_visible()
    screenshot(page, "tools-maintenance")
    page.get_by_role("button", name="Check only").click()
    expect(page.get_by_role("heading", name="The configuration is valid, with warnings")).to_be_visible()
    screenshot(page, "tools-maintenance-reload-check")
    page.get_by_role("link", name="Back to maintenance").click()
    page.get_by_role("link", name="Purge blobs…").click()
    expect(page.get_by_text("This cannot be undone.")).to_be_visible()
    screenshot(page, "tools-maintenance-confirm")
    page.get_by_role("button", name="Yes, purge blobs").click()
    expect(page.get_by_text("purging the blob store")).to_be_visible()
    assert tools_state(sandbox).actions == [{"kind": "purge-blob"}]
    with phone_page(browser) as phone:
        sign_in(phone, portal_url, persona("admin"))
        phone.goto(f"{portal_url}/tools/maintenance/")
        screenshot(phone, "tools-maintenance-phone")
        phone.goto(f"{portal_url}/tools/maintenance/reset-uids")
        phone.get_by_role("textbox", name="Account").fill(persona("user").name)
        phone.get_by_role("button", name="Yes, reset UIDs").click()
        expect(phone.get_by_role("heading", name=f"IMAP UIDs of {persona('user').name} reset")).to_be_visible()
        screenshot(phone, "tools-maintenance-uids-phone")
