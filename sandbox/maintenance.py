"""Maintenance endpoints (spec §10, §12): updates, restart, purges, reindex, IMAP UIDs, quota.

``/api/reload`` lives in ``sandbox.config``; blobs and undelete in ``sandbox.store``, whose
sub-route table this module extends. What each call did is appended to
``tools_state(sb).actions`` (a dict with a ``kind``) for tests to inspect; the sandbox keeps no
mail, so purges only record themselves, except the Bayes ones, which empty the spam filter's
models.
"""

from __future__ import annotations

import zlib

from .errors import ManagementError, ProblemError
from .http import data_response, decode_path_element
from .routing import api_module, path_element
from .store import store_route
from .toolstate import tools_state

#: The spam-rule pack version the sandbox's "download" has (``version.spam-filter`` setting).
LATEST_SPAM_RULES = "2.0.4"

#: ``/api/store/purge/in-memory/<store>/<prefix>`` names (spec §12).
IN_MEMORY_PREFIXES = (
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
#: v0.15 drops the spam-filter prefixes (reputation-*, bayes-*, trusted-reply); an unknown
#: prefix is no error there either: only expired keys are purged.
IN_MEMORY_PREFIXES_V015 = tuple(
    p for p in IN_MEMORY_PREFIXES if not p.startswith(("reputation-", "bayes-")) and p != "trusted-reply"
)
#: v0.15 ``/api/store/reindex/<index>[/account]`` (``SearchIndex::try_from_str``).
SEARCH_INDEXES = ("email", "calendar", "contacts", "file", "tracing")
DATA_STORE_TYPES = {"rocksdb", "foundationdb", "postgresql", "mysql", "sqlite"}
IN_MEMORY_STORE_TYPES = DATA_STORE_TYPES | {"redis", "memory"}


# --------------------------------------------------------------------------- update, restart


@api_module("update")
def handle_update(sb, req):
    """Route, then permission (spec §1.7)."""
    sub = path_element(req, 1)
    state = tools_state(sb)
    if sub == "spam-filter" and req.method == "GET":
        req.access.require("spam-filter-update")
        if state.fail_downloads:
            raise ProblemError.internal()
        current = sb.settings.get("version.spam-filter")
        if current == LATEST_SPAM_RULES and "force" not in req.params:
            return data_response(None)
        sb.settings["version.spam-filter"] = LATEST_SPAM_RULES
        state.actions.append({"kind": "update-spam-filter", "overwrite": "overwrite" in req.params})
        return data_response(LATEST_SPAM_RULES)
    if sub == "webadmin" and req.method == "GET":
        req.access.require("webadmin-update")
        if state.fail_downloads:
            raise ProblemError.internal()
        state.webadmin_updates += 1
        return data_response(None)
    raise ProblemError.not_found()


@api_module("restart")
def handle_restart(sb, req):
    if req.method != "GET":
        raise ProblemError.not_found()
    req.access.require("restart")
    raise ManagementError.unsupported("Restart is not yet supported")


# --------------------------------------------------------------------------- store


def _store_ids(sb, types: set[str]) -> set[str]:
    ids = set()
    for key, value in sb.settings.items():
        parts = key.split(".")
        if len(parts) == 3 and parts[0] == "store" and parts[2] == "type" and value in types:
            ids.add(parts[1])
    return ids


def _principal(sb, raw: str):
    """``get_principal_id``: any principal by its exact name; unknown is ME notFound ""."""
    principal = sb.get(decode_path_element(raw))
    if principal is None:
        raise ManagementError.not_found("")
    return principal


@store_route("purge")
def handle_purge(sb, req):
    kind, store = path_element(req, 2), path_element(req, 3)
    if req.method != "GET" or kind not in ("blob", "data", "in-memory", "account"):
        raise ProblemError.not_found()
    state = tools_state(sb)
    if kind == "blob":
        req.access.require("purge-blob-store")
        state.actions.append({"kind": "purge-blob"})
    elif kind == "data":
        req.access.require("purge-data-store")
        if store is not None and store != "default" and store not in _store_ids(sb, DATA_STORE_TYPES):
            raise ProblemError.not_found()
        state.actions.append({"kind": "purge-data", "store": store or "default"})
    elif kind == "in-memory":
        req.access.require("purge-in-memory-store")
        if store is not None and store != "default" and store not in _store_ids(sb, IN_MEMORY_STORE_TYPES):
            raise ProblemError.not_found()
        prefix = path_element(req, 4)
        known = IN_MEMORY_PREFIXES_V015 if sb.at_least((0, 15)) else IN_MEMORY_PREFIXES
        prefix = prefix if prefix in known else None
        action = {"kind": "purge-in-memory", "store": store or "default", "prefix": prefix}
        if prefix == "bayes-account":
            raw = path_element(req, 5)
            if raw is not None:
                principal = _principal(sb, raw)
                state.bayes_accounts.pop(principal.id, None)
                action["account"] = principal.name
            else:
                state.bayes_accounts.clear()
        elif prefix == "bayes-global":
            state.bayes_global.clear()
        state.actions.append(action)
    else:
        req.access.require("purge-account")
        action = {"kind": "purge-account"}
        if store is not None:
            action["account"] = _principal(sb, store).name
        state.actions.append(action)
    return data_response(None)


@store_route("reindex")
def handle_reindex(sb, req):
    if sb.at_least((0, 15)):
        return _reindex_v015(sb, req)
    raw = path_element(req, 2)
    if req.method != "GET" or path_element(req, 3) is not None:
        raise ProblemError.not_found()
    req.access.require("fts-reindex")
    action = {"kind": "reindex", "tenant": req.access.tenant_id}
    if raw is not None:
        action["account"] = _principal(sb, raw).name
    tools_state(sb).actions.append(action)
    return data_response(None)


def _reindex_v015(sb, req):
    """v0.15: ``reindex/<index>[/account]``; the account is looked up before the index is checked."""
    index, raw = path_element(req, 2), path_element(req, 3)
    if req.method != "GET" or index is None:
        raise ProblemError.not_found()
    req.access.require("fts-reindex")
    account = _principal(sb, raw).name if raw is not None else None
    if index not in SEARCH_INDEXES:
        raise ProblemError.bad_parameters("Invalid search index specified")
    action = {"kind": "reindex", "tenant": req.access.tenant_id, "index": index}
    if account is not None:
        action["account"] = account
    tools_state(sb).actions.append(action)
    return data_response(None)


def uid_counts(principal) -> list[int]:
    """[mailboxes, emails] of an account: the sandbox keeps no mail, so these are derived."""
    mailboxes = 5 + principal.id % 4 if principal.type == "individual" else 0
    emails = principal.used_quota // 48_000 + zlib.crc32(principal.name.encode()) % 40 if mailboxes else 0
    return [mailboxes, emails]


@store_route("uids")
def handle_uids(sb, req):
    """No permission is checked (a quirk of the server, spec §12)."""
    raw = path_element(req, 2)
    if raw is None or path_element(req, 3) is not None or req.method != "DELETE":
        raise ProblemError.not_found()
    principal = _principal(sb, raw)
    counts = uid_counts(principal)
    tools_state(sb).actions.append({"kind": "reset-uids", "account": principal.name, "counts": counts})
    return data_response(counts)


@store_route("quota")
def handle_quota(sb, req):
    """No permission is checked (spec §12). DELETE recalculates first."""
    raw = path_element(req, 2)
    if raw is None or path_element(req, 3) is not None or req.method not in ("GET", "DELETE"):
        raise ProblemError.not_found()
    principal = _principal(sb, raw)
    if req.method == "DELETE":
        tools_state(sb).actions.append({"kind": "recalculate-quota", "account": principal.name})
    return data_response(principal.used_quota)
