"""``/api/account/auth`` and ``/api/account/crypto`` (spec §6, §19 E)."""

from __future__ import annotations

import base64

import pyotp
import pytest

from sandbox.passwords import sha512_crypt_hash
from sandbox.seed import PERSONAS, TOTP_APP_PASSWORD, TOTP_URL
from tests.crypto_fixtures import ec_certificate, pgp_key, pgp_signing_only_key, smime_bundle

from .helpers import basic, persona_auth

FORBIDDEN = {
    "type": "about:blank",
    "status": 403,
    "title": "Forbidden",
    "detail": "You do not have enough permissions to access this resource.",
}
NOT_FOUND = {
    "type": "about:blank",
    "status": 404,
    "title": "Not Found",
    "detail": "The requested resource does not exist on this server.",
}
BASIC_ONLY = {"error": "other", "details": "Password changes only allowed using Basic auth", "reason": None}
JANE = PERSONAS["user"]
THEO = PERSONAS["totp_user"]


def bearer(env, persona="user") -> dict:
    return {"Authorization": f"Bearer {env.bearer_for(persona)}"}


def auth_post(env, requests, auth="user"):
    return env.post("/api/account/auth", json=requests, auth=auth)


def secrets_of(env, login):
    return list(env.sb.get(login).secrets)


def can_log_in(env, login, secret) -> int:
    """Status of a Basic-authenticated request with these credentials."""
    return env.get("/api/account/auth", auth=basic(login, secret)).status_code


def app_name(label: str, when: str = "2025-03-01T10:00:00Z") -> str:
    return base64.b64encode(f"{label}${when}".encode()).decode()


def revoke_permission(env, login, permission):
    r = env.patch(
        f"/api/principal/{login}", json=[{"action": "addItem", "field": "disabledPermissions", "value": permission}]
    )
    assert r.json() == {"data": None}


# ----------------------------------------------------------------------------- GET auth


def test_get_auth_of_a_plain_user(ce):
    assert ce.data("GET", "/api/account/auth", auth="user") == {"otpEnabled": False, "appPasswords": []}


def test_get_auth_lists_otp_and_raw_app_password_names(ce):
    data = ce.data("GET", "/api/account/auth", auth=persona_auth("totp_user", f"${ce.totp_code()}"))
    assert data == {
        "otpEnabled": True,
        "appPasswords": [base64.b64encode(b"Phone mail app$2025-01-15T09:30:00Z").decode()],
    }


def test_get_auth_works_with_a_bearer_token(v12):
    assert v12.data("GET", "/api/account/auth", auth=bearer(v12)) == {"otpEnabled": False, "appPasswords": []}


def test_fallback_admin_gets_nothing(empty):
    assert empty.data("GET", "/api/account/auth") == {"otpEnabled": False, "appPasswords": []}


def test_routes_then_permissions(ce):
    revoke_permission(ce, JANE["login"], "manage-passwords")
    revoke_permission(ce, JANE["login"], "manage-encryption")
    for method, path in [("GET", "/api/account/auth"), ("POST", "/api/account/auth"), ("GET", "/api/account/crypto")]:
        r = ce.request(method, path, auth="user", json=[{"type": "removeAppPassword"}])
        assert (r.status_code, r.json()) == (403, FORBIDDEN), (method, path)
    # an unknown sub-path or method is a 404 before any permission check
    for method, path in [("GET", "/api/account/nope"), ("DELETE", "/api/account/auth"), ("GET", "/api/account")]:
        r = ce.request(method, path, auth="user")
        assert (r.status_code, r.json()) == (404, NOT_FOUND), (method, path)


# ----------------------------------------------------------------------------- POST auth: parsing


def test_empty_request_is_rejected(ce):
    r = auth_post(ce, [])
    assert r.status_code == 400
    assert r.json() == {"type": "about:blank", "status": 400, "title": "Invalid parameters", "detail": "Empty request"}


@pytest.mark.parametrize(
    "body",
    [
        {"type": "setPassword", "password": "x"},  # not an array
        [{"type": "changePassword", "password": "x"}],
        [{"type": "setPassword"}],
        [{"type": "addAppPassword", "name": "x"}],
        [{"type": "removeAppPassword", "name": 5}],
        [{"password": "x"}],
    ],
)
def test_bad_requests_are_json_errors(ce, body):
    r = auth_post(ce, body)
    assert r.status_code == 400
    assert r.json()["detail"] == "JSON deserialization failed"


