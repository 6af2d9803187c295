"""Authentication and the OAuth flow (spec §2, §3, §19 D)."""

from __future__ import annotations

import base64
import re

from sandbox.seed import PERSONAS, TOTP_APP_PASSWORD

from .helpers import basic, persona_auth

UNAUTHORIZED = {
    "type": "about:blank",
    "status": 401,
    "title": "Unauthorized",
    "detail": "You have to authenticate first.",
}
FORBIDDEN = {
    "type": "about:blank",
    "status": 403,
    "title": "Forbidden",
    "detail": "You do not have enough permissions to access this resource.",
}
CODE_REQUEST = {"type": "code", "client_id": "webadmin", "redirect_uri": "stalwart://auth", "nonce": "abcdefghij"}


def _code(env, persona="admin", **overrides):
    body = dict(CODE_REQUEST, **overrides)
    return env.data("POST", "/api/oauth", auth=persona, json=body)["code"]


def _token(env, **form):
    return env.client.post("/auth/token", data=form)


def _exchange(env, code, client_id="webadmin", redirect_uri="stalwart://auth"):
    return _token(env, grant_type="authorization_code", code=code, client_id=client_id, redirect_uri=redirect_uri)


def test_code_and_token_flow(ce):
    r = ce.post("/api/oauth", json=CODE_REQUEST)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    assert r.headers["cache-control"] == "no-store, no-cache, must-revalidate"
    data = r.json()["data"]
    assert re.fullmatch(r"[A-Za-z0-9]{40}", data["code"])
    assert data["version"] == "0.11.8"
    assert data["isEnterprise"] is False
    # bitset order: 63..0, then 127..64, then 180..128
    assert data["permissions"][:3] == ["webadmin-update", "spam-filter-update", "dkim-signature-get"]
    assert len(data["permissions"]) == 181
    assert data["permissions"].index("impersonate") == 63
    assert data["permissions"][64] == "imap-list-rights"
    assert data["permissions"][-1] == "imap-append"

    r = _exchange(ce, data["code"])
    assert r.status_code == 200, r.text
    tokens = r.json()
    assert set(tokens) == {"access_token", "token_type", "expires_in", "refresh_token", "id_token"}
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == 3600
    assert tokens["id_token"].count(".") == 2
    base64.b64decode(tokens["access_token"])  # standard base64

    r = ce.get("/api/principal?types=domain", auth={"Authorization": f"Bearer {tokens['access_token']}"})
    assert r.status_code == 200
    assert r.json()["data"]["total"] == 3
    assert ce.sb.requests[-1].auth_scheme == "Bearer"


def test_user_permissions_and_enterprise_flag(ee, v12):
    data = ee.data("POST", "/api/oauth", auth="user", json=CODE_REQUEST)
    assert data["isEnterprise"] is True
    assert "authenticate-oauth" in data["permissions"]
    assert "individual-list" not in data["permissions"]
    data12 = v12.data("POST", "/api/oauth", auth="admin", json=CODE_REQUEST)
    assert data12["version"] == "0.12.4"
    assert len(data12["permissions"]) == 223
    assert "dav-principal-list" in data12["permissions"]
    user12 = v12.data("POST", "/api/oauth", auth="user", json=CODE_REQUEST)["permissions"]
    assert "dav-cal-get" in user12 and "dav-principal-list" not in user12


def test_wrong_password_and_missing_credentials(ce, v12):
    for env in (ce, v12):
        r = env.get("/api/principal", auth=basic("admin", "wrong"))
        assert r.status_code == 401
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json() == UNAUTHORIZED
        r = env.get("/api/principal", auth=None)
        assert r.status_code == 401
        assert r.json() == UNAUTHORIZED
        r = env.get("/api/principal", auth=basic("nobody", "x"))
        assert r.status_code == 401
    assert "www-authenticate" not in ce.get("/api/principal", auth=None).headers
    assert v12.get("/api/principal", auth=None).headers.get_list("www-authenticate") == [
        'Bearer realm="Stalwart Server"',
        'Basic realm="Stalwart Server"',
    ]
    # A malformed or unknown token: 401 without the headers, even in v0.12
    r = v12.get("/api/principal", auth={"Authorization": "Bearer bm9wZQ=="})
    assert r.status_code == 401 and "www-authenticate" not in r.headers
    r = v12.get("/api/principal", auth={"Authorization": "Basic !!!"})
    assert r.status_code == 401 and "www-authenticate" not in r.headers
    r = v12.get("/api/principal", auth={"Authorization": "Digest abc"})
    assert r.status_code == 401 and "www-authenticate" not in r.headers


