"""Sign-in on Stalwart 0.16: generation detection, /api/auth with PKCE, TOTP, permissions."""

from __future__ import annotations

import asyncio

import pyotp
import pytest
from django.test import Client

from portal.auth.session import IDENTITY_KEY, PENDING_KEY
from portal.stalwart import generation
from portal.stalwart.jmap import permissions as jmap_permissions
from sandbox.seed import TOTP_SECRET
from tests.conftest import persona, sign_in


def paths(sandbox) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in sandbox.requests]


def test_generation_is_asked_once_per_server_and_kept(sandbox, sandbox_server, settings):
    assert asyncio.run(generation.detect()) == "jmap"
    assert paths(sandbox) == [("GET", "/api/discover/probe@example.invalid")]
    assert sandbox.requests[0].auth_scheme is None  # unauthenticated
    sandbox.requests.clear()
    assert asyncio.run(generation.detect()) == "jmap"
    assert sandbox.requests == []  # cached for this server URL

    rest, rest_url = sandbox_server
    settings.STALWART_URL = rest_url
    rest.requests.clear()
    assert asyncio.run(generation.detect()) == "rest"  # another URL: asked again
    assert [(r.path, r.status) for r in rest.requests] == [("/api/discover/probe@example.invalid", 401)]


@pytest.mark.parametrize("forced", ["rest", "jmap"])
def test_the_setting_forces_the_generation(sandbox, settings, forced):
    settings.STALWART_API = forced
    assert asyncio.run(generation.detect()) == forced
    assert sandbox.requests == []


def test_an_unreachable_server_is_a_transport_error(settings, closed_port):
    settings.STALWART_URL = f"http://127.0.0.1:{closed_port}"
    from portal.stalwart import errors

    with pytest.raises(errors.StalwartUnavailable):
        asyncio.run(generation.detect())


def test_admin_signs_in_with_pkce_and_the_session_records_the_generation(client, sandbox):
    response = sign_in(client, "admin")
    assert response.status_code == 302
    steps = paths(sandbox)
    assert steps[:3] == [
        ("GET", "/api/discover/probe@example.invalid"),
        ("POST", "/api/auth"),
        ("POST", "/auth/token"),
    ]
    assert ("GET", "/api/account") in steps
    identity = client.session[IDENTITY_KEY]
    assert identity["generation"] == "jmap"
    assert identity["name"] == "admin@example.org"  # the server's spelling of the login
    # Every <= 0.15 rule permission that has a 0.16 equivalent is held by the administrator.
    assert {"individual-list", "individual-create", "domain-get", "tenant-list", "manage-passwords"} <= set(
        identity["permissions"]
    )


def test_permissions_come_from_the_account_and_gate_pages(client, sandbox):
    assert sign_in(client, "user").status_code == 302
    held = set(client.session[IDENTITY_KEY]["permissions"])
    assert "individual-list" not in held and "authenticate" in held
    sandbox.requests.clear()
    refused = client.get("/directory/accounts/")
    assert refused.status_code == 403
    assert sandbox.requests == []  # refused before any upstream call

    client = Client()
    assert sign_in(client, "helpdesk").status_code == 302
    held = set(client.session[IDENTITY_KEY]["permissions"])
    assert {"individual-list", "individual-get", "individual-update"} <= held
    assert "individual-delete" not in held and "tenant-list" not in held


def test_wrong_password_is_refused_like_on_rest(client, sandbox):
    response = client.post("/auth/sign-in", {"step": "password", "username": "admin", "password": "nope"})
    assert response.status_code == 401
    assert b"account name or password is not correct" in response.content
    assert IDENTITY_KEY not in client.session


def test_totp_step_sends_the_code_as_mfa_token(client, sandbox):
    who = persona("totp_user")
    response = sign_in(client, who)
    assert response.status_code == 200
    assert b"Two-factor code" in response.content
    assert PENDING_KEY in client.session

    wrong = client.post("/auth/sign-in", {"step": "totp", "code": "000000"})
    assert wrong.status_code == 401
    assert b"code is not correct" in wrong.content

    done = client.post("/auth/sign-in", {"step": "totp", "code": pyotp.TOTP(TOTP_SECRET).now()})
    assert done.status_code == 302, done.content[:500]
    assert client.session[IDENTITY_KEY]["generation"] == "jmap"
    assert PENDING_KEY not in client.session


