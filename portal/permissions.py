"""Every Stalwart permission, and the one rule every view goes through.

The permission list is the server's own (api-behaviour Appendix A, and the
`Permission` enum at each tag, sandbox/VERSIONS.md): ids 0-180 exist since v0.11,
181-222 (the dav-* ones) since v0.12, 223-225 since v0.13, 226-265 since v0.14; v0.15
renames ids 3 and 180. `version_permissions(version)` is one version's table with its
spelling; `PERMISSIONS` holds every name of every version. The mark says which
built-in role holds it: U = user (and tenant-admin), T = tenant-admin, A = only
admin or an explicit grant.

Views declare what they need with `@require(needs(...))` (`require` is the gate in
`portal.access`, which imports this module and never the other way). The check runs in
Python before the view body, so a view the person may not use never calls
Stalwart and answers with the 403 page. Templates only read flags the views
and the navigation computed from here.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from portal.capabilities import Capabilities, for_server

_TABLE: tuple[tuple[int, str, str], ...] = (
    (0, "impersonate", "A"),
    (1, "unlimited-requests", "A"),
    (2, "unlimited-uploads", "A"),
    (3, "delete-system-folders", "A"),
    (4, "message-queue-list", "T"),
    (5, "message-queue-get", "T"),
    (6, "message-queue-update", "T"),
    (7, "message-queue-delete", "T"),
    (8, "outgoing-report-list", "T"),
    (9, "outgoing-report-get", "T"),
    (10, "outgoing-report-delete", "T"),
    (11, "incoming-report-list", "T"),
    (12, "incoming-report-get", "T"),
    (13, "incoming-report-delete", "T"),
    (14, "settings-list", "A"),
    (15, "settings-update", "A"),
    (16, "settings-delete", "A"),
    (17, "settings-reload", "A"),
    (18, "individual-list", "T"),
    (19, "individual-get", "T"),
    (20, "individual-update", "T"),
    (21, "individual-delete", "T"),
    (22, "individual-create", "T"),
    (23, "group-list", "T"),
    (24, "group-get", "T"),
    (25, "group-update", "T"),
    (26, "group-delete", "T"),
    (27, "group-create", "T"),
    (28, "domain-list", "T"),
    (29, "domain-get", "T"),
    (30, "domain-create", "T"),
    (31, "domain-update", "T"),
    (32, "domain-delete", "T"),
    (33, "tenant-list", "A"),
    (34, "tenant-get", "A"),
    (35, "tenant-create", "A"),
    (36, "tenant-update", "A"),
    (37, "tenant-delete", "A"),
    (38, "mailing-list-list", "T"),
    (39, "mailing-list-get", "T"),
    (40, "mailing-list-create", "T"),
    (41, "mailing-list-update", "T"),
    (42, "mailing-list-delete", "T"),
    (43, "role-list", "T"),
    (44, "role-get", "T"),
    (45, "role-create", "T"),
    (46, "role-update", "T"),
    (47, "role-delete", "T"),
    (48, "principal-list", "T"),
    (49, "principal-get", "T"),
    (50, "principal-create", "T"),
    (51, "principal-update", "T"),
    (52, "principal-delete", "T"),
    (53, "blob-fetch", "A"),
    (54, "purge-blob-store", "A"),
    (55, "purge-data-store", "A"),
    (56, "purge-in-memory-store", "A"),
    (57, "purge-account", "A"),
    (58, "fts-reindex", "A"),
    (59, "undelete", "T"),
    (60, "dkim-signature-create", "T"),
    (61, "dkim-signature-get", "T"),
    (62, "spam-filter-update", "A"),
    (63, "webadmin-update", "A"),
    (64, "logs-view", "A"),
    (65, "spam-filter-train", "U"),
    (66, "restart", "A"),
    (67, "tracing-list", "A"),
    (68, "tracing-get", "A"),
    (69, "tracing-live", "A"),
    (70, "metrics-list", "A"),
    (71, "metrics-live", "A"),
    (72, "authenticate", "U"),
    (73, "authenticate-oauth", "U"),
    (74, "email-send", "U"),
    (75, "email-receive", "U"),
    (76, "manage-encryption", "U"),
    (77, "manage-passwords", "U"),
    (78, "jmap-email-get", "U"),
    (79, "jmap-mailbox-get", "U"),
    (80, "jmap-thread-get", "U"),
    (81, "jmap-identity-get", "U"),
    (82, "jmap-email-submission-get", "U"),
    (83, "jmap-push-subscription-get", "U"),
    (84, "jmap-sieve-script-get", "U"),
    (85, "jmap-vacation-response-get", "U"),
    (86, "jmap-principal-get", "T"),
    (87, "jmap-quota-get", "U"),
    (88, "jmap-blob-get", "U"),
    (89, "jmap-email-set", "U"),
    (90, "jmap-mailbox-set", "U"),
    (91, "jmap-identity-set", "U"),
    (92, "jmap-email-submission-set", "U"),
    (93, "jmap-push-subscription-set", "U"),
    (94, "jmap-sieve-script-set", "U"),
    (95, "jmap-vacation-response-set", "U"),
    (96, "jmap-email-changes", "U"),
    (97, "jmap-mailbox-changes", "U"),
    (98, "jmap-thread-changes", "U"),
    (99, "jmap-identity-changes", "U"),
    (100, "jmap-email-submission-changes", "U"),
    (101, "jmap-quota-changes", "U"),
    (102, "jmap-email-copy", "U"),
    (103, "jmap-blob-copy", "U"),
    (104, "jmap-email-import", "U"),
    (105, "jmap-email-parse", "U"),
    (106, "jmap-email-query-changes", "U"),
    (107, "jmap-mailbox-query-changes", "U"),
    (108, "jmap-email-submission-query-changes", "U"),
    (109, "jmap-sieve-script-query-changes", "U"),
    (110, "jmap-principal-query-changes", "T"),
    (111, "jmap-quota-query-changes", "U"),
    (112, "jmap-email-query", "U"),
    (113, "jmap-mailbox-query", "U"),
    (114, "jmap-email-submission-query", "U"),
    (115, "jmap-sieve-script-query", "U"),
    (116, "jmap-principal-query", "T"),
    (117, "jmap-quota-query", "U"),
    (118, "jmap-search-snippet", "U"),
    (119, "jmap-sieve-script-validate", "U"),
    (120, "jmap-blob-lookup", "U"),
    (121, "jmap-blob-upload", "U"),
    (122, "jmap-echo", "U"),
    (123, "imap-authenticate", "U"),
    (124, "imap-acl-get", "U"),
    (125, "imap-acl-set", "U"),
    (126, "imap-my-rights", "U"),
    (127, "imap-list-rights", "U"),
    (128, "imap-append", "U"),
    (129, "imap-capability", "U"),
    (130, "imap-id", "U"),
    (131, "imap-copy", "U"),
    (132, "imap-move", "U"),
    (133, "imap-create", "U"),
    (134, "imap-delete", "U"),
    (135, "imap-enable", "U"),
    (136, "imap-expunge", "U"),
    (137, "imap-fetch", "U"),
    (138, "imap-idle", "U"),
    (139, "imap-list", "U"),
    (140, "imap-lsub", "U"),
    (141, "imap-namespace", "U"),
    (142, "imap-rename", "U"),
    (143, "imap-search", "U"),
    (144, "imap-sort", "U"),
    (145, "imap-select", "U"),
    (146, "imap-examine", "U"),
    (147, "imap-status", "U"),
    (148, "imap-store", "U"),
    (149, "imap-subscribe", "U"),
    (150, "imap-thread", "U"),
    (151, "pop3-authenticate", "U"),
    (152, "pop3-list", "U"),
    (153, "pop3-uidl", "U"),
    (154, "pop3-stat", "U"),
    (155, "pop3-retr", "U"),
    (156, "pop3-dele", "U"),
    (157, "sieve-authenticate", "U"),
    (158, "sieve-list-scripts", "U"),
    (159, "sieve-set-active", "U"),
    (160, "sieve-get-script", "U"),
    (161, "sieve-put-script", "U"),
    (162, "sieve-delete-script", "U"),
    (163, "sieve-rename-script", "U"),
    (164, "sieve-check-script", "U"),
    (165, "sieve-have-space", "U"),
    (166, "api-key-list", "T"),
    (167, "api-key-get", "T"),
    (168, "api-key-create", "T"),
    (169, "api-key-update", "T"),
    (170, "api-key-delete", "T"),
    (171, "oauth-client-list", "A"),
    (172, "oauth-client-get", "A"),
    (173, "oauth-client-create", "A"),
    (174, "oauth-client-update", "A"),
    (175, "oauth-client-delete", "A"),
    (176, "oauth-client-registration", "A"),
    (177, "oauth-client-override", "A"),
    (178, "ai-model-interact", "A"),
    (179, "troubleshoot", "A"),
    (180, "spam-filter-classify", "U"),
    (181, "dav-sync-collection", "U"),
    (182, "dav-expand-property", "U"),
    (183, "dav-principal-acl", "U"),
    (184, "dav-principal-list", "A"),
    (185, "dav-principal-match", "U"),
    (186, "dav-principal-search", "A"),
    (187, "dav-principal-search-prop-set", "U"),
    (188, "dav-file-prop-find", "U"),
    (189, "dav-file-prop-patch", "U"),
    (190, "dav-file-get", "U"),
    (191, "dav-file-mk-col", "U"),
    (192, "dav-file-delete", "U"),
    (193, "dav-file-put", "U"),
    (194, "dav-file-copy", "U"),
    (195, "dav-file-move", "U"),
    (196, "dav-file-lock", "U"),
    (197, "dav-file-acl", "U"),
    (198, "dav-card-prop-find", "U"),
    (199, "dav-card-prop-patch", "U"),
    (200, "dav-card-get", "U"),
    (201, "dav-card-mk-col", "U"),
    (202, "dav-card-delete", "U"),
    (203, "dav-card-put", "U"),
    (204, "dav-card-copy", "U"),
    (205, "dav-card-move", "U"),
    (206, "dav-card-lock", "U"),
    (207, "dav-card-acl", "U"),
    (208, "dav-card-query", "U"),
    (209, "dav-card-multi-get", "U"),
    (210, "dav-cal-prop-find", "U"),
    (211, "dav-cal-prop-patch", "U"),
    (212, "dav-cal-get", "U"),
    (213, "dav-cal-mk-col", "U"),
    (214, "dav-cal-delete", "U"),
    (215, "dav-cal-put", "U"),
    (216, "dav-cal-copy", "U"),
    (217, "dav-cal-move", "U"),
    (218, "dav-cal-lock", "U"),
    (219, "dav-cal-acl", "U"),
    (220, "dav-cal-query", "U"),
    (221, "dav-cal-multi-get", "U"),
    (222, "dav-cal-free-busy-query", "U"),
    # 0.13 (crates/directory/src/lib.rs at v0.13.4)
    (223, "calendar-alarms", "U"),
    (224, "calendar-scheduling-send", "U"),
    (225, "calendar-scheduling-receive", "U"),
    # 0.14 (crates/directory/src/lib.rs at v0.14.1)
    (226, "jmap-address-book-get", "U"),
    (227, "jmap-address-book-set", "U"),
    (228, "jmap-address-book-changes", "U"),
    (229, "jmap-contact-card-get", "U"),
    (230, "jmap-contact-card-changes", "U"),
    (231, "jmap-contact-card-query", "U"),
    (232, "jmap-contact-card-query-changes", "U"),
    (233, "jmap-contact-card-set", "U"),
    (234, "jmap-contact-card-copy", "U"),
    (235, "jmap-contact-card-parse", "U"),
    (236, "jmap-file-node-get", "U"),
    (237, "jmap-file-node-set", "U"),
    (238, "jmap-file-node-changes", "U"),
    (239, "jmap-file-node-query", "U"),
    (240, "jmap-file-node-query-changes", "U"),
    (241, "jmap-principal-get-availability", "U"),
    (242, "jmap-principal-changes", "U"),
    (243, "jmap-share-notification-get", "U"),
    (244, "jmap-share-notification-set", "U"),
    (245, "jmap-share-notification-changes", "U"),
    (246, "jmap-share-notification-query", "U"),
    (247, "jmap-share-notification-query-changes", "U"),
    (248, "jmap-calendar-get", "U"),
    (249, "jmap-calendar-set", "U"),
    (250, "jmap-calendar-changes", "U"),
    (251, "jmap-calendar-event-get", "U"),
    (252, "jmap-calendar-event-set", "U"),
    (253, "jmap-calendar-event-changes", "U"),
    (254, "jmap-calendar-event-query", "U"),
    (255, "jmap-calendar-event-query-changes", "U"),
    (256, "jmap-calendar-event-copy", "U"),
    (257, "jmap-calendar-event-parse", "U"),
    (258, "jmap-calendar-event-notification-get", "U"),
    (259, "jmap-calendar-event-notification-set", "U"),
    (260, "jmap-calendar-event-notification-changes", "U"),
    (261, "jmap-calendar-event-notification-query", "U"),
    (262, "jmap-calendar-event-notification-query-changes", "U"),
    (263, "jmap-participant-identity-get", "U"),
    (264, "jmap-participant-identity-set", "U"),
    (265, "jmap-participant-identity-changes", "U"),
)

#: The number of permission ids of each version's table (the `Permission` enum).
_COUNTS = {(0, 11): 181, (0, 12): 223, (0, 13): 226, (0, 14): 266, (0, 15): 266}
#: Marks that change from one version on (`is_user_permission` / `is_tenant_admin_permission`
#: in crates/directory/src/core/principal.rs): (version, id, new mark).
_MARK_CHANGES = (
    ((0, 14), 86, "U"),  # jmap-principal-get
    ((0, 14), 110, "U"),  # jmap-principal-query-changes
    ((0, 14), 116, "U"),  # jmap-principal-query
    ((0, 14), 184, "U"),  # dav-principal-list
    ((0, 14), 186, "U"),  # dav-principal-search
    ((0, 15), 65, "T"),  # spam-filter-train
    ((0, 15), 180, "T"),  # spam-filter-test (renamed below)
)
#: Renames (crates/directory/src/lib.rs at v0.15.5): (version, id, new name), as principals
#: carry them; the /api/oauth answer spells `_` as `-` (see `from_oauth`).
_RENAMES = (
    ((0, 15), 3, "delete-system-folders_"),
    ((0, 15), 180, "spam-filter-test"),
)

# Areas, in the order the permissions editor shows them.
# Area labels are keys (Permission.area); pages translate them for display.
AREAS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        gettext_noop("Directory"),
        (
            "individual-",
            "group-",
            "domain-",
            "tenant-",
            "mailing-list-",
            "role-",
            "principal-",
            "api-key-",
            "oauth-client-",
        ),
    ),
    (gettext_noop("Message queue and reports"), ("message-queue-", "outgoing-report-", "incoming-report-")),
    (gettext_noop("Settings"), ("settings-",)),
    (
        gettext_noop("Store and maintenance"),
        ("blob-", "purge-", "fts-", "undelete", "restart", "webadmin-update", "spam-filter-update"),
    ),
    (gettext_noop("DKIM"), ("dkim-",)),
    (gettext_noop("Spam filter"), ("spam-filter-",)),
    (gettext_noop("Telemetry and logs"), ("logs-", "tracing-", "metrics-", "troubleshoot")),
    (gettext_noop("Account"), ("authenticate", "manage-", "email-")),
    (gettext_noop("JMAP"), ("jmap-",)),
    (gettext_noop("IMAP"), ("imap-",)),
    (gettext_noop("POP3"), ("pop3-",)),
    (gettext_noop("ManageSieve"), ("sieve-",)),
    (gettext_noop("WebDAV, CalDAV, CardDAV"), ("dav-",)),
    (gettext_noop("Administration"), ("",)),
)


@dataclass(frozen=True, slots=True)
class Permission:
    id: int
    name: str
    mark: str  # "U", "T" or "A" (in the newest version that has this name)
    area: str
    since: tuple[int, int] = (0, 11)  # the first version with this name
    until: tuple[int, int] | None = None  # the last version with it (None: still there)

    def exists_in(self, table: tuple[int, int]) -> bool:
        return self.since <= table and (self.until is None or table <= self.until)


def _area(name: str) -> str:
    for area, prefixes in AREAS:
        if any(name.startswith(prefix) for prefix in prefixes):
            return area
    return AREAS[-1][0]  # pragma: no cover - "" matches everything


TABLES = tuple(_COUNTS)  # (0, 11) ... (0, 15)


def _table(version: tuple[int, int]) -> tuple[tuple[int, str, str], ...]:
    rows = {pid: (name, mark) for pid, name, mark in _TABLE if pid < _COUNTS[version]}
    for since, pid, mark in _MARK_CHANGES:
        if version >= since:
            rows[pid] = (rows[pid][0], mark)
    for since, pid, name in _RENAMES:
        if version >= since:
            rows[pid] = (name, rows[pid][1])
    return tuple((pid, name, mark) for pid, (name, mark) in sorted(rows.items()))


def _all_permissions() -> dict[str, Permission]:
    result: dict[str, Permission] = {}
    for version in TABLES:
        for pid, name, mark in _table(version):
            first = result.get(name)
            since = first.since if first else version
            result[name] = Permission(pid, name, mark, _area(name.rstrip("_")), since, version)
    newest = TABLES[-1]
    return {
        name: Permission(p.id, p.name, p.mark, p.area, p.since, None if p.until == newest else p.until)
        for name, p in result.items()
    }


#: Every permission name any supported version knows (a view's rule may name any of them).
PERMISSIONS: dict[str, Permission] = _all_permissions()


def table_key(version: str) -> tuple[int, int]:
    """Which permission table a server version uses: (0, 11) ... (0, 15)."""
    return for_server("rest", version, False).permission_table


@functools.lru_cache(maxsize=8)
def _version_permissions(table: tuple[int, int]) -> dict[str, Permission]:
    return {name: dataclasses.replace(PERMISSIONS[name], mark=mark) for _pid, name, mark in _table(table)}


def version_permissions(version: str) -> dict[str, Permission]:
    """The permissions one server version knows, with that version's spelling and marks, by id."""
    return _version_permissions(table_key(version))