def test_unparseable_body(ce):
    r = ce.post("/api/account/auth", content=b"[{", auth="user")
    assert (r.status_code, r.json()["detail"]) == (400, "JSON deserialization failed")


# ----------------------------------------------------------------------------- the Basic-only rule


@pytest.mark.parametrize(
    "request_",
    [
        {"type": "setPassword", "password": "new"},
        {"type": "enableOtpAuth", "url": "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP"},
        {"type": "disableOtpAuth"},
    ],
)
def test_password_changes_need_basic_auth(ce, request_):
    before = secrets_of(ce, JANE["login"])
    r = auth_post(ce, [{"type": "addAppPassword", "name": "a", "password": "b"}, request_], auth=bearer(ce))
    assert (r.status_code, r.json()) == (200, BASIC_ONLY)
    assert secrets_of(ce, JANE["login"]) == before  # nothing applied


def test_api_key_credentials_are_not_basic(ce):
    token = base64.b64encode(f"{JANE['login']}:{JANE['password']}".encode()).decode()
    r = auth_post(ce, [{"type": "setPassword", "password": "new"}], auth={"Authorization": f"Bearer api_{token}"})
    assert r.json() == BASIC_ONLY


def test_basic_scheme_is_case_insensitive(ce):
    token = base64.b64encode(f"{JANE['login']}:{JANE['password']}".encode()).decode()
    r = auth_post(
        ce, [{"type": "setPassword", "password": "Another-Password-1"}], auth={"Authorization": f"BASIC {token}"}
    )
    assert r.json() == {"data": None}


# ----------------------------------------------------------------------------- setPassword


def test_set_password_replaces_every_plain_password(ce):
    login = JANE["login"]
    ce.sb.get(login).secrets.append("{PLAIN}second-password")
    r = auth_post(ce, [{"type": "addAppPassword", "name": app_name("Phone"), "password": sha512_crypt_hash("app-pw")}])
    assert r.json() == {"data": None}
    new_hash = sha512_crypt_hash("Brand-New-Password-1")
    assert auth_post(ce, [{"type": "setPassword", "password": new_hash}]).json() == {"data": None}
    secrets = secrets_of(ce, login)
    assert secrets[-1] == new_hash  # stored verbatim, added last
    assert len([s for s in secrets if not s.startswith("$app$")]) == 1
    assert can_log_in(ce, login, JANE["password"]) == 401
    assert can_log_in(ce, login, "second-password") == 401
    assert can_log_in(ce, login, "Brand-New-Password-1") == 200
    assert can_log_in(ce, login, "app-pw") == 200  # app passwords are kept


def test_set_password_plain_text_is_stored_as_sent(ce):
    assert auth_post(ce, [{"type": "setPassword", "password": "plain-text-password"}]).json() == {"data": None}
    assert secrets_of(ce, JANE["login"]) == ["plain-text-password"]
    assert can_log_in(ce, JANE["login"], "plain-text-password") == 200


def test_set_password_with_totp_needs_the_code(ce):
    request = [{"type": "setPassword", "password": sha512_crypt_hash("Theo-New-Password-1")}]
    r = auth_post(ce, request, auth="totp_user")
    assert r.status_code == 402
    r = auth_post(ce, request, auth=persona_auth("totp_user", "$000000"))
    assert r.status_code == 401
    assert auth_post(ce, request, auth=persona_auth("totp_user", f"${ce.totp_code()}")).json() == {"data": None}
    secrets = secrets_of(ce, THEO["login"])
    assert secrets[0] == TOTP_URL  # TOTP stays on
    assert can_log_in(ce, THEO["login"], f"Theo-New-Password-1${ce.totp_code()}") == 200
    assert can_log_in(ce, THEO["login"], TOTP_APP_PASSWORD) == 200


