"""``/api/settings/*`` and ``/api/reload`` (spec §9, §10).

Settings are one flat ``key -> value`` map (``sb.settings``). The server keeps some keys in its
local file and the rest in the database, but every read merges both sources, so the split is
invisible through the API; :func:`is_local_key` still says which is which (for the reload checks
and for tests).

Quirks kept on purpose (they are the server's): ``clear`` with a ``filter`` compares the filter
*as sent* with the lowercased key and value; ``group`` with a suffix and a filter matches values
only (the ``_id`` included, keys not); ``insert`` with ``assert_empty`` and no prefix looks only at
the *first* key; a POST is applied in order and is not atomic.
"""

from __future__ import annotations

import re
from typing import Any

from .errors import ManagementError, ProblemError
from .http import data_response, decode_path_element
from .routing import api_module, path_element

# --------------------------------------------------------------------------- local keys

#: The server's default ``config.local-keys`` patterns, in order ("!" excludes).
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


def _matches(pattern: str, key: str) -> bool:
    if pattern == "*":
        return True
    if pattern.endswith("*"):
        return key.startswith(pattern[:-1])
    if pattern.startswith("*"):
        return key.endswith(pattern[1:])
    if "*" in pattern:
        regex = "^" + ".*".join(re.escape(part) for part in pattern.split("*")) + "$"
        return re.match(regex, key) is not None
    return key == pattern


def local_patterns(settings: dict[str, str]) -> list[str]:
    """``config.local-keys.*`` values (trimmed, lowercased), or the defaults."""
    configured = []
    for key in sorted(settings):
        if key.startswith("config.local-keys"):
            value = settings[key].strip()
            negated = value.startswith("!")
            value = value.lstrip("!").strip().lower()
            if value:
                configured.append(("!" if negated else "") + value)
    return configured or list(DEFAULT_LOCAL_PATTERNS)


def is_local_key(settings: dict[str, str], key: str) -> bool:
    local = False
    for pattern in local_patterns(settings):
        if pattern.startswith("!"):
            if _matches(pattern[1:], key):
                return False
        elif not local and _matches(pattern, key):
            local = True
    return local


# --------------------------------------------------------------------------- reading


def _list(sb, prefix: str, strip: bool) -> list[tuple[str, str]]:
    """``ConfigManager::list``: every key starting with ``prefix``, sorted, optionally stripped."""
    items = []
    for key in sorted(sb.settings):
        if key.startswith(prefix):
            items.append((key[len(prefix) :] if strip and prefix else key, sb.settings[key]))
    return items


def _dotted_prefix(params) -> str:
    prefix = params.get("prefix")
    if prefix is None:
        return ""
    return prefix if prefix.endswith(".") else prefix + "."


def _paging(params) -> tuple[int, int]:
    limit = params.get_uint("limit") or 0
    page = params.get_uint("page") or 0
    return limit, max(page - 1, 0) * limit


def _get_list(sb, req):
    params = req.params
    prefix = _dotted_prefix(params)
    limit, offset = _paging(params)
    settings = _list(sb, prefix, True)
    window = settings[offset:] if limit == 0 else settings[offset : offset + limit]
    return data_response({"total": len(settings), "items": dict(window)})


def _get_group(sb, req):
    params = req.params
    prefix = _dotted_prefix(params)
    suffix = params.get("suffix") or ""
    if suffix and not suffix.startswith("."):
        suffix = "." + suffix
    field = params.get("field")
    filter_ = (params.get("filter") or "").lower()
    limit, offset = _paging(params)
    settings = _list(sb, prefix, True)

    if suffix and settings:
        total = 0
        ids: list[str] = []
        for key, _ in settings:
            if key.endswith(suffix) and key != suffix:
                record_id = key[: -len(suffix)]
                if not filter_:
                    if offset == 0:
                        if limit == 0 or len(ids) < limit:
                            ids.append(record_id)
                    else:
                        offset -= 1
                    total += 1
                else:
                    ids.append(record_id)
        records = []
        for record_id in ids:
            record = {"_id": record_id}
            inner = record_id + "."
            for key, value in settings:
                if key.startswith(inner):
                    sub = key[len(inner) :]
                    if field is None or field == sub:
                        record[sub] = value
                elif len(record) > 1:
                    break
            if filter_:
                if any(filter_ in value.lower() for value in record.values()):
                    if offset == 0:
                        if limit == 0 or len(records) < limit:
                            records.append(record)
                    else:
                        offset -= 1
                    total += 1
            else:
                records.append(record)
        return data_response({"total": total, "items": records})

    total = 0
    items = []
    for key, value in settings:
        if not filter_ or filter_ in key.lower() or filter_ in value.lower():
            if offset == 0:
                if limit == 0 or len(items) < limit:
                    shown = key[len(prefix) :] if prefix and key.startswith(prefix) else key
                    items.append({"_id": shown, "_value": value})
            else:
                offset -= 1
            total += 1
    return data_response({"total": total, "items": items})