def from_oauth(names: Iterable[str], version: str) -> frozenset[str]:
    """The names in the /api/oauth answer as principals spell them (0.15: serde writes
    `delete-system-folders_` as `delete-system-folders-`)."""
    known = version_permissions(version)
    spelled = {name.replace("_", "-"): name for name in known if "_" in name}
    return frozenset(spelled.get(name, name) for name in names)

# Stalwart's permission name for each principal type (api-behaviour §4).
PRINCIPAL_PERMISSION_PREFIX = {
    "individual": "individual",
    "group": "group",
    "list": "mailing-list",
    "domain": "domain",
    "tenant": "tenant",
    "role": "role",
    "apiKey": "api-key",
    "oauthClient": "oauth-client",
    "resource": "principal",
    "location": "principal",
    "other": "principal",
}


def principal_permission(principal_type: str, action: str) -> str:
    """`principal_permission("list", "create")` -> "mailing-list-create"."""
    return f"{PRINCIPAL_PERMISSION_PREFIX[principal_type]}-{action}"


def check_names(names: Iterable[str]) -> frozenset[str]:
    result = frozenset(names)
    unknown = result - PERMISSIONS.keys()
    if unknown:
        raise ImproperlyConfigured(f"Unknown Stalwart permission(s): {', '.join(sorted(unknown))}")
    return result


