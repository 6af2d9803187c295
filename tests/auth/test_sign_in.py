import re

import pyotp
import pytest

from portal.auth.session import IDENTITY_KEY, PENDING_KEY
from tests.conftest import persona, sign_in


def token_requests(sandbox):
    """Token calls since sign-in (the fixture clears the log after it): refreshes."""
    return [r for r in sandbox.requests if r.method == "POST" and r.path == "/auth/token"]


def test_sign_in_page_renders(client, sandbox):
    response = client.get("/auth/sign-in")
    assert response.status_code == 200
    assert b'name="username"' in response.content and b'name="password"' in response.content
    assert sandbox.requests == []


def test_admin_lands_on_accounts(client, sandbox):
    response = sign_in(client, "admin")
    assert response.status_code == 302
    assert response.url == "/directory/accounts/"
    page = client.get(response.url)
    assert page.status_code == 200
    assert b"Accounts" in page.content


def test_plain_user_lands_on_their_account(client, sandbox):
    response = sign_in(client, "user")
    assert response.url == "/account/security/"  # the Security page of "My account"
    assert client.get(response.url).status_code == 200
    assert client.get("/account/").status_code == 200


def test_session_holds_no_plain_tokens_and_rotates_key(client, sandbox):
    client.get("/auth/sign-in")
    before = client.cookies.get("portal_session")
    sign_in(client, "admin")
    after = client.cookies["portal_session"].value
    assert before is None or before.value != after
    data = client.session[IDENTITY_KEY]
    assert data["name"] == persona("admin").name
    assert "individual-list" in data["permissions"]
    assert data["version"] == "0.11.8"
    stored = repr(dict(client.session))
    assert persona("admin").password not in stored
    assert data["access"] and data["access"] not in [t for t in sandbox.tokens]


def test_wrong_password_keeps_the_name(client, sandbox):
    response = client.post("/auth/sign-in", {"username": "Admin ", "password": "wrong"})
    assert response.status_code == 401
    assert b"account name or password is not correct" in response.content
    assert b'value="Admin "' in response.content  # kept as typed
    assert b"wrong" not in response.content
    assert IDENTITY_KEY not in client.session


def test_missing_fields_are_reported(client, sandbox):
    response = client.post("/auth/sign-in", {"username": "", "password": ""})
    assert response.status_code == 200
    assert response.content.count(b"This field is required.") == 2
    assert sandbox.requests == []


def test_totp_step_does_not_ask_for_the_password_again(client, sandbox):
    who = persona("totp_user")
    response = sign_in(client, who)
    assert response.status_code == 200
    assert b"Two-factor code" in response.content
    assert b'name="password"' not in response.content
    assert who.password.encode() not in response.content
    # The password is held server-side only, sealed.
    assert who.password not in repr(dict(client.session))
    assert PENDING_KEY in client.session

    wrong = client.post("/auth/sign-in", {"step": "totp", "code": "000000"})
    assert wrong.status_code == 401
    assert b"code is not correct" in wrong.content

    code = pyotp.TOTP(totp_secret()).now()
    done = client.post("/auth/sign-in", {"step": "totp", "code": code})
    assert done.status_code == 302
    assert IDENTITY_KEY in client.session and PENDING_KEY not in client.session


def test_totp_code_must_be_digits(client, sandbox):
    sign_in(client, "totp_user")
    sandbox.requests.clear()
    response = client.post("/auth/sign-in", {"step": "totp", "code": "12ab"})
    assert b"6 to 8 digits" in response.content
    assert sandbox.requests == []


def test_totp_step_expires(client, sandbox, settings):
    sign_in(client, "totp_user")
    settings.SIGNIN_TOTP_STEP_SECONDS = -1
    response = client.post("/auth/sign-in", {"step": "totp", "code": "123456"})
    assert response.status_code == 302 and response.url == "/auth/sign-in"
    assert PENDING_KEY not in client.session


