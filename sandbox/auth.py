"""Authentication of ``/api`` requests (spec §2) and the caller's access token."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from . import limits
from .errors import ProblemError
from .model import Principal
from .passwords import HashError, MissingTotp, verify_secret


@dataclass
class AccessToken:
    """The authenticated caller."""

    account_id: int
    name: str
    permissions: int
    tenant_id: int | None
    #: "basic", "bearer" (OAuth access token) or "api" (Bearer api_...)
    method: str
    sandbox: object = None

    def has(self, permission: str) -> bool:
        pid = self.sandbox.perms.id_of(permission)
        return pid is not None and bool(self.permissions >> pid & 1)

    def require(self, permission: str) -> None:
        """403 unless the caller holds ``permission``."""
        if not self.has(permission):
            raise ProblemError.forbidden()

    def permission_names(self) -> list[str]:
        return self.sandbox.perms.names_in_bitset_order(self.permissions)


def decode_plain_auth(token: str) -> tuple[str, str] | None:
    """``base64(user:secret)`` -> (trimmed lowercased user, secret)."""
    try:
        raw = base64.b64decode(token + "=" * (-len(token) % 4), validate=True)
        text = raw.decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    user, sep, secret = text.partition(":")
    if not sep:
        return None
    return user.strip().lower(), secret


def split_authorization(header: str | None) -> tuple[str, str] | None:
    if header is None or " " not in header:
        return None
    scheme, token = header.split(" ", 1)
    return scheme, token.strip()


FALLBACK_ADMIN_ID = 0xFFFFFFFF


def fallback_admin(sb) -> tuple[str, str] | None:
    """(user, secret) of ``authentication.fallback-admin`` when configured (§2.3)."""
    user = sb.settings.get("authentication.fallback-admin.user")
    secret = sb.settings.get("authentication.fallback-admin.secret")
    if user and secret:
        return user, secret
    return None


def account_first_secret(sb, account_id: int) -> str | None:
    """The secret refresh tokens are bound to (``password_hash``)."""
    if account_id == FALLBACK_ADMIN_ID:
        fb = fallback_admin(sb)
        return fb[1] if fb else None
    p = sb.principals.get(account_id)
    if p is None or not p.secrets:
        return None
    return p.secrets[0]


def authenticate_credentials(sb, username: str, secret: str) -> Principal | None:
    """Verify a login/secret pair. Returns the principal, or None for the fallback admin.

    Raises 401/402 problems.
    """
    error = None
    p = sb.get(username)
    if p is not None:
        try:
            if verify_secret(p.secrets, secret, sb.now()):
                return p
        except MissingTotp:
            raise ProblemError.totp_required() from None
        except HashError:
            error = ProblemError.unauthorized()
    fb = fallback_admin(sb)
    if fb is not None and username == fb[0]:
        try:
            from .passwords import verify_secret_hash

            if verify_secret_hash(fb[1], secret):
                return None
        except HashError:
            raise ProblemError.unauthorized() from None
    raise error or ProblemError.unauthorized(auth_failed=True)


def validate_token(sb, token: str, expected_grant: str | None):
    """Check an OAuth token (``validate_access_token``); returns its TokenInfo or raises 401."""
    info = sb.tokens.get(token)
    if info is None:
        raise ProblemError.unauthorized()
    now = sb.now()
    if info.expiry <= now or info.issued_at > now:
        raise ProblemError.unauthorized()
    if expected_grant is not None and info.grant_type != expected_grant:
        raise ProblemError.unauthorized()
    if info.binding is not None and account_first_secret(sb, info.account_id) != info.binding:
        raise ProblemError.unauthorized()
    return info


def access_for_account(sb, account_id: int, method: str) -> AccessToken:
    """Access token of an account id (a stored principal or the fallback admin)."""
    if account_id == FALLBACK_ADMIN_ID:
        fb = fallback_admin(sb)
        if fb is None:
            raise ProblemError.unauthorized()
        return AccessToken(FALLBACK_ADMIN_ID, fb[0], sb.perms.admin_mask, None, method, sb)
    p = sb.principals.get(account_id)
    if p is None:
        raise ProblemError.unauthorized()
    return build_access_token(sb, p, method)


def build_access_token(sb, p: Principal, method: str) -> AccessToken:
    mask = sb.effective_permissions(p)
    tenant_id = None
    if sb.enterprise and p.tenant is not None:
        if p.tenant not in sb.principals:
            raise ProblemError.forbidden()
        tenant_id = p.tenant
    return AccessToken(p.id, p.name, mask, tenant_id, method, sb)


def _access(sb, p: Principal | None, login: str, method: str) -> AccessToken:
    if p is None:
        return AccessToken(FALLBACK_ADMIN_ID, login, sb.perms.admin_mask, None, method, sb)
    return build_access_token(sb, p, method)


def _login(sb, request, creds: tuple[str, str]) -> Principal | None:
    try:
        return authenticate_credentials(sb, *creds)
    except ProblemError as exc:
        if exc.auth_failed:
            limits.authentication_failed(sb, request.client_ip, creds[0])
        raise


def authenticate_request(sb, request, *, allow_api_access: bool = True) -> AccessToken:
    """Authenticate the Authorization header of a request (§2.1, §2.5, §2.6)."""
    header = request.header("authorization")
    parts = split_authorization(header)
    if parts is None:
        limits.anonymous_request(sb, request.client_ip)
        raise ProblemError.unauthorized(auth_failed=True)
    scheme, token = parts
    cached = token in sb.http_auth_cache
    if scheme.lower() == "basic":
        creds = decode_plain_auth(token)
        if creds is None:
            raise ProblemError.unauthorized()
        p = _login(sb, request, creds)
        access = _access(sb, p, creds[0], "basic")
    elif scheme.lower() == "bearer":
        if not cached:
            limits.anonymous_request(sb, request.client_ip)
        if allow_api_access and token.startswith("api_"):
            creds = decode_plain_auth(token[4:])
            if creds is None:
                raise ProblemError.unauthorized()
            p = _login(sb, request, creds)
            access = _access(sb, p, creds[0], "api")
        else:
            info = validate_token(sb, token, "access_token")
            access = access_for_account(sb, info.account_id, "bearer")
    else:
        limits.anonymous_request(sb, request.client_ip)
        raise ProblemError.unauthorized()
    access.require("authenticate")
    sb.http_auth_cache.add(token)
    limits.authenticated_request(sb, access)
    return access