@dataclass(frozen=True, slots=True)
class PortalUser:
    """The signed-in person as the portal knows them (no credentials here)."""

    name: str
    permissions: frozenset[str]
    version: str
    enterprise: bool
    tenant: str = ""  # set for people who belong to a tenant (Enterprise)
    tenant_known: bool = False  # their tenant (or none) was read at sign-in
    generation: str = "rest"  # which API the server speaks (portal.capabilities)
    #: Stalwart 0.16+: the server's own (camelCase) permission names held, as `GET /api/account`
    #: listed them at sign-in and the server's enum knows them; empty on older servers.
    native_permissions: frozenset[str] = frozenset()
    #: 0.16+: holds every permission of the server's enum (kept as this flag, not as 660 names).
    native_all: bool = False
    #: 0.16+: may read at least one object of the schema's settings (its `sys<Object>Get`).
    reads_settings: bool = False

    @property
    def capabilities(self) -> Capabilities:
        """What the connected server can do (derived from the stored version, cached)."""
        return for_server(self.generation, self.version, self.enterprise)

    @property
    def native(self) -> bool:
        """The server names its permissions itself (0.16+): `Access.native` rules apply."""
        return self.generation == "jmap"

    def has(self, *names: str) -> bool:
        return all(name in self.permissions for name in names)

    def has_any(self, *names: str) -> bool:
        return any(name in self.permissions for name in names)

    def needs_impersonate_for(self, account: str) -> bool:
        """`account` is another's (names compared as Stalwart compares them: trimmed, any case)
        and this person lacks `impersonate`: 0.16 then answers with their own account instead."""
        return not self.has("impersonate") and account.strip().lower() != self.name.strip().lower()

    def has_native(self, *names: str) -> bool:
        """Holds every one of these 0.16 permissions (`sysNetworkListenerGet`, ...)."""
        return self.native and (self.native_all or all(name in self.native_permissions for name in names))