def test_basic_user_is_trimmed_and_lowercased(ce):
    p = PERSONAS["admin"]
    r = ce.get("/api/principal?types=domain", auth=basic("  ADMIN ", p["password"]))
    assert r.status_code == 200
    assert ce.sb.requests[-1].auth_scheme == "Basic"
    # A header without a space counts as missing
    assert ce.get("/api/principal", auth={"Authorization": "Basic"}).status_code == 401


def test_totp(ce):
    login = PERSONAS["totp_user"]["login"]
    password = PERSONAS["totp_user"]["password"]
    r = ce.post("/api/oauth", auth=basic(login, password), json=CODE_REQUEST)
    assert r.status_code == 402
    assert r.json() == {
        "type": "about:blank",
        "status": 402,
        "title": "TOTP code required",
        "detail": "A TOTP code is required to authenticate this account. "
        "Try authenticating again using 'secret$totp_token'.",
    }
    # wrong password without code: 401, not 402
    assert ce.post("/api/oauth", auth=basic(login, "nope"), json=CODE_REQUEST).status_code == 401
    r = ce.post("/api/oauth", auth=basic(login, f"{password}${ce.totp_code()}"), json=CODE_REQUEST)
    assert r.status_code == 200, r.text
    wrong = "000000" if ce.totp_code() != "000000" else "111111"
    r = ce.post("/api/oauth", auth=basic(login, f"{password}${wrong}"), json=CODE_REQUEST)
    assert r.status_code == 401
    # the previous step's code is still accepted (±1 step)
    import pyotp

    from sandbox.seed import TOTP_SECRET

    previous = pyotp.TOTP(TOTP_SECRET).at(ce.sb.now() - 30)
    assert ce.post("/api/oauth", auth=basic(login, f"{password}${previous}"), json=CODE_REQUEST).status_code == 200
    # app passwords bypass TOTP
    r = ce.post("/api/oauth", auth=basic(login, TOTP_APP_PASSWORD), json=CODE_REQUEST)
    assert r.status_code == 200


def test_code_is_single_use_and_bound_to_client(ce):
    code = _code(ce)
    r = _exchange(ce, code, client_id="other")
    assert (r.status_code, r.json()) == (400, {"error": "invalid_client"})
    r = _exchange(ce, code, redirect_uri="stalwart://other")
    assert (r.status_code, r.json()) == (400, {"error": "invalid_client"})
    assert _exchange(ce, code).status_code == 200
    r = _exchange(ce, code)
    assert (r.status_code, r.json()) == (400, {"error": "access_denied"})
    # a missing field is invalid_client, an unknown grant type invalid_grant
    r = _token(ce, grant_type="authorization_code", code=code, client_id="webadmin")
    assert r.json() == {"error": "invalid_client"}
    assert _token(ce, grant_type="password").json() == {"error": "invalid_grant"}
    # grant types are case-insensitive
    code = _code(ce, redirect_uri=None)
    r = _token(ce, grant_type="AUTHORIZATION_CODE", code=code, client_id="webadmin", redirect_uri="")
    assert r.status_code == 200


def test_code_expires_after_ten_minutes(ce):
    code = _code(ce)
    ce.sb.advance(601)
    assert _exchange(ce, code).json() == {"error": "access_denied"}