def _get_keys(sb, req):
    params = req.params
    results: dict[str, str] = {}
    keys = params.get("keys")
    for key in keys.split(",") if keys else []:
        if key in sb.settings:
            results[key] = sb.settings[key]
    prefixes = params.get("prefixes")
    for prefix in prefixes.split(",") if prefixes else []:
        dotted = prefix if prefix.endswith(".") else prefix + "."
        results.update(_list(sb, dotted, False))
    return data_response(results)


# --------------------------------------------------------------------------- writing


def _string(value: Any) -> str:
    if type(value) is not str:
        raise ProblemError.json_failed()
    return value


def _parse_updates(body: Any) -> list[dict]:
    """Deserialize ``Vec<UpdateSettings>`` the way serde would (unknown fields are ignored)."""
    if type(body) is not list:
        raise ProblemError.json_failed()
    updates = []
    for item in body:
        if type(item) is not dict:
            raise ProblemError.json_failed()
        kind = item.get("type")
        if kind == "delete":
            keys = item.get("keys")
            if type(keys) is not list:
                raise ProblemError.json_failed()
            updates.append({"type": "delete", "keys": [_string(key) for key in keys]})
        elif kind == "clear":
            filter_ = item.get("filter")
            if filter_ is not None:
                filter_ = _string(filter_)
            updates.append({"type": "clear", "prefix": _string(item.get("prefix")), "filter": filter_})
        elif kind == "insert":
            if "prefix" not in item or "values" not in item or "assert_empty" not in item:
                raise ProblemError.json_failed()
            prefix = item["prefix"]
            if prefix is not None:
                prefix = _string(prefix)
            values = item["values"]
            if type(values) is not list:
                raise ProblemError.json_failed()
            pairs = []
            for pair in values:
                if type(pair) is not list or len(pair) != 2:
                    raise ProblemError.json_failed()
                pairs.append((_string(pair[0]), _string(pair[1])))
            if type(item["assert_empty"]) is not bool:
                raise ProblemError.json_failed()
            updates.append({"type": "insert", "prefix": prefix, "values": pairs, "assert_empty": item["assert_empty"]})
        else:
            raise ProblemError.json_failed()
    return updates


def apply_updates(sb, updates: list[dict]) -> None:
    """Apply in order; a failed assertion stops there and keeps what came before (§9)."""
    settings = sb.settings
    for update in updates:
        if update["type"] == "delete":
            for key in update["keys"]:
                settings.pop(key, None)
        elif update["type"] == "clear":
            prefix, filter_ = update["prefix"], update["filter"]
            for key, value in _list(sb, prefix, False):
                if filter_ is None or filter_ in value.lower() or filter_ in key.lower():
                    del settings[key]
        else:
            prefix = update["prefix"]
            if update["assert_empty"]:
                if prefix is not None:
                    if _list(sb, prefix + ".", True):
                        raise ManagementError.assert_failed()
                elif update["values"] and update["values"][0][0] in settings:
                    raise ManagementError.assert_failed()
            for key, value in update["values"]:
                settings[f"{prefix}.{key}" if prefix is not None else key] = value


@api_module("settings")
def handle_settings(sb, req):
    """Route first, then permission (spec §1.7)."""
    access = req.access
    sub = path_element(req, 1)
    if sub == "group" and req.method == "GET":
        access.require("settings-list")
        return _get_group(sb, req)
    if sub == "list" and req.method == "GET":
        access.require("settings-list")
        return _get_list(sb, req)
    if sub == "keys" and req.method == "GET":
        access.require("settings-list")
        return _get_keys(sb, req)
    if sub and req.method == "DELETE":
        access.require("settings-delete")
        sb.settings.pop(decode_path_element(sub), None)
        return data_response(None)
    if sub is None and req.method == "POST":
        access.require("settings-update")
        apply_updates(sb, _parse_updates(req.json_body()))
        return data_response(None)
    raise ProblemError.not_found()