@dataclass(frozen=True, slots=True)
class Access:
    """Who may use something: all of `all_of`, at least one of `any_of`.

    On a server that names its permissions itself (0.16+, `PortalUser.native`), a rule with
    `native` names needs all of those instead of `all_of`/`any_of` (each generation is checked
    in its own names), and a rule with `settings_objects` needs the right to read at least
    one settings object (`PortalUser.reads_settings`) instead.
    """

    all_of: frozenset[str] = field(default_factory=frozenset)
    any_of: frozenset[str] = field(default_factory=frozenset)
    enterprise: bool = False
    native: frozenset[str] = field(default_factory=frozenset)
    settings_objects: bool = False

    def _own_names(self, user: PortalUser) -> bool:
        """This rule is checked in the 0.16 names for `user`."""
        return user.native and bool(self.native or self.settings_objects)

    def allows(self, user: PortalUser) -> bool:
        if self.enterprise and not user.enterprise:
            return False
        if self._own_names(user):
            if self.settings_objects and not (user.reads_settings or user.native_all):
                return False
            return user.has_native(*self.native)
        if not user.permissions.issuperset(self.all_of):
            return False
        return not self.any_of or bool(user.permissions & self.any_of)

    def missing(self, user: PortalUser) -> tuple[str, ...]:
        """The permissions to name on the 403 page."""
        if self._own_names(user):
            return tuple(sorted(name for name in self.native if not user.has_native(name)))
        missing = sorted(self.all_of - user.permissions)
        if self.any_of and not user.permissions & self.any_of:
            missing.extend(sorted(self.any_of))
        return tuple(missing)


