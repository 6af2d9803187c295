"""Self-service objects: they always act on the caller's own account (objects.md §6–§8)."""

from __future__ import annotations

import secrets
import string
from types import SimpleNamespace

from . import ids
from .errors import SetError
from .objects import MASK, Kind, secondary_view, weak_password
from .store import digest, jmap_state, parse_utc, password_hash, totp_url

_ALNUM = string.ascii_letters + string.digits


class SecondaryKind(Kind):
    """x:ApiKey / x:AppPassword: the caller's secondary credentials; ids are credential ids."""

    tenant_scoped = False
    properties = ("allowedIps", "createdAt", "description", "expiresAt", "permissions", "secret")
    server_set = ("createdAt", "secret")
    filters = ("expiresAt",)
    sorts = ("id", "expiresAt")
    cred_type = ""
    limit_setting = ""

    def records(self, sb, caller) -> dict:
        creds = jmap_state(sb).credentials(sb, caller.principal)
        return {c["id"]: SimpleNamespace(id=c["id"], cred=c) for c in creds if c["@type"] == self.cred_type}

    def view(self, sb, caller, rec) -> dict:
        return secondary_view(rec.cred, with_type=False)

    def filter_value(self, sb, rec, prop):
        if prop == "expiresAt":
            return _utc_or_none(rec.cred.get("expiresAt"))
        return None

    def text_of(self, sb, rec) -> list:
        return [rec.cred["description"]]

    def create(self, sb, caller, obj: dict):
        self.check_patch_keys(obj, ("description", "expiresAt", "allowedIps", "permissions"))
        if not obj.get("description"):
            raise SetError.required("description")
        st = jmap_state(sb)
        p = caller.principal
        creds = st.credentials(sb, p)
        if sum(1 for c in creds if c["@type"] == self.cred_type) >= 5:
            noun = "API keys" if self.cred_type == "ApiKey" else "app passwords"
            raise SetError("overQuota", f"You have exceeded your quota of 5 {noun}.")
        perms = obj.get("permissions") or {"@type": "Inherit"}
        listed = [k for k, v in (perms.get("permissions") or {}).items() if v]
        if perms.get("@type") == "Replace" and any(not caller.has(n) for n in listed):
            lacking = sorted(n for n in listed if not caller.has(n))
            raise SetError("forbidden", "You are not authorized to grant permissions: " + ", ".join(lacking))
        expires = obj.get("expiresAt")
        if expires is not None and parse_utc(expires) is None:
            raise SetError.invalid_patch("expiresAt", "Invalid value for property.")
        plain = self.generate()
        from ..passwords import sha512_crypt_hash

        cred = {"id": st.new_credential_id(p), "@type": self.cred_type, "description": obj["description"],
                "createdAt": sb.now(), "expiresAt": parse_utc(expires) if expires else None,
                "allowedIps": dict(obj.get("allowedIps") or {}), "permissions": perms}
        if self.cred_type == "ApiKey":
            cred["digest"] = digest(plain)
        else:
            cred["hash"] = sha512_crypt_hash(plain)
        creds.append(cred)
        return cred["id"], {"secret": plain}

    def generate(self) -> str:
        body = "".join(secrets.choice(_ALNUM) for _ in range(32))
        return ("API_" if self.cred_type == "ApiKey" else "app_") + body

    def update(self, sb, caller, rec, patch: dict):
        self.check_patch_keys(patch, ("description", "expiresAt", "allowedIps", "permissions"))
        for key, value in patch.items():
            if key == "description" and not value:
                raise SetError.required("description")
            if key == "expiresAt":
                if value is not None and parse_utc(value) is None:
                    raise SetError.invalid_patch(key, "Invalid value for property.")
                rec.cred["expiresAt"] = parse_utc(value) if value else None
            elif key.startswith("allowedIps/"):
                from .directory import unescape

                ips = rec.cred.setdefault("allowedIps", {})
                member = unescape(key.split("/", 1)[1])
                if value:
                    ips[member] = True
                else:
                    ips.pop(member, None)
            else:
                rec.cred[key] = value
        return None

    def destroy(self, sb, caller, rec) -> None:
        p = caller.principal
        creds = jmap_state(sb).credentials(sb, p)
        creds.remove(rec.cred)
        if rec.cred.get("source") in p.secrets:
            new = p.clone()
            new.secrets.remove(rec.cred["source"])
            sb.replace(new)


