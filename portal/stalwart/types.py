"""Typed results of the service layer.

Stalwart v0.11 writes a list field with one value as a plain string, v0.12
always as an array (api-behaviour §5.2, §18): `as_list` accepts both.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from datetime import datetime
from typing import Any

from . import errors

# Wire names of principal types (api-behaviour §5.1).
PRINCIPAL_TYPES = (
    "individual",
    "group",
    "resource",
    "location",
    "list",
    "other",
    "domain",
    "tenant",
    "role",
    "apiKey",
    "oauthClient",
)


def as_list(value: Any, *, field: str) -> tuple[str, ...]:
    if isinstance(value, list):
        items = tuple(value)
        for item in items:
            if not isinstance(item, str):
                raise errors.StalwartBadResponse(f"Unexpected value for {field}.")
        return items
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        return (value,)
    raise errors.StalwartBadResponse(f"Unexpected value for {field}.")


def _int(value: Any, *, field: str) -> int:
    if value is None or value == "":
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise errors.StalwartBadResponse(f"Unexpected value for {field}.")
    return value


@dataclass(frozen=True, slots=True)
class Page[T]:
    items: tuple[T, ...]
    total: int


@dataclass(frozen=True, slots=True)
class AppPassword:
    """An app password as listed in a principal's secrets: its name only."""

    raw_name: str
    label: str
    created: datetime | None
    # Stalwart 0.16+ keeps these per app password (earlier versions have none of them).
    expires: datetime | None = None
    allowed_ips: tuple[str, ...] = ()
    scope: str = ""  # "" (unknown), "Inherit", "Disable" or "Replace" (x:CredentialPermissions)
    id: str = ""  # Stalwart 0.16+: the credential's id (x:AppPassword), to change its options
    scope_permissions: tuple[str, ...] = ()  # 0.16+: the names of a Disable/Replace scope

    @classmethod
    def from_raw_name(cls, raw: str) -> AppPassword:
        # The official client names them base64("label$RFC3339 time"); other
        # clients may use anything, so fall back to the raw name.
        try:
            decoded = base64.b64decode(raw, validate=True).decode("utf-8")
            label, _, when = decoded.rpartition("$")
            created = datetime.fromisoformat(when.replace("Z", "+00:00"))
            if label:
                return cls(raw_name=raw, label=label, created=created)
        except (binascii.Error, UnicodeDecodeError, ValueError):
            pass
        return cls(raw_name=raw, label=raw, created=None)


#: Stalwart 0.16+ credential types (x:Credential `@type`)
CREDENTIAL_KINDS = ("Password", "AppPassword", "ApiKey")


@dataclass(frozen=True, slots=True)
class Credential:
    """A credential of a Stalwart 0.16+ account (x:Credential, x:ApiKey, x:AppPassword): never its secret."""

    id: str
    kind: str  # one of CREDENTIAL_KINDS
    description: str = ""
    created: datetime | None = None
    expires: datetime | None = None
    allowed_ips: tuple[str, ...] = ()
    scope: str = ""  # x:CredentialPermissions: "Inherit", "Disable" (all but these) or "Replace" (only these)
    permissions: tuple[str, ...] = ()  # the names of a Disable/Replace scope (0.16 names)


@dataclass(frozen=True, slots=True)
class SecretsSummary:
    """What the portal may know about a principal's secrets: never the hashes."""

    has_password: bool
    otp_enabled: bool
    app_passwords: tuple[AppPassword, ...]
    #: Stalwart 0.16+: every credential of the account (password, app passwords, API keys), masked
    credentials: tuple[Credential, ...] = ()

    @classmethod
    def from_secrets(cls, secrets: tuple[str, ...]) -> SecretsSummary:
        otp = any(secret.startswith("otpauth://") for secret in secrets)
        apps = []
        plain = False
        for secret in secrets:
            if secret.startswith("$app$"):
                name = secret[len("$app$") :].split("$", 1)[0]
                apps.append(AppPassword.from_raw_name(name))
            elif not secret.startswith("otpauth://"):
                plain = True
        return cls(has_password=plain, otp_enabled=otp, app_passwords=tuple(apps))


NO_SECRETS = SecretsSummary(False, False, ())