SIGNED_IN = Access()


def needs(*names: str, enterprise: bool = False) -> Access:
    return Access(all_of=check_names(names), enterprise=enterprise)


def needs_any(*names: str, enterprise: bool = False) -> Access:
    return Access(any_of=check_names(names), enterprise=enterprise)


def needs_native(*names: str, legacy: Iterable[str] = ()) -> Access:
    """0.16 permission names (`sysNetworkListenerGet`), checked on servers that name their
    permissions themselves; on older ones the <= 0.15 `legacy` names are checked instead."""
    return Access(all_of=check_names(legacy), native=frozenset(names))


#: Reading at least one settings object of the server's schema (0.16+), `settings-list` before.
SETTINGS_OBJECTS = Access(all_of=frozenset({"settings-list"}), settings_objects=True)


AccessRule = Access | Callable[..., Access]


@dataclass(frozen=True, slots=True)
class Target:
    """The URL keyword argument that names a principal, and whether the view changes it.

    `portal.access.require(rule, target=Target("name", modifies=True))` makes the portal check, before
    the view runs and before any other upstream call about the principal, that it is in
    the person's scope (404 otherwise) and, for a change, that it holds no permission
    the person lacks (403 otherwise): see `portal.access`.
    """

    kwarg: str
    modifies: bool = False


