"""Changing the password: strength rules, Basic auth with the current one, the two-factor step."""

import logging

import pytest
from django.test import Client

from portal.auth.session import IDENTITY_KEY
from tests.conftest import Persona, persona, sign_in

from .conftest import basic_api, field_errors, totp_code

PAGE = "/account/security/password"
NEW = "Wooden-Lamp-River-42"


def account_posts(sandbox):
    return [r for r in sandbox.requests if r.method == "POST" and r.path == "/api/account/auth"]


def change(client, current, new=NEW, confirm=None, **extra):
    data = {"password": current, "new_password": new, "confirm_password": new if confirm is None else confirm}
    return client.post(PAGE, {**data, **extra})


def test_change_round_trip(signed_in, sandbox, caplog):
    caplog.set_level(logging.DEBUG)
    client = signed_in("user")
    user = persona("user")
    page = client.get(PAGE).content.decode()
    assert 'name="code"' not in page  # no two-factor on this account
    assert 'hx-post="/account/security/password/strength"' in page
    response = change(client, user.password)
    assert response.status_code == 302 and response.url == "/auth/sign-in"
    (post,) = account_posts(sandbox)
    assert post.auth_scheme == "Basic" and post.status == 200
    secrets = sandbox.get(user.name).secrets
    assert len(secrets) == 1 and secrets[0].startswith("$argon2id$") and NEW not in secrets[0]
    assert basic_api("GET", "/api/account/auth", user.name, NEW).status_code == 200
    assert basic_api("GET", "/api/account/auth", user.name, user.password).status_code == 401
    assert NEW not in caplog.text and user.password not in caplog.text
    assert NEW not in repr(dict(client.session))

    # The portal session has ended; the sign-in page says why.
    assert IDENTITY_KEY not in client.session
    sign_in_page = client.get(response.url).content.decode()
    assert "Your password was changed. Sign in again with your new password." in sign_in_page
    later = client.get("/account/security/")
    assert later.status_code == 302 and later.url.startswith("/auth/sign-in?next=")

    # Signing in again with the new password gives a session that is not ended.
    again = sign_in(client, Persona(user.key, user.name, NEW))
    assert again.status_code == 302
    assert client.get("/account/security/").status_code == 200


def test_change_ends_the_other_sessions_of_that_person(signed_in, sandbox):
    client = signed_in("user")
    other_browser = Client()
    assert sign_in(other_browser, "user").status_code == 302
    someone_else = Client()
    assert sign_in(someone_else, "admin").status_code == 302
    assert other_browser.get("/account/security/").status_code == 200

    assert change(client, persona("user").password).status_code == 302
    ended = other_browser.get("/account/security/", follow=True)
    assert ended.redirect_chain[0][1] == 302 and ended.redirect_chain[0][0].startswith("/auth/sign-in")
    assert "Your password was changed. Sign in again with your new password." in ended.content.decode()
    assert IDENTITY_KEY not in other_browser.session
    # Other people are not affected.
    assert someone_else.get("/directory/accounts/").status_code == 200


def test_wrong_current_password(signed_in, sandbox):
    client = signed_in("user")
    other_browser = Client()
    assert sign_in(other_browser, "user").status_code == 302
    response = change(client, "not-the-password")
    assert response.status_code == 401
    assert field_errors(response, "password") == ["This is not your current password. Check it and try again."]
    assert NEW.encode() not in response.content and b"not-the-password" not in response.content
    assert client.get("/account/security/").status_code == 200  # still signed in
    assert other_browser.get("/account/security/").status_code == 200  # and so is the other browser
    assert basic_api("GET", "/api/account/auth", persona("user").name, persona("user").password).status_code == 200


def test_stalwart_refusing_the_change_keeps_the_session_and_the_form(signed_in_totp, sandbox):
    """An external directory (LDAP, SQL): Stalwart cannot change the password there."""
    client = signed_in_totp()
    theo = persona("totp_user")
    sandbox.settings["storage.directory"] = "corp"
    sandbox.settings["directory.corp.type"] = "ldap"
    code = totp_code(sandbox)
    response = change(client, theo.password, code=code, with_code="1")
    assert response.status_code == 400
    content = response.content.decode()
    assert "The mail server did not change your password: LDAP directory cannot be managed." in content
    assert f'value="{code}"' in content and 'name="with_code" value="1"' in content  # what was typed stays
    assert theo.password not in content and NEW not in content  # passwords are never filled back in
    assert client.get("/account/security/").status_code == 200  # still signed in
    assert basic_api("GET", "/api/account/auth", theo.name, f"{theo.password}${code}").status_code == 200


