"""Sign-in throttling and session lifetimes."""

import time

from django.core.cache import cache
from django.test import Client

from portal.auth.session import IDENTITY_KEY
from tests.conftest import persona, sign_in

ATTACKER = "198.51.100.7"
USER_ADDRESS = "203.0.113.20"
THROTTLE_OFF = {
    "SIGNIN_MAX_FAILURES": 1000,
    "SIGNIN_MAX_FAILURES_PER_IP_PER_DAY": 1000,
    "SIGNIN_MAX_FAILURES_PER_ACCOUNT_PER_DAY": 1000,
    "SIGNIN_MAX_FAILURES_PER_DAY": 0,
    "STALWART_AUTH_BAN_RATE": 0,
}


def wrong(client, username="jane.doe", address=ATTACKER):
    return client.post("/auth/sign-in", {"username": username, "password": "nope"}, REMOTE_ADDR=address)


def right(client, who="user", address=ATTACKER):
    p = persona(who)
    return client.post("/auth/sign-in", {"username": p.name, "password": p.password}, REMOTE_ADDR=address)


def test_failed_sign_ins_are_throttled_per_address_and_account(client, sandbox, settings):
    settings.SIGNIN_MAX_FAILURES = 3
    for _ in range(3):
        assert wrong(client).status_code == 401
    sandbox.requests.clear()
    blocked = right(client)
    assert blocked.status_code == 429
    assert sandbox.requests == []  # Stalwart is not even asked
    page = blocked.content.decode()
    assert "Too many failed sign-ins" in page and "Try again at" in page and "in 15 minutes" in page
    assert 890 <= int(blocked["Retry-After"]) <= 900
    assert 'value="jane.doe"' in page  # the form keeps the name
    # Another account from the same address, and this account from another address, go on.
    assert right(client, "admin").status_code == 302
    assert right(Client(), address=USER_ADDRESS).status_code == 302


def test_each_further_pause_of_the_day_is_twice_as_long(client, sandbox, settings):
    from portal.auth.throttle import Subject

    settings.SIGNIN_MAX_FAILURES = 2
    for _ in range(2):
        assert wrong(client).status_code == 401
    assert 890 <= int(wrong(client)["Retry-After"]) <= 900
    # The pause and its window have passed (the cache forgets them as time would).
    pair = Subject("pair", ATTACKER, "jane.doe")
    cache.delete_many([pair.lock, *(pair.window(int(time.time() // 900)) for _ in range(1))])
    for _ in range(2):
        assert wrong(client).status_code == 401
    assert 1790 <= int(wrong(client)["Retry-After"]) <= 1800


def test_the_daily_cap_per_address_counts_every_account(client, sandbox, settings):
    settings.SIGNIN_MAX_FAILURES_PER_IP_PER_DAY = 2
    assert wrong(client, "a.one").status_code == 401
    assert wrong(client, "b.two").status_code == 401
    refused = right(client, "admin")
    assert refused.status_code == 429 and "Your network has used up its attempts" in refused.content.decode()
    assert int(refused["Retry-After"]) > 3600  # the oldest failure leaves the day in 24 hours
    assert right(Client(), "admin", address=USER_ADDRESS).status_code == 302


def test_an_attacker_cannot_lock_the_real_user_out_from_elsewhere(client, sandbox, settings):
    settings.SIGNIN_MAX_FAILURES_PER_ACCOUNT_PER_DAY = 3
    settings.SIGNIN_FRESH_ADDRESS_FAILURES = 2
    for _ in range(3):
        assert wrong(client).status_code == 401
    refused = wrong(client)
    assert refused.status_code == 429 and "This account has had too many failed attempts" in refused.content.decode()
    # The account is past its cap, yet an address that has not failed may still try.
    assert right(Client(), address=USER_ADDRESS).status_code == 302
    # ... a few times only.
    other = Client()
    assert [wrong(other, address="203.0.113.30").status_code for _ in range(3)] == [401, 401, 429]


def test_nobody_may_try_an_account_near_the_servers_ban_rate(client, sandbox, settings):
    settings.STALWART_AUTH_BAN_RATE = 5  # the portal stops at 4, under the server's 5
    settings.SIGNIN_MAX_FAILURES_PER_ACCOUNT_PER_DAY = 50
    for number in range(4):
        assert wrong(client, address=f"192.0.2.{number + 1}").status_code == 401
    sandbox.requests.clear()
    assert right(Client(), address=USER_ADDRESS).status_code == 429
    assert sandbox.requests == []


def test_the_portal_pauses_sign_ins_before_its_own_address_is_banned(client, sandbox, settings):
    settings.SIGNIN_MAX_FAILURES_PER_DAY = 2
    assert wrong(client, "a.one", address="192.0.2.1").status_code == 401
    assert wrong(client, "b.two", address="192.0.2.2").status_code == 401
    refused = right(client, "admin", address=USER_ADDRESS)
    assert refused.status_code == 429 and "The portal has paused sign-ins" in refused.content.decode()


def test_successful_sign_ins_are_not_counted(client, sandbox, settings):
    settings.SIGNIN_MAX_FAILURES = 1
    settings.SIGNIN_MAX_FAILURES_PER_DAY = 1
    for _ in range(3):
        assert sign_in(client, "admin").status_code == 302


def test_a_wrong_two_factor_code_counts(client, sandbox, settings):
    settings.SIGNIN_MAX_FAILURES = 1
    p = persona("totp_user")
    assert client.post("/auth/sign-in", {"username": p.name, "password": p.password}).status_code == 200
    assert client.post("/auth/sign-in", {"step": "totp", "code": "000000"}).status_code == 401
    sandbox.requests.clear()
    refused = client.post("/auth/sign-in", {"step": "totp", "code": "000001"})
    assert refused.status_code == 429 and sandbox.requests == []


def test_the_client_address_goes_to_stalwart(client, sandbox, settings):
    """With `use-x-forwarded` (the demo seed has it) Stalwart bans the client, not the portal."""
    for name, value in THROTTLE_OFF.items():
        setattr(settings, name, value)
    sandbox.settings["server.auto-ban.auth.rate"] = "3/1d"
    for _ in range(3):
        assert wrong(client).status_code == 401
    assert wrong(client).status_code == 429  # Stalwart's own answer: it banned the attacker
    assert "server.blocked-ip." + ATTACKER in sandbox.settings
    assert "server.blocked-ip.127.0.0.1" not in sandbox.settings
    sandbox.requests.clear()
    assert right(Client(), address=USER_ADDRESS).status_code == 302
    signing_in = [r for r in sandbox.requests if r.path in ("/api/oauth", "/auth/token")]
    assert [r.path for r in signing_in] == ["/api/oauth", "/auth/token"]
    assert {r.address for r in signing_in} == {USER_ADDRESS}  # the code exchange carries it too


def test_a_client_address_stalwart_banned_is_explained(client, sandbox):
    sandbox.settings["server.blocked-ip." + ATTACKER] = ""  # Stalwart trusts X-Forwarded-For (demo seed)
    refused = right(client)
    assert refused.status_code == 429
    assert "refuses sign-ins from your address for now" in refused.content.decode()
    assert right(Client(), address=USER_ADDRESS).status_code == 302


def test_stalwart_rate_limit_is_explained(client, sandbox):
    # Stalwart bans an address after 100 failed logins (fail2ban); the portal's
    # own throttle is raised here so that Stalwart's answer shows.
    from django.test import override_settings

    with override_settings(**THROTTLE_OFF):
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
