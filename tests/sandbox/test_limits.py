"""Rate limits and the authentication fail2ban (spec §2.5, §19 H)."""

from __future__ import annotations

import httpx
import pytest

from sandbox.config_seed import DEMO_SETTINGS

from .helpers import basic

TOO_MANY_AUTH = {
    "type": "about:blank",
    "status": 429,
    "title": "Too Many Authentication Attempts",
    "detail": "Your request has been rate limited. Please try again in a few minutes.",
}


def test_failed_logins_ban_the_ip(ce):
    for _ in range(100):
        assert ce.get("/api/principal/x", auth=basic("admin", "wrong")).status_code == 401
    r = ce.get("/api/principal/x", auth=basic("admin", "wrong"))
    assert (r.status_code, r.json()) == (429, TOO_MANY_AUTH)
    assert ce.sb.settings["server.blocked-ip.127.0.0.1"] == ""
    # later requests are refused, even with the right password: the listener drops the
    # connection of a banned address without an answer
    with pytest.raises(httpx.TransportError):
        ce.get("/api/principal/x")
    ce.sb.reset()
    assert ce.get("/api/principal/x").json() == {"error": "notFound", "item": "x"}


def test_correct_logins_are_not_limited(ce):
    for _ in range(150):
        assert ce.get("/api/principal/x").status_code == 200


def test_anonymous_rate_limit(ce):
    for _ in range(100):
        assert ce.get("/api/principal", auth=None).status_code == 401
    r = ce.get("/api/principal", auth=None)
    assert r.status_code == 429 and r.json()["title"] == "Too Many Requests"
    ce.sb.advance(60)
    assert ce.get("/api/principal", auth=None).status_code == 401


def test_account_rate_limit_spares_unlimited_requests(ce):
    # the user role lacks unlimited-requests: 1000 per minute
    ce.sb.rate_counters[(("account", ce.sb.get("jane.doe").id), ce.sb.now() // 60)] = 1000
    r = ce.get("/api/principal/x", auth="user")
    assert r.status_code == 429 and r.json()["title"] == "Too Many Requests"
    ce.sb.rate_counters[(("account", ce.sb.get("admin").id), ce.sb.now() // 60)] = 5000
    assert ce.get("/api/principal/x").status_code == 200


def test_limits_can_be_disabled():
    from sandbox import Sandbox
    from sandbox.limits import authentication_failed

    sb = Sandbox(seed="empty", rate_limits=False)
    for _ in range(200):
        authentication_failed(sb, "127.0.0.1", "admin")
    assert not any(k.startswith("server.blocked-ip") for k in sb.settings)


def _fail(env, login="admin", times=1, forwarded_for=None):
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return [env.get("/api/principal/x", auth={**basic(login, "wrong"), **headers}).status_code for _ in range(times)]


def _banned(env) -> set[str]:
    """The addresses banned since the seed (the demo seed blocks one of its own)."""
    keys = set(env.sb.settings) - set(DEMO_SETTINGS)
    return {key.removeprefix("server.blocked-ip.") for key in keys if key.startswith("server.blocked-ip.")}


def test_the_ban_counts_per_login_too(ce):
    ce.sb.settings["server.auto-ban.auth.rate"] = "5/1d"
    assert ce.sb.settings["server.http.use-x-forwarded"] == "true"  # as the demo seed has it
    # five addresses, one failure each against the same login: the login's count is at the rate
    for number in range(5):
        assert _fail(ce, "jane.doe", forwarded_for=f"192.0.2.{number + 1}") == [401]
    assert _fail(ce, "jane.doe", forwarded_for="192.0.2.9") == [429]
    assert _banned(ce) == {"192.0.2.9"}


def test_the_rate_is_a_setting(ce):
    ce.sb.settings["server.auto-ban.auth.rate"] = "3/1h"
    assert _fail(ce, times=4) == [401, 401, 401, 429]
    assert _banned(ce) == {"127.0.0.1"}


def test_an_unreadable_rate_turns_the_ban_off(ce):
    ce.sb.settings["server.auto-ban.auth.rate"] = "false"
    assert set(_fail(ce, times=120)) == {401}
    assert _banned(ce) == set()


@pytest.mark.parametrize("listed", ["127.0.0.1", "127.0.0.0/8"])
def test_allowed_addresses_are_never_banned(ce, listed):
    ce.sb.settings["server.auto-ban.auth.rate"] = "3/1d"
    ce.sb.settings[f"server.allowed-ip.{listed}"] = ""
    assert set(_fail(ce, times=20)) == {401}
    assert _banned(ce) == set()
    assert ce.get("/api/principal/x").status_code == 200


def test_forwarded_addresses_are_banned_when_the_server_trusts_the_header(ce):
    ce.sb.settings["server.auto-ban.auth.rate"] = "3/1d"
    assert _fail(ce, times=4, forwarded_for="198.51.100.7, 10.0.0.1") == [401, 401, 401, 429]
    assert _banned(ce) == {"198.51.100.7"}
    # the banned client gets an empty 403; the proxy itself and other clients go on
    refused = ce.get("/api/principal/x", headers={"X-Forwarded-For": "198.51.100.7"})
    assert (refused.status_code, refused.content) == (403, b"")
    assert ce.get("/api/principal/x", headers={"X-Forwarded-For": "198.51.100.8"}).status_code == 200
    assert ce.get("/api/principal/x").status_code == 200
    # the RFC 7239 header is read first
    assert ce.get("/api/principal/x", headers={"Forwarded": 'for="198.51.100.7"'}).status_code == 403


def test_forwarded_headers_are_ignored_unless_the_server_trusts_them(ce, v12):
    for env in (ce, v12):
        env.sb.settings["server.auto-ban.auth.rate"] = "2/1d"
        # the v0.12 name on v0.11 and the v0.11 name on v0.12 mean nothing
        env.sb.settings.pop("server.http.use-x-forwarded", None)
        env.sb.settings["http.use-x-forwarded" if env is ce else "server.http.use-x-forwarded"] = "true"
        assert _fail(env, times=3, forwarded_for="198.51.100.7") == [401, 401, 429]
        assert _banned(env) == {"127.0.0.1"}
    v12.sb.reset()
    v12.sb.settings["server.auto-ban.auth.rate"] = "2/1d"
    v12.sb.settings["http.use-x-forwarded"] = "true"
    assert _fail(v12, times=3, forwarded_for="198.51.100.7") == [401, 401, 429]
    assert _banned(v12) == {"198.51.100.7"}