def test_an_unregistered_client_is_explained(client, sandbox):
    sandbox.settings["oauth.require-client-registration"] = "true"
    response = sign_in(client, "user")
    assert response.status_code == 502
    assert b"OAuth client settings" in response.content


def test_a_server_upgraded_under_a_live_session_asks_for_a_new_sign_in(client, sandbox, sandbox_server, settings):
    rest, rest_url = sandbox_server
    rest.reset()
    jmap_url = settings.STALWART_URL
    settings.STALWART_URL = rest_url
    assert sign_in(client, "admin").status_code == 302
    assert client.session[IDENTITY_KEY]["generation"] == "rest"

    settings.STALWART_URL = jmap_url  # the same address now answers as 0.16
    response = client.get("/directory/accounts/")
    assert response.status_code == 302
    assert response["Location"].startswith("/auth/sign-in")
    assert IDENTITY_KEY not in client.session
    page = client.get(response["Location"])
    assert b"upgraded or replaced" in page.content

    assert sign_in(client, "admin").status_code == 302
    assert client.session[IDENTITY_KEY]["generation"] == "jmap"
    assert client.get("/directory/accounts/").status_code == 200


def test_mapping_holds_a_rest_permission_only_with_all_its_replacements():
    enum = ("authenticate", "sysAccountQuery", "sysAccountGet", "sysQueuedMessageUpdate", "actionPauseMtaQueue",
            "actionResumeMtaQueue", "emailSend")
    rest = ("individual-list", "individual-get", "message-queue-update", "email-send", "authenticate-oauth", "restart")
    held = jmap_permissions.as_rest(["sysAccountQuery", "sysQueuedMessageUpdate", "emailSend", "unknownThing"], enum,
                                    rest)
    assert held == {"individual-list", "email-send"}
    # A replacement this server's enum does not have is not required (a later release renamed it).
    assert "message-queue-update" in jmap_permissions.as_rest(
        ["sysQueuedMessageUpdate"], ("sysQueuedMessageUpdate",), rest
    )
    # Holding the whole enum is being an administrator: every rule permission, 0.16 equivalent or not.
    assert jmap_permissions.as_rest(enum, enum, rest) == set(rest)


def test_the_sign_in_throttle_applies_unchanged(client, sandbox, settings):
    settings.SIGNIN_MAX_FAILURES = 3
    for _ in range(3):
        wrong = client.post("/auth/sign-in", {"step": "password", "username": "jane.doe", "password": "nope"})
        assert wrong.status_code == 401
    sandbox.requests.clear()
    blocked = client.post("/auth/sign-in", {"step": "password", "username": "jane.doe", "password": "nope"})
    assert blocked.status_code == 429 and blocked["Retry-After"]
    assert [r for r in sandbox.requests if r.path == "/api/auth"] == []  # not forwarded to Stalwart


def test_an_expired_token_is_refreshed_as_today(client, sandbox):
    import time

    assert sign_in(client, "admin").status_code == 302
    session = client.session
    identity = dict(session[IDENTITY_KEY])
    identity["expires_at"] = time.time() - 1
    session[IDENTITY_KEY] = identity
    session.save()
    sandbox.requests.clear()
    response = client.get("/directory/accounts/")
    assert response.status_code == 200
    assert [(r.method, r.path) for r in sandbox.requests] == [("POST", "/auth/token"), ("POST", "/jmap/")]
    assert client.session[IDENTITY_KEY]["expires_at"] > time.time()


def test_someone_elses_grants_count_with_one_replacement():
    rest = ("manage-passwords", "individual-list")
    partial = ["sysAccountPasswordGet"]  # one of the several that replaced manage-passwords
    assert jmap_permissions.as_rest(partial, (), rest) == set()
    assert jmap_permissions.as_rest(partial, (), rest, any_of=True) == {"manage-passwords"}
