"""OAuth endpoints: ``POST /api/oauth`` (§3.1), ``/auth/token`` (§3.2), ``/auth/device``,
``/auth/introspect``, ``/auth/userinfo``, ``/auth/jwks.json`` and the discovery documents (§3.4)."""

from __future__ import annotations

import base64
import json
import re
import secrets
import string
import threading

from . import limits
from .auth import FALLBACK_ADMIN_ID, account_first_secret, authenticate_request, validate_token
from .errors import ManagementError, ProblemError
from .http import data_response, form_urlencoded_pairs, json_response
from .routing import api_module, top_level
from .state import OAuthCode, TokenInfo

CLIENT_ID_MAX_LEN = 20
CODE_LEN = 40
USER_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
MAX_POST_LEN = 2048

_ALNUM = string.ascii_letters + string.digits
_rng = secrets.SystemRandom()


def random_code(length: int = CODE_LEN) -> str:
    return "".join(_rng.choice(_ALNUM) for _ in range(length))


def _user_code() -> str:
    chars = [_rng.choice(USER_CODE_ALPHABET) for _ in range(8)]
    return "".join(chars[:4]) + "-" + "".join(chars[4:])


def _code_get(sb, key: str) -> OAuthCode | None:
    code = sb.oauth_codes.get(key)
    if code is not None and code.expires_at <= sb.now():
        del sb.oauth_codes[key]
        return None
    return code


# --------------------------------------------------------------------------- POST /api/oauth


@api_module("oauth")
def handle_api_oauth(sb, req):
    access = req.access
    access.require("authenticate-oauth")
    body = req.json_body()
    if type(body) is not dict or body.get("type") not in ("code", "device"):
        raise ProblemError.json_failed()
    if body["type"] == "code":
        client_id = body.get("client_id")
        redirect_uri = body.get("redirect_uri")
        nonce = body.get("nonce")
        if (
            type(client_id) is not str
            or (redirect_uri is not None and type(redirect_uri) is not str)
            or (nonce is not None and type(nonce) is not str)
        ):
            raise ProblemError.json_failed()
        if len(client_id.encode()) > CLIENT_ID_MAX_LEN:
            raise ManagementError.other("Client ID is invalid.")
        if redirect_uri is not None and redirect_uri.startswith("http://"):
            raise ManagementError.other("Redirect URI must be HTTPS.")
        code = random_code()
        sb.oauth_codes[code] = OAuthCode(
            status="authorized",
            account_id=access.account_id,
            client_id=client_id,
            nonce=nonce,
            params=redirect_uri or "",
            expires_at=sb.now() + sb.AUTH_CODE_LIFETIME,
        )
        return data_response(
            {
                "code": code,
                "permissions": sb.perms.names_in_bitset_order(access.permissions, serde=True),
                "version": sb.version,
                "isEnterprise": sb.enterprise,
            },
            no_cache=True,
        )
    user_code = body.get("code")
    if type(user_code) is not str:
        raise ProblemError.json_failed()
    success = False
    pending = _code_get(sb, user_code)
    if pending is not None and pending.status == "pending":
        device_code = pending.params
        del sb.oauth_codes[user_code]
        sb.oauth_codes[device_code] = OAuthCode(
            status="authorized",
            account_id=access.account_id,
            client_id=pending.client_id,
            nonce=pending.nonce,
            params="",
            expires_at=sb.now() + sb.AUTH_CODE_LIFETIME,
        )
        success = True
    return data_response(success, no_cache=True)


# --------------------------------------------------------------------------- forms

_MIME = re.compile(r"^\s*[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+\s*(;.*)?$", re.S)


def _boundary(content_type: str) -> str | None:
    for param in content_type.split(";")[1:]:
        key, _, value = param.strip().partition("=")
        if key.strip().lower() == "boundary" and value:
            return value.strip().strip('"')
    return None


