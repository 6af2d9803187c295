"""0.16 generation tell-tales and sign-in: /api/discover, /api/auth, /auth/token, /api/account,
/api/schema (jmap-management.md §1, §2, §4, §6.1)."""

from __future__ import annotations

import base64
import hashlib
import json

import pyotp

from sandbox.seed import PERSONAS, TOTP_SECRET

from .conftest import CLIENT, REDIRECT, pkce


def test_discover_answers_200_on_016_and_401_on_rest_generation(v16, ce):
    r = v16.client.get("/api/discover/probe@example.invalid")
    assert r.status_code == 200
    body = r.json()
    assert body["token_endpoint"] == "/auth/token"
    assert body["authorization_endpoint"] == "/login"
    assert body["issuer"] == ""
    assert body["code_challenge_methods_supported"] == ["S256"]
    old = ce.client.get("/api/discover/probe@example.invalid")
    assert old.status_code == 401
    assert old.json()["detail"] == "You have to authenticate first."


def test_rest_management_routes_are_gone_on_016(v16):
    admin = PERSONAS["admin"]
    basic = base64.b64encode(f"{admin['login']}:{admin['password']}".encode()).decode()
    for path in ("/api/principal", "/api/oauth", "/api/queue/messages", "/api/settings/keys"):
        for headers in ({}, {"Authorization": f"Basic {basic}"}):
            r = v16.client.get(path, headers=headers)
            assert r.status_code == 404, (path, r.text)
            assert r.json()["title"] == "Not Found"


def test_account_needs_credentials_with_www_authenticate(v16):
    r = v16.client.get("/api/account")
    assert r.status_code == 401
    challenges = r.headers.get_list("www-authenticate")
    assert any(c.startswith('Bearer realm="Stalwart Server", resource_metadata=') for c in challenges)
    assert 'Basic realm="Stalwart Server"' in challenges


def test_direct_flow_with_pkce_gives_tokens_and_camelcase_permissions(v16):
    r = v16.login("jane.doe@example.org", PERSONAS["user"]["password"])
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store, no-cache, must-revalidate"
    body = r.json()
    assert body["type"] == "authenticated"
    assert set(body) == {"type", "client_code", "iss"}  # snake_case client_code
    assert len(body["client_code"]) == 40 and body["client_code"].isalnum()
    t = v16.exchange(body["client_code"], r.verifier)
    assert t.status_code == 200
    tokens = t.json()
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 3600
    assert tokens["refresh_token"] and tokens["id_token"]
    me = v16.client.get("/api/account", headers={"Authorization": f"Bearer {tokens['access_token']}"}).json()
    assert me["edition"] == "enterprise" and me["locale"] == "en_US"
    assert "authenticate" in me["permissions"] and "sysAccountPasswordUpdate" in me["permissions"]
    assert "sysAccountGet" not in me["permissions"]
    assert not any("-" in p for p in me["permissions"])
    # the code is single-use
    assert v16.exchange(body["client_code"], r.verifier).json() == {"error": "access_denied"}


def test_bare_login_name_gets_the_default_domain(v16):
    r = v16.login("admin", PERSONAS["admin"]["password"])
    assert r.json()["type"] == "authenticated"


def test_pkce_verifier_is_checked(v16):
    r = v16.login("jane.doe@example.org", PERSONAS["user"]["password"])
    code = r.json()["client_code"]
    other, _ = pkce()
    assert v16.exchange(code, other).json() == {"error": "invalid_grant"}
    assert v16.exchange(code, None).json() == {"error": "invalid_grant"}
    wrong_redirect = v16.exchange(code, r.verifier, redirect_uri="https://elsewhere.example/cb")
    assert wrong_redirect.status_code == 400 and wrong_redirect.json() == {"error": "invalid_client"}


def test_without_challenge_no_verifier_may_be_sent(v16):
    body = {"type": "authCode", "accountName": "jane.doe@example.org", "accountSecret": PERSONAS["user"]["password"],
            "clientId": CLIENT, "redirectUri": "https://portal.example/cb"}
    code = v16.client.post("/api/auth", json=body).json()["client_code"]
    form = {"grant_type": "authorization_code", "code": code, "client_id": CLIENT,
            "redirect_uri": "https://portal.example/cb", "code_verifier": pkce()[0]}
    assert v16.client.post("/auth/token", data=form).json() == {"error": "invalid_grant"}