def test_oauth_request_validation(ce):
    r = ce.post("/api/oauth", json=dict(CODE_REQUEST, client_id="x" * 21))
    assert r.status_code == 200
    assert r.json() == {"error": "other", "details": "Client ID is invalid.", "reason": None}
    r = ce.post("/api/oauth", json=dict(CODE_REQUEST, redirect_uri="http://example.org/cb"))
    assert r.json() == {"error": "other", "details": "Redirect URI must be HTTPS.", "reason": None}
    r = ce.post("/api/oauth", content=b"{not json")
    assert r.status_code == 400
    assert r.json()["detail"] == "JSON deserialization failed"
    r = ce.post("/api/oauth", json={"type": "code"})
    assert r.status_code == 400
    r = ce.post("/api/oauth", auth="no_oauth", json=CODE_REQUEST)
    assert (r.status_code, r.json()) == (403, FORBIDDEN)
    # the no_oauth persona can still authenticate
    assert ce.get("/api/principal/x", auth="no_oauth").json() == {"error": "notFound", "item": "x"}


def test_token_endpoint_needs_content_type(ce):
    code = _code(ce)
    body = f"grant_type=authorization_code&code={code}&client_id=webadmin&redirect_uri=stalwart%3A%2F%2Fauth"
    r = ce.client.post("/auth/token", content=body.encode())
    assert r.status_code == 400
    assert r.json()["detail"] == "Invalid post request"
    r = ce.client.post("/auth/token", content=body.encode(), headers={"Content-Type": "text/plain;charset=UTF-8"})
    assert r.status_code == 200, r.text
    r = ce.client.post(
        "/auth/token",
        content=b"grant_type=refresh_token&" + b"x" * 3000,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 400 and r.json()["detail"] == "Invalid post request"


def test_refresh_grant(ce):
    tokens = _exchange(ce, _code(ce)).json()
    refresh = tokens["refresh_token"]
    r = _token(ce, grant_type="refresh_token", refresh_token=refresh)
    assert r.status_code == 200
    early = r.json()
    assert "refresh_token" not in early and "id_token" not in early
    assert early["expires_in"] == 3600
    # access token used as refresh token
    assert _token(ce, grant_type="refresh_token", refresh_token=tokens["access_token"]).json() == {
        "error": "invalid_grant"
    }
    assert _token(ce, grant_type="refresh_token").json() == {"error": "invalid_request"}
    # access token expires
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert ce.get("/api/principal?types=domain", auth=bearer).status_code == 200
    ce.sb.advance(3600)
    assert ce.get("/api/principal?types=domain", auth=bearer).status_code == 401
    # near the refresh token's expiry a new one is issued
    ce.sb.advance(26 * 86400)
    renewed = _token(ce, grant_type="refresh_token", refresh_token=refresh).json()
    assert "refresh_token" in renewed and renewed["refresh_token"] != refresh
    ce.sb.advance(4 * 86400)
    assert _token(ce, grant_type="refresh_token", refresh_token=refresh).json() == {"error": "invalid_grant"}
    assert _token(ce, grant_type="refresh_token", refresh_token=renewed["refresh_token"]).status_code == 200


def test_refresh_token_is_not_a_bearer_token(ce):
    tokens = _exchange(ce, _code(ce)).json()
    r = ce.get("/api/principal", auth={"Authorization": f"Bearer {tokens['refresh_token']}"})
    assert (r.status_code, r.json()) == (401, UNAUTHORIZED)


def test_refresh_token_revoked_by_secret_change(ce):
    tokens = _exchange(ce, _code(ce, persona="user")).json()
    login = PERSONAS["user"]["login"]
    r = ce.patch(f"/api/principal/{login}", json=[{"action": "set", "field": "secrets", "value": "new-password"}])
    assert r.json() == {"data": None}
    assert _token(ce, grant_type="refresh_token", refresh_token=tokens["refresh_token"]).json() == {
        "error": "invalid_grant"
    }
    # the access token survives the password change
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert ce.get("/api/principal/nobody", auth=bearer).json() == {"error": "notFound", "item": "nobody"}


def test_deleted_account_token_is_rejected(ce):
    tokens = _exchange(ce, _code(ce, persona="helpdesk")).json()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert ce.get("/api/principal?types=individual&limit=1", auth=bearer).status_code == 200
    assert ce.delete(f"/api/principal/{PERSONAS['helpdesk']['login']}").json() == {"data": None}
    assert ce.get("/api/principal?types=individual&limit=1", auth=bearer).status_code == 401


def test_api_key_bearer(ce):
    p = PERSONAS["api_key"]
    token = base64.b64encode(f"{p['login']}:{p['password']}".encode()).decode()
    r = ce.get("/api/principal?types=individual&limit=2", auth={"Authorization": f"Bearer api_{token}"})
    assert r.status_code == 200
    assert r.json()["data"]["total"] > 40
    assert ce.get("/api/principal?types=domain", auth={"Authorization": f"Bearer api_{token}"}).status_code == 200
    assert ce.get("/api/principal?types=group", auth={"Authorization": f"Bearer api_{token}"}).status_code == 403
    bad = base64.b64encode(b"monitoring:wrong").decode()
    assert ce.get("/api/principal", auth={"Authorization": f"Bearer api_{bad}"}).status_code == 401


def test_account_without_authenticate_permission(ce):
    # An individual created without roles has no permissions at all: 403 even for /api/oauth
    ce.data("POST", "/api/principal", json={"type": "individual", "name": "bare", "secrets": ["pw"]})
    r = ce.post("/api/oauth", auth=basic("bare", "pw"), json=CODE_REQUEST)
    assert (r.status_code, r.json()) == (403, FORBIDDEN)


def test_device_flow(ce):
    r = ce.client.post("/auth/device", data={"client_id": "tv-app"})
    assert r.status_code == 200
    device = r.json()
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}", device["user_code"])
    assert device["expires_in"] == 1800 and device["interval"] == 5
    grant = "urn:ietf:params:oauth:grant-type:device_code"
    r = _token(ce, grant_type=grant, device_code=device["device_code"], client_id="tv-app")
    assert r.json() == {"error": "authorization_pending"}
    assert _token(ce, grant_type=grant, device_code=device["device_code"], client_id="other").json() == {
        "error": "invalid_client"
    }
    assert ce.data("POST", "/api/oauth", json={"type": "device", "code": device["user_code"]}) is True
    assert ce.data("POST", "/api/oauth", json={"type": "device", "code": device["user_code"]}) is False
    r = _token(ce, grant_type=grant, device_code=device["device_code"], client_id="tv-app")
    assert r.status_code == 200 and "access_token" in r.json()
    r = _token(ce, grant_type=grant, device_code=device["device_code"], client_id="tv-app")
    assert r.json() == {"error": "expired_token"}
    # expired user code
    device = ce.client.post("/auth/device", data={"client_id": "tv-app"}).json()
    ce.sb.advance(1801)
    assert ce.data("POST", "/api/oauth", json={"type": "device", "code": device["user_code"]}) is False
    assert _token(ce, grant_type=grant, device_code=device["device_code"], client_id="tv-app").json() == {
        "error": "expired_token"
    }


