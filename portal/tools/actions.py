"""The maintenance actions: what each does, who may run it, and how it is confirmed.

Each action has its own permission (Stalwart's, except the IMAP UID reset, which Stalwart
does not check at all: the portal asks for purge-account, the permission for account-level
store maintenance). Destructive actions always go through a confirmation step that says
what happens and that it cannot be undone.
"""

from __future__ import annotations

from dataclasses import dataclass

from django import forms

from portal.permissions import Access, needs, needs_any

from .forms import AccountForm, DataStoreForm, InMemoryForm, OptionalAccountForm, ReloadForm, SpamRulesForm


@dataclass(frozen=True, slots=True)
class Action:
    slug: str
    permission: str
    group: str
    title: str
    summary: str  # one line on the maintenance page
    effect: str  # what happens, on the confirmation page
    button: str
    destructive: bool = False
    form: type[forms.Form] | None = None

    @property
    def access(self) -> Access:
        return needs(self.permission)

    @property
    def confirm_button(self) -> str:
        return f"Yes, {self.button[:1].lower()}{self.button[1:]}"

    def confirm_needed(self, data: dict) -> bool:
        if self.slug == "update-spam-rules":
            return bool(data.get("overwrite"))
        return self.destructive


CONFIGURATION = "Configuration and updates"
STORE = "Store clean-up"
ACCOUNTS = "Accounts"

ACTIONS: dict[str, Action] = {
    action.slug: action
    for action in (
        Action(
            "reload",
            "settings-reload",
            CONFIGURATION,
            "Reload configuration",
            "Apply configuration changes without a restart, or only check them first.",
            "Stalwart reads its configuration again and applies it.",
            "Reload",
            form=ReloadForm,
        ),
        Action(
            "update-spam-rules",
            "spam-filter-update",
            CONFIGURATION,
            "Update spam-filter rules",
            "Download the newest spam-filter rules from Stalwart Labs.",
            "Stalwart downloads the newest spam-filter rules and replaces the rules you changed locally.",
            "Update rules",
            form=SpamRulesForm,
        ),
        Action(
            "update-webadmin",
            "webadmin-update",
            CONFIGURATION,
            "Update the web admin",
            "Download and install the newest official web admin.",
            "Stalwart downloads the newest web admin and installs it.",
            "Update web admin",
        ),
        Action(
            "restart",
            "restart",
            CONFIGURATION,
            "Restart the server",
            "Ask Stalwart to restart (Stalwart 0.11 and 0.12 do not support this yet).",
            "Stalwart restarts: every connection (IMAP, SMTP, web) is cut for a moment.",
            "Restart",
            destructive=True,
        ),
        Action(
            "reindex",
            "fts-reindex",
            STORE,
            "Rebuild the search index",
            "Re-index mail for full-text search, for one account or all. Heavy on large servers.",
            "Stalwart rebuilds the full-text search index in the background.",
            "Rebuild index",
            form=OptionalAccountForm,
        ),
        Action(
            "purge-blobs",
            "purge-blob-store",
            STORE,
            "Purge the blob store",
            "Delete stored message files that nothing refers to any more.",
            "Stalwart deletes every blob (message file, attachment) no message refers to any more, for good.",
            "Purge blobs",
            destructive=True,
        ),
        Action(
            "purge-data",
            "purge-data-store",
            STORE,
            "Purge the data store",
            "Remove deleted and expired entries from a data store for good.",
            "Stalwart removes entries marked as deleted or expired from the data store, for good.",
            "Purge data",
            destructive=True,
            form=DataStoreForm,
        ),
        Action(
            "purge-in-memory",
            "purge-in-memory-store",
            STORE,
            "Purge the in-memory store",
            "Drop expired keys, or everything under one prefix (rate limits, greylist, reputation, …).",
            "Stalwart deletes the chosen keys from the in-memory store: counters, caches and lists start empty.",
            "Purge keys",
            destructive=True,
            form=InMemoryForm,
        ),
        Action(
            "delete-bayes-global",
            "purge-in-memory-store",
            STORE,
            "Delete the server-wide Bayes model",
            "Forget everything the spam filter learnt server-wide.",
            "Stalwart deletes the server-wide Bayes spam model; the filter learns again from scratch.",
            "Delete Bayes model",
            destructive=True,
        ),
        Action(
            "purge-accounts",
            "purge-account",
            STORE,
            "Purge deleted mail of all accounts",
            "Empty old Trash and Junk and finish deleting removed mail, for every account.",
            "For every account, Stalwart permanently removes messages in Trash and Junk older than the "
            "auto-expunge period and finishes deleting messages that were already deleted.",
            "Purge all accounts",
            destructive=True,
        ),
        Action(
            "reset-uids",
            "purge-account",
            ACCOUNTS,
            "Reset IMAP UIDs of an account",
            "Give every message of an account new IMAP UIDs, when a mail app is stuck out of sync.",
            "Stalwart gives every mailbox and message of the account new IMAP UIDs. Mail apps then download "
            "the whole mailbox again.",
            "Reset UIDs",
            destructive=True,
            form=AccountForm,
        ),
    )
}

GROUPS = (CONFIGURATION, STORE, ACCOUNTS)
MAINTENANCE_ACCESS = needs_any(*sorted({action.permission for action in ACTIONS.values()}))


def action_for(slug: str) -> Action:
    from django.http import Http404

    action = ACTIONS.get(slug)
    if action is None:
        raise Http404("No such maintenance action.")
    return action