def test_set_password_revokes_refresh_tokens_not_access_tokens(ce):
    code = ce.data(
        "POST",
        "/api/oauth",
        auth="user",
        json={"type": "code", "client_id": "webadmin", "redirect_uri": "stalwart://auth"},
    )["code"]
    tokens = ce.client.post(
        "/auth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": "webadmin",
            "redirect_uri": "stalwart://auth",
        },
    ).json()
    assert auth_post(ce, [{"type": "setPassword", "password": "New-Password-123"}]).json() == {"data": None}
    access = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert ce.get("/api/account/auth", auth=access).status_code == 200
    refreshed = ce.client.post(
        "/auth/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.json() == {"error": "invalid_grant"}


# ----------------------------------------------------------------------------- TOTP


def test_enable_otp_puts_the_url_first_and_is_not_validated(ce):
    secret = pyotp.random_base32()
    url = pyotp.TOTP(secret).provisioning_uri(name=JANE["login"], issuer_name="Test")
    assert auth_post(ce, [{"type": "enableOtpAuth", "url": url}]).json() == {"data": None}
    assert secrets_of(ce, JANE["login"])[0] == url
    assert ce.data("GET", "/api/account/auth", auth=persona_auth("user", "$" + pyotp.TOTP(secret).at(ce.sb.now())))[
        "otpEnabled"
    ]
    # the password alone now gets 402, with a code it works
    assert can_log_in(ce, JANE["login"], JANE["password"]) == 402
    assert can_log_in(ce, JANE["login"], f"{JANE['password']}${pyotp.TOTP(secret).at(ce.sb.now())}") == 200
    # the URL is not validated: a second one goes first too, anything else is just another secret
    code_auth = basic(JANE["login"], f"{JANE['password']}${pyotp.TOTP(secret).at(ce.sb.now())}")
    requests = [{"type": "enableOtpAuth", "url": "otpauth://second"}, {"type": "enableOtpAuth", "url": "x"}]
    assert auth_post(ce, requests, auth=code_auth).json() == {"data": None}
    secrets = secrets_of(ce, JANE["login"])
    assert secrets[:2] == ["otpauth://second", url] and secrets[-1] == "x"


def test_disable_otp_without_url_removes_every_otp_entry(ce):
    ce.sb.get(THEO["login"]).secrets.insert(1, "otpauth://totp/other?secret=JBSWY3DPEHPK3PXP")
    auth = persona_auth("totp_user", f"${ce.totp_code()}")
    assert auth_post(ce, [{"type": "disableOtpAuth", "url": None}], auth=auth).json() == {"data": None}
    assert not any(s.startswith("otpauth://") for s in secrets_of(ce, THEO["login"]))
    assert can_log_in(ce, THEO["login"], THEO["password"]) == 200


def test_disable_otp_with_a_url_removes_that_one(ce):
    other = "otpauth://totp/other?secret=JBSWY3DPEHPK3PXP"
    ce.sb.get(THEO["login"]).secrets.insert(1, other)
    auth = persona_auth("totp_user", f"${ce.totp_code()}")
    assert auth_post(ce, [{"type": "disableOtpAuth", "url": other}], auth=auth).json() == {"data": None}
    assert [s for s in secrets_of(ce, THEO["login"]) if s.startswith("otpauth://")] == [TOTP_URL]


def test_disable_otp_with_the_wrong_code_is_refused(ce):
    r = auth_post(ce, [{"type": "disableOtpAuth"}], auth=persona_auth("totp_user", "$123456"))
    assert r.status_code == 401 and secrets_of(ce, THEO["login"])[0] == TOTP_URL


# ----------------------------------------------------------------------------- app passwords


def test_app_password_round_trip_with_a_bearer_token(v12):
    token = bearer(v12)
    name = app_name("Thunderbird")
    r = auth_post(
        v12, [{"type": "addAppPassword", "name": name, "password": sha512_crypt_hash("abcd-efgh")}], auth=token
    )
    assert r.json() == {"data": None}
    assert v12.data("GET", "/api/account/auth", auth=token)["appPasswords"] == [name]
    assert secrets_of(v12, JANE["login"])[-1].startswith(f"$app${name}$$6$")
    assert can_log_in(v12, JANE["login"], "abcd-efgh") == 200
    assert auth_post(v12, [{"type": "removeAppPassword", "name": name}], auth=token).json() == {"data": None}
    assert v12.data("GET", "/api/account/auth", auth=token)["appPasswords"] == []
    assert can_log_in(v12, JANE["login"], "abcd-efgh") == 401


def test_app_passwords_bypass_totp(ce):
    assert can_log_in(ce, THEO["login"], TOTP_APP_PASSWORD) == 200


def test_remove_app_password_is_a_prefix_removal(ce):
    adds = [{"type": "addAppPassword", "name": name, "password": f"pw-{name}"} for name in ("foo", "foobar", "bar")]
    assert auth_post(ce, adds).json() == {"data": None}
    assert auth_post(ce, [{"type": "removeAppPassword", "name": "foo"}]).json() == {"data": None}
    assert ce.data("GET", "/api/account/auth", auth="user")["appPasswords"] == ["bar"]
    # a trailing "$" matches exactly one name
    assert auth_post(ce, adds[:2]).json() == {"data": None}
    assert auth_post(ce, [{"type": "removeAppPassword", "name": "foo$"}]).json() == {"data": None}
    assert ce.data("GET", "/api/account/auth", auth="user")["appPasswords"] == ["bar", "foobar"]


@pytest.mark.parametrize("request_", [{"type": "removeAppPassword"}, {"type": "removeAppPassword", "name": None}])
def test_remove_all_app_passwords(ce, request_):
    adds = [{"type": "addAppPassword", "name": name, "password": "pw"} for name in ("one", "two")]
    assert auth_post(ce, adds).json() == {"data": None}
    assert auth_post(ce, [request_]).json() == {"data": None}
    assert ce.data("GET", "/api/account/auth", auth="user")["appPasswords"] == []
    assert can_log_in(ce, JANE["login"], JANE["password"]) == 200  # the password stays


def test_requests_are_applied_in_order_as_one_update(ce):
    requests = [
        {"type": "addAppPassword", "name": "one", "password": "pw1"},
        {"type": "removeAppPassword"},
        {"type": "addAppPassword", "name": "two", "password": "pw2"},
        {"type": "setPassword", "password": "Next-Password-1"},
    ]
    assert auth_post(ce, requests).json() == {"data": None}
    assert secrets_of(ce, JANE["login"]) == ["$app$two$pw2", "Next-Password-1"]


# ----------------------------------------------------------------------------- fallback admin, directories


def test_fallback_admin_can_only_set_its_password(empty):
    assert auth_post(empty, [{"type": "setPassword", "password": "{PLAIN}fallback-2"}], auth="admin").json() == {
        "data": None
    }
    assert empty.sb.settings["authentication.fallback-admin.secret"] == "{PLAIN}fallback-2"
    new_admin = basic(PERSONAS["admin"]["login"], "fallback-2")
    # only the first request is looked at
    r = auth_post(
        empty,
        [
            {"type": "setPassword", "password": "{PLAIN}fallback-3"},
            {"type": "addAppPassword", "name": "x", "password": "y"},
        ],
        auth=new_admin,
    )
    assert r.json() == {"data": None}
    new_admin = basic(PERSONAS["admin"]["login"], "fallback-3")
    r = auth_post(empty, [{"type": "addAppPassword", "name": "x", "password": "y"}], auth=new_admin)
    assert r.json() == {
        "error": "other",
        "details": "Fallback administrator accounts do not support 2FA or AppPasswords",
        "reason": None,
    }


def test_external_directories_cannot_be_changed(ce):
    ce.sb.settings["storage.directory"] = "corp"
    ce.sb.settings["directory.corp.type"] = "ldap"
    r = auth_post(ce, [{"type": "removeAppPassword"}])
    assert r.json() == {
        "error": "unsupported",
        "details": "LDAP directory cannot be managed. Only internal directories support inserts and update operations.",
    }


# ----------------------------------------------------------------------------- crypto


def crypto_post(env, body, auth="user"):
    return env.post("/api/account/crypto", json=body, auth=auth)


@pytest.mark.parametrize("algo", ["Aes128", "Aes256"])
@pytest.mark.parametrize(("kind", "certs", "count"), [("sMIME", smime_bundle, 3), ("pGP", pgp_key, 1)])
def test_crypto_counts_certificates(ce, algo, kind, certs, count):
    assert ce.data("GET", "/api/account/crypto", auth="user") == {"type": "disabled"}
    assert crypto_post(ce, {"type": kind, "algo": algo, "certs": certs()}).json() == {"data": count}
    data = ce.data("GET", "/api/account/crypto", auth="user")
    assert data["type"] == kind and data["algo"] == algo
    assert data["certs"].startswith("-----STALWART CERTIFICATE-----\r\n") and data["certs"].endswith("\r\n")
    assert "BEGIN" not in data["certs"]  # not the original certificate
    # the exported form can be posted back
    assert crypto_post(ce, {"type": kind, "algo": "Aes128", "certs": data["certs"]}).json() == {"data": count}
    assert crypto_post(ce, {"type": "disabled"}).json() == {"data": None}
    assert ce.data("GET", "/api/account/crypto", auth="user") == {"type": "disabled"}


def test_crypto_state_is_per_account_and_reset(ce):
    assert crypto_post(ce, {"type": "pGP", "algo": "Aes256", "certs": pgp_key()}, auth=bearer(ce)).json() == {"data": 1}
    assert ce.data("GET", "/api/account/crypto", auth="helpdesk") == {"type": "disabled"}
    ce.sb.reset()
    assert ce.data("GET", "/api/account/crypto", auth="user") == {"type": "disabled"}


@pytest.mark.parametrize(
    ("kind", "certs", "details"),
    [
        ("sMIME", "not a certificate", "Could not find any valid certificates"),
        ("sMIME", "", "Could not find any valid certificates"),
        ("pGP", smime_bundle(1) + "trailing words", "Could not find any valid certificates"),
        (
            "sMIME",
            "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n",
            "Failed to decode base64 certificate.",
        ),
        ("pGP", smime_bundle(1), "No valid certificates found for the selected encryption"),
        ("sMIME", pgp_key(), "No valid certificates found for the selected encryption"),
        ("sMIME", smime_bundle(1) + pgp_key(), "Cannot mix OpenPGP and S/MIME certificates"),
        ("pGP", pgp_signing_only_key(), "Could not find any suitable keys in OpenPGP public key"),
        ("sMIME", "-----STALWART CERTIFICATE-----\r\nbm9wZQ==\r\n", "Failed to deserialize internal certificate"),
    ],
)
def test_crypto_unusable_certificates(ce, kind, certs, details):
    assert crypto_post(ce, {"type": kind, "algo": "Aes256", "certs": certs}).json() == {
        "error": "other",
        "details": details,
        "reason": None,
    }
    assert ce.data("GET", "/api/account/crypto", auth="user") == {"type": "disabled"}


def test_crypto_bad_x509_and_non_rsa_keys(ce):
    body = base64.b64encode(b"\x30\x03\x02\x01\x01").decode()
    r = crypto_post(
        ce,
        {"type": "sMIME", "algo": "Aes256", "certs": f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----"},
    )
    assert r.json()["details"].startswith("Failed to decode X509 certificate: ")
    r = crypto_post(ce, {"type": "sMIME", "algo": "Aes256", "certs": ec_certificate()})
    assert r.json()["details"].startswith("Failed to parse public key")


def test_crypto_other_pem_blocks_are_skipped(ce):
    certs = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n" + smime_bundle(2)
    assert crypto_post(ce, {"type": "sMIME", "algo": "Aes256", "certs": certs}).json() == {"data": 2}


def test_crypto_disabled_by_the_administrator(ce):
    ce.sb.settings["storage.encryption.enable"] = "false"
    r = crypto_post(ce, {"type": "pGP", "algo": "Aes256", "certs": pgp_key()})
    assert r.json() == {
        "error": "unsupported",
        "details": "Encryption-at-rest has been disabled by the system administrator",
    }
    assert crypto_post(ce, {"type": "disabled"}).json() == {"data": None}


@pytest.mark.parametrize(
    ("content", "detail"),
    [
        (b"", "EOF while parsing a value at line 1 column 0"),
        (b'{"type":"pgp"}', "unknown variant `pgp`, expected one of `pGP`, `sMIME`, `disabled` at line 1 column 14"),
        (b'{"algo":"Aes256"}', "missing field `type` at line 1 column 17"),
        (
            b'{"type":"pGP","algo":"AES256","certs":""}',
            "unknown variant `AES256`, expected `Aes128` or `Aes256` at line 1 column 41",
        ),
        (b'{"type":"pGP","algo":"Aes256"}', "missing field `certs` at line 1 column 30"),
        (
            b'{"type":"pGP","algo":"Aes256","certs":5}',
            "invalid type: integer `5`, expected a string at line 1 column 40",
        ),
        (b"[]", "invalid type: sequence, expected internally tagged enum EncryptionType at line 1 column 2"),
        (b'{"type":"disabled"} x', "trailing characters at line 1 column 21"),
    ],
)
def test_crypto_bad_json_carries_the_parser_message(ce, content, detail):
    r = ce.post("/api/account/crypto", content=content, auth="user")
    assert r.status_code == 400
    assert r.json() == {"type": "about:blank", "status": 400, "title": "Invalid parameters", "detail": detail}


def test_crypto_needs_manage_encryption(ce):
    revoke_permission(ce, JANE["login"], "manage-encryption")
    r = crypto_post(ce, {"type": "disabled"})
    assert (r.status_code, r.json()) == (403, FORBIDDEN)
    assert ce.data("GET", "/api/account/auth", auth="user")["otpEnabled"] is False  # passwords still allowed