def test_stalwart_failing_keeps_the_session(signed_in, sandbox):
    client = signed_in("user")
    sandbox.faults.server_error(500, prefix="/api/account/auth", methods={"POST"})
    response = change(client, persona("user").password)
    assert response.status_code == 502
    assert NEW.encode() not in response.content and persona("user").password.encode() not in response.content
    sandbox.faults.clear()
    assert client.get("/account/security/").status_code == 200  # still signed in


@pytest.mark.parametrize(
    ("new", "confirm", "field", "message"),
    [
        ("short", None, "new_password", "Use at least 12 characters (7 more), or a passphrase of at least 4 words."),
        ("Password2024!", None, "new_password", "This is one of the passwords people try first."),
        ("jane.doe", None, "new_password", "Don't use your account name as your password."),
        (NEW, "Wooden-Lamp-River-43", "confirm_password", "The two new passwords are not the same. Type them again."),
        ("User-Sandbox-1", None, "new_password", "The new password is the same as the current one."),
    ],
)
def test_bad_new_passwords_are_explained(signed_in, sandbox, new, confirm, field, message):
    client = signed_in("user")
    response = change(client, persona("user").password, new, confirm)
    assert response.status_code == 400
    assert any(error.startswith(message.replace("'", "&#x27;")) for error in field_errors(response, field)), (
        field_errors(response, field)
    )
    assert account_posts(sandbox) == []
    assert f'value="{new}"'.encode() not in response.content  # passwords are not filled back in


def test_passphrase_of_four_words_is_fine(signed_in, sandbox):
    client = signed_in("user")
    assert change(client, persona("user").password, "sun dog tea map").status_code == 302


def test_strength_feedback_while_typing(signed_in, sandbox):
    client = signed_in("user")
    response = client.post(f"{PAGE}/strength", {"new_password": "abc"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    content = response.content.decode()
    assert "<html" not in content and 'id="strength"' in content
    assert "Too weak" in content and "9 more" in content
    strong = client.post(f"{PAGE}/strength", {"new_password": NEW}, headers={"HX-Request": "true"}).content.decode()
    assert "Very strong" in strong
    assert sandbox.requests == []


def test_two_factor_account_is_asked_for_the_code(signed_in_totp, sandbox):
    client = signed_in_totp()
    theo = persona("totp_user")
    assert 'name="code"' in client.get(PAGE).content.decode()
    response = change(client, theo.password, code=totp_code(sandbox), with_code="1")
    assert response.status_code == 302
    assert basic_api("GET", "/api/account/auth", theo.name, f"{NEW}${totp_code(sandbox)}").status_code == 200
    assert sandbox.get(theo.name).secrets[0].startswith("otpauth://")  # two-factor stays on


def test_402_brings_the_code_field(signed_in_totp, sandbox):
    """A form sent without the code (the page did not know) gets the code step."""
    client = signed_in_totp()
    theo = persona("totp_user")
    response = change(client, theo.password)
    assert response.status_code == 401
    content = response.content.decode()
    assert "enter the code from your authenticator app as well" in content
    assert 'name="code"' in content and 'name="with_code" value="1"' in content
    assert [p.status for p in account_posts(sandbox)] == [402]
    assert client.get("/account/security/").status_code == 200  # still signed in
    assert change(client, theo.password, code=totp_code(sandbox), with_code="1").status_code == 302


def test_two_factor_wrong_code(signed_in_totp, sandbox):
    client = signed_in_totp()
    wrong = str((int(totp_code(sandbox)) + 500_000) % 1_000_000).zfill(6)
    response = change(client, persona("totp_user").password, code=wrong, with_code="1")
    assert response.status_code == 401
    assert field_errors(response, "code")[0].startswith("That code is not correct")
    assert field_errors(response, "password") == []