@dataclass(frozen=True, slots=True)
class Principal:
    id: int | None
    type: str
    name: str
    description: str = ""
    emails: tuple[str, ...] = ()
    quota: int = 0
    # Tenants may carry per-type limits: [storage, n(individual), n(group), ...].
    quota_limits: tuple[int, ...] = ()
    used_quota: int = 0
    member_of: tuple[str, ...] = ()
    members: tuple[str, ...] = ()
    # Domains and tenants report a number of members instead of names.
    member_count: int | None = None
    lists: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    enabled_permissions: tuple[str, ...] = ()
    disabled_permissions: tuple[str, ...] = ()
    tenant: str = ""
    picture: str = ""
    urls: tuple[str, ...] = ()
    external_members: tuple[str, ...] = ()
    secrets: SecretsSummary = NO_SECRETS

    @property
    def primary_email(self) -> str:
        return self.emails[0] if self.emails else ""

    @property
    def aliases(self) -> tuple[str, ...]:
        return self.emails[1:]

    @property
    def total_members(self) -> int:
        if self.member_count is not None:
            return self.member_count
        return len(self.members) + len(self.external_members)

    @property
    def quota_percent(self) -> int | None:
        if not self.quota:
            return None
        return min(100, round(self.used_quota * 100 / self.quota))

    @classmethod
    def from_api(cls, data: Any) -> Principal:
        if not isinstance(data, dict) or not isinstance(data.get("type"), str):
            raise errors.StalwartBadResponse("Unexpected principal object.")
        get = data.get
        quota = get("quota")
        quota_limits: tuple[int, ...] = ()
        if isinstance(quota, list):
            quota_limits = tuple(_int(item, field="quota") for item in quota)
            quota_value = quota_limits[0] if quota_limits else 0
        else:
            quota_value = _int(quota, field="quota")
        members = get("members")
        member_count = None
        if isinstance(members, int) and not isinstance(members, bool):
            member_count, member_names = members, ()
        else:
            member_names = as_list(members, field="members")
        identifier = get("id")
        # A list page asks for a few fields: the others are absent, and cost nothing here.
        lists = {key: as_list(value, field=key) for key in _LIST_FIELDS if (value := get(key)) is not None}
        secrets = lists.get("secrets")
        listed = lists.get
        return build_principal(  # every field, in the class's order
            identifier if isinstance(identifier, int) else None,
            data["type"],
            str(get("name") or ""),
            str(get("description") or ""),
            listed("emails", ()),
            quota_value,
            quota_limits,
            _int(get("usedQuota"), field="usedQuota"),
            listed("memberOf", ()),
            member_names,
            member_count,
            listed("lists", ()),
            listed("roles", ()),
            listed("enabledPermissions", ()),
            listed("disabledPermissions", ()),
            str(get("tenant") or ""),
            str(get("picture") or ""),
            listed("urls", ()),
            listed("externalMembers", ()),
            SecretsSummary.from_secrets(secrets) if secrets else NO_SECRETS,
        )


def _builder(cls: type[Principal]) -> Callable[..., Principal]:
    """A constructor of the frozen slots dataclass `cls` taking every field by position, in
    order. It fills the slots directly: the generated `__init__` of a frozen dataclass calls
    `object.__setattr__` once per field, about a fifth of parsing a list page's principals.
    The instance is as frozen, equal and hashable as one `cls(...)` makes."""
    setters = tuple(getattr(cls, field.name).__set__ for field in dataclass_fields(cls))
    new = object.__new__

    def build(*values: Any) -> Principal:
        made = new(cls)
        for setter, value in zip(setters, values, strict=True):
            setter(made, value)
        return made

    return build


#: `Principal(...)` with every field given by position, in the class's order, without the
#: frozen dataclass's `__init__` (the backends' list pages build 50 at a time).
build_principal = _builder(Principal)


_LIST_FIELDS = (
    "emails",
    "memberOf",
    "lists",
    "roles",
    "enabledPermissions",
    "disabledPermissions",
    "urls",
    "externalMembers",
    "secrets",
)


def page_from_api(data: Any, parse: Any) -> Page[Any]:
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise errors.StalwartBadResponse("Unexpected list answer.")
    return Page(items=tuple(parse(item) for item in data["items"]), total=_int(data.get("total"), field="total"))


# --- /api/account/* (the signed-in person's own account) ---------------------
@dataclass(frozen=True, slots=True)
class AccountAuth:
    """`GET /api/account/auth`: two-factor state and app password names (never hashes)."""

    otp_enabled: bool
    app_passwords: tuple[AppPassword, ...]

    @classmethod
    def from_api(cls, data: Any) -> AccountAuth:
        if not isinstance(data, dict) or not isinstance(data.get("otpEnabled"), bool):
            raise errors.StalwartBadResponse("Unexpected account answer.")
        names = as_list(data.get("appPasswords"), field="appPasswords")
        return cls(otp_enabled=data["otpEnabled"], app_passwords=tuple(AppPassword.from_raw_name(n) for n in names))