def _parse_multipart(body: bytes, boundary: str) -> list[tuple[str, str]]:
    fields = []
    delimiter = b"--" + boundary.encode()
    for part in body.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break
        part = part.lstrip(b"\r\n")
        head, sep, content = part.partition(b"\r\n\r\n")
        if not sep:
            continue
        match = re.search(rb'name="([^"]*)"', head)
        if match is None:
            continue
        if content.endswith(b"\r\n"):
            content = content[:-2]
        fields.append((match.group(1).decode("utf-8", "replace"), content.decode("utf-8", "replace")))
    return fields


class FormData:
    def __init__(self, pairs: list[tuple[str, str]]):
        self.pairs = pairs

    def get(self, key: str) -> str | None:
        for k, v in self.pairs:
            if k == key:
                return v
        return None

    @classmethod
    def from_request(cls, req, max_len: int = MAX_POST_LEN) -> FormData:
        content_type = req.header("content-type")
        if content_type is None or not _MIME.match(content_type) or req.body is None or len(req.body) > max_len:
            raise ProblemError.bad_parameters("Invalid post request")
        boundary = _boundary(content_type)
        if boundary:
            return cls(_parse_multipart(req.body, boundary))
        return cls(form_urlencoded_pairs(req.body))


# --------------------------------------------------------------------------- tokens


def _mint(sb, grant_type: str, account_id: int, client_id: str, lifetime: int) -> str:
    if len(client_id.encode()) > CLIENT_ID_MAX_LEN:
        raise ProblemError.unauthorized()
    binding = None
    if lifetime > 3600:
        binding = account_first_secret(sb, account_id)
        if binding is None:
            raise ProblemError.unauthorized()
    token = base64.b64encode(secrets.token_bytes(48)).decode()
    now = sb.now()
    sb.tokens[token] = TokenInfo(grant_type, account_id, client_id, now, now + lifetime, binding)
    return token


def issue_tokens(sb, req, account_id, client_id, nonce, with_refresh, with_id_token) -> dict:
    response = {
        "access_token": _mint(sb, "access_token", account_id, client_id, sb.access_token_lifetime),
        "token_type": "bearer",
        "expires_in": sb.access_token_lifetime,
    }
    if with_refresh:
        response["refresh_token"] = _mint(sb, "refresh_token", account_id, client_id, sb.refresh_token_lifetime)
    if with_id_token:
        p = sb.principals.get(account_id)
        if p is None and account_id != FALLBACK_ADMIN_ID:
            raise ProblemError.unauthorized()
        claims = {
            "iss": req.base_url,
            "sub": str(account_id),
            "aud": client_id,
            "iat": sb.now(),
            "exp": sb.now() + sb.ID_TOKEN_LIFETIME,
            "preferred_username": p.name if p is not None else "admin",
        }
        if nonce is not None:
            claims["nonce"] = nonce
        if p is not None and p.emails:
            claims["email"] = p.emails[0]
        response["id_token"] = _signer().sign(claims)
    return response


def _client_registration_error(sb, client_id: str, redirect_uri: str | None, account_id: int):
    """``oauth.client-registration.require`` (default false): the client must be a registered
    oauthClient listing the redirect URI, unless the account holds oauth-client-override."""
    if sb.settings.get("oauth.client-registration.require", "false").lower() != "true":
        return None
    client = sb.get(client_id)
    found = client is not None and client.type == "oauthClient"
    if found and (redirect_uri is None or redirect_uri in client.urls):
        return None
    try:
        from .auth import access_for_account

        if access_for_account(sb, account_id, "bearer").has("oauth-client-override"):
            return None
    except ProblemError:
        pass
    return "invalid_client" if found else "invalid_request"


def _token_error(error: str):
    return json_response({"error": error}, status=400)


