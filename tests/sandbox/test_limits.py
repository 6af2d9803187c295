"""Rate limits and the authentication fail2ban (spec §2.5, §19 H)."""

from __future__ import annotations

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
    # later attempts are refused, even with the right password
    assert ce.get("/api/principal/x").status_code == 429
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
