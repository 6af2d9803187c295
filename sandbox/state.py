"""All mutable state of the Stalwart sandbox, behind one ``Sandbox`` object.

The one state model both protocol front-ends (the REST ``/api`` of 0.11-0.15 and the JMAP
registry of 0.16, ``sandbox.jmap``) read and change. Its records are in ``sandbox.model``;
what fills it (``sandbox.seed``) and the protocol modules import it, never the other way.

Later API areas (queue, reports, settings, telemetry, ...) keep their state here too; register a
``reset`` participant with :meth:`Sandbox.register_state` so :meth:`Sandbox.reset` restores it.
"""

from __future__ import annotations

import bisect
import heapq
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from .model import INPUT_TYPES, TYPE_DISPLAY, TYPE_IDS, Principal, index_words
from .permissions import (
    BUILTIN_ROLE_IDS,
    BUILTIN_ROLE_NAMES,
    PermissionSet,
    effective_permissions,
    version_tuple,
)
from .versions import JMAP_VERSIONS, VERSIONS

#: "hostile" is the demo organisation plus attacker-controlled text (``sandbox.hostile_seed``).
SEEDS = ("demo", "hostile", "empty")


@dataclass
class RequestRecord:
    """One HTTP request that reached the sandbox app."""

    method: str
    #: raw path, still percent-encoded
    path: str
    #: raw query string ("" when none)
    query: str
    #: "Basic", "Bearer" (as normalised from the header scheme), another scheme as sent,
    #: or None without an Authorization header
    auth_scheme: str | None
    #: response status, filled in when the response is sent
    status: int | None = None
    #: kinds of the injected faults that applied to it (``sandbox.faults``)
    faults: tuple[str, ...] = ()
    #: the client address the server acted on (the forwarded one with ``use-x-forwarded``)
    address: str = ""


@dataclass
class OAuthCode:
    """An authorization code, device code or user code (shared key space, like the server)."""

    status: str  # "authorized" | "pending"
    account_id: int
    client_id: str
    nonce: str | None
    params: str  # redirect_uri for codes; the device code for pending user codes
    expires_at: int


@dataclass
class TokenInfo:
    grant_type: str  # "access_token" | "refresh_token"
    account_id: int
    client_id: str
    issued_at: int
    expiry: int
    #: first secret of the account at issue time when the token lives longer than 1 h
    binding: str | None


