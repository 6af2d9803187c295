"""0.16 sign-in: ``POST /api/auth``, ``POST /auth/token``, discovery documents and the
credentials of later requests (jmap-management.md §1, §6.1)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import string
from dataclasses import dataclass

from .. import limits
from ..auth import decode_plain_auth
from ..errors import ProblemError
from ..http import Response, dump_json, form_urlencoded_pairs, json_response
from ..passwords import HashError, verify_secret_hash
from ..state import OAuthCode, TokenInfo
from . import ids
from .permissions import permissions_of
from .store import address_of, addressless, jmap_state, password_hash, totp_url

CLIENT_ID_MAX_LEN = 2048
_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
_ALNUM = string.ascii_letters + string.digits
SCOPES = [
    "openid",
    "offline_access",
    "urn:ietf:params:oauth:scope:mail",
    "urn:ietf:params:oauth:scope:contacts",
    "urn:ietf:params:oauth:scope:calendars",
]
UNAUTHORIZED_HEADERS = [
    ("www-authenticate", 'Bearer realm="Stalwart Server", resource_metadata="/.well-known/oauth-protected-resource"'),
    ("www-authenticate", 'Basic realm="Stalwart Server"'),
]


class MfaRequired(Exception):
    """Right password, the account has TOTP and no code was given."""


@dataclass
class Caller:
    """The authenticated principal of a 0.16 request."""

    principal: object
    permissions: frozenset[str]
    tenant_id: int | None

    @property
    def account_id(self) -> int:
        return self.principal.id

    @property
    def jmap_id(self) -> str:
        return ids.encode(self.principal.id)

    def has(self, permission: str) -> bool:
        return permission in self.permissions


def unauthorized() -> ProblemError:
    return ProblemError.unauthorized(auth_failed=True)


# ---------------------------------------------------------------------------- accounts
def resolve_login(sb, account_name: str):
    """The account a login name designates: an e-mail address (a bare name gets the default
    domain appended); only User accounts sign in."""
    name = account_name.strip().lower()
    if "@" not in name:
        name = f"{name}@{sb.settings.get('lookup.default.domain', 'example.org')}"
    pid = sb.emails.get(name)
    if pid is None:
        # seeded principals without an address are found by the address they are shown with
        p = addressless(sb, name)
        return p if p is not None and p.type == "individual" else None
    p = sb.principals.get(pid)
    if p is None or p.type != "individual" or address_of(sb, p) != name:
        return None
    return p


def check_secret(sb, p, secret: str, mfa_token: str | None):
    """True when ``secret`` (+ TOTP code) signs ``p`` in; raises MfaRequired when the code is
    missing. App passwords bypass TOTP."""
    st = jmap_state(sb)
    for cred in st.credentials(sb, p):
        if cred["@type"] == "AppPassword" and _verify(cred["hash"], secret) and _ip_ok(cred):
            return True
    hashed = password_hash(p)
    if hashed is None or not _verify(hashed, secret):
        return False
    otp = totp_url(p)
    if otp is None:
        return True
    if not mfa_token:
        raise MfaRequired()
    from ..passwords import _totp_check

    try:
        return _totp_check(otp, mfa_token.strip(), sb.now())
    except HashError:
        return False


def _verify(hashed: str, secret: str) -> bool:
    try:
        return verify_secret_hash(hashed, secret)
    except HashError:
        return False


def _ip_ok(cred) -> bool:
    return True  # allowed IPs are kept and shown, not enforced (the sandbox sees only 127.0.0.1)


def caller_for(sb, p) -> Caller:
    tenant = p.tenant if sb.enterprise and p.tenant is not None else None
    return Caller(p, permissions_of(sb, p), tenant)


def _credential_version(p) -> str | None:
    return password_hash(p)


def authenticate(sb, req) -> Caller:
    """Authenticate the Authorization header of a 0.16 request (401 problems otherwise)."""
    header = req.header("authorization")
    if not header or " " not in header:
        limits.anonymous_request(sb, req.client_ip)
        raise unauthorized()
    scheme, token = header.split(" ", 1)
    token = token.strip()
    st = jmap_state(sb)
    if scheme.lower() == "bearer":
        if token.startswith("API_"):
            found = st.find_api_key(sb, token)
            if found is None:
                raise unauthorized()
            p, cred = found
            caller = caller_for(sb, p)
            caller.permissions = _restrict(caller.permissions, cred.get("permissions"))
        else:
            info = sb.tokens.get(token)
            now = sb.now()
            if info is None or info.grant_type != "access_token" or info.expiry <= now:
                raise unauthorized()
            p = sb.principals.get(info.account_id)
            if p is None or info.binding != _credential_version(p):
                raise unauthorized()
            caller = caller_for(sb, p)
    elif scheme.lower() == "basic":
        creds = decode_plain_auth(token)
        if creds is None:
            raise unauthorized()
        p = resolve_login(sb, creds[0])
        try:
            ok = p is not None and check_secret(sb, p, creds[1], None)
        except MfaRequired:
            raise ProblemError(
                402,
                "MFA code required",
                "This account requires multi-factor authentication. "
                "Alternatively, you can use an app password if your account has one.",
            ) from None
        if not ok:
            limits.authentication_failed(sb, req.client_ip, creds[0])
            raise unauthorized()
        caller = caller_for(sb, p)
    else:
        raise unauthorized()
    if not caller.has("authenticate"):
        raise unauthorized()
    limits.authenticated_request(sb, _LimitsView(caller))
    return caller


@dataclass
class _LimitsView:
    """What ``sandbox.limits`` reads of a caller."""

    caller: Caller

    @property
    def account_id(self) -> int:
        return self.caller.account_id

    def has(self, permission: str) -> bool:
        return permission == "unlimited-requests" and self.caller.has("unlimitedRequests")


def _restrict(held: frozenset[str], perms) -> frozenset[str]:
    """x:CredentialPermissions of an API key / app password applied to the account's."""
    if not perms or perms.get("@type") == "Inherit":
        return held
    listed = {k for k, v in (perms.get("permissions") or {}).items() if v}
    if perms.get("@type") == "Disable":
        return frozenset(held - listed)
    return frozenset(held & listed)


