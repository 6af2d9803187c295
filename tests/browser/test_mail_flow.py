"""Mail flow in a real browser: the queue, a queued message, and incoming reports, at 1280 and 390 px."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.conftest import persona

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page, portal_url, who, next_path):
    page.goto(portal_url + next_path)
    expect(page).to_have_url(re.compile(r"/auth/sign-in"))
    page.get_by_label("Account name").fill(who.name)
    page.get_by_label("Password").fill(who.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(re.escape(next_path) + "$"))


def test_queue_list_and_message(page, portal_url):
    sign_in(page, portal_url, persona("admin"), "/queue/")
    expect(page.get_by_role("heading", name="Message queue", level=1)).to_be_visible()
    expect(page.get_by_text("Delivery is running.")).to_be_visible()
    rows = page.locator("table.queue-table tbody tr")
    expect(rows).to_have_count(25)
    expect(page.get_by_role("link", name="Mailer daemon").first).to_be_visible()
    screenshot(page, "queue-list")

    # Live search through htmx
    page.get_by_label("Search the queue").fill("gmail.com")
    expect(page).to_have_url(re.compile(r"q=gmail\.com"))
    expect(rows.first).to_contain_text("gmail.com")

    # Open a message with a failure and look at it.
    page.goto(portal_url + "/queue/")
    page.locator("table.queue-table tbody tr", has_text="failed").first.get_by_role("link").click()
    expect(page.get_by_role("heading", name="Delivery by domain")).to_be_visible()
    expect(page.get_by_role("heading", name="Headers")).to_be_visible()
    screenshot(page, "queue-message")

    # Retry asks first, in place (htmx), and works.
    page.get_by_role("link", name="Retry now").click()
    expect(page.get_by_role("alertdialog")).to_be_visible()
    screenshot(page, "queue-message-retry-confirm", full_page=False)
    page.get_by_role("alertdialog").get_by_role("button", name="Retry now").click()
    expect(page.get_by_text("Stalwart will try to deliver")).to_be_visible()


def test_queue_pause_and_bulk_preview(page, portal_url):
    sign_in(page, portal_url, persona("admin"), "/queue/")
    page.get_by_role("button", name="Pause delivery").click()
    expect(page.get_by_text("Delivery is paused.")).to_be_visible()
    screenshot(page, "queue-paused", full_page=False)
    page.get_by_role("button", name="Resume delivery").click()
    expect(page.get_by_text("Delivery is running.")).to_be_visible()

    page.get_by_role("link", name="Retry or cancel all matching…").click()
    page.get_by_label("Search", exact=True).fill("gmail.com")
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("heading", name=re.compile(r"\d+ messages? match"))).to_be_visible()
    screenshot(page, "queue-bulk-preview")
    page.get_by_role("button", name=re.compile(r"Cancel all \d+")).click()
    expect(page.get_by_text("from the queue, in the background")).to_be_visible()


def test_reports(page, portal_url):
    sign_in(page, portal_url, persona("admin"), "/reports/dmarc/")
    expect(page.get_by_role("heading", name="Incoming reports", level=1)).to_be_visible()
    expect(page.locator("table.data-table tbody tr")).to_have_count(25)
    screenshot(page, "reports-dmarc-list")
    page.locator("table.data-table tbody tr").first.get_by_role("link").first.click()
    expect(page.get_by_role("heading", name="Published policy")).to_be_visible()
    screenshot(page, "reports-dmarc-detail")

    page.goto(portal_url + "/reports/tls/")
    page.locator("table.data-table tbody tr").first.get_by_role("link").first.click()
    expect(page.get_by_text("Successful sessions")).to_be_visible()
    screenshot(page, "reports-tls-detail")

    page.goto(portal_url + "/reports/arf/")
    screenshot(page, "reports-arf-list")
    page.locator("table.data-table tbody tr", has_text="Authentication failure").first.get_by_role("link").first.click()
    expect(page.get_by_role("heading", name="Reported headers")).to_be_visible()
    screenshot(page, "reports-arf-detail")

    page.goto(portal_url + "/reports/dmarc/overview")
    expect(page.locator("svg.chart").first).to_be_visible()
    screenshot(page, "reports-dmarc-overview")

    page.goto(portal_url + "/queue/reports/")
    expect(page.get_by_role("heading", name="Outgoing reports", level=1)).to_be_visible()
    screenshot(page, "queue-outgoing-reports")
    page.locator("table.data-table tbody tr").first.get_by_role("link").first.click()
    expect(page.get_by_role("heading", name="Delivery")).to_be_visible()
    screenshot(page, "queue-outgoing-report")


def test_phone_width(browser, portal_url):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    def fits():
        # Nothing wider than the screen.
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, (page.url, width)

    try:
        sign_in(page, portal_url, persona("admin"), "/queue/")
        expect(page.locator("table.queue-table tbody tr").first).to_be_visible()
        screenshot(page, "queue-list-phone", full_page=False)
        fits()
        page.locator("table.queue-table tbody tr", has_text="failed").first.get_by_role("link").click()
        expect(page.get_by_role("heading", name="Delivery by domain")).to_be_visible()
        screenshot(page, "queue-message-phone")
        fits()
        page.goto(portal_url + "/reports/dmarc/")
        screenshot(page, "reports-dmarc-list-phone", full_page=False)
        page.locator("table.data-table tbody tr").first.get_by_role("link").first.click()
        expect(page.get_by_role("heading", name="Published policy")).to_be_visible()
        screenshot(page, "reports-dmarc-detail-phone")
        fits()
        page.goto(portal_url + "/reports/dmarc/overview")
        screenshot(page, "reports-dmarc-overview-phone")
        fits()
        # The newest days are drawn where a phone shows them, without scrolling sideways.
        expect(page.locator(".chart-wide")).to_be_hidden()
        chart = page.locator(".chart-narrow svg")
        expect(chart).to_be_visible()
        chart.scroll_into_view_if_needed()
        box = chart.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
        newest = chart.locator("g").last.bounding_box()
        assert newest and newest["x"] + newest["width"] <= 390, newest
        expect(chart.locator("text.chart-axis").last).to_be_in_viewport(ratio=1)
        screenshot(page, "reports-dmarc-overview-chart-phone", full_page=False)
    finally:
        context.close()
    assert errors == []
