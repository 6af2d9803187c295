"""Self-service security in a real browser: the one-time app password, two-factor set-up,
and screenshots of every security page at desktop and phone widths."""

import re

import pyotp
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.conftest import persona
from tests.crypto_fixtures import pgp_key

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = {"desktop": (1280, 860), "phone": (390, 844)}


def sign_in(page, portal_url, who):
    page.goto(portal_url + "/auth/sign-in")
    page.get_by_label("Account name").fill(who.name)
    page.get_by_label("Password").fill(who.password)
    page.get_by_role("button", name="Sign in").click()


def test_create_app_password_shows_it_once(browser, portal_url, sandbox):
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=portal_url)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        who = persona("user")
        sign_in(page, portal_url, who)
        expect(page.get_by_role("heading", name="Security", level=1)).to_be_visible()
        page.get_by_role("link", name="Manage app passwords").click()
        expect(page.get_by_role("heading", name="App passwords", level=1)).to_be_visible()
        page.get_by_role("link", name="Create an app password").first.click()
        page.get_by_label("What will use it?").fill("Phone")
        page.get_by_role("button", name="Create password").click()

        expect(page.get_by_role("heading", name="Your new app password")).to_be_visible()
        value = page.locator("#app-password-value")
        password = value.inner_text().strip()
        assert re.fullmatch(r"[a-z2-9]{4}(-[a-z2-9]{4}){3}", password)
        copy = page.get_by_role("button", name="Copy")
        expect(copy).to_be_visible()  # shown by portal.js; hidden without JavaScript
        copy.click()
        expect(page.get_by_role("button", name="Copied")).to_be_visible()
        assert page.evaluate("navigator.clipboard.readText()") == password

        # The shown password really signs in (Basic auth against the sandbox).
        import httpx
        from django.conf import settings

        assert httpx.get(settings.STALWART_URL + "/api/account/auth", auth=(who.name, password)).status_code == 200

        # Reloading does not show it again, and creates nothing: the form was sent by boosted
        # navigation, so the address is still the form's, which comes back empty. (Without
        # JavaScript a reload sends the form again and is refused: tests/account.)
        expect(page).to_have_url(re.compile(r"/app-passwords/new$"))
        page.reload()
        expect(page.get_by_label("What will use it?")).to_have_value("")
        assert password not in page.content()
        page.goto(portal_url + "/account/security/app-passwords/")
        expect(page.locator("table.data-table tbody tr")).to_have_count(1)
        page.go_back()
        assert password not in page.content()
        assert errors == []
    finally:
        context.close()


def test_two_factor_set_up_in_the_browser(page, portal_url, sandbox):
    who = persona("user")
    sign_in(page, portal_url, who)
    page.get_by_role("link", name="Turn on two-factor").first.click()
    page.get_by_role("link", name="Set up two-factor sign-in").click()
    expect(page.locator("img.qr")).to_be_visible()
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    page.get_by_label("Code from your authenticator app").fill(pyotp.TOTP(secret).at(sandbox.now()))
    page.get_by_label("Your current password").fill(who.password)
    page.get_by_role("button", name="Turn on two-factor").click()
    expect(page.get_by_text("Two-factor sign-in is on. From now on")).to_be_visible()
    expect(page.get_by_role("heading", name="Security", level=1)).to_be_visible()


def test_password_strength_feedback_while_typing(page, portal_url, sandbox):
    sign_in(page, portal_url, persona("user"))
    page.goto(portal_url + "/account/security/password")
    page.get_by_label("New password", exact=True).fill("password")
    expect(page.locator("#strength")).to_contain_text("Too weak")
    page.get_by_label("New password", exact=True).fill("wooden lamp river autumn")
    expect(page.locator("#strength")).to_contain_text("Very strong")


@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_screenshots_of_every_security_page(browser, portal_url, sandbox, width):
    w, h = WIDTHS[width]
    context = browser.new_context(viewport={"width": w, "height": h})
    page = context.new_page()
    try:
        sign_in(page, portal_url, persona("user"))
        expect(page.get_by_role("heading", name="Security", level=1)).to_be_visible()
        screenshot(page, f"security-overview-{width}")

        page.goto(portal_url + "/account/security/app-passwords/")
        screenshot(page, f"security-app-passwords-empty-{width}")
        page.goto(portal_url + "/account/security/app-passwords/new")
        screenshot(page, f"security-app-password-new-{width}")
        page.get_by_label("What will use it?").fill("Thunderbird at home")
        page.get_by_role("button", name="Create password").click()
        expect(page.get_by_role("heading", name="Your new app password")).to_be_visible()
        page.get_by_text("iPhone or iPad (Mail)").click()
        screenshot(page, f"security-app-password-created-{width}")
        page.goto(portal_url + "/account/security/app-passwords/new")
        page.get_by_label("What will use it?").fill("Phone")
        page.get_by_role("button", name="Create password").click()
        expect(page.get_by_role("heading", name="Your new app password")).to_be_visible()
        page.goto(portal_url + "/account/security/app-passwords/")
        expect(page.locator("table.data-table tbody tr")).to_have_count(2)
        screenshot(page, f"security-app-passwords-{width}")
        page.get_by_role("link", name="Revoke “Phone”").click()
        screenshot(page, f"security-app-password-revoke-{width}")
        page.get_by_role("button", name="Revoke", exact=True).click()
        expect(page.get_by_text("“Phone” is revoked")).to_be_visible()

        page.goto(portal_url + "/account/security/two-factor/")
        screenshot(page, f"security-two-factor-off-{width}")
        page.goto(portal_url + "/account/security/two-factor/enable")
        page.get_by_label("Code from your authenticator app").fill("000000")
        page.get_by_label("Your current password").fill("wrong")
        page.get_by_role("button", name="Turn on two-factor").click()
        expect(page.locator(".field-error").first).to_be_visible()
        screenshot(page, f"security-two-factor-enable-{width}")

        page.goto(portal_url + "/account/security/password")
        page.get_by_label("Your current password").fill("wrong password")
        page.get_by_label("New password", exact=True).fill("short")
        page.get_by_label("Type the new password again").fill("shorter")
        page.get_by_role("button", name="Change password").click()
        expect(page.locator(".field-error").first).to_be_visible()
        screenshot(page, f"security-password-{width}")

        page.goto(portal_url + "/account/security/encryption")
        screenshot(page, f"security-encryption-off-{width}")
        page.get_by_label("Paste your public key or certificate").fill(pgp_key())
        page.get_by_label("Your current password").first.fill(persona("user").password)
        page.get_by_role("button", name="Turn on encryption").click()
        expect(page.get_by_text("Encryption at rest is on.")).to_be_visible()
        screenshot(page, f"security-encryption-on-{width}")

        # The two-factor persona: the "on" state.
        context.clear_cookies()
        theo = persona("totp_user")
        sign_in(page, portal_url, theo)
        from sandbox.seed import TOTP_SECRET

        page.get_by_label("Code from your authenticator app").fill(pyotp.TOTP(TOTP_SECRET).at(sandbox.now()))
        page.get_by_role("button", name="Verify and sign in").click()
        expect(page.get_by_role("heading", name="Security", level=1)).to_be_visible()
        screenshot(page, f"security-overview-protected-{width}")
        page.goto(portal_url + "/account/security/two-factor/")
        screenshot(page, f"security-two-factor-on-{width}")
    finally:
        context.close()