# --- words for people -------------------------------------------------------
_OBJECTS = {
    "individual": (gettext_lazy("account"), gettext_lazy("accounts")),
    "group": (gettext_lazy("group"), gettext_lazy("groups")),
    "domain": (gettext_lazy("domain"), gettext_lazy("domains")),
    "tenant": (gettext_lazy("tenant"), gettext_lazy("tenants")),
    "mailing-list": (gettext_lazy("mailing list"), gettext_lazy("mailing lists")),
    "role": (gettext_lazy("role"), gettext_lazy("roles")),
    "principal": (gettext_lazy("other principal (resource, location)"), gettext_lazy("other principals")),
    "api-key": (gettext_lazy("API key"), gettext_lazy("API keys")),
    "oauth-client": (gettext_lazy("OAuth client"), gettext_lazy("OAuth clients")),
    "message-queue": (gettext_lazy("queued message"), gettext_lazy("queued messages")),
    "outgoing-report": (gettext_lazy("outgoing report"), gettext_lazy("outgoing reports")),
    "incoming-report": (gettext_lazy("incoming report"), gettext_lazy("incoming reports")),
    "settings": (gettext_lazy("setting"), gettext_lazy("settings")),
    "dkim-signature": (gettext_lazy("DKIM key"), gettext_lazy("DKIM keys")),
    "tracing": (gettext_lazy("message trace"), gettext_lazy("message traces")),
    "metrics": (gettext_lazy("metric"), gettext_lazy("metrics")),
}
_VERBS = {
    "list": gettext_lazy("List {plural}"),
    "get": gettext_lazy("View {singular} details"),
    "create": gettext_lazy("Create {plural}"),
    "update": gettext_lazy("Change {plural}"),
    "delete": gettext_lazy("Delete {plural}"),
    "reload": gettext_lazy("Reload the server configuration"),
    "live": gettext_lazy("Watch live {plural}"),
}
_SPECIAL = {
    "impersonate": gettext_lazy("Act as another account (impersonation)"),
    "unlimited-requests": gettext_lazy("Not subject to request rate limits"),
    "unlimited-uploads": gettext_lazy("Not subject to upload limits"),
    "delete-system-folders": gettext_lazy("Delete system folders (Inbox, Sent, ...)"),
    "delete-system-folders_": gettext_lazy("Delete system folders (Inbox, Sent, ...)"),
    "blob-fetch": gettext_lazy("Download raw messages and blobs from the store"),
    "purge-blob-store": gettext_lazy("Purge the blob store"),
    "purge-data-store": gettext_lazy("Purge the data store"),
    "purge-in-memory-store": gettext_lazy("Purge the in-memory store (caches, Bayes data)"),
    "purge-account": gettext_lazy("Empty deleted mail of accounts"),
    "fts-reindex": gettext_lazy("Rebuild the full-text search index"),
    "undelete": gettext_lazy("Restore deleted mail"),
    "spam-filter-update": gettext_lazy("Update the spam filter rules"),
    "webadmin-update": gettext_lazy("Update the official web admin"),
    "logs-view": gettext_lazy("Read the server logs"),
    "spam-filter-train": gettext_lazy("Train and test the spam filter"),
    "spam-filter-classify": gettext_lazy("Classify messages with the spam filter"),
    "spam-filter-test": gettext_lazy("Classify messages with the spam filter"),
    "restart": gettext_lazy("Restart the server"),
    "authenticate": gettext_lazy("Sign in at all (mail clients, API, portal)"),
    "authenticate-oauth": gettext_lazy("Sign in with OAuth (the portal, webmail)"),
    "email-send": gettext_lazy("Send e-mail"),
    "email-receive": gettext_lazy("Receive e-mail"),
    "manage-encryption": gettext_lazy("Manage their own encryption at rest"),
    "manage-passwords": gettext_lazy("Manage their own password, app passwords and two-factor"),
    "oauth-client-registration": gettext_lazy("Register OAuth clients"),
    "oauth-client-override": gettext_lazy("Use unregistered OAuth redirect URIs"),
    "ai-model-interact": gettext_lazy("Use the AI models"),
    "troubleshoot": gettext_lazy("Run delivery and DMARC troubleshooting"),
    "settings-list": gettext_lazy("View settings"),
    "settings-update": gettext_lazy("Change settings"),
    "settings-delete": gettext_lazy("Delete settings"),
    "settings-reload": gettext_lazy("Reload the server configuration"),
    "tracing-list": gettext_lazy("List message history"),
    "tracing-get": gettext_lazy("View message history details"),
    "tracing-live": gettext_lazy("Watch live tracing"),
    "metrics-list": gettext_lazy("View metrics history"),
    "metrics-live": gettext_lazy("Watch live metrics"),
}
_PROTOCOLS = {"jmap": "JMAP", "imap": "IMAP", "pop3": "POP3", "sieve": "ManageSieve", "dav": "WebDAV"}