@top_level("auth")
def handle_auth(sb, req):
    sub = req.elements[1] if len(req.elements) > 1 else ""
    method = req.method
    if sub == "token" and method == "POST":
        limits.anonymous_request(sb, req.client_ip)
        return _token(sb, req)
    if sub == "device" and method == "POST":
        limits.anonymous_request(sb, req.client_ip)
        return _device(sb, req)
    if sub == "introspect" and method == "POST":
        return _introspect(sb, req)
    if sub == "userinfo" and method == "GET":
        return _userinfo(sb, req)
    if sub == "jwks.json" and method == "GET":
        return json_response(_signer().jwks())
    if method == "OPTIONS":
        from .http import empty_response

        return empty_response(204)
    return None


def _token(sb, req):
    form = FormData.from_request(req)
    grant_type = (form.get("grant_type") or "").lower()
    if grant_type == "authorization_code":
        code, client_id, redirect_uri = (
            form.get("code"),
            form.get("client_id"),
            form.get("redirect_uri"),
        )
        if code is None or client_id is None or redirect_uri is None:
            return _token_error("invalid_client")
        oauth = _code_get(sb, code)
        if oauth is None:
            return _token_error("access_denied")
        if client_id != oauth.client_id or redirect_uri != oauth.params:
            return _token_error("invalid_client")
        if oauth.status != "authorized":
            return _token_error("invalid_grant")
        error = _client_registration_error(sb, client_id, redirect_uri, oauth.account_id)
        if error:
            return _token_error(error)
        del sb.oauth_codes[code]
        return json_response(issue_tokens(sb, req, oauth.account_id, oauth.client_id, oauth.nonce, True, True))
    if grant_type == "urn:ietf:params:oauth:grant-type:device_code":
        device_code, client_id = form.get("device_code"), form.get("client_id")
        if device_code is None or client_id is None:
            return _token_error("expired_token")
        oauth = _code_get(sb, device_code)
        if oauth is None:
            return _token_error("expired_token")
        if oauth.client_id != client_id:
            return _token_error("invalid_client")
        if oauth.status == "pending":
            return _token_error("authorization_pending")
        error = _client_registration_error(sb, client_id, None, oauth.account_id)
        if error:
            return _token_error(error)
        del sb.oauth_codes[device_code]
        return json_response(issue_tokens(sb, req, oauth.account_id, oauth.client_id, oauth.nonce, True, True))
    if grant_type == "refresh_token":
        refresh_token = form.get("refresh_token")
        if refresh_token is None:
            return _token_error("invalid_request")
        try:
            info = validate_token(sb, refresh_token, "refresh_token")
        except ProblemError:
            return _token_error("invalid_grant")
        expires_in = info.expiry - sb.now()
        return json_response(
            issue_tokens(
                sb,
                req,
                info.account_id,
                info.client_id,
                None,
                expires_in <= sb.REFRESH_RENEW_WINDOW,
                False,
            )
        )
    return _token_error("invalid_grant")


def _device(sb, req):
    form = FormData.from_request(req)
    client_id = form.get("client_id")
    if client_id is None or len(client_id.encode()) > CLIENT_ID_MAX_LEN:
        raise ProblemError.bad_parameters("Client ID is missing.")
    nonce = form.get("nonce")
    device_code = random_code()
    user_code = _user_code()
    expires = sb.now() + sb.USER_CODE_LIFETIME
    for key in (device_code, user_code):
        sb.oauth_codes[key] = OAuthCode("pending", 0xFFFFFFFF, client_id, nonce, device_code, expires)
    return json_response(
        {
            "device_code": device_code,
            "user_code": user_code,
            "verification_uri": f"{req.base_url}/authorize",
            "verification_uri_complete": f"{req.base_url}/authorize/?code={user_code}",
            "expires_in": sb.USER_CODE_LIFETIME,
            "interval": 5,
        },
        no_cache=True,
    )