class Sandbox:
    """In-memory emulator state of one Stalwart server.

    Args:
        version: one of ``VERSIONS`` (sandbox/VERSIONS.md: what differs).
        enterprise: whether an Enterprise licence is active.
        access_token_lifetime: seconds (``oauth.expiry.token``).
        refresh_token_lifetime: seconds (``oauth.expiry.refresh-token``).
        seed: "demo", "hostile" (the demo with hostile content) or "empty".
        scale: number of extra generated individual accounts.
        rate_limits: enforce the default rate limits and auth fail2ban of spec §2.5.
    """

    #: Fills a new sandbox with its seed (``self.seed``): ``sandbox.seed.build_seed``, wired in
    #: by ``sandbox/__init__.py``, so that the state model imports none of what fills it.
    populate: ClassVar[Callable[[Sandbox], None]]

    #: accounts the Enterprise licence allows (v0.15+ refuses to create more individuals);
    #: tests lower ``licensed_accounts``, ``reset()`` restores it
    LICENSED_ACCOUNTS = 10_000

    AUTH_CODE_LIFETIME = 10 * 60
    USER_CODE_LIFETIME = 30 * 60
    REFRESH_RENEW_WINDOW = 4 * 86400
    ID_TOKEN_LIFETIME = 15 * 60

    def __init__(
        self,
        version: str = "0.11.8",
        enterprise: bool = False,
        access_token_lifetime: int = 3600,
        refresh_token_lifetime: int = 30 * 86400,
        seed: str = "demo",
        scale: int = 0,
        rate_limits: bool = True,
    ):
        if version not in VERSIONS and version not in JMAP_VERSIONS:
            raise ValueError(f"unsupported version {version!r}; use one of {VERSIONS + JMAP_VERSIONS}")
        #: the emulated release, and its protocol generation: "rest" (≤0.15 management API)
        #: or "jmap" (0.16: ``sandbox.jmap``). A 0.16 sandbox keeps its directory in the model
        #: of the last REST release (what a 0.16 server is migrated from) and shows it as
        #: 0.16 objects, so ``version`` below is that release.
        self.release = version
        self.generation = "jmap" if version in JMAP_VERSIONS else "rest"
        if self.generation == "jmap":
            version = VERSIONS[-1]
        if seed not in SEEDS:
            raise ValueError("seed must be 'demo', 'hostile' or 'empty'")
        self.version = version
        self.version_info = version_tuple(version)
        self.enterprise = bool(enterprise)
        self.access_token_lifetime = int(access_token_lifetime)
        self.refresh_token_lifetime = int(refresh_token_lifetime)
        self.seed = seed
        self.scale = int(scale)
        self.rate_limits = bool(rate_limits)
        self.licensed_accounts = self.LICENSED_ACCOUNTS
        self.perms = PermissionSet(version)
        self.lock = threading.RLock()
        self.requests: list[RequestRecord] = []
        self.clock_offset = 0
        self._extra_state: dict[str, tuple[Callable[[], Any], Callable[[Any], Any]]] = {}
        self._clear_state()
        type(self).populate(self)
        self._pristine = self._snapshot()
        from .faults import Faults

        #: injected failures (latency, 5xx, resets, ...), see ``sandbox.faults``
        self.faults = Faults(self)

    # ------------------------------------------------------------------ config helpers
    @property
    def has_demo_data(self) -> bool:
        """The demo organisation is seeded ("demo" and "hostile" seeds)."""
        return self.seed != "empty"

    def at_least(self, version: tuple[int, ...]) -> bool:
        """The emulated server is ``version`` or later: ``sb.at_least((0, 13))``.

        Every version-dependent behaviour of the sandbox goes through this.
        """
        return self.version_info >= tuple(version)

    # ------------------------------------------------------------------ clock
    def now(self) -> int:
        """Epoch seconds as the sandbox sees them (real time + ``clock_offset``)."""
        return int(time.time()) + int(self.clock_offset)

    def advance(self, seconds: float) -> None:
        """Move the sandbox clock forward (tests: expire tokens and codes)."""
        with self.lock:
            self.clock_offset += int(seconds)

    # ------------------------------------------------------------------ state lifecycle
    def _clear_state(self) -> None:
        self.principals: dict[int, Principal] = {}
        self.by_name: dict[str, int] = {}
        self.sorted_names: list[str] = []
        self.emails: dict[str, int] = {}
        #: reverse of Principal.member_of: group/list/role id -> member ids
        self.members: dict[int, set[int]] = {}
        self.type_counts: dict[str, int] = {}
        self.next_id = 0
        self.free_ids: list[int] = []
        #: bumped on every directory mutation (cache key for derived data)
        self.revision = 0
        self.settings: dict[str, str] = {}
        self.oauth_codes: dict[str, OAuthCode] = {}
        self.tokens: dict[str, TokenInfo] = {}
        #: rate-limit counters ((key, window number) -> count), see ``sandbox.limits``
        self.rate_counters: dict[tuple, int] = {}
        #: Authorization header tokens that authenticated once (the server's HTTP auth cache)
        self.http_auth_cache: set[str] = set()
        #: v0.12 principal word index (word -> ids), maintained only for v0.12
        self.word_index: dict[str, set[int]] = {}
        self.principal_words: dict[int, set[str]] = {}

    def register_state(self, name: str, snapshot: Callable[[], Any], restore: Callable[[Any], Any]) -> None:
        """Let a later API area take part in snapshots: ``snapshot()`` returns a deep copy
        of its state and ``restore(copy)`` installs one. Call before the pristine snapshot is
        refreshed with :meth:`mark_pristine`, or lazily on first use: then the state as it is
        when registered (normally still empty) is what :meth:`reset` restores."""
        self._extra_state[name] = (snapshot, restore)
        pristine = getattr(self, "_pristine", None)
        if pristine is not None and name not in pristine["extra"]:
            pristine["extra"][name] = snapshot()

    def mark_pristine(self) -> None:
        """Take the current state as the one :meth:`reset` restores."""
        with self.lock:
            self._pristine = self._snapshot()

    def _snapshot(self) -> dict:
        return {
            "principals": {pid: p.clone() for pid, p in self.principals.items()},
            "by_name": dict(self.by_name),
            "sorted_names": list(self.sorted_names),
            "emails": dict(self.emails),
            "members": {k: set(v) for k, v in self.members.items()},
            "type_counts": dict(self.type_counts),
            "next_id": self.next_id,
            "free_ids": list(self.free_ids),
            "settings": dict(self.settings),
            "word_index": {k: set(v) for k, v in self.word_index.items()},
            "principal_words": {k: set(v) for k, v in self.principal_words.items()},
            "extra": {name: snap() for name, (snap, _) in self._extra_state.items()},
        }

    def reset(self) -> None:
        """Restore the freshly seeded state, clear tokens, codes, the request log and the clock."""
        with self.lock:
            snap = self._pristine
            self.principals = {pid: p.clone() for pid, p in snap["principals"].items()}
            self.by_name = dict(snap["by_name"])
            self.sorted_names = list(snap["sorted_names"])
            self.emails = dict(snap["emails"])
            self.members = {k: set(v) for k, v in snap["members"].items()}
            self.type_counts = dict(snap["type_counts"])
            self.next_id = snap["next_id"]
            self.free_ids = list(snap["free_ids"])
            self.revision += 1
            self.settings = dict(snap["settings"])
            self.word_index = {k: set(v) for k, v in snap["word_index"].items()}
            self.principal_words = {k: set(v) for k, v in snap["principal_words"].items()}
            for name, (_, restore) in self._extra_state.items():
                if name in snap["extra"]:
                    restore(_deep(snap["extra"][name]))
            self.oauth_codes = {}
            self.tokens = {}
            self.rate_counters = {}
            self.http_auth_cache = set()
            self.clock_offset = 0
            self.licensed_accounts = self.LICENSED_ACCOUNTS
            self.requests.clear()

    # ------------------------------------------------------------------ lookups
    def get(self, name: str) -> Principal | None:
        """Exact, case-sensitive lookup by name."""
        pid = self.by_name.get(name)
        return None if pid is None else self.principals[pid]

    def get_by_id(self, pid: int) -> Principal | None:
        return self.principals.get(pid)

    def name_of(self, pid: int) -> str | None:
        if pid in BUILTIN_ROLE_NAMES:
            return BUILTIN_ROLE_NAMES[pid]
        p = self.principals.get(pid)
        return None if p is None else p.name

    def type_of(self, pid: int) -> str | None:
        if pid in BUILTIN_ROLE_NAMES:
            return "role"
        p = self.principals.get(pid)
        return None if p is None else p.type

    def role_ids_of(self, p: Principal) -> list[int]:
        return [mid for mid in p.member_of if self.type_of(mid) == "role"]

    def effective_permissions(self, p: Principal) -> int:
        return effective_permissions(self, p)

    def permission_names(self, p: Principal) -> list[str]:
        """Effective permissions of a principal, in id order (handy for tests)."""
        return self.perms.names_in_id_order(self.effective_permissions(p))

    def principal_names(self) -> list[str]:
        return list(self.sorted_names)

    # ------------------------------------------------------------------ low-level mutation
    def allocate_id(self) -> int:
        if self.free_ids:
            return heapq.heappop(self.free_ids)
        pid = self.next_id
        self.next_id += 1
        return pid

    def insert(self, p: Principal) -> Principal:
        """Store a new principal (its id must come from :meth:`allocate_id`) and index it."""
        self.revision += 1
        self.principals[p.id] = p
        self._index_name(p.name, p.id)
        for email in p.emails:
            self.emails[email] = p.id
        self.type_counts[p.type] = self.type_counts.get(p.type, 0) + 1
        for target in p.member_of:
            self.members.setdefault(target, set()).add(p.id)
        self._reindex_words(p)
        return p

    def remove(self, pid: int) -> Principal:
        """Remove a principal and every membership in both directions."""
        self.revision += 1
        p = self.principals.pop(pid)
        self._unindex_name(p.name)
        for email in p.emails:
            if self.emails.get(email) == pid:
                del self.emails[email]
        self.type_counts[p.type] -= 1
        for target in p.member_of:
            s = self.members.get(target)
            if s is not None:
                s.discard(pid)
        for member_id in self.members.pop(pid, ()):
            m = self.principals.get(member_id)
            if m is not None and pid in m.member_of:
                m.member_of.remove(pid)
        self._unindex_words(pid)
        heapq.heappush(self.free_ids, pid)
        return p

    def replace(self, new: Principal) -> None:
        """Install an updated copy of a stored principal, fixing every index."""
        self.revision += 1
        old = self.principals[new.id]
        if old.name != new.name:
            self._unindex_name(old.name)
            self._index_name(new.name, new.id)
        if old.emails != new.emails:
            for email in old.emails:
                if self.emails.get(email) == old.id:
                    del self.emails[email]
            for email in new.emails:
                self.emails[email] = new.id
        if old.member_of != new.member_of:
            for target in set(old.member_of) - set(new.member_of):
                s = self.members.get(target)
                if s is not None:
                    s.discard(new.id)
            for target in set(new.member_of) - set(old.member_of):
                self.members.setdefault(target, set()).add(new.id)
        self.principals[new.id] = new
        self._reindex_words(new)

    def add_membership(self, member_id: int, target_id: int) -> None:
        self.revision += 1
        m = self.principals[member_id]
        if target_id not in m.member_of:
            bisect.insort(m.member_of, target_id)
            self.members.setdefault(target_id, set()).add(member_id)

    def remove_membership(self, member_id: int, target_id: int) -> None:
        self.revision += 1
        m = self.principals.get(member_id)
        if m is not None and target_id in m.member_of:
            m.member_of.remove(target_id)
        s = self.members.get(target_id)
        if s is not None:
            s.discard(member_id)

    def member_ids(self, target_id: int) -> list[int]:
        return sorted(self.members.get(target_id, ()))

    def _index_name(self, name: str, pid: int) -> None:
        self.by_name[name] = pid
        bisect.insort(self.sorted_names, name)

    def _unindex_name(self, name: str) -> None:
        del self.by_name[name]
        i = bisect.bisect_left(self.sorted_names, name)
        if i < len(self.sorted_names) and self.sorted_names[i] == name:
            del self.sorted_names[i]

    # v0.12 word index -------------------------------------------------------------
    def _reindex_words(self, p: Principal) -> None:
        if not self.at_least((0, 12)):
            return
        new = index_words(p)
        old = self.principal_words.get(p.id, set())
        for w in old - new:
            s = self.word_index.get(w)
            if s is not None:
                s.discard(p.id)
                if not s:
                    del self.word_index[w]
        for w in new - old:
            self.word_index.setdefault(w, set()).add(p.id)
        self.principal_words[p.id] = new

    def _unindex_words(self, pid: int) -> None:
        for w in self.principal_words.pop(pid, ()):
            s = self.word_index.get(w)
            if s is not None:
                s.discard(pid)
                if not s:
                    del self.word_index[w]


def _deep(value):
    import copy

    return copy.deepcopy(value)


__all__ = [
    "Sandbox",
    "Principal",
    "RequestRecord",
    "OAuthCode",
    "TokenInfo",
    "TYPE_IDS",
    "TYPE_DISPLAY",
    "INPUT_TYPES",
    "BUILTIN_ROLE_IDS",
]
