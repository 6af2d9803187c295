"""150 wrong sign-ins through the portal: throttled with 429, Stalwart bans nobody, the real user
gets in from elsewhere. The attack is loadtest/signin_attack.py's, against the portal under
uvicorn (which takes the attacker's address from X-Forwarded-For, sent by 127.0.0.1, a trusted
proxy) and the sandbox, whose auth auto-ban is Stalwart's: 100 failures a day per address and
per login."""

import pytest
from django.test import override_settings

from loadtest.signin_attack import ATTACKER_ADDRESS, USER_ADDRESS, attack
from tests.asgi_server import portal_asgi_server

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("stalwart_sees", ["portal", "client"])
def test_one_address_guessing_one_account(sandbox, settings, stalwart_sees):
    with portal_asgi_server() as portal_url:
        result = attack(portal_url, settings.STALWART_URL, attempts=150, stalwart_sees=stalwart_sees)
    assert result.answers[429] >= 100 and set(result.answers) == {401, 429}, result.lines()
    assert result.banned == set() and not result.stalwart_unreachable, result.lines()
    assert result.user_status == 302, result.lines()
    # The addresses Stalwart counted: the portal's, or those uvicorn took from the trusted proxy.
    counted = {r.address for r in sandbox.requests if r.path == "/api/oauth"}
    assert counted == ({"127.0.0.1"} if stalwart_sees == "portal" else {ATTACKER_ADDRESS, USER_ADDRESS})


@pytest.mark.parametrize("mode", ["spray", "distributed"])
def test_other_attacks_never_get_anyone_banned(sandbox, settings, mode):
    with portal_asgi_server() as portal_url:
        result = attack(portal_url, settings.STALWART_URL, attempts=150, mode=mode, stalwart_sees="portal")
    assert result.ok and result.answers[429] >= 50, result.lines()
    if mode == "spray":
        assert result.user_status == 302, result.lines()
    else:
        # The trade-off: guesses at one account from ever new addresses use up what Stalwart
        # allows for that login; the portal then refuses everyone (and says until when)
        # rather than let Stalwart ban whoever fails next.
        assert result.user_status == 429 and "Try again at" in result.user_page, result.lines()


def test_without_the_throttle_stalwart_bans_the_portal(sandbox, settings):
    """The control: the same attack with the portal's budget lifted gets its address banned."""
    lifted = {
        "SIGNIN_MAX_FAILURES": 1000,
        "SIGNIN_MAX_FAILURES_PER_IP_PER_DAY": 1000,
        "SIGNIN_MAX_FAILURES_PER_ACCOUNT_PER_DAY": 1000,
        "SIGNIN_MAX_FAILURES_PER_DAY": 0,
        "STALWART_AUTH_BAN_RATE": 0,
    }
    with override_settings(**lifted), portal_asgi_server() as portal_url:
        result = attack(portal_url, settings.STALWART_URL, attempts=150, stalwart_sees="portal")
    assert result.stalwart_unreachable and "server.blocked-ip.127.0.0.1" in sandbox.settings, result.lines()
    assert result.user_status != 302