# --------------------------------------------------------------------------- reload

LISTENER_PROTOCOLS = {"smtp", "lmtp", "http", "imap", "pop3", "managesieve"}
STORE_TYPES = {
    "rocksdb",
    "foundationdb",
    "postgresql",
    "mysql",
    "sqlite",
    "s3",
    "redis",
    "elasticsearch",
    "fs",
    "azure",
    "sql-read-replica",
    "distributed-blob",
    "memory",
}
#: Top-level key groups some part of the server reads; anything else is reported as unread.
KNOWN_ROOTS = {
    "acme",
    "asn",
    "auth",
    "authentication",
    "calendar",
    "certificate",
    "cluster",
    "config",
    "contacts",
    "directory",
    "email",
    "enterprise",
    "http",
    "http-lookup",
    "imap",
    "jmap",
    "lookup",
    "metrics",
    "oauth",
    "openid",
    "queue",
    "report",
    "resolver",
    "server",
    "session",
    "sieve",
    "signature",
    "spam-filter",
    "storage",
    "store",
    "tracer",
    "tracing",
    "version",
    "webadmin",
    "webhook",
}
_DURATION = re.compile(r"^\d+\s*(ms|s|m|h|d)?$")
_BIND = re.compile(r"^(\[[0-9a-fA-F:]+\]|[0-9.]+):\d{1,5}$")


def reload_report(sb, target: str = "") -> dict:
    """What ``Server::reload`` would say about the current settings: ``{warnings, errors}``."""
    settings = sb.settings
    warnings: dict[str, dict] = {}
    errors: dict[str, dict] = {}
    if target in ("lookup", "certificate", "server.blocked-ip"):
        prefixes = {
            "lookup": ("lookup.",),
            "certificate": ("certificate.",),
            "server.blocked-ip": ("server.blocked-ip.",),
        }
        scope = prefixes[target]
    else:
        scope = ("",)
    for key, value in sorted(settings.items()):
        if not key.startswith(scope):
            continue
        root = key.split(".", 1)[0]
        if root not in KNOWN_ROOTS:
            warnings[key] = {"type": "unread", "value": value}
            continue
        parts = key.split(".")
        if key.startswith("server.listener.") and len(parts) == 4:
            if parts[3] == "protocol" and value not in LISTENER_PROTOCOLS:
                errors[key] = {"type": "parse", "error": f"Invalid protocol value {value!r}."}
        if key.startswith("server.listener.") and ".bind" in key and not _BIND.match(value):
            errors[key] = {"type": "parse", "error": f"Invalid socket address {value!r}."}
        if key.startswith("store.") and len(parts) == 3 and parts[2] == "type" and value not in STORE_TYPES:
            errors[key] = {"type": "build", "error": f"Unknown store type {value!r}."}
        if (parts[-1] in ("timeout", "ttl", "expire") or parts[-1].startswith("timeout")) and not _DURATION.match(
            value
        ):
            errors[key] = {"type": "parse", "error": f"Invalid duration value {value!r}."}
        if "%{" in value and "}%" not in value:
            errors[key] = {"type": "macro", "error": "Unterminated macro."}
    if target == "" and "server.hostname" not in settings:
        warnings["server.hostname"] = {"type": "appliedDefault", "default": "localhost"}
    for store_key in ("storage.data", "storage.blob", "storage.fts", "storage.lookup"):
        store = settings.get(store_key)
        if target == "" and store and f"store.{store}.type" not in settings:
            errors[store_key] = {"type": "build", "error": f"Store {store!r} not found."}
    return {"warnings": warnings, "errors": errors}


@api_module("reload")
def handle_reload(sb, req):
    """Permission first, then the route (spec §1.7, §10)."""
    req.access.require("settings-reload")
    if req.method != "GET":
        raise ProblemError.not_found()
    target = path_element(req, 1) or ""
    report = reload_report(sb, target)
    if target not in ("lookup", "certificate", "server.blocked-ip"):
        sb.reload_count = getattr(sb, "reload_count", 0) + (0 if "dry-run" in req.params else 1)
    return data_response(report)
