"""What the portal knows about setting keys: which live in the local file, which hold secrets,
and the record groups worth a shortcut. No API calls here."""

from __future__ import annotations

import fnmatch
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

# Stalwart's default `config.local-keys` (crates/common/src/manager/config.rs, v0.11.8): keys
# kept in the server's local configuration file instead of the database. "!" excludes.
DEFAULT_LOCAL_PATTERNS = (
    "store.*",
    "directory.*",
    "tracer.*",
    "!server.blocked-ip.*",
    "!server.allowed-ip.*",
    "server.*",
    "certificate.*",
    "config.local-keys.*",
    "authentication.fallback-admin.*",
    "!cluster.key",
    "cluster.*",
    "storage.data",
    "storage.blob",
    "storage.lookup",
    "storage.fts",
    "storage.directory",
    "enterprise.license-key",
)
LOCAL_KEYS_PREFIX = "config.local-keys"


def local_patterns(configured: dict[str, str]) -> tuple[str, ...]:
    """The patterns in force: the `config.local-keys.*` values when there are any, else the defaults."""
    patterns = []
    for key in sorted(configured):
        if not key.startswith(LOCAL_KEYS_PREFIX):
            continue
        value = configured[key].strip()
        negated = value.startswith("!")
        value = value.lstrip("!").strip().lower()
        if value:
            patterns.append(("!" if negated else "") + value)
    return tuple(patterns) or DEFAULT_LOCAL_PATTERNS


def is_local(key: str, patterns: Iterable[str] = DEFAULT_LOCAL_PATTERNS) -> bool:
    """Whether Stalwart keeps `key` in its local file (the server's include/exclude rules)."""
    local = False
    for pattern in patterns:
        if pattern.startswith("!"):
            if fnmatch.fnmatchcase(key, pattern[1:]):
                return False
        elif not local and fnmatch.fnmatchcase(key, pattern):
            local = True
    return local


_SECRET_WORDS = ("secret", "password", "key", "token", "credential")


def is_secret(key: str) -> bool:
    """Keys whose value must not be shown by default: the last segment names a secret."""
    last = key.rsplit(".", 1)[-1].lower()
    return any(word in last for word in _SECRET_WORDS)


def fingerprint(value: str | None) -> str:
    """What a form remembers of a value it showed (never the value itself): a short hash."""
    if value is None:
        return "-"
    return hashlib.sha256(value.encode()).hexdigest()[:16]


_KEY = re.compile(r"^[A-Za-z0-9_\-.@/+:*\[\]]+$")
_RECORD_ID = re.compile(r"^[A-Za-z0-9_\-.]+$")


def valid_key(key: str) -> bool:
    return bool(_KEY.match(key)) and not key.startswith(".") and not key.endswith(".") and ".." not in key


def valid_record_id(record_id: str) -> bool:
    return bool(_RECORD_ID.match(record_id)) and not record_id.startswith(".") and not record_id.endswith(".")


def parent_prefix(key: str) -> str:
    return key.rsplit(".", 1)[0] if "." in key else ""


def breadcrumbs(prefix: str) -> list[tuple[str, str]]:
    """`a.b.c` -> [("a", "a"), ("b", "a.b"), ("c", "a.b.c")]."""
    parts = [part for part in prefix.split(".") if part]
    return [(part, ".".join(parts[: index + 1])) for index, part in enumerate(parts)]


@dataclass(frozen=True)
class GroupPreset:
    slug: str
    label: StrOrPromise
    prefix: str
    suffix: str
    description: StrOrPromise


GROUPS = (
    GroupPreset(
        "listeners", _("Listeners"), "server.listener", "protocol", _("Network listeners: protocol, bind address, TLS")
    ),
    GroupPreset("stores", _("Stores"), "store", "type", _("Databases and blob stores")),
    GroupPreset(
        "directories", _("Directories"), "directory", "type", _("Where accounts come from: internal, LDAP, SQL, …")
    ),
    GroupPreset(
        "tracers", _("Logging and tracing"), "tracer", "type", _("Log files, console, OpenTelemetry, journald")
    ),
    GroupPreset("certificates", _("TLS certificates"), "certificate", "cert", _("Certificates and private keys")),
    GroupPreset("signatures", _("DKIM signatures"), "signature", "algorithm", _("DKIM signing keys")),
    GroupPreset("webhooks", _("Webhooks"), "webhook", "url", _("Event notifications sent to other systems")),
    GroupPreset(
        "throttles", _("Outbound throttles"), "queue.throttle.outbound", "enable", _("Rate and concurrency limits")
    ),
)
GROUPS_BY_SLUG = {group.slug: group for group in GROUPS}