def _utc_or_none(epoch):
    from .store import utc

    return utc(epoch)


class ApiKeyKind(SecondaryKind):
    name = "ApiKey"
    prefix = "sysApiKey"
    cred_type = "ApiKey"


class AppPasswordKind(SecondaryKind):
    name = "AppPassword"
    prefix = "sysAppPassword"
    cred_type = "AppPassword"


class AccountPasswordKind(Kind):
    """The caller's password and TOTP (singleton)."""

    name = "AccountPassword"
    prefix = "sysAccountPassword"
    singleton = True
    tenant_scoped = False
    properties = ("currentSecret", "otpAuth", "secret")
    server_set = ()

    def records(self, sb, caller) -> dict:
        return {ids.decode(ids.SINGLETON): SimpleNamespace(id=ids.decode(ids.SINGLETON), p=caller.principal)}

    def view(self, sb, caller, rec) -> dict:
        p = caller.principal
        return {"secret": MASK if password_hash(p) else None, "currentSecret": None,
                "otpAuth": {"otpUrl": MASK if totp_url(p) else None, "otpCode": None}}

    def update(self, sb, caller, rec, patch: dict):
        from ..passwords import _totp_check, sha512_crypt_hash, verify_secret_hash

        p = caller.principal
        for key in patch:
            if key not in ("secret", "currentSecret", "otpAuth") and not key.startswith("otpAuth/"):
                if key == "@type":
                    raise SetError("invalidProperties")
                raise SetError.invalid_patch(key, "Invalid property")
        hashed = password_hash(p)
        if hashed is None:
            raise SetError("forbidden", "Your account does not support password changes")
        current = patch.get("currentSecret")
        if not current:
            raise SetError("forbidden", "Current secret must be provided to change the password or OTP auth.")
        if not verify_secret_hash(hashed, current):
            raise SetError("forbidden", "Current secret is incorrect.")
        otp = totp_url(p)
        otp_patch = dict(patch.get("otpAuth") or {})
        for key, value in patch.items():
            if key.startswith("otpAuth/"):
                otp_patch[key.split("/", 1)[1]] = value
        if otp is not None:
            code = otp_patch.get("otpCode")
            if not code:
                raise SetError("forbidden", "Current OTP code is required to change the password or OTP auth.")
            if not _totp_check(otp, str(code), sb.now()):
                raise SetError("forbidden", "Current OTP code is incorrect.")
        new = p.clone()
        secret = patch.get("secret")
        if secret is not None:
            if weak_password(secret):
                raise SetError.invalid_properties(["secret"], "Password is too weak.")
            new.secrets = [s if s != hashed else sha512_crypt_hash(secret) for s in new.secrets]
        if "otpUrl" in otp_patch and otp_patch["otpUrl"] != MASK:
            url = otp_patch["otpUrl"]
            new.secrets = [s for s in new.secrets if not s.startswith("otpauth://")]
            if url:
                if not str(url).startswith("otpauth://"):
                    raise SetError.invalid_patch("otpAuth/otpUrl", "Invalid value for property.")
                new.secrets.insert(0, url)
        sb.replace(new)
        return None

    def create(self, sb, caller, obj):
        raise SetError("singleton")

    def destroy(self, sb, caller, rec):
        raise SetError("singleton")


API_KEY = ApiKeyKind()
APP_PASSWORD = AppPasswordKind()
ACCOUNT_PASSWORD = AccountPasswordKind()
