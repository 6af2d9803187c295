"""The sandbox's directory records: principal types and one ``Principal``.

Shared by the state (``sandbox.state``), what seeds it and both protocol front-ends; it
imports nothing of the sandbox.
"""

from __future__ import annotations

import re
from typing import Any

# Principal types (§5.1): wire name -> type id.
TYPE_IDS = {
    "individual": 0,
    "group": 1,
    "resource": 2,
    "location": 3,
    "list": 5,
    "other": 6,
    "domain": 7,
    "tenant": 8,
    "role": 9,
    "apiKey": 10,
    "oauthClient": 11,
}
#: Display names used in error messages (``Type::as_str``).
TYPE_DISPLAY = {
    "individual": "Individual",
    "group": "Group",
    "resource": "Resource",
    "location": "Location",
    "tenant": "Tenant",
    "list": "List",
    "other": "Other",
    "role": "Role",
    "domain": "Domain",
    "apiKey": "API Key",
    "oauthClient": "OAuth Client",
}
#: Names accepted on input (``Type::parse``): "other" is not one of them.
INPUT_TYPES = {
    "individual": "individual",
    "superuser": "individual",
    "group": "group",
    "resource": "resource",
    "location": "location",
    "list": "list",
    "tenant": "tenant",
    "role": "role",
    "domain": "domain",
    "apiKey": "apiKey",
    "oauthClient": "oauthClient",
}


class Principal:
    """One directory principal. Multi-valued fields are lists; an empty list means absent."""

    __slots__ = (
        "id",
        "type",
        "name",
        "description",
        "quota",
        "secrets",
        "emails",
        "urls",
        "external_members",
        "picture",
        "locale",
        "enabled_permissions",
        "disabled_permissions",
        "tenant",
        "member_of",
        "used_quota",
    )

    def __init__(self, id: int, type: str, name: str):
        self.id = id
        self.type = type
        self.name = name
        self.description: str | None = None
        #: int, a list of ints (tenant per-type quotas) or, if a client sent one, a string.
        self.quota: Any = None
        self.secrets: list[str] = []
        self.emails: list[str] = []
        self.urls: list[str] = []
        self.external_members: list[str] = []
        self.picture: str | None = None
        #: v0.13+
        self.locale: str | None = None
        self.enabled_permissions: list[int] = []
        self.disabled_permissions: list[int] = []
        self.tenant: int | None = None
        #: ids of the groups, lists and roles this principal belongs to, ascending.
        self.member_of: list[int] = []
        self.used_quota: int = 0

    def clone(self) -> Principal:
        p = Principal.__new__(Principal)
        p.id = self.id
        p.type = self.type
        p.name = self.name
        p.description = self.description
        p.quota = list(self.quota) if isinstance(self.quota, list) else self.quota
        p.secrets = list(self.secrets)
        p.emails = list(self.emails)
        p.urls = list(self.urls)
        p.external_members = list(self.external_members)
        p.picture = self.picture
        p.locale = self.locale
        p.enabled_permissions = list(self.enabled_permissions)
        p.disabled_permissions = list(self.disabled_permissions)
        p.tenant = self.tenant
        p.member_of = list(self.member_of)
        p.used_quota = self.used_quota
        return p

    def __repr__(self) -> str:
        return f"<Principal {self.id} {self.type} {self.name!r}>"


# --------------------------------------------------------------------------- the v0.12 word index
_WORD = re.compile(r"[^\W_]+")
MAX_TOKEN_LENGTH = 127


def tokenize(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text) if len(w.encode("utf-8")) <= MAX_TOKEN_LENGTH]


def index_words(p: Principal) -> set[str]:
    """Words of the v0.12 principal index: name, description and e-mails."""
    words = set(tokenize(p.name))
    if p.description:
        words.update(tokenize(p.description))
    for email in p.emails:
        words.update(tokenize(email))
    return words
