"""``/api/store/*`` (spec §12): blob download and undelete.

Sub-routes live in ``STORE_ROUTES`` (first path element after ``store`` -> handler), so
other store endpoints (purges, reindex, ...) can be added by registering more entries with
``store_route``. An unknown sub-route is PP 404.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from email.utils import parseaddr, parsedate_to_datetime

from .dates import parse_rfc3339, rfc3339
from .errors import ManagementError, ProblemError
from .http import Response, data_response, decode_path_element
from .mailflow import DeletedBlob, blob_hash, state
from .rfc5322 import parse_message
from .routing import api_module, path_element

STORE_ROUTES: dict[str, Callable] = {}
_B64URL = re.compile(r"[A-Za-z0-9_-]*")

#: Collection names the server parses (``Collection::from_str``); only "email" can be restored.
COLLECTIONS = {
    "email",
    "mailbox",
    "thread",
    "identity",
    "emailSubmission",
    "sieveScript",
    "pushSubscription",
    "principal",
    "calendar",
    "calendarEvent",
    "addressBook",
    "contactCard",
    "fileNode",
    "none",
}


def store_route(name: str):
    def register(fn):
        STORE_ROUTES[name] = fn
        return fn

    return register


@api_module("store")
def handle_store(sb, req):
    handler = STORE_ROUTES.get(path_element(req, 1) or "")
    if handler is None:
        raise ProblemError.not_found()
    return handler(sb, req)


def decode_hash(value: str) -> bytes | None:
    """base64url without padding (``URL_SAFE_NO_PAD``), or None when it is not."""
    if _B64URL.fullmatch(value) is None or len(value) % 4 == 1:
        return None
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return None


# --------------------------------------------------------------------------- blobs


@store_route("blobs")
def handle_blobs(sb, req):
    raw = path_element(req, 2)
    if raw is None or req.method != "GET":
        raise ProblemError.not_found()
    req.access.require("blob-fetch")
    blob_id = decode_path_element(raw)
    if decode_hash(blob_id) is None:
        raise ProblemError.bad_parameters("Base64 decoding failed")
    content = state(sb).blobs.get(blob_id)
    if content is None:
        raise ManagementError.not_found("")
    offset = req.params.get_uint("offset") or 0
    limit = req.params.get_uint("limit")
    if offset or limit is not None:
        end = len(content) if limit is None else min(offset + limit, len(content))
        content = content[offset:end] if offset <= end else b""
    return Response(200, content, "application/octet-stream")


# --------------------------------------------------------------------------- undelete (Enterprise)


def delete_blob(sb, account_id: int, content: bytes, *, deleted_at: int, expires_at: int) -> DeletedBlob:
    """Record a deleted message of an account that can still be restored (tests, seed)."""
    flow = state(sb)
    digest = blob_hash(content)
    flow.blobs[digest] = content
    item = DeletedBlob(digest, len(content), deleted_at, expires_at)
    flow.deleted.setdefault(account_id, []).append(item)
    return item


def _deleted_json(sb, item: DeletedBlob) -> dict:
    data = {
        "hash": item.hash,
        "size": item.size,
        "deletedAt": rfc3339(item.deleted_at),
        "expiresAt": rfc3339(item.expires_at),
    }
    if sb.at_least((0, 15)):
        # v0.15: what was deleted instead of its collection (restore still needs the collection)
        data["item"] = _deleted_item_v015(sb, item)
    else:
        data["collection"] = item.collection
    return data


def _deleted_item_v015(sb, item: DeletedBlob) -> dict:
    """``DeletedItemResponse`` of an e-mail: sender, subject and reception time."""
    message = parse_message(state(sb).blobs.get(item.hash, b""))
    received_at = item.deleted_at
    if message is not None and message.get("date"):
        try:
            received_at = int(parsedate_to_datetime(message.get("date")).timestamp())
        except (TypeError, ValueError, IndexError):
            pass
    name, address = parseaddr((message.get("from") if message is not None else None) or "")
    return {
        "type": "email",
        "from": f"{name} <{address}>" if name and address else address or name,
        "subject": (message.get("subject") if message is not None else None) or "",
        "received_at": rfc3339(received_at),
    }


@store_route("undelete")
def handle_undelete(sb, req):
    req.access.require("undelete")
    if not sb.enterprise:
        raise ManagementError.enterprise()
    raw = path_element(req, 2)
    if raw is None or req.method not in ("GET", "POST"):
        raise ProblemError.not_found()
    account = sb.get(decode_path_element(raw))
    if account is None:
        raise ProblemError.not_found()
    flow = state(sb)
    items = sorted(flow.deleted.get(account.id, []), key=lambda item: item.deleted_at)
    if req.method == "GET":
        limit = req.params.get_uint("limit") or 0
        offset = max((req.params.get_uint("page") or 0) - 1, 0) * limit
        page = items[offset : offset + limit] if limit else items[offset:]
        return data_response({"items": [_deleted_json(sb, item) for item in page], "total": len(items)})
    requests = _parse_restore(req.body, items)
    results = []
    for digest, collection, _restore_time, cancel in requests:
        if collection != "email":
            results.append({"type": "error", "reason": "Unsupported collection"})
            continue
        if digest not in flow.blobs:
            results.append({"type": "notFound"})
            continue
        results.append({"type": "success"})
        flow.restored[account.id] = flow.restored.get(account.id, 0) + 1
        if cancel is not None:
            remaining = flow.deleted.get(account.id, [])
            flow.deleted[account.id] = [item for item in remaining if item.hash != digest]
    return data_response(results)


def _parse_restore(body: bytes | None, items: list[DeletedBlob]) -> list[tuple[str, str, int, int | None]]:
    try:
        data = json.loads((body or b"").decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise ProblemError.bad_parameters() from None
    if data is None:
        return [(item.hash, item.collection, item.deleted_at, item.expires_at) for item in items]
    if not isinstance(data, list):
        raise ProblemError.bad_parameters()
    parsed = []
    for entry in data:
        if not isinstance(entry, dict) or not all(
            isinstance(entry.get(k), str) for k in ("hash", "collection", "restoreTime")
        ):
            raise ProblemError.bad_parameters()
        cancel_value = entry.get("cancelDeletion")
        if cancel_value is not None and not isinstance(cancel_value, str):
            raise ProblemError.bad_parameters()
        digest = decode_hash(entry["hash"])
        restore_time = parse_rfc3339(entry["restoreTime"])
        cancel = parse_rfc3339(cancel_value) if cancel_value is not None else None
        if (
            digest is None
            or len(digest) != 32
            or entry["collection"] not in COLLECTIONS
            or restore_time is None
            or (cancel_value is not None and cancel is None)
        ):
            raise ProblemError.bad_parameters()
        parsed.append((entry["hash"], entry["collection"], restore_time, cancel))
    return parsed
