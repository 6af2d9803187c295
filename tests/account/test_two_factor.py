"""Two-factor sign-in: set up with a server-made secret, turn off with password and code."""

import re
from urllib.parse import parse_qs, urlsplit

import pyotp

from portal.account.totp import SETUP_KEY
from sandbox.seed import TOTP_URL
from tests.conftest import persona

from .conftest import basic_api, field_errors, totp_code

PAGE = "/account/security/two-factor/"
ENABLE = "/account/security/two-factor/enable"
DISABLE = "/account/security/two-factor/disable"


def shown_secret(response) -> str:
    match = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', response.content.decode())
    assert match, response.content[:3000]
    return match.group(1).replace(" ", "")


def account_posts(sandbox):
    return [r for r in sandbox.requests if r.method == "POST" and r.path == "/api/account/auth"]


def test_off_page_explains_and_links_to_setup(signed_in):
    content = signed_in("user").get(PAGE).content.decode()
    assert "Two-factor sign-in is off" in content
    assert f'href="{ENABLE}"' in content
    assert "app password" in content


def test_enable_round_trip(signed_in, sandbox):
    client = signed_in("user")
    user = persona("user")
    page = client.get(ENABLE)
    assert page.status_code == 200
    secret = shown_secret(page)
    assert len(secret) == 32
    content = page.content.decode()
    # The QR code is an inline data: image (the CSP allows data: images), no external URL.
    qr = re.search(r'<img class="qr" src="([^"]+)"', content).group(1)
    assert qr.startswith("data:image/svg+xml")
    assert "style=" not in content and "<script>" not in content
    # The pending secret is sealed in the session, never plain.
    assert SETUP_KEY in client.session and secret not in repr(dict(client.session))
    # A reload shows the same secret (the app may already have scanned it).
    assert shown_secret(client.get(ENABLE)) == secret

    sandbox.requests.clear()
    done = client.post(ENABLE, {"code": totp_code(sandbox, secret), "password": user.password})
    assert done.status_code == 302 and done.url == "/account/security/"
    (post,) = account_posts(sandbox)
    assert post.auth_scheme == "Basic" and post.status == 200
    url = sandbox.get(user.name).secrets[0]
    assert url.startswith("otpauth://totp/") and parse_qs(urlsplit(url).query)["secret"] == [secret]
    assert SETUP_KEY not in client.session

    # The session keeps working, and says so.
    overview = client.get("/account/security/")
    assert overview.status_code == 200
    content = overview.content.decode()
    assert "Two-factor sign-in is on." in content and "You stay signed in" in content
    # Stalwart now wants the code.
    assert basic_api("GET", "/api/account/auth", user.name, user.password).status_code == 402
    code = pyotp.TOTP(secret).at(sandbox.now())
    assert basic_api("GET", "/api/account/auth", user.name, f"{user.password}${code}").status_code == 200


def test_enable_checks_the_code_before_calling_stalwart(signed_in, sandbox):
    client = signed_in("user")
    secret = shown_secret(client.get(ENABLE))
    sandbox.requests.clear()
    wrong = str((int(totp_code(sandbox, secret)) + 1) % 1_000_000).zfill(6)
    response = client.post(ENABLE, {"code": wrong, "password": persona("user").password})
    assert response.status_code == 400
    assert field_errors(response, "code") == [
        "That code does not match. Check that you scanned the code on this page and enter the code your app shows now."
    ]
    assert account_posts(sandbox) == []
    assert shown_secret(response) == secret  # same QR code again
    assert persona("user").password.encode() not in response.content


def test_enable_with_the_wrong_password_keeps_the_session(signed_in, sandbox):
    client = signed_in("user")
    secret = shown_secret(client.get(ENABLE))
    sandbox.requests.clear()
    response = client.post(ENABLE, {"code": totp_code(sandbox, secret), "password": "not-my-password"})
    assert response.status_code == 401
    assert field_errors(response, "password") == ["This is not your current password. Check it and try again."]
    assert b"not-my-password" not in response.content
    assert [p.status for p in account_posts(sandbox)] == [401]
    assert not sandbox.get(persona("user").name).secrets[0].startswith("otpauth://")
    # Still signed in: a wrong password is not an expired session.
    assert client.get("/account/security/").status_code == 200


def test_the_secret_comes_from_the_session_not_the_form(signed_in, sandbox):
    client = signed_in("user")
    client.get(ENABLE)
    mine = pyotp.random_base32()
    response = client.post(
        ENABLE,
        {"code": totp_code(sandbox, mine), "password": persona("user").password, "secret": mine, "url": "otpauth://x"},
    )
    assert response.status_code == 400
    assert account_posts(sandbox) == []


def test_enable_after_the_setup_expired(signed_in, sandbox):
    client = signed_in("user")
    response = client.post(ENABLE, {"code": "123456", "password": "x"})
    assert response.status_code == 302 and response.url == ENABLE
    assert "The setup took too long" in client.get(ENABLE).content.decode()
    assert account_posts(sandbox) == []


def test_enable_when_already_on(signed_in_totp):
    client = signed_in_totp()
    response = client.get(ENABLE)
    assert response.status_code == 302 and response.url == PAGE
    assert "already on" in client.get(PAGE).content.decode()


def test_disable_round_trip(signed_in_totp, sandbox):
    client = signed_in_totp()
    theo = persona("totp_user")
    page = client.get(PAGE).content.decode()
    assert "Two-factor sign-in is on" in page and f'action="{DISABLE}"' in page
    response = client.post(DISABLE, {"password": theo.password, "code": totp_code(sandbox)})
    assert response.status_code == 302 and response.url == "/account/security/"
    (post,) = account_posts(sandbox)
    assert post.auth_scheme == "Basic"
    assert not any(s.startswith("otpauth://") for s in sandbox.get(theo.name).secrets)
    overview = client.get("/account/security/").content.decode()
    assert "Two-factor sign-in is off" in overview and "You stay signed in" in overview
    assert basic_api("GET", "/api/account/auth", theo.name, theo.password).status_code == 200


def test_disable_with_a_wrong_code_says_so(signed_in_totp, sandbox):
    client = signed_in_totp()
    theo = persona("totp_user")
    wrong = str((int(totp_code(sandbox)) + 500_000) % 1_000_000).zfill(6)
    response = client.post(DISABLE, {"password": theo.password, "code": wrong})
    assert response.status_code == 401
    assert field_errors(response, "code") == [
        "That code is not correct, or it has expired. Enter the code your authenticator app shows now."
    ]
    assert field_errors(response, "password") == []
    assert sandbox.get(theo.name).secrets[0] == TOTP_URL
    assert client.get(PAGE).status_code == 200  # still signed in


def test_disable_with_a_wrong_password_says_so(signed_in_totp, sandbox):
    client = signed_in_totp()
    response = client.post(DISABLE, {"password": "wrong-password", "code": totp_code(sandbox)})
    assert response.status_code == 401
    assert field_errors(response, "password") == ["This is not your current password. Check it and try again."]
    assert b"wrong-password" not in response.content
    assert sandbox.get(persona("totp_user").name).secrets[0] == TOTP_URL


def test_disable_needs_both_fields(signed_in_totp, sandbox):
    client = signed_in_totp()
    response = client.post(DISABLE, {"password": "", "code": "12"})
    assert response.status_code == 400
    assert field_errors(response, "password") == ["This field is required."]
    assert field_errors(response, "code") == ["Enter the 6 digits your authenticator app shows (some apps show 8)."]
    assert b'value="12"' in response.content  # what was typed, except passwords
    assert account_posts(sandbox) == []