def describe(name: str) -> str:
    """A sentence for a permission name, for the permissions editor."""
    if name in _SPECIAL:
        return str(_SPECIAL[name])
    for prefix, (singular, plural) in _OBJECTS.items():
        if name.startswith(prefix + "-"):
            verb = name[len(prefix) + 1 :]
            if verb in _VERBS:
                return str(_VERBS[verb]).format(singular=singular, plural=plural)
    protocol, _dash, rest = name.partition("-")
    if protocol in _PROTOCOLS:
        return _("%(protocol)s: %(what)s") % {"protocol": _PROTOCOLS[protocol], "what": rest.replace("-", " ")}
    return name.replace("-", " ").capitalize()


def builtin_role_permissions(role: str, version: str = "0.11.8") -> frozenset[str] | None:
    """What Stalwart's built-in roles hold on that version (api-behaviour §4,
    crates/common/src/auth/roles.rs), or None for other roles."""
    table = version_permissions(version)
    if role == "admin":
        return frozenset(table)
    if role == "tenant-admin":
        return frozenset(name for name, p in table.items() if p.mark in {"T", "U"})
    if role == "user":
        return frozenset(name for name, p in table.items() if p.mark == "U")
    return None


BUILTIN_ROLES = {
    "admin": gettext_lazy("Administrator"),
    "tenant-admin": gettext_lazy("Tenant administrator"),
    "user": gettext_lazy("User"),
}
