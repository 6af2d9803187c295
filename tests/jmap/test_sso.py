"""The redirect flow (STALWART_SSO) on Stalwart 0.16: the server's own sign-in page, then back.

The sandbox has no /login page; the test does what that page does (v0.16 jmap-management.md
§1.1): it posts the credentials to /api/auth with the portal's client id, redirect URI and
PKCE challenge from the address the portal sent the browser to, then follows the redirect
back with the code and the state.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.conf import settings as django_settings

from portal.auth.session import IDENTITY_KEY
from tests.conftest import persona


@pytest.fixture(autouse=True)
def _sso_on(settings):
    settings.STALWART_SSO = True


def server_login(location: str, who: str) -> str:
    """What the server's /login page does: /api/auth with the request's parameters; the code."""
    query = {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}
    p = persona(who)
    answer = httpx.post(
        django_settings.STALWART_URL + "/api/auth",
        json={
            "type": "authCode",
            "accountName": p.name,
            "accountSecret": p.password,
            "clientId": query["client_id"],
            "redirectUri": query["redirect_uri"],
            "codeChallenge": query["code_challenge"],
            "codeChallengeMethod": query["code_challenge_method"],
            "state": query["state"],
        },
    ).json()
    assert answer["type"] == "authenticated"
    return answer["client_code"]


def test_the_sign_in_page_offers_it(client, sandbox):
    page = client.get("/auth/sign-in?next=/directory/accounts/").content.decode()
    assert 'href="/auth/sso/start?next=%2Fdirectory%2Faccounts%2F"' in page


def test_round_trip_through_the_servers_page(client, sandbox):
    start = client.get("/auth/sso/start?next=/directory/accounts/")
    assert start.status_code == 302
    location = start["Location"]
    assert location.startswith(django_settings.STALWART_URL + "/login?")
    query = parse_qs(urlsplit(location).query)
    assert query["redirect_uri"] == ["http://testserver/auth/sso/callback"]
    assert query["code_challenge_method"] == ["S256"] and query["client_id"] == ["stalwart-portal"]
    code = server_login(location, "helpdesk")

    done = client.get("/auth/sso/callback", {"code": code, "state": query["state"][0]})
    assert done.status_code == 302 and done["Location"] == "/directory/accounts/"
    identity = client.session[IDENTITY_KEY]
    assert identity["generation"] == "jmap" and identity["name"] == "hannah.becker@example.org"
    assert "individual-list" in identity["permissions"]
    assert client.get("/directory/accounts/").status_code == 200


def test_a_wrong_state_is_refused_and_the_code_not_used(client, sandbox):
    start = client.get("/auth/sso/start")
    code = server_login(start["Location"], "admin")
    sandbox.requests.clear()
    refused = client.get("/auth/sso/callback", {"code": code, "state": "forged"})
    assert refused.status_code == 302 and refused["Location"] == "/auth/sign-in"
    assert IDENTITY_KEY not in client.session
    assert [r for r in sandbox.requests if r.path == "/auth/token"] == []
    # The pending sign-in is used up: the right state does not work afterwards either.
    state = parse_qs(urlsplit(start["Location"]).query)["state"][0]
    again = client.get("/auth/sso/callback", {"code": code, "state": state})
    assert again.status_code == 302 and IDENTITY_KEY not in client.session


def test_a_code_that_fails_the_exchange_is_explained(client, sandbox):
    start = client.get("/auth/sso/start")
    state = parse_qs(urlsplit(start["Location"]).query)["state"][0]
    done = client.get("/auth/sso/callback", {"code": "not-a-code", "state": state})
    assert done.status_code == 302
    page = client.get(done["Location"]).content.decode()
    assert "refused to open a session" in page
    assert IDENTITY_KEY not in client.session


def test_off_by_default_and_on_rest_servers(client, sandbox, sandbox_server, settings):
    settings.STALWART_SSO = False
    assert "sso/start" not in client.get("/auth/sign-in").content.decode()
    assert client.get("/auth/sso/start")["Location"] == "/auth/sign-in"
    settings.STALWART_SSO = True
    rest, url = sandbox_server
    settings.STALWART_URL = url
    assert client.get("/auth/sso/start")["Location"] == "/auth/sign-in"