def test_fallback_admin_on_empty_seed(empty):
    assert empty.sb.principals == {}
    data = empty.data("GET", "/api/principal")
    assert data == {"items": [], "total": 0}
    token = empty.bearer_for("admin")
    r = empty.get("/api/principal", auth={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200


def test_persona_table():
    for key in ("admin", "helpdesk", "tenant_admin", "user", "totp_user", "no_oauth"):
        assert {"login", "password", "description"} <= PERSONAS[key].keys()
    assert persona_auth("admin")["Authorization"].startswith("Basic ")


def test_client_registration_when_required(ce):
    ce.sb.settings["oauth.client-registration.require"] = "true"
    cb = "https://webmail.example.org/oauth/callback"
    # registered client, listed redirect URI
    code = _code(ce, persona="user", client_id="webmail", redirect_uri=cb)
    assert _exchange(ce, code, client_id="webmail", redirect_uri=cb).status_code == 200
    # registered client, other URI: invalid_client; unregistered: invalid_request
    code = _code(ce, persona="user", client_id="webmail", redirect_uri="https://evil.example/cb")
    assert _exchange(ce, code, client_id="webmail", redirect_uri="https://evil.example/cb").json() == {
        "error": "invalid_client"
    }
    code = _code(ce, persona="user")
    assert _exchange(ce, code).json() == {"error": "invalid_request"}
    # oauth-client-override (admin) skips the check
    assert _exchange(ce, _code(ce)).status_code == 200