# Wire tags of encryption at rest (serde's camelCase of "PGP" and "SMIME") and algorithms.
ENCRYPTION_METHODS = {"pGP": "OpenPGP", "sMIME": "S/MIME"}
ENCRYPTION_ALGORITHMS = {"Aes128": "AES-128", "Aes256": "AES-256"}
#: Stalwart 0.16+ also offers these, for S/MIME certificates only
ENCRYPTION_AEAD_ALGORITHMS = {"Aes256Gcm": "AES-256-GCM", "ChaCha20Poly1305": "ChaCha20-Poly1305"}


@dataclass(frozen=True, slots=True)
class EncryptionAtRest:
    """`GET /api/account/crypto`. The server never gives the certificates back."""

    type: str  # "disabled", "pGP" or "sMIME"
    algo: str = ""  # "Aes128" or "Aes256" when enabled
    #: Stalwart 0.15+: whether encrypted mail may still train the spam filter (None: not said)
    allow_spam_training: bool | None = None
    #: Stalwart 0.16+: messages saved by the person's own apps are encrypted too (None: not said)
    encrypt_on_append: bool | None = None
    #: Stalwart 0.16+: the stored key's description and when it was added (x:PublicKey)
    key_label: str = ""
    key_added: datetime | None = None

    @property
    def enabled(self) -> bool:
        return self.type in ENCRYPTION_METHODS

    @property
    def method_label(self) -> str:
        return ENCRYPTION_METHODS.get(self.type, "")

    @property
    def algo_label(self) -> str:
        return ENCRYPTION_ALGORITHMS.get(self.algo) or ENCRYPTION_AEAD_ALGORITHMS.get(self.algo, self.algo)

    @classmethod
    def from_api(cls, data: Any) -> EncryptionAtRest:
        if not isinstance(data, dict) or not isinstance(data.get("type"), str):
            raise errors.StalwartBadResponse("Unexpected encryption answer.")
        if data["type"] == "disabled":
            return cls("disabled")
        if data["type"] not in ENCRYPTION_METHODS:
            raise errors.StalwartBadResponse("Unknown encryption type.")
        allow = data.get("allow_spam_training")
        return cls(data["type"], str(data.get("algo") or ""), allow if isinstance(allow, bool) else None)


# --- /api/dns/records and DKIM ------------------------------------------------
@dataclass(frozen=True, slots=True)
class DkimRecord:
    """What a DKIM TXT record says: `<selector>._domainkey.<domain>.` `v=DKIM1; k=...; p=...`."""

    selector: str
    algorithm: str  # the k= tag: "ed25519" or "rsa" (the default when absent)
    public_key: str  # the p= tag, base64

    @property
    def algorithm_label(self) -> str:
        return {"ed25519": "Ed25519", "rsa": "RSA"}.get(self.algorithm, self.algorithm)

    @property
    def key_bits(self) -> int | None:
        """RSA modulus size, or 256 for Ed25519; None when the key cannot be read."""
        try:
            raw = base64.b64decode(self.public_key, validate=True)
        except (binascii.Error, ValueError):
            return None
        if self.algorithm == "ed25519":
            return 256 if len(raw) == 32 else None
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.hazmat.primitives.serialization import load_der_public_key

        try:
            key = load_der_public_key(raw)
        except (ValueError, TypeError):
            return None
        return key.key_size if isinstance(key, rsa.RSAPublicKey) else None


@dataclass(frozen=True, slots=True)
class DnsRecord:
    """One record Stalwart suggests publishing; names are absolute (end with a dot)."""

    type: str
    name: str
    content: str

    @classmethod
    def from_api(cls, data: Any) -> DnsRecord:
        if not isinstance(data, dict) or not all(isinstance(data.get(key), str) for key in ("type", "name", "content")):
            raise errors.StalwartBadResponse("Unexpected DNS record.")
        return cls(type=data["type"], name=data["name"], content=data["content"])

    @property
    def dkim(self) -> DkimRecord | None:
        if self.type != "TXT" or "._domainkey." not in self.name:
            return None
        tags = {}
        for part in self.content.split(";"):
            key, sep, value = part.partition("=")
            if sep:
                tags[key.strip().lower()] = value.strip()
        if tags.get("v") != "DKIM1":
            return None
        return DkimRecord(
            selector=self.name.split("._domainkey.", 1)[0],
            algorithm=tags.get("k", "rsa").lower(),
            public_key=tags.get("p", ""),
        )
