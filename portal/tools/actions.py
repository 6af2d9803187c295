"""The maintenance actions: what each does, who may run it, and how it is confirmed.

Each action has its own permission (Stalwart's, except the IMAP UID reset, which Stalwart
does not check at all: the portal asks for purge-account, the permission for account-level
store maintenance). Destructive actions always go through a confirmation step that says
what happens and that it cannot be undone.

On Stalwart 0.16 the actions run as `x:Task`s and `x:Action`s (`portal.stalwart.jmap.maintenance`);
the portal's rules name the <= 0.15 permission each task permission replaced (taskStoreMaintenance
<- purge-*-store, taskAccountMaintenance <- purge-account, taskSpamFilterMaintenance <-
spam-filter-update). The actions only 0.16 has (`tasks_only`) use the nearest one: the cache
actions settings-reload, the domain tasks (DKIM, DNS, ACME) domain-update. Stalwart checks its own
task and action permissions as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django import forms
from django.utils.translation import gettext_lazy as _

from portal.capabilities import Capabilities
from portal.permissions import Access, needs, needs_any

from .forms import (
    AccountForm,
    DataStoreForm,
    InMemoryForm,
    ReindexForm,
    ReloadForm,
    SpamRulesForm,
    fit_account_fields,
)
from .maintenance_forms import CachesForm, DomainTaskForm, SpamClassifierForm, StoreTaskForm

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


@dataclass(frozen=True, slots=True)
class Action:
    slug: str
    permission: str
    group: StrOrPromise
    title: StrOrPromise
    summary: StrOrPromise  # one line on the maintenance page
    effect: StrOrPromise  # what happens, on the confirmation page
    button: StrOrPromise
    confirm_button: StrOrPromise  # the button of the confirmation step
    destructive: bool = False
    form: type[forms.Form] | None = None
    #: the `Capabilities` feature it needs ("" for every server), see `unavailable`
    capability: str = ""
    #: only servers that run maintenance as tasks (0.16+) have it; others do not list it
    tasks_only: bool = False

    @property
    def access(self) -> Access:
        return needs(self.permission)

    def unavailable(self, capabilities: Capabilities) -> str:
        """Why the connected server cannot do this ("" when it can)."""
        return capabilities.why(self.capability) if self.capability else ""

    def offered(self, capabilities: Capabilities) -> bool:
        """Whether the maintenance page lists it for this server."""
        return capabilities.maintenance_tasks or not self.tasks_only

    def make_form(self, capabilities: Capabilities, data: Any = None) -> forms.Form | None:
        if self.form is None:
            return None
        if capabilities.maintenance_tasks and self.form in (DataStoreForm, SpamRulesForm):
            return None  # 0.16: no store ids, no download options
        if self.form in (InMemoryForm, ReindexForm):
            return fit_account_fields(self.form(data, capabilities=capabilities), capabilities)
        form = self.form(data)
        if capabilities.maintenance_tasks and isinstance(form, ReloadForm):
            del form.fields["dry_run"]  # 0.16 reloads have no dry run
        return fit_account_fields(form, capabilities)

    def confirm_needed(self, data: dict) -> bool:
        if self.slug == "update-spam-rules":
            return bool(data.get("overwrite"))
        if self.slug == "spam-classifier":
            return data.get("task") in ("reset", "retrain")
        if self.slug == "store-task":
            return data.get("task") in ("removeAuthTokens", "removeGreylist", "resetRateLimiters")
        return self.destructive


CONFIGURATION = _("Configuration and updates")
STORE = _("Store clean-up")
ACCOUNTS = _("Accounts")
DOMAINS = _("Domains")

ACTIONS: dict[str, Action] = {
    action.slug: action
    for action in (
        Action(
            "reload",
            "settings-reload",
            CONFIGURATION,
            _("Reload configuration"),
            _("Apply configuration changes without a restart."),
            _("Stalwart reads its configuration again and applies it."),
            _("Reload"),
            _("Yes, reload"),
            form=ReloadForm,
        ),
        Action(
            "update-spam-rules",
            "spam-filter-update",
            CONFIGURATION,
            _("Update spam-filter rules"),
            _("Download the newest spam-filter rules from Stalwart Labs."),
            _("Stalwart downloads the newest spam-filter rules and replaces the rules you changed locally."),
            _("Update rules"),
            _("Yes, update rules"),
            form=SpamRulesForm,
        ),
        Action(
            "update-webadmin",
            "webadmin-update",
            CONFIGURATION,
            _("Update the web admin"),
            _("Download and install the newest official web admin."),
            _("Stalwart downloads the newest web admin and installs it."),
            _("Update web admin"),
            _("Yes, update web admin"),
        ),
        Action(
            "restart",
            "restart",
            CONFIGURATION,
            _("Restart the server"),
            _("Ask Stalwart to restart (Stalwart 0.11 and 0.12 do not support this yet)."),
            _("Stalwart restarts: every connection (IMAP, SMTP, web) is cut for a moment."),
            _("Restart"),
            _("Yes, restart"),
            destructive=True,
            capability="restart",
        ),
        Action(
            "reindex",
            "fts-reindex",
            STORE,
            _("Rebuild the search index"),
            _("Re-index mail for full-text search, for one account or all. Heavy on large servers."),
            _("Stalwart rebuilds the full-text search index in the background."),
            _("Rebuild index"),
            _("Yes, rebuild index"),
            form=ReindexForm,
        ),
        Action(
            "purge-blobs",
            "purge-blob-store",
            STORE,
            _("Purge the blob store"),
            _("Delete stored message files that nothing refers to any more."),
            _("Stalwart deletes every blob (message file, attachment) no message refers to any more, for good."),
            _("Purge blobs"),
            _("Yes, purge blobs"),
            destructive=True,
        ),
        Action(
            "purge-data",
            "purge-data-store",
            STORE,
            _("Purge the data store"),
            _("Remove deleted and expired entries from a data store for good."),
            _("Stalwart removes entries marked as deleted or expired from the data store, for good."),
            _("Purge data"),
            _("Yes, purge data"),
            destructive=True,
            form=DataStoreForm,
        ),
        Action(
            "purge-in-memory",
            "purge-in-memory-store",
            STORE,
            _("Purge the in-memory store"),
            _("Drop expired keys, or everything under one prefix (rate limits, greylist, reputation, …)."),
            _("Stalwart deletes the chosen keys from the in-memory store: counters, caches and lists start empty."),
            _("Purge keys"),
            _("Yes, purge keys"),
            destructive=True,
            form=InMemoryForm,
            capability="in_memory_purge",
        ),
        Action(
            "store-task",
            "purge-in-memory-store",
            STORE,
            _("Reset stored state"),
            _("Reset rate limiters, empty the greylist, remove sign-in tokens or stale locks, recount quotas."),
            _("Stalwart runs the chosen clean-up as a task in the background."),
            _("Run"),
            _("Yes, run it"),
            form=StoreTaskForm,
            tasks_only=True,
        ),
        Action(
            "delete-bayes-global",
            "purge-in-memory-store",
            STORE,
            _("Delete the server-wide Bayes model"),
            _("Forget everything the spam filter learnt server-wide."),
            _("Stalwart deletes the server-wide Bayes spam model; the filter learns again from scratch."),
            _("Delete Bayes model"),
            _("Yes, delete Bayes model"),
            destructive=True,
            capability="bayes_purge",
        ),
        Action(
            "purge-accounts",
            "purge-account",
            STORE,
            _("Purge deleted mail of all accounts"),
            _("Empty old Trash and Junk and finish deleting removed mail, for every account."),
            _(
                "For every account, Stalwart permanently removes messages in Trash and Junk older than the "
                "auto-expunge period and finishes deleting messages that were already deleted."
            ),
            _("Purge all accounts"),
            _("Yes, purge all accounts"),
            destructive=True,
        ),
        Action(
            "reset-uids",
            "purge-account",
            ACCOUNTS,
            _("Reset IMAP UIDs of an account"),
            _("Give every message of an account new IMAP UIDs, when a mail app is stuck out of sync."),
            _(
                "Stalwart gives every mailbox and message of the account new IMAP UIDs. Mail apps then download "
                "the whole mailbox again."
            ),
            _("Reset UIDs"),
            _("Yes, reset UIDs"),
            destructive=True,
            form=AccountForm,
        ),
        Action(
            "recalculate-quota",
            "purge-account",
            ACCOUNTS,
            _("Recount the used quota of an account"),
            _("Count again how much storage an account uses, when the figure looks wrong."),
            _("Stalwart counts the account's stored data again in the background."),
            _("Recount"),
            _("Yes, recount"),
            form=AccountForm,
            tasks_only=True,
        ),
        Action(
            "spam-classifier",
            "spam-filter-update",
            CONFIGURATION,
            _("Spam classifier"),
            _("Train the spam classifier from its samples, stop a training, or reset what it learnt."),
            _("Stalwart changes the server-wide spam classifier in the background: a reset or a new training "
              "replaces what it learnt so far."),
            _("Run"),
            _("Yes, run it"),
            form=SpamClassifierForm,
            tasks_only=True,
        ),
        Action(
            "invalidate-caches",
            "settings-reload",
            CONFIGURATION,
            _("Clear caches"),
            _("Make Stalwart forget what it cached (accounts, domains, DNS answers), after changes outside it."),
            _("Stalwart empties the chosen caches; the next requests read everything again."),
            _("Clear caches"),
            _("Yes, clear caches"),
            form=CachesForm,
            tasks_only=True,
        ),
        Action(
            "domain-task",
            "domain-update",
            DOMAINS,
            _("DKIM keys, DNS records and certificates of a domain"),
            _("Create or rotate DKIM keys, publish the DNS records or renew the TLS certificate of a domain now."),
            _("Stalwart runs the chosen domain task in the background."),
            _("Run"),
            _("Yes, run it"),
            form=DomainTaskForm,
            tasks_only=True,
        ),
    )
}

GROUPS = (CONFIGURATION, STORE, ACCOUNTS, DOMAINS)
#: Who sees the maintenance page: anyone who may run one of the actions every server has.
MAINTENANCE_ACCESS = needs_any(*sorted({action.permission for action in ACTIONS.values() if not action.tasks_only}))


def action_for(slug: str) -> Action:
    from django.http import Http404

    action = ACTIONS.get(slug)
    if action is None:
        raise Http404("No such maintenance action.")
    return action