def _introspect(sb, req):
    authenticate_request(sb, req, allow_api_access=False)
    form = FormData.from_request(req, 1024)
    token = form.get("token")
    if token is None:
        raise ProblemError.bad_parameters("Client ID is missing.")
    try:
        info = validate_token(sb, token, None)
    except ProblemError:
        return json_response({"active": False}, no_cache=True)
    p = sb.principals.get(info.account_id)
    return json_response(
        {
            "active": True,
            "client_id": info.client_id,
            "username": p.name if p is not None else "",
            "token_type": "bearer",
            "exp": info.expiry,
            "iat": info.issued_at,
        },
        no_cache=True,
    )


def _userinfo(sb, req):
    access = authenticate_request(sb, req, allow_api_access=False)
    p = sb.principals.get(access.account_id)
    info = {"sub": str(access.account_id), "preferred_username": access.name}
    if p is not None:
        if p.description:
            info["name"] = p.description
        if p.emails:
            info["email"] = p.emails[0]
            info["email_verified"] = True
    return json_response(info)


@top_level(".well-known")
def handle_well_known(sb, req):
    sub = req.elements[1] if len(req.elements) > 1 else ""
    if req.method != "GET":
        return None
    base = req.base_url
    if sub == "oauth-authorization-server":
        return json_response(
            {
                "issuer": base,
                "token_endpoint": f"{base}/auth/token",
                "authorization_endpoint": f"{base}/authorize/code",
                "device_authorization_endpoint": f"{base}/auth/device",
                "registration_endpoint": f"{base}/auth/register",
                "introspection_endpoint": f"{base}/auth/introspect",
                "grant_types_supported": [
                    "authorization_code",
                    "implicit",
                    "urn:ietf:params:oauth:grant-type:device_code",
                ],
                "response_types_supported": ["code", "id_token", "code token", "id_token token"],
                "scopes_supported": [
                    "openid",
                    "offline_access",
                    "urn:ietf:params:jmap:core",
                    "urn:ietf:params:jmap:mail",
                    "urn:ietf:params:jmap:submission",
                    "urn:ietf:params:jmap:vacationresponse",
                ],
            }
        )
    if sub == "openid-configuration":
        return json_response(
            {
                "issuer": base,
                "authorization_endpoint": f"{base}/authorize/code",
                "device_authorization_endpoint": f"{base}/auth/device",
                "token_endpoint": f"{base}/auth/token",
                "userinfo_endpoint": f"{base}/auth/userinfo",
                "jwks_uri": f"{base}/auth/jwks.json",
                "registration_endpoint": f"{base}/auth/register",
                "scopes_supported": ["openid", "offline_access"],
                "response_types_supported": ["code", "id_token", "code token", "id_token token"],
                "subject_types_supported": ["public"],
                "grant_types_supported": [
                    "authorization_code",
                    "implicit",
                    "urn:ietf:params:oauth:grant-type:device_code",
                ],
                "id_token_signing_alg_values_supported": ["RS256"],
                "claims_supported": ["sub", "name", "preferred_username", "email", "email_verified"],
            }
        )
    return None


# --------------------------------------------------------------------------- id_token signing


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class _Signer:
    """RS256 signer for id_tokens; one key per process."""

    def __init__(self):
        from cryptography.hazmat.primitives.asymmetric import rsa

        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        numbers = self.key.public_key().public_numbers()
        self.kid = "sandbox-1"
        self._jwk = {
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": self.kid,
            "n": _b64url(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
            "e": _b64url(numbers.e.to_bytes(3, "big")),
        }

    def jwks(self) -> dict:
        return {"keys": [self._jwk]}

    def sign(self, claims: dict) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        header = {"alg": "RS256", "typ": "JWT", "kid": self.kid}
        signing_input = (
            _b64url(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + _b64url(json.dumps(claims, separators=(",", ":")).encode())
        )
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + _b64url(signature)


_signer_instance: _Signer | None = None
_signer_lock = threading.Lock()


def _signer() -> _Signer:
    global _signer_instance
    with _signer_lock:
        if _signer_instance is None:
            _signer_instance = _Signer()
        return _signer_instance