def test_redirect_uri_is_required_and_http_needs_pkce(v16):
    base = {"type": "authCode", "accountName": "jane.doe@example.org", "accountSecret": PERSONAS["user"]["password"],
            "clientId": CLIENT}
    r = v16.client.post("/api/auth", json=base)
    assert r.status_code == 401 and r.json()["detail"] == "You have to authenticate first."
    r = v16.client.post("/api/auth", json={**base, "redirectUri": REDIRECT})
    assert r.status_code == 401
    assert v16.client.post("/api/auth", json={**base, "redirectUri": "https://portal.example/cb"}).status_code == 200


def test_malformed_login_body_is_400(v16):
    r = v16.client.post("/api/auth", json={})
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"


def test_wrong_password_is_failure(v16):
    assert v16.login("jane.doe@example.org", "nope").json() == {"type": "failure"}
    assert v16.login("nobody@example.org", "nope").json() == {"type": "failure"}


def test_totp_account_gets_mfa_required_then_signs_in_with_mfa_token(v16):
    p = PERSONAS["totp_user"]
    assert v16.login(p["login"], p["password"]).json() == {"type": "mfaRequired"}
    assert v16.login(p["login"], p["password"], mfaToken="000000").json()["type"] == "failure"
    code = pyotp.TOTP(TOTP_SECRET).at(v16.sb.now())
    r = v16.login(p["login"], p["password"], mfaToken=code)
    assert r.json()["type"] == "authenticated"
    assert v16.exchange(r.json()["client_code"], r.verifier).status_code == 200


def test_basic_auth_of_a_totp_account_is_402(v16):
    p = PERSONAS["totp_user"]
    token = base64.b64encode(f"theo.martin@example.org:{p['password']}".encode()).decode()
    r = v16.client.get("/api/account", headers={"Authorization": f"Basic {token}"})
    assert r.status_code == 402
    assert r.json()["title"] == "MFA code required"


def test_refresh_grant(v16):
    r = v16.login("jane.doe@example.org", PERSONAS["user"]["password"])
    tokens = v16.exchange(r.json()["client_code"], r.verifier).json()
    again = v16.client.post("/auth/token", data={"grant_type": "refresh_token",
                                                 "refresh_token": tokens["refresh_token"]})
    assert again.status_code == 200
    fresh = again.json()
    assert fresh["access_token"] != tokens["access_token"]
    assert fresh["refresh_token"] == tokens["refresh_token"]  # far from expiry: keep the old one
    assert "id_token" not in fresh
    bad = v16.client.post("/auth/token", data={"grant_type": "refresh_token", "refresh_token": "nope"})
    assert bad.status_code == 400 and bad.json() == {"error": "invalid_grant"}


def test_admin_holds_every_permission_in_bitset_order(v16):
    me = v16.client.get("/api/account", headers=v16.bearer("admin")).json()
    from sandbox.jmap.schema import permission_ids

    ids = permission_ids()
    assert "sysAccountCreate" in me["permissions"] and "impersonate" in me["permissions"]
    assert "sysLogCreate" not in me["permissions"]  # never reported
    order = [ids[n] for n in me["permissions"]]
    assert order[:2] == [63, 62]
    assert order == sorted(order, key=lambda i: (i // 64, -(i % 64)))


def test_community_edition(v16ce):
    me = v16ce.client.get("/api/account", headers=v16ce.bearer("user")).json()
    assert me["edition"] == "community"


def test_schema_redirects_to_its_hash_and_serves_the_server_schema(v16):
    headers = v16.bearer("user")
    r = v16.client.get("/api/schema", headers=headers)
    assert r.status_code == 302
    assert r.headers["location"] == "/api/schema/25gnm1_xB9bPk-puX9VTFMP1W5V-1muUWuK964-_uEw"
    served = v16.client.get(r.headers["location"], headers=headers)
    assert served.status_code == 200
    assert served.headers["content-encoding"] == "gzip"
    assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
    schema = json.loads(served.content)
    assert "x:Account" in schema["objects"]
    assert {"name": "sysAccountGet"}.items() <= next(
        e for e in schema["enums"]["Permission"] if e["name"] == "sysAccountGet").items()
    from sandbox.jmap.schema import schema_gz

    digest = base64.urlsafe_b64encode(hashlib.sha256(schema_gz()).digest()).rstrip(b"=").decode()
    assert digest == "25gnm1_xB9bPk-puX9VTFMP1W5V-1muUWuK964-_uEw"
    assert v16.client.get("/api/schema").status_code == 401


def test_api_key_of_the_rest_generation_does_not_exist(v16):
    r = v16.client.get("/api/account", headers={"Authorization": "Bearer api_bW9uaXRvcmluZzpBcGlLZXk="})
    assert r.status_code == 401


def test_every_rest_generation_answers_discover_with_401(each_version):
    r = each_version.client.get("/api/discover/probe@example.invalid")
    assert r.status_code == 401, each_version.sb.version
