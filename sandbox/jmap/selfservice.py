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


# ------------------------------------------------------------------ encryption at rest (§9, §10)
class CryptoState:
    """x:PublicKey objects (the account's encryption setting itself lives in ``JmapState.extras``,
    shared with ``x:Account.encryptionAtRest``)."""

    def __init__(self):
        #: key id -> {"accountId", "description", "key", "createdAt", "expiresAt", "emailAddresses"}
        self.keys: dict[int, dict] = {}
        self.next_id = 0

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id


def crypto_state(sb) -> CryptoState:
    st = getattr(sb, "_jmap_crypto", None)
    if st is None:
        import copy

        st = sb._jmap_crypto = CryptoState()

        def snapshot() -> CryptoState:
            return copy.deepcopy(sb._jmap_crypto)

        def restore(saved: CryptoState) -> None:
            sb._jmap_crypto = saved

        sb.register_state("jmap-crypto", snapshot, restore)
    return st


MAX_PUBLIC_KEYS = 5  # x:Email.maxPublicKeys default
ENCRYPTION_TYPES = ("Disabled", "Aes128", "Aes256", "Aes256Gcm", "ChaCha20Poly1305")
_AEAD = {"Aes256Gcm": "AES-256-GCM", "ChaCha20Poly1305": "ChaCha20-Poly1305"}


def key_method(text: str) -> str | None:
    """"PGP" or "SMIME" for a key the server accepts; raises SetError (``key``) otherwise.

    As ``parse_public_key`` (common/storage/encryption.rs): PEM/armored blocks only, OpenPGP and
    S/MIME not mixed, no block of either kind → "No valid public key found."."""
    from ..account import CertificateError, _parse_pem, trial_encryption

    try:
        found = _parse_pem(text)
        if found is None:
            raise SetError.invalid_properties(["key"], "No valid public key found.")
        method, certs = found
        trial_encryption(method, certs)
    except CertificateError as exc:
        raise SetError.invalid_properties(["key"], str(exc)) from None
    return method


class PublicKeyKind(Kind):
    """Per-account keys for encryption at rest; account-scoped (own keys, all with impersonate)."""

    name = "PublicKey"
    prefix = "sysPublicKey"
    tenant_scoped = False
    properties = ("accountId", "createdAt", "description", "emailAddresses", "expiresAt", "key")
    server_set = ("createdAt",)
    filters = ("accountId",)
    sorts = ("id", "accountId")

    def records(self, sb, caller) -> dict:
        out = {}
        for number, values in crypto_state(sb).keys.items():
            if caller.has("impersonate") or values["accountId"] == caller.account_id:
                out[number] = SimpleNamespace(id=number, values=values)
        return out

    def view(self, sb, caller, rec) -> dict:
        v = rec.values
        return {"accountId": ids.encode(v["accountId"]), "createdAt": _utc_or_none(v["createdAt"]),
                "description": v["description"], "emailAddresses": dict(v["emailAddresses"]),
                "expiresAt": _utc_or_none(v["expiresAt"]), "key": v["key"]}

    def prepare_conditions(self, sb, caller, conditions):
        if not caller.has("impersonate"):
            return [c for c in conditions if c[0] != "accountId"]
        return conditions

    def filter_value(self, sb, rec, prop):
        return ids.encode(rec.values["accountId"]) if prop == "accountId" else None

    def sort_key(self, sb, rec, prop):
        return rec.id if prop == "id" else (rec.values["accountId"], rec.id)

    def _values(self, patch: dict, values: dict) -> None:
        for key, value in patch.items():
            if key == "description":
                if not isinstance(value, str) or not value:
                    raise SetError.required("description")
                values["description"] = value
            elif key == "key":
                if not isinstance(value, str) or not value:
                    raise SetError.required("key")
                values["key"] = value if value.endswith("\n") else value + "\n"
            elif key == "expiresAt":
                if value is not None and parse_utc(value) is None:
                    raise SetError.invalid_patch(key, "Invalid value for property.")
                values["expiresAt"] = parse_utc(value) if value else None
            elif key == "emailAddresses":
                if not isinstance(value, dict):
                    raise SetError.invalid_patch(key, "Invalid value for property.")
                values["emailAddresses"] = {str(a): True for a, on in value.items() if on}
            elif key.startswith("emailAddresses/"):
                from .directory import unescape

                member = unescape(key.split("/", 1)[1])
                if value:
                    values["emailAddresses"][member] = True
                else:
                    values["emailAddresses"].pop(member, None)

    def create(self, sb, caller, obj: dict):
        self.check_patch_keys(obj, ("accountId", "description", "emailAddresses", "expiresAt", "key"))
        for prop in ("description", "key"):
            if not obj.get(prop):
                raise SetError.required(prop)
        st = crypto_state(sb)
        account = caller.account_id  # the server sets it to the request's account
        if sum(1 for v in st.keys.values() if v["accountId"] == account) >= MAX_PUBLIC_KEYS:
            raise SetError("overQuota", f"You have exceeded your quota of {MAX_PUBLIC_KEYS} public keys.")
        values = {"accountId": account, "createdAt": sb.now(), "expiresAt": None, "emailAddresses": {}}
        self._values({k: v for k, v in obj.items() if k != "accountId"}, values)
        key_method(values["key"])
        number = st.new_id()
        st.keys[number] = values
        return number, {}

    def update(self, sb, caller, rec, patch: dict):
        self.check_patch_keys(patch, ("description", "emailAddresses", "expiresAt", "key"))
        values = dict(rec.values, emailAddresses=dict(rec.values["emailAddresses"]))
        self._values(patch, values)
        if values["key"] != rec.values["key"]:
            key_method(values["key"])
        rec.values.update(values)
        return None

    def destroy(self, sb, caller, rec) -> None:
        owner = rec.values["accountId"]
        setting = jmap_state(sb).extras.get(owner, {}).get("encryptionAtRest") or {}
        if setting.get("publicKey") == ids.encode(rec.id):
            raise SetError("objectIsLinked", objectId={"object": "PublicKey", "id": ids.encode(rec.id)},
                           linkedObjects=[{"object": "Account", "id": ids.encode(owner)}])
        crypto_state(sb).keys.pop(rec.id, None)


