"""How the sandbox's one directory is seen by the 0.16 front-end, plus the few things 0.16
has that ≤0.15 principals cannot hold (creation times, domain settings, API keys and the
metadata of app passwords). Those live in ``JmapState``, registered with
``Sandbox.register_state`` so ``reset()`` restores them."""

from __future__ import annotations

import base64
import copy
import hashlib
from datetime import UTC, datetime

from . import ids

#: creation time shown for seeded objects: the seed date plus one minute per principal id
SEED_EPOCH = int(datetime(2025, 1, 6, 8, 0, tzinfo=UTC).timestamp())


def utc(epoch: int | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_utc(text) -> int | None:
    if not isinstance(text, str):
        return None
    try:
        return int(datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp())
    except ValueError:
        return None


def default_domain(sb) -> str:
    return sb.settings.get("lookup.default.domain", "example.org")


def address_of(sb, p) -> str:
    """The e-mail address an account/list is known by on 0.16 (its login)."""
    if p.emails:
        return p.emails[0]
    if "@" in p.name:
        return p.name
    return f"{p.name}@{default_domain(sb)}"


def addressless(sb, address: str):
    """The principal without e-mail addresses that ``address_of`` shows as ``address``, or None."""
    local, domain = split_address(address)
    for candidate in (address, local if domain == default_domain(sb) else None):
        pid = sb.by_name.get(candidate) if candidate else None
        if pid is not None:
            p = sb.principals[pid]
            if not p.emails and address_of(sb, p) == address:
                return p
    return None


def split_address(address: str) -> tuple[str, str]:
    local, _, domain = address.rpartition("@")
    return local, domain


def domain_id_of(sb, domain: str) -> str | None:
    pid = sb.by_name.get(domain)
    if pid is None or sb.principals[pid].type != "domain":
        return None
    return ids.encode(pid)


def password_hash(p) -> str | None:
    for secret in p.secrets:
        if not secret.startswith(("otpauth://", "$app$")):
            return secret
    return None


def totp_url(p) -> str | None:
    for secret in p.secrets:
        if secret.startswith("otpauth://"):
            return secret
    return None


class JmapState:
    def __init__(self):
        #: principal id -> 0.16-only properties (createdAt, domain settings, ...)
        self.extras: dict[int, dict] = {}
        #: account id -> secondary credentials (dicts with id, @type, description, hash, ...)
        self.creds: dict[int, list[dict]] = {}
        #: account id -> next credential id
        self.next_cred: dict[int, int] = {}

    def snapshot(self) -> dict:
        return copy.deepcopy({"extras": self.extras, "creds": self.creds, "next_cred": self.next_cred})

    def restore(self, snap: dict) -> None:
        self.extras = snap["extras"]
        self.creds = snap["creds"]
        self.next_cred = snap["next_cred"]

    def extras_of(self, pid: int) -> dict:
        return self.extras.setdefault(pid, {})

    def created_at(self, p) -> str:
        return utc(self.extras.get(p.id, {}).get("createdAt", SEED_EPOCH + 60 * p.id))

    def credentials(self, sb, p) -> list[dict]:
        """The account's app passwords and API keys. Seeded app passwords (``$app$`` secrets of
        the principal) are taken over on first use."""
        if p.id not in self.creds:
            creds = []
            for secret in p.secrets:
                if secret.startswith("$app$") and "$" in secret[5:]:
                    encoded, hashed = secret[5:].split("$", 1)
                    try:
                        name, _, date = base64.b64decode(encoded).decode().rpartition("$")
                    except ValueError:
                        name, date = encoded, ""
                    created = parse_utc(date) or SEED_EPOCH
                    creds.append(
                        {"id": len(creds) + 1, "@type": "AppPassword", "description": name or date,
                         "hash": hashed, "createdAt": created, "expiresAt": None, "allowedIps": {},
                         "permissions": {"@type": "Inherit"}, "source": secret}
                    )
            self.creds[p.id] = creds
            self.next_cred[p.id] = len(creds) + 1
        return self.creds[p.id]

    def new_credential_id(self, p) -> int:
        number = self.next_cred.get(p.id, 1)
        self.next_cred[p.id] = number + 1
        return number

    def find_api_key(self, sb, token: str):
        for pid in list(self.creds):
            p = sb.principals.get(pid)
            if p is None:
                continue
            for cred in self.creds[pid]:
                if cred["@type"] == "ApiKey" and cred.get("digest") == digest(token):
                    if cred.get("expiresAt") is not None and cred["expiresAt"] <= sb.now():
                        return None
                    return p, cred
        return None


def digest(secret: str) -> str:
    """How generated API keys are kept (never in plain text)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def jmap_state(sb) -> JmapState:
    st = getattr(sb, "_jmap_state", None)
    if st is None:
        st = JmapState()
        sb._jmap_state = st
        sb.register_state("jmap", st.snapshot, st.restore)
    return st
