"""What the connected Stalwart can do, derived from what it reported at sign-in.

The portal speaks to servers of several versions (0.11.8, 0.12.4, 0.13.4, 0.14.1, 0.15.5 are
tested; `sandbox/VERSIONS.md` lists each difference with the server source it was read from).
Pages and services never compare version numbers themselves: they read one flag of
`Capabilities`, and when a feature is missing, `Capabilities.why(feature)` says why in words
a person understands ("Stalwart 0.15 removed ...").

`for_server(generation, version, enterprise)` is cached: the session stores only the version
text, the generation and the Enterprise flag, and `PortalUser.capabilities` derives the object
from them on each request at the cost of a dictionary look-up.

`generation` is "rest" for the `/api/*` management API (0.11 to 0.15). A backend for another
generation adds its own branch in `for_server` and sets the flags its server has.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from django.utils.translation import gettext as _

#: The versions the test suite runs against, oldest first (README: "What differs by version").
TESTED_VERSIONS = ("0.11.8", "0.12.4", "0.13.4", "0.14.1", "0.15.5")

#: The full-text indexes 0.15 rebuilds one at a time (`SearchIndex::try_from_str`).
REINDEX_INDEXES_015 = ("email", "calendar", "contacts", "file", "tracing")

#: Key prefixes of the in-memory store that can be purged one at a time, before 0.15.
IN_MEMORY_PREFIXES_011 = (
    "acme",
    "oauth",
    "rate-rcpt",
    "rate-scan",
    "rate-loiter",
    "rate-auth",
    "rate-smtp",
    "rate-contact",
    "rate-http-authenticated",
    "rate-http-anonymous",
    "rate-imap",
    "reputation-ip",
    "reputation-from",
    "reputation-domain",
    "reputation-asn",
    "greylist",
    "bayes-account",
    "bayes-global",
    "trusted-reply",
    "lock-purge-account",
    "lock-queue-message",
    "lock-queue-report",
    "lock-email-task",
    "lock-housekeeper",
)
#: 0.15 dropped these (an unknown prefix is not an error there: it purges only expired keys).
REMOVED_IN_015 = frozenset(
    {
        "reputation-ip",
        "reputation-from",
        "reputation-domain",
        "reputation-asn",
        "bayes-account",
        "bayes-global",
        "trusted-reply",
    }
)
IN_MEMORY_PREFIXES_015 = tuple(prefix for prefix in IN_MEMORY_PREFIXES_011 if prefix not in REMOVED_IN_015)


def parse_version(text: str) -> tuple[int, int, int] | None:
    """`"v0.15.5"` -> (0, 15, 5); None when unreadable."""
    match = re.match(r"^\s*v?(\d+)\.(\d+)(?:\.(\d+))?", text or "")
    if not match:
        return None
    major, minor, patch = (int(part) for part in match.groups(default="0"))
    return major, minor, patch


@dataclass(frozen=True, slots=True)
class Capabilities:
    """One flag per feature that differs between the servers the portal supports."""

    generation: str  # "rest": the /api/* management API
    version: tuple[int, int, int]
    enterprise: bool
    #: which permission table applies: (0, 11), (0, 12), (0, 13), (0, 14) or (0, 15)
    permission_table: tuple[int, int]
    #: spam samples: "train" (POST /api/spam-filter/train/{spam,ham}) or "upload" (0.15)
    spam_training_route: str
    #: 0.15: GET /api/spam-filter/train/{start,reset,stop,delete,status} drive the trainer
    spam_trainer: bool
    #: the permission Stalwart checks for the classify test
    classify_permission: str
    #: the permission training needs (same name everywhere; 0.15 moved it to tenant-admin)
    train_permission: str
    #: 0.15: undelete items carry `item: {type, ...}` instead of `collection`
    undelete_item_shape: str  # "collection" or "item"
    #: 0.15: reindex names an index; () means one reindex of the mail index
    reindex_indexes: tuple[str, ...]
    #: in-memory prefixes this version purges (others are silently ignored from 0.15 on)
    in_memory_prefixes: tuple[str, ...]
    #: the Bayes models are purged through the in-memory store (bayes-global, bayes-account)
    bayes_purge: bool
    #: 0.13+: queue messages list flat `recipients[]` (0.11/0.12: `domains[].recipients[]`)
    queue_recipients: bool
    #: GET /api/queue/status (every REST version)
    queue_status: bool
    #: 0.15: encryption at rest takes and returns `allow_spam_training`
    allow_spam_training: bool
    #: 0.15+: a trace list without a filter covers this many hours (0: no window)
    trace_default_window_hours: int
    #: 0.14+: one password and one TOTP secret; addItem replaces the password and
    #: removeItem "" removes app passwords and TOTP secrets
    single_password_secrets: bool
    #: 0.13+: principals carry `locale`
    principal_locale: bool
    #: 0.13+: POST /api/principal/deploy
    deploy: bool
    #: 0.16+: a person's own new password goes as typed (x:AccountPassword checks and hashes it),
    #: and the server generates app passwords itself
    server_hashes_passwords: bool = False
    #: 0.16+: app passwords have an expiry and allowed IP addresses
    app_password_options: bool = False
    #: 0.16+: encryption at rest is an account setting naming a stored public key: it also takes
    #: AES-256-GCM/ChaCha20-Poly1305 (S/MIME only) and "encrypt on append"; the server needs no
    #: password for it (the portal confirms the password alone: a code cannot be checked)
    encryption_settings: bool = False
    #: 0.16+: queued messages can be selected by their virtual queue (`queueName`)
    queue_by_name: bool = False
    #: 0.16+: outgoing reports are selected by the whole domain name (<= 0.15: part of it)
    report_domain_exact: bool = False
    #: 0.15+: deleted items name their sender, subject and receipt, so they can be searched
    undelete_search: bool = False
    #: 0.16+: a spam training sample for another account needs the impersonate permission
    #: (without it the server files the sample under the sender's own account)
    spam_samples_impersonate: bool = False
    #: 0.16+: another account's archived items need the impersonate permission (without it the
    #: server ignores the account filter and answers with the caller's own items)
    undelete_impersonate: bool = False
    #: the classify test takes a bounce's null sender (0.16's `ClassifySpam` needs an address)
    classify_null_sender: bool = True
    #: 0.16+: maintenance runs as queued server tasks (`x:Task`: a task list, no dry run, no
    #: store ids, no counts); blocked addresses keep a reason and an expiry
    maintenance_tasks: bool = False
    #: a restart command (REST; 0.11 and 0.12 answer it with "not supported yet")
    restart: bool = True
    #: the in-memory store is purged by key prefix (REST)
    in_memory_purge: bool = True
    #: 0.16+: accounts, groups and lists are named by their e-mail address (no separate login)
    names_are_addresses: bool = False
    #: <= 0.15: a group's members, and a domain's addresses and a tenant's accounts (counts), come
    #: with each entry of a list; 0.16 keeps none of them on the group, domain or tenant
    member_counts: bool = True
    #: 0.16+: the permission editor shows the server's own permission names (read from its schema)
    native_permission_names: bool = False
    #: 0.16+: a new domain gets its DKIM keys from the server (automatic DKIM management)
    dkim_automatic: bool = False
    #: 0.16+: deleting the incoming reports a search matches happens at once (<= 0.15: in the background)
    reports_deleted_at_once: bool = False
    #: 0.16+: deleting the principals a search matches happens at once (<= 0.15: in the background)
    directory_deleted_at_once: bool = False
    #: 0.16+: the report search matches whole words of the sender and of the domains and hosts
    #: a report names (<= 0.15: any part of the text, IP addresses and organisations too)
    report_search_words: bool = False
    #: 0.16+: a queued outgoing report can be sent earlier or later (x:…InternalReport.deliverAt)
    report_reschedule: bool = False

    @property
    def label(self) -> str:
        if self.generation == "jmap":
            return "Stalwart 0.16+"
        return "Stalwart " + ".".join(str(part) for part in self.version)

    def at_least(self, minor: int) -> bool:
        return self.version[:2] >= (0, minor)

    def why(self, feature: str) -> str:
        """Why `feature` is missing on this server, in a sentence (empty when it is there)."""
        reasons = {
            "bayes_purge": (
                self.bayes_purge,
                _(
                    "Stalwart 0.16 keeps one spam classifier for the whole server, no model per account: "
                    "reset it with “Spam classifier” on the maintenance page."
                )
                if self.maintenance_tasks
                else _("Stalwart 0.15 removed the Bayes model keys from the in-memory store: use the spam trainer."),
            ),
            "spam_trainer": (
                self.spam_trainer,
                _("Stalwart versions before 0.15 have no trainer to start or stop: samples train the model at once.")
                if self.generation == "rest"
                else _(
                    "Stalwart 0.16 trains its classifier from the stored samples on its own schedule: there is no "
                    "trainer to start or stop, and no per-account Bayes model to delete."
                ),
            ),
            "reindex_indexes": (
                bool(self.reindex_indexes),
                _("Stalwart versions before 0.15 rebuild only the e-mail index."),
            ),
            "allow_spam_training": (
                self.allow_spam_training,
                _("Stalwart versions before 0.15 do not ask whether encrypted mail may train the spam filter."),
            ),
            "principal_locale": (
                self.principal_locale,
                _("Stalwart versions before 0.13 keep no language per account."),
            ),
            "deploy": (self.deploy, _("Stalwart versions before 0.13 cannot deploy principals.")),
            "queue_status": (
                self.queue_status,
                _(
                    "Stalwart 0.16 and later do not report whether delivery is paused: pausing and resuming "
                    "still work, but the portal cannot show which state the queue is in."
                ),
            ),
            "restart": (
                self.restart,
                _("Stalwart 0.16 and later have no restart command: restart the service itself."),
            ),
            "in_memory_purge": (
                self.in_memory_purge,
                _(
                    "Stalwart 0.16 and later have no general purge of the in-memory store: reset rate limits, "
                    "greylist, tokens and locks with “Reset stored state” instead."
                ),
            ),
            "report_reschedule": (
                self.report_reschedule,
                _(
                    "Stalwart versions before 0.16 cannot reschedule a queued report: it is sent when it is due, "
                    "unless you cancel it."
                ),
            ),
            "trace_window": (
                not self.trace_default_window_hours,
                _("Stalwart 0.15 lists only the last 24 hours of traces unless a filter is given."),
            ),
        }
        present, reason = reasons.get(feature, (True, ""))
        return "" if present else reason


def _rest(version: tuple[int, int, int], enterprise: bool) -> Capabilities:
    minor = version[:2]
    v13, v14, v15 = minor >= (0, 13), minor >= (0, 14), minor >= (0, 15)
    table = min(max(minor, (0, 11)), (0, 15))
    return Capabilities(
        generation="rest",
        version=version,
        enterprise=enterprise,
        permission_table=table,
        spam_training_route="upload" if v15 else "train",
        spam_trainer=v15,
        # Up to 0.14 the whole /api/spam-filter area checks spam-filter-train (classify too).
        classify_permission="spam-filter-test" if v15 else "spam-filter-train",
        train_permission="spam-filter-train",
        undelete_item_shape="item" if v15 else "collection",
        undelete_search=v15,
        reindex_indexes=REINDEX_INDEXES_015 if v15 else (),
        in_memory_prefixes=IN_MEMORY_PREFIXES_015 if v15 else IN_MEMORY_PREFIXES_011,
        bayes_purge=not v15,
        queue_recipients=v13,
        queue_status=True,
        allow_spam_training=v15,
        trace_default_window_hours=24 if v15 else 0,
        single_password_secrets=v14,
        principal_locale=v13,
        deploy=v13,
    )


def _jmap(enterprise: bool) -> Capabilities:
    """Stalwart 0.16 and later (JMAP `x:` objects; no endpoint reports the exact release)."""
    return Capabilities(
        generation="jmap",
        version=(0, 16, 0),
        enterprise=enterprise,
        permission_table=(0, 15),
        spam_training_route="upload",
        spam_trainer=False,
        classify_permission="spam-filter-test",
        train_permission="spam-filter-train",
        undelete_item_shape="item",
        undelete_search=True,
        spam_samples_impersonate=True,
        undelete_impersonate=True,
        classify_null_sender=False,
        reindex_indexes=(),
        in_memory_prefixes=(),
        bayes_purge=False,
        queue_recipients=True,
        queue_status=False,
        allow_spam_training=True,
        # x:Trace without a time, text or queue filter searches the last 24 hours
        trace_default_window_hours=24,
        single_password_secrets=True,
        principal_locale=True,
        deploy=False,
        server_hashes_passwords=True,
        app_password_options=True,
        encryption_settings=True,
        queue_by_name=True,
        report_domain_exact=True,
        maintenance_tasks=True,
        restart=False,
        in_memory_purge=False,
        names_are_addresses=True,
        member_counts=False,
        native_permission_names=True,
        dkim_automatic=True,
        reports_deleted_at_once=True,
        directory_deleted_at_once=True,
        report_search_words=True,
        report_reschedule=True,
    )


#: The settings pages generated from the server's schema (0.16+ only: `settings_pages.schema_views`).
SCHEMA_SETTINGS_PAGES = frozenset(
        {
            "config:schema-index",
            "config:schema-page",
            "config:schema-create",
            "config:schema-item",
            "config:schema-delete",
            "config:schema-reload",
        }
    )

#: Pages (namespace:name) of each area that work on Stalwart 0.16+: they make no upstream call,
#: or the JMAP backend has their area. A page of these areas not listed here says it is not
#: offered on 0.16 (`unavailable`). One entry per area, so each area's change touches one line.
JMAP_PAGES: dict[str, frozenset[str]] = {
    "account": frozenset(
        {
            "account:overview",
            "account:security",
            "account:app-passwords",
            "account:app-password-create",
            "account:app-password-revoke",
            "account:app-passwords-revoke-all",
            "account:two-factor",
            "account:two-factor-enable",
            "account:two-factor-disable",
            "account:password",
            "account:password-strength",
            "account:encryption",
            "account:encryption-disable",
            "account:app-password-edit",
            "account:api-keys",
            "account:api-key-create",
            "account:api-key-edit",
            "account:api-key-revoke",
        }
    ),
    "queue": frozenset(
        {
            "queue:list",
            "queue:bulk",
            "queue:status",
            "queue:detail",
            "queue:retry",
            "queue:cancel",
            "queue:reports",
            "queue:reports-delete",
            "queue:report",
            "queue:report-delete",
            "queue:report-reschedule",
        }
    ),
    "reports": frozenset(
        {
            "reports:index",
            "reports:overview",
            "reports:list",
            "reports:delete-matching",
            "reports:detail",
            "reports:delete",
        }
    ),
    "undelete": frozenset({"undelete:index", "undelete:list", "undelete:restore"}),
    "observability": frozenset(
        {
            "observability:logs",
            "observability:history",
            "observability:span",
            "observability:live",
            "observability:live-stream",
            "observability:dashboard",
            "observability:metrics-stream",
        }
    ),
    "config": SCHEMA_SETTINGS_PAGES,
    "tools": frozenset(
        {
            "tools:maintenance",
            "tools:maintenance-action",
            "tools:account-empty-trash",
            "tools:account-delete-bayes",
            "tools:blocked-ips",
            "tools:blocked-ip-unblock",
            "tools:tasks",
            "tools:task-rerun",
            "tools:task-cancel",
            # troubleshooting and the spam filter
            "tools:delivery",
            "tools:delivery-run",
            "tools:delivery-events",
            "tools:dmarc",
            "tools:spam",
            "tools:spam-train",
        }
    ),
}
JMAP_MISSING_AREAS = frozenset(JMAP_PAGES)
JMAP_AVAILABLE_PAGES = frozenset().union(*JMAP_PAGES.values())
#: Pages only Stalwart 0.16+ has (on <= 0.15 they say so, as 0.16 does for the missing ones).
JMAP_ONLY_PAGES: dict[str, frozenset[str]] = {
    "account": frozenset(
        {"account:app-password-edit", "account:api-keys", "account:api-key-create", "account:api-key-edit",
         "account:api-key-revoke"}
    ),
    "config": SCHEMA_SETTINGS_PAGES,
    "directory": frozenset({"directory:account-credential-revoke"}),
    "queue": frozenset({"queue:report-reschedule"}),
    "tools": frozenset({"tools:tasks", "tools:task-rerun", "tools:task-cancel"}),
}
#: Directory kinds that no longer exist on 0.16 (API keys became credentials of one's own account).
JMAP_MISSING_KINDS = frozenset({"resources", "locations", "others", "api-keys"})
#: Directory pages (URL names) without a 0.16 equivalent in this portal yet.
JMAP_MISSING_PAGES: frozenset[str] = frozenset()


def unavailable(capabilities: Capabilities, view_name: str, kwargs: dict) -> str:
    """Why the page `view_name` (namespace:name) is not offered on this server; "" when it is."""
    if capabilities.generation != "jmap":
        namespace = view_name.split(":", 1)[0]
        if view_name in JMAP_ONLY_PAGES.get(namespace, frozenset()):
            return _("Only Stalwart 0.16 and later have this page.")
        return ""
    namespace = view_name.split(":", 1)[0] if ":" in view_name else ""
    if namespace in JMAP_MISSING_AREAS and view_name not in JMAP_AVAILABLE_PAGES:
        return _(
            "Stalwart 0.16 and later manage this through new objects that this portal does not "
            "support yet. Use the server's own web administration for it."
        )
    if namespace == "directory" and kwargs.get("kind") in JMAP_MISSING_KINDS:
        if kwargs.get("kind") == "api-keys":
            return _("On Stalwart 0.16 and later, API keys belong to each account and are made by their owner.")
        return _("Stalwart 0.16 and later have no resources, locations or other principals: only accounts, groups "
                 "and mailing lists.")
    if view_name in JMAP_MISSING_PAGES:
        return _("This page is not available for Stalwart 0.16 and later yet.")
    return ""


def unavailable_link(capabilities: Capabilities, view_name: str, kwargs: dict) -> tuple[str, str] | None:
    """(URL name, label) of the page that replaces an unavailable one on this server, if any."""
    if capabilities.generation == "jmap" and view_name.startswith("directory:") and kwargs.get("kind") == "api-keys":
        return "account:api-keys", _("Manage your own API keys")
    return None


@functools.lru_cache(maxsize=64)
def for_server(generation: str, version: str, enterprise: bool) -> Capabilities:
    """The capabilities of a server from what it reported (cached: a handful of distinct servers)."""
    if generation == "jmap":
        return _jmap(enterprise)
    parsed = parse_version(version) or (0, 11, 0)
    if generation != "rest":
        raise ValueError(f"Unknown server generation {generation!r}")
    return _rest(parsed, enterprise)
