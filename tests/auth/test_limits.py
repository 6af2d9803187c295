"""Sign-in throttling and session lifetimes."""

import time

from portal.auth.session import IDENTITY_KEY
from tests.conftest import persona, sign_in


def test_failed_sign_ins_are_throttled_per_account(client, sandbox, settings):
    settings.SIGNIN_MAX_FAILURES_PER_ACCOUNT = 3
    for _ in range(3):
        assert client.post("/auth/sign-in", {"username": "jane.doe", "password": "nope"}).status_code == 401
    sandbox.requests.clear()
    blocked = client.post("/auth/sign-in", {"username": "jane.doe", "password": persona("user").password})
    assert blocked.status_code == 429
    assert b"Too many failed sign-ins" in blocked.content
    assert sandbox.requests == []  # Stalwart is not even asked
    # Another account from the same address is not affected by this counter.
    assert sign_in(client, "admin").status_code == 302


def test_failed_sign_ins_are_throttled_per_address(client, sandbox, settings):
    settings.SIGNIN_MAX_FAILURES_PER_IP = 2
    client.post("/auth/sign-in", {"username": "a.one", "password": "x"})
    client.post("/auth/sign-in", {"username": "b.two", "password": "x"})
    assert sign_in(client, "admin").status_code == 429


def test_successful_sign_ins_are_not_counted(client, sandbox, settings):
    settings.SIGNIN_MAX_FAILURES_PER_ACCOUNT = 1
    for _ in range(3):
        assert sign_in(client, "admin").status_code == 302


def test_stalwart_rate_limit_is_explained(client, sandbox):
    # Stalwart bans an address after 100 failed logins (fail2ban); the portal's
    # own throttle is raised here so that Stalwart's answer shows.
    from django.test import override_settings

    with override_settings(SIGNIN_MAX_FAILURES_PER_ACCOUNT=1000, SIGNIN_MAX_FAILURES_PER_IP=1000):
        for _ in range(101):
            response = client.post("/auth/sign-in", {"username": "admin", "password": "wrong"})
            if response.status_code == 429:
                break
    assert response.status_code == 429
    assert b"refusing sign-ins" in response.content


def _age_session(client, **changes):
    session = client.session
    session[IDENTITY_KEY] = {**session[IDENTITY_KEY], **changes}
    session.save()


def test_idle_sessions_end(signed_in, client, settings):
    signed_in("admin")
    _age_session(client, seen_at=time.time() - settings.SESSION_IDLE_TIMEOUT - 5)
    response = client.get("/directory/accounts/")
    assert response.status_code == 302 and response.url.startswith("/auth/sign-in")
    assert IDENTITY_KEY not in client.session


def test_sessions_end_after_their_lifetime(signed_in, client, settings):
    signed_in("admin")
    _age_session(client, signed_in_at=time.time() - settings.SESSION_COOKIE_AGE - 5)
    assert client.get("/directory/accounts/").status_code == 302


def test_activity_keeps_the_session(signed_in, client):
    signed_in("admin")
    _age_session(client, seen_at=time.time() - 600)
    assert client.get("/directory/accounts/").status_code == 200
    assert time.time() - client.session[IDENTITY_KEY]["seen_at"] < 5


def test_ended_sessions_say_so(signed_in, client, settings):
    signed_in("admin")
    _age_session(client, seen_at=time.time() - settings.SESSION_IDLE_TIMEOUT - 5)
    response = client.get("/directory/accounts/", follow=True)
    assert b"Your session has ended" in response.content


def test_sessions_signed_in_before_a_password_change_end(signed_in, client, sandbox):
    from asgiref.sync import async_to_sync
    from django.test import Client

    from portal.auth.session import credentials_changed

    signed_in("user")
    other = Client()
    assert sign_in(other, "admin").status_code == 302
    async_to_sync(credentials_changed)("  Jane.Doe ")  # as Stalwart does: trimmed, lowercased
    sandbox.requests.clear()
    response = client.get("/directory/accounts/")
    assert response.status_code == 302 and response.url.startswith("/auth/sign-in?next=")
    assert sandbox.requests == []  # ended before any upstream call
    assert IDENTITY_KEY not in client.session
    page = client.get(response.url).content.decode()
    assert "Your password was changed. Sign in again with your new password." in page
    assert "Your session has ended" not in page
    assert other.get("/directory/accounts/").status_code == 200  # another account's session stays

    # A sign-in after the change is not affected.
    assert sign_in(client, "user").status_code == 302
    assert client.get("/account/security/").status_code == 200


def test_the_sign_in_page_and_home_explain_a_password_change(signed_in, client):
    from asgiref.sync import async_to_sync

    from portal.auth.session import credentials_changed

    signed_in("user")
    async_to_sync(credentials_changed)("jane.doe")
    home = client.get("/", follow=True)
    assert "Your password was changed" in home.content.decode()
    assert IDENTITY_KEY not in client.session
