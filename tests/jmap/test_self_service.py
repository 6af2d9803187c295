"""Self-service on Stalwart 0.16: app passwords, two-factor and the password, on the same pages."""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote

import httpx
import pyotp
from django.conf import settings
from django.test import Client

from portal.auth.session import IDENTITY_KEY
from sandbox.seed import TOTP_SECRET
from tests.conftest import persona, sign_in

SECURITY = "/account/security/"
APPS = "/account/security/app-passwords/"
NEW_APP = "/account/security/app-passwords/new"
PASSWORD = "/account/security/password"
ENABLE = "/account/security/two-factor/enable"
DISABLE = "/account/security/two-factor/disable"
NEW = "Wooden-Lamp-River-42"


def basic(name: str, secret: str) -> int:
    return httpx.get(settings.STALWART_URL + "/api/account", auth=(name, secret)).status_code


def field_errors(response, name: str) -> list[str]:
    return re.findall(rf'<p class="field-error" id="id_{name}_error">([^<]*)</p>', response.content.decode())


def test_overview_reads_two_factor_app_passwords_and_encryption(signed_in, sandbox):
    client = signed_in("user")
    response = client.get(SECURITY)
    assert response.status_code == 200, response.content[:1000]
    # Two-factor and app passwords in one request, encryption at rest (off: no key) in another.
    assert [r.path for r in sandbox.requests] == ["/jmap/", "/jmap/"]
    content = response.content.decode()
    assert "Turn on two-factor" in content
    assert 'href="/account/security/encryption"' in content


def test_app_password_is_made_by_the_server_shown_once_and_signs_in(signed_in, sandbox, caplog):
    caplog.set_level(logging.DEBUG)
    client = signed_in("user")
    token = re.search(r'name="form_token" value="([^"]+)"', client.get(NEW_APP).content.decode()).group(1)
    response = client.post(NEW_APP, {"label": "iPhone Mail", "form_token": token})
    assert response.status_code == 200, response.content[:2000]
    password = re.search(r'id="app-password-value"[^>]*>([^<]+)<', response.content.decode()).group(1)
    assert password.startswith("app_")
    assert basic("jane.doe@example.org", password) == 200
    assert password not in caplog.text and password not in repr(dict(client.session))
    listing = client.get(APPS).content.decode()
    assert "iPhone Mail" in listing and password not in listing

    raw = re.search(r'name="name" value="([^"]+)"', listing) or re.search(r'revoke\?name=([^"&]+)', listing)
    done = client.post("/account/security/app-passwords/revoke", {"name": unquote(raw.group(1))})
    assert done.status_code == 302
    assert basic("jane.doe@example.org", password) == 401
    assert "is revoked" in client.get(APPS).content.decode()  # the notice, once
    assert "iPhone Mail" not in client.get(APPS).content.decode()


def test_password_change_sends_the_current_one_and_signs_out(signed_in, sandbox):
    client = signed_in("user")
    user = persona("user")
    wrong = client.post(PASSWORD, {"password": "not-it-at-all", "new_password": NEW, "confirm_password": NEW})
    assert wrong.status_code == 401
    assert field_errors(wrong, "password") == ["This is not your current password. Check it and try again."]
    assert basic("jane.doe@example.org", user.password) == 200

    done = client.post(PASSWORD, {"password": user.password, "new_password": NEW, "confirm_password": NEW})
    assert done.status_code == 302 and done.url.startswith("/auth/sign-in")
    assert IDENTITY_KEY not in client.session
    assert basic("jane.doe@example.org", NEW) == 200
    assert basic("jane.doe@example.org", user.password) == 401
    fresh = Client()
    assert fresh.post("/auth/sign-in", {"step": "password", "username": user.name, "password": NEW}).status_code == 302


def test_two_factor_on_then_sign_in_asks_for_the_code_then_off(signed_in, sandbox):
    client = signed_in("user")
    user = persona("user")
    page = client.get(ENABLE)
    assert page.status_code == 200
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page.content.decode()).group(1).replace(" ", "")
    done = client.post(ENABLE, {"code": pyotp.TOTP(secret).at(sandbox.now()), "password": user.password})
    assert done.status_code == 302, done.content[:2000]
    assert basic("jane.doe@example.org", user.password) == 402  # the server now wants a code

    other = Client()
    step = sign_in(other, "user")
    assert step.status_code == 200 and b"Two-factor code" in step.content
    finished = other.post("/auth/sign-in", {"step": "totp", "code": pyotp.TOTP(secret).at(sandbox.now())})
    assert finished.status_code == 302

    missing = client.post(DISABLE, {"password": user.password, "code": "000000"})
    assert missing.status_code == 401
    off = client.post(DISABLE, {"password": user.password, "code": pyotp.TOTP(secret).at(sandbox.now())})
    assert off.status_code == 302, off.content[:2000]
    assert basic("jane.doe@example.org", user.password) == 200


def test_the_two_factor_persona_changes_its_password_with_the_code(client, sandbox):
    who = persona("totp_user")
    sign_in(client, who)
    code = pyotp.TOTP(TOTP_SECRET).at(sandbox.now())
    assert client.post("/auth/sign-in", {"step": "totp", "code": code}).status_code == 302
    asked = client.post(PASSWORD, {"password": who.password, "new_password": NEW, "confirm_password": NEW})
    assert asked.status_code == 401
    assert b"enter the code from your authenticator app" in asked.content
    done = client.post(
        PASSWORD,
        {
            "password": who.password,
            "new_password": NEW,
            "confirm_password": NEW,
            "with_code": "1",
            "code": pyotp.TOTP(TOTP_SECRET).at(sandbox.now()),
        },
    )
    assert done.status_code == 302, done.content[:2000]


def test_app_password_expiry_and_allowed_addresses_are_sent_and_shown(signed_in, sandbox):
    client = signed_in("user")
    form = client.get(NEW_APP).content.decode()
    assert 'name="expires_days"' in form and 'name="allowed_ips"' in form
    token = re.search(r'name="form_token" value="([^"]+)"', form).group(1)

    bad = client.post(NEW_APP, {"label": "Laptop", "form_token": token, "allowed_ips": "not-an-ip"})
    assert bad.status_code == 400
    assert field_errors(bad, "allowed_ips") == ["“not-an-ip” is not an IP address or network."]
    assert "Laptop" in bad.content.decode()  # what was typed stays

    made = client.post(
        NEW_APP, {"label": "Laptop", "form_token": token, "expires_days": "30", "allowed_ips": "192.0.2.7\n10.0.0.0/8"}
    )
    assert made.status_code == 200, made.content[:2000]
    listing = client.get(APPS).content.decode()
    assert "Laptop" in listing
    assert "192.0.2.7/32" in listing and "10.0.0.0/8" in listing
    assert re.search(r"<time[^>]*>in (29|30) days", listing), listing[listing.find("Laptop") :][:1500]
    assert "Everything your account may do" in listing


def test_the_rest_generation_offers_no_app_password_options(sandbox_server, client, settings):
    rest, url = sandbox_server
    rest.reset()
    settings.STALWART_URL = url
    assert sign_in(client, "user").status_code == 302
    form = client.get(NEW_APP).content.decode()
    assert 'name="expires_days"' not in form and 'name="allowed_ips"' not in form