# ---------------------------------------------------------------------------- discovery
def discovery_document(req) -> Response:
    """``handle_oidc_metadata``: over plain HTTP the base URL is empty (relative endpoints)."""
    base = ""
    body = {
        "issuer": base,
        "authorization_endpoint": f"{base}/login",
        "token_endpoint": f"{base}/auth/token",
        "userinfo_endpoint": f"{base}/auth/userinfo",
        "jwks_uri": f"{base}/auth/jwks.json",
        "registration_endpoint": f"{base}/auth/register",
        "device_authorization_endpoint": f"{base}/auth/device",
        "scopes_supported": SCOPES,
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "grant_types_supported": [
            "authorization_code",
            "refresh_token",
            "urn:ietf:params:oauth:grant-type:device_code",
        ],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_post", "client_secret_basic"],
        "id_token_signing_alg_values_supported": [
            "RS256", "RS384", "RS512", "ES256", "ES384", "PS256", "PS384", "PS512", "HS256", "HS384", "HS512",
        ],
        "claims_supported": ["sub", "name", "preferred_username", "email", "email_verified"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": True,
    }
    response = json_response(body)
    response.headers.append(("access-control-allow-origin", "*"))
    return response


# ---------------------------------------------------------------------------- /api/auth
def _auth_error() -> ProblemError:
    """Client-side errors of /api/auth are authentication errors: a generic 401."""
    return unauthorized()


def handle_login(sb, req) -> Response:
    limits.anonymous_request(sb, req.client_ip)
    if req.body is None:
        raise ProblemError(400, "Invalid parameters", "Request too large")
    try:
        body = json.loads(req.body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise ProblemError.bad_parameters("JSON deserialization failed") from None
    if not isinstance(body, dict) or body.get("type") not in ("authCode", "authDevice"):
        raise ProblemError.bad_parameters("JSON deserialization failed")
    for key in ("accountName", "accountSecret"):
        if not isinstance(body.get(key), str):
            raise ProblemError.bad_parameters("JSON deserialization failed")
    if body["type"] == "authDevice":
        return json_response({"type": "failure"}, no_cache=True)  # device flow: not emulated
    client_id = body.get("clientId")
    if not isinstance(client_id, str):
        raise ProblemError.bad_parameters("JSON deserialization failed")
    redirect_uri = body.get("redirectUri")
    challenge = body.get("codeChallenge")
    method = body.get("codeChallengeMethod") or "plain"
    if len(client_id) > CLIENT_ID_MAX_LEN:
        raise _auth_error()
    if not isinstance(redirect_uri, str) or not redirect_uri:
        raise _auth_error()  # "A redirect URI is required." (since v0.16.10)
    if redirect_uri.startswith("http://") and not challenge:
        raise _auth_error()  # "Redirect URI must be HTTPS."
    if challenge is not None and method not in ("S256", "plain"):
        raise _auth_error()  # "Unsupported PKCE code_challenge_method."
    for resource in body.get("resource") or []:
        if not _known_resource(sb, resource):
            raise _auth_error()

    p = resolve_login(sb, body["accountName"])
    try:
        ok = p is not None and check_secret(sb, p, body["accountSecret"], body.get("mfaToken"))
    except MfaRequired:
        return json_response({"type": "mfaRequired"}, no_cache=True)
    if not ok or not permissions_of(sb, p) & {"authenticate"}:
        limits.authentication_failed(sb, req.client_ip, body["accountName"])
        return json_response({"type": "failure"}, no_cache=True)
    if not _client_allowed(sb, p, client_id, redirect_uri):
        raise _auth_error()  # "Invalid client registration."
    code = "".join(secrets.choice(_ALNUM) for _ in range(40))
    params = json.dumps(
        {"redirect_uri": redirect_uri, "challenge": challenge, "method": method, "scope": body.get("scope")}
    )
    sb.oauth_codes[code] = OAuthCode(
        "authorized", p.id, client_id, body.get("nonce"), params, sb.now() + sb.AUTH_CODE_LIFETIME
    )
    return json_response({"type": "authenticated", "client_code": code, "iss": _issuer(req)}, no_cache=True)


def _issuer(req) -> str:
    return req.base_url


def _known_resource(sb, resource) -> bool:
    if not isinstance(resource, str) or "://" not in resource:
        return False
    scheme, rest = resource.split("://", 1)
    schemes = {"http", "https", "smtp", "smtps", "imap", "imaps", "pop3", "pop3s", "caldav", "caldavs",
               "carddav", "carddavs", "webdav", "webdavs", "sieve", "sieves"}
    host = rest.split("/", 1)[0].rsplit("@", 1)[-1].split(":", 1)[0].lower()
    return scheme.lower() in schemes and host == sb.settings.get("server.hostname", "mail.example.org")


def _client_allowed(sb, p, client_id: str, redirect_uri: str) -> bool:
    """``x:OidcProvider.requireClientRegistration`` (sandbox setting
    ``oauth.require-client-registration``): the client must be a registered x:OAuthClient
    listing the redirect URI, unless the user holds ``oAuthClientOverride``."""
    if sb.settings.get("oauth.require-client-registration", "false") != "true":
        return True
    client = sb.get(client_id.lower())
    if client is not None and client.type == "oauthClient" and redirect_uri in client.urls:
        return True
    return "oAuthClientOverride" in permissions_of(sb, p)


# ---------------------------------------------------------------------------- /auth/token
def _token_error(error: str) -> Response:
    return json_response({"error": error}, 400, no_cache=True)


def handle_token(sb, req) -> Response:
    if req.method != "POST":
        raise ProblemError.not_found()
    limits.anonymous_request(sb, req.client_ip)
    form = dict(form_urlencoded_pairs(req.body or b""))
    header = req.header("authorization") or ""
    if header.lower().startswith("basic "):
        creds = decode_plain_auth(header[6:].strip())
        if creds is not None:
            form.setdefault("client_id", creds[0])
            form.setdefault("client_secret", creds[1])
    grant = form.get("grant_type")
    if grant == "authorization_code":
        return _exchange_code(sb, req, form)
    if grant == "refresh_token":
        return _refresh(sb, form)
    return _token_error("invalid_grant")


def _exchange_code(sb, req, form) -> Response:
    code = form.get("code")
    client_id = form.get("client_id")
    if not code or not client_id:
        return _token_error("invalid_client")
    oauth = sb.oauth_codes.get(code)
    if oauth is None or oauth.status != "authorized" or oauth.expires_at <= sb.now():
        return _token_error("access_denied")
    params = json.loads(oauth.params)
    if oauth.client_id != client_id or params["redirect_uri"] != form.get("redirect_uri"):
        return _token_error("invalid_client")
    verifier = form.get("code_verifier")
    challenge = params["challenge"]
    if challenge is None:
        if verifier is not None:
            return _token_error("invalid_grant")
    else:
        if verifier is None or not _VERIFIER.fullmatch(verifier):
            return _token_error("invalid_grant")
        if params["method"] == "S256":
            computed = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        else:
            computed = verifier
        if not secrets.compare_digest(computed, challenge):
            return _token_error("invalid_grant")
    if not _client_secret_ok(sb, client_id, form.get("client_secret")):
        return _token_error("invalid_client")
    del sb.oauth_codes[code]  # single use
    p = sb.principals.get(oauth.account_id)
    if p is None:
        return _token_error("access_denied")
    body = _issue(sb, p, client_id, with_refresh=True)
    body["id_token"] = _id_token(sb, p, client_id, oauth.nonce, req)
    if params.get("scope"):
        body["scope"] = params["scope"]
    return json_response(body, no_cache=True)


def _client_secret_ok(sb, client_id: str, secret: str | None) -> bool:
    client = sb.get(client_id.lower())
    if client is None or client.type != "oauthClient" or not client.secrets:
        return True
    return secret is not None and any(_verify(h, secret) or h == secret for h in client.secrets)


def _refresh(sb, form) -> Response:
    token = form.get("refresh_token")
    info = sb.tokens.get(token or "")
    now = sb.now()
    if info is None or info.grant_type != "refresh_token" or info.expiry <= now:
        return _token_error("invalid_grant")
    p = sb.principals.get(info.account_id)
    if p is None or info.binding != _credential_version(p):
        return _token_error("invalid_grant")
    renew = info.expiry - now <= sb.REFRESH_RENEW_WINDOW
    body = _issue(sb, p, info.client_id, with_refresh=renew)
    if not renew:
        body["refresh_token"] = token
    return json_response(body, no_cache=True)


def _new_token(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_ALNUM) for _ in range(48))


def _issue(sb, p, client_id: str, *, with_refresh: bool) -> dict:
    now = sb.now()
    version = _credential_version(p)
    access = _new_token("")
    sb.tokens[access] = TokenInfo("access_token", p.id, client_id, now, now + sb.access_token_lifetime, version)
    body = {"access_token": access, "token_type": "bearer", "expires_in": sb.access_token_lifetime}
    if with_refresh:
        refresh = _new_token("")
        sb.tokens[refresh] = TokenInfo(
            "refresh_token", p.id, client_id, now, now + sb.refresh_token_lifetime, version
        )
        body["refresh_token"] = refresh
    return body


def _id_token(sb, p, client_id: str, nonce, req) -> str:
    """An unsigned-looking JWT (the sandbox does not publish signing keys)."""

    def part(value) -> str:
        return base64.urlsafe_b64encode(dump_json(value)).rstrip(b"=").decode()

    now = sb.now()
    claims = {"iss": req.base_url, "sub": ids.encode(p.id), "aud": client_id, "iat": now,
              "exp": now + sb.ID_TOKEN_LIFETIME, "email": address_of(sb, p), "preferred_username": address_of(sb, p)}
    if nonce:
        claims["nonce"] = nonce
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."