def test_account_without_oauth_permission_gets_a_clear_message(client, sandbox):
    response = sign_in(client, "no_oauth")
    assert response.status_code == 403
    assert b"authenticate-oauth" in response.content


def test_old_server_is_refused(client, sandbox, monkeypatch):
    monkeypatch.setattr(sandbox, "version", "0.10.7")
    response = sign_in(client, "admin")
    assert b"needs Stalwart 0.11 or newer" in response.content
    assert b"0.10.7" in response.content
    assert IDENTITY_KEY not in client.session


def test_unreachable_server(client, sandbox, settings, closed_port):
    settings.STALWART_URL = f"http://127.0.0.1:{closed_port}"
    response = sign_in(client, "admin")
    assert response.status_code == 502
    assert b"could not be reached" in response.content


def test_next_is_kept_through_sign_in(client, sandbox):
    response = client.get("/directory/groups/?q=sales")
    assert response.status_code == 302
    assert response.url == "/auth/sign-in?next=%2Fdirectory%2Fgroups%2F%3Fq%3Dsales"
    page = client.get(response.url)
    assert b'name="next" value="/directory/groups/?q=sales"' in page.content
    done = sign_in(client, "admin", next_url="/directory/groups/?q=sales")
    assert done.url == "/directory/groups/?q=sales"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x"])
def test_next_never_leaves_the_portal(client, sandbox, target):
    done = sign_in(client, "admin", next_url=target)
    assert done.url == "/directory/accounts/"


def test_sign_out_clears_the_session(signed_in, sandbox):
    client = signed_in("admin")
    response = client.post("/auth/sign-out")
    assert response.status_code == 302
    assert IDENTITY_KEY not in client.session
    assert client.get("/directory/accounts/").status_code == 302


def test_sign_out_needs_post(signed_in):
    client = signed_in("admin")
    assert client.get("/auth/sign-out").status_code == 405


def test_token_is_refreshed_before_it_expires(signed_in, sandbox, settings):
    client = signed_in("admin")
    old_access = client.session[IDENTITY_KEY]["access"]
    # Pretend the token is about to expire.
    session = client.session
    session[IDENTITY_KEY] = {**session[IDENTITY_KEY], "expires_at": 0}
    session.save()
    response = client.get("/directory/accounts/")
    assert response.status_code == 200
    assert len(token_requests(sandbox)) == 1
    assert client.session[IDENTITY_KEY]["access"] != old_access
    assert client.session[IDENTITY_KEY]["expires_at"] > 0


def test_expired_token_refreshed_and_request_retried(signed_in, sandbox):
    client = signed_in("admin")
    sandbox.advance(2 * 3600)  # Stalwart now refuses the access token (401)
    response = client.get("/directory/accounts/")
    assert response.status_code == 200
    assert len(token_requests(sandbox)) == 1


def test_refresh_failure_sends_to_sign_in_with_next(signed_in, sandbox):
    client = signed_in("admin")
    sandbox.advance(40 * 86400)  # access and refresh tokens both expired
    response = client.get("/directory/groups/?page=2")
    assert response.status_code == 302
    assert response.url.startswith("/auth/sign-in?next=")
    assert IDENTITY_KEY not in client.session
    follow = client.get(response.url)
    assert b"session has ended" in follow.content


def test_refresh_failure_on_htmx_request_redirects_the_page(signed_in, sandbox):
    client = signed_in("admin")
    sandbox.advance(40 * 86400)
    response = client.get(
        "/directory/accounts/?q=x",
        headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/directory/accounts/"},
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == "/auth/sign-in?next=%2Fdirectory%2Faccounts%2F"


def totp_secret():
    import sandbox.seed as seed

    for name in ("TOTP_SECRET", "TOTP_USER_SECRET"):
        if hasattr(seed, name):
            return getattr(seed, name)
    entry = seed.PERSONAS["totp_user"]
    secret = entry.get("totp_secret") if isinstance(entry, dict) else getattr(entry, "totp_secret", None)
    assert secret and re.fullmatch(r"[A-Z2-7]+=*", secret)
    return secret