class AccountSettingsKind(Kind):
    """The caller's display name, locale, time zone and encryption at rest (singleton, §9).

    The same values as the caller's ``x:Account`` (``description`` is the principal's)."""

    name = "AccountSettings"
    prefix = "sysAccountSettings"
    singleton = True
    tenant_scoped = False
    properties = ("description", "encryptionAtRest", "locale", "timeZone")
    server_set = ()

    def records(self, sb, caller) -> dict:
        if caller.principal.type != "individual":
            return {}
        return {ids.decode(ids.SINGLETON): SimpleNamespace(id=ids.decode(ids.SINGLETON), p=caller.principal)}

    def view(self, sb, caller, rec) -> dict:
        p = caller.principal
        extra = jmap_state(sb).extras.get(p.id, {})
        return {"description": p.description, "encryptionAtRest": extra.get("encryptionAtRest", {"@type": "Disabled"}),
                "locale": extra.get("locale", "en_US"), "timeZone": extra.get("timeZone")}

    def update(self, sb, caller, rec, patch: dict):
        p = caller.principal
        extras = jmap_state(sb).extras_of(p.id)
        before = extras.get("encryptionAtRest", {"@type": "Disabled"})
        values = {"description": p.description, "encryptionAtRest": before,
                  "locale": extras.get("locale", "en_US"), "timeZone": extras.get("timeZone")}
        for key, value in patch.items():
            top, _, rest = key.partition("/")
            if top not in self.properties:
                raise SetError.invalid_properties([key])
            if rest:  # a patch inside encryptionAtRest
                if top != "encryptionAtRest" or "/" in rest:
                    raise SetError.invalid_patch(key, "Invalid property")
                values[top] = dict(values[top], **{rest: value})
            else:
                values[top] = value
        values["encryptionAtRest"] = self._encryption(sb, caller, values["encryptionAtRest"],
                                                      changed=values["encryptionAtRest"] != before)
        if values["description"] != p.description:
            new = p.clone()
            new.description = values["description"]
            sb.replace(new)
        for key in ("encryptionAtRest", "locale", "timeZone"):
            extras[key] = values[key]
        return None

    def _encryption(self, sb, caller, value, *, changed: bool) -> dict:
        if not isinstance(value, dict) or value.get("@type") not in ENCRYPTION_TYPES:
            raise SetError.invalid_patch("encryptionAtRest", "Invalid value for property.")
        kind = value["@type"]
        if kind == "Disabled":
            return {"@type": "Disabled"}
        for key in value:
            if key not in ("@type", "publicKey", "encryptOnAppend", "allowSpamTraining"):
                raise SetError.invalid_patch(f"encryptionAtRest/{key}", "Invalid property")
        for key in ("encryptOnAppend", "allowSpamTraining"):
            if not isinstance(value.get(key, False), bool):
                raise SetError.invalid_patch(f"encryptionAtRest/{key}", "Invalid value for property.")
        key_id = value.get("publicKey")
        if not isinstance(key_id, str) or not key_id:
            raise SetError.required("encryptionAtRest/publicKey")
        number = ids.decode(key_id)
        stored = crypto_state(sb).keys.get(number) if number is not None else None
        if stored is None or stored["accountId"] != caller.account_id:
            raise SetError.foreign_key("PublicKey", key_id)
        if changed and kind in _AEAD and key_method(stored["key"]) == "PGP":
            raise SetError.invalid_properties(
                ["encryptionAtRest"],
                f"{_AEAD[kind]} is only supported for S/MIME encryption, but the selected public key is an "
                "OpenPGP key.",
            )
        return {"@type": kind, "publicKey": key_id, "encryptOnAppend": bool(value.get("encryptOnAppend", False)),
                "allowSpamTraining": bool(value.get("allowSpamTraining", False))}

    def create(self, sb, caller, obj):
        raise SetError("singleton")

    def destroy(self, sb, caller, rec):
        raise SetError("singleton")


PUBLIC_KEY = PublicKeyKind()
ACCOUNT_SETTINGS = AccountSettingsKind()
