"""The sign-in throttle in a browser: the refused sign-in page, and the administrators' page with rows."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.browser.test_accessibility import axe_page, axe_violations, portal_url, report, sign_in  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HOSTILE = "\u202eevil<b>name</b>"


def guess(base_url: str, name: str, address: str, times: int) -> list[int]:
    with httpx.Client(base_url=base_url, timeout=10) as client:
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', client.get("/auth/sign-in").text).group(1)
        data = {"csrfmiddlewaretoken": token, "step": "password", "username": name, "password": "wrong"}
        return [
            client.post("/auth/sign-in", data=data, headers={"X-Forwarded-For": address}).status_code
            for _ in range(times)
        ]


def test_the_refused_sign_in_and_the_throttle_page(axe_page, portal_url, settings):  # noqa: F811
    settings.SIGNIN_MAX_FAILURES = 2
    assert guess(portal_url, HOSTILE, "198.51.100.7", 3) == [401, 401, 429]
    assert guess(portal_url, "jane.doe", "2001:db8::7", 2) == [401, 401]

    # What the attacker's browser shows: the error next to the form, the name kept.
    axe_page.set_extra_http_headers({"X-Forwarded-For": "198.51.100.7"})
    axe_page.goto(portal_url + "/auth/sign-in")
    axe_page.get_by_label("Account name").fill(HOSTILE)
    axe_page.get_by_label("Password").fill("wrong")
    axe_page.get_by_role("button", name="Sign in").click()
    expect(axe_page.get_by_text("Too many failed sign-ins.")).to_be_visible()
    expect(axe_page.get_by_label("Account name")).to_have_value(re.compile("evil"))
    screenshot(axe_page, "sign-in-throttled")
    assert not (violations := axe_violations(axe_page)), report({"sign-in (throttled)": violations})

    axe_page.set_extra_http_headers({})
    sign_in(axe_page, portal_url, "admin")
    axe_page.goto(portal_url + "/auth/throttle/")
    expect(axe_page.get_by_role("heading", name="Sign-in throttle")).to_be_visible()
    assert axe_page.locator("tbody tr").count() >= 6
    assert axe_page.locator("b", has_text="name").count() == 0  # the typed name is text, not markup
    screenshot(axe_page, "sign-in-throttle")
    assert not (violations := axe_violations(axe_page)), report({"sign-in throttle": violations})
    axe_page.set_viewport_size({"width": 390, "height": 844})
    wide = axe_page.evaluate("document.documentElement.scrollWidth")
    assert wide <= 390, wide
    screenshot(axe_page, "sign-in-throttle-390")

    # Clearing the attacker's address lets it sign in again.
    row = axe_page.locator("tbody tr", has_text="198.51.100.7").filter(has_text="Address").first
    row.get_by_role("button", name="Clear").click()
    expect(axe_page.get_by_text("Cleared.")).to_be_visible()
