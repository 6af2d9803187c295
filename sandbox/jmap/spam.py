"""Spam training and classification on 0.16 (objects.md §16, §19; jmap-management.md §5):
``POST /jmap/upload/{accountId}/``, ``GET /jmap/download/…``, ``x:SpamTrainingSample`` and the
``SpamFilterMaintenance`` task that trains. Training feeds the same global model the REST
front-end's classifier reads (``tools_state(sb).bayes_global``), so a message trained as spam
is tagged ``BAYES_SPAM`` by the ``ClassifySpam`` action afterwards."""

from __future__ import annotations

import hashlib
import ipaddress
import json
from dataclasses import dataclass

from ..errors import ProblemError
from ..http import Response, json_response
from ..rfc5322 import digest, parse_message
from . import ids
from .errors import SetError
from .objects import Kind
from .ops import ops_state
from .store import utc

#: x:SpamClassifier.holdSamplesFor default
HOLD_SAMPLES = 180 * 86400
MAX_UPLOAD = 50_000_000
MAX_MESSAGE = 75_000_000


# ------------------------------------------------------------------------------ blobs
def handle_upload(sb, req, caller, account: str) -> Response:
    number = ids.decode(account)
    if number is None or (number != caller.account_id and not caller.has("impersonate")):
        raise ProblemError(403, "Forbidden", f"You do not have access to account {account}.")
    data = req.body or b""
    if len(data) > MAX_UPLOAD:
        raise ProblemError(400, "Request too large", "The upload is larger than maxSizeUpload.")
    blob = "u" + hashlib.sha256(account.encode() + b"/" + data).hexdigest()[:40]
    content_type = (req.header("content-type") or "application/octet-stream").split(";", 1)[0].strip()
    ops_state(sb).uploads[blob] = {"account": number, "data": data, "type": content_type}
    return json_response({"accountId": account, "blobId": blob, "type": content_type, "size": len(data)}, 201)


def blob_data(sb, caller, blob: str) -> bytes | None:
    """The bytes of a blob the caller may read: its own uploads (any with impersonate) and,
    with ``fetchAnyBlob``, the server's blobs (queued messages, archived items)."""
    upload = ops_state(sb).uploads.get(blob)
    if upload is not None:
        if upload["account"] == caller.account_id or caller.has("impersonate"):
            return upload["data"]
        return None
    if blob.startswith("s") and caller.has("fetchAnyBlob"):
        return sb.mailflow.blobs.get(blob[1:])
    return None


def handle_download(sb, req, caller, el: list[str]) -> Response:
    if len(el) < 5 or ids.decode(el[2]) is None:
        raise ProblemError.not_found()
    data = blob_data(sb, caller, el[3])
    if data is None:
        raise ProblemError.not_found()
    accept = req.params.get("accept") or "application/octet-stream"
    return Response(200, data, accept, [("content-disposition", f'attachment; filename="{el[4]}"')])


# ------------------------------------------------------------------------------ samples
@dataclass
class SampleRec:
    id: int
    values: dict


class SpamTrainingSampleKind(Kind):
    name = "SpamTrainingSample"
    prefix = "sysSpamTrainingSample"
    tenant_scoped = False
    properties = ("accountId", "blobId", "deleteAfterUse", "expiresAt", "from", "isSpam", "subject")
    server_set = ("expiresAt", "from", "subject")
    filters = ("accountId",)
    sorts = ("id",)

    def records(self, sb, caller) -> dict:
        now = sb.now()
        out = {}
        for number, values in ops_state(sb).samples.items():
            if values["expiresAt"] <= now:
                continue
            if not caller.has("impersonate") and values["accountId"] != caller.account_id:
                continue
            out[number] = SampleRec(number, values)
        return out

    def view(self, sb, caller, rec) -> dict:
        v = rec.values
        return {"accountId": ids.encode(v["accountId"]) if v["accountId"] is not None else None,
                "blobId": v["blobId"], "deleteAfterUse": v["deleteAfterUse"], "expiresAt": utc(v["expiresAt"]),
                "from": v["from"], "isSpam": v["isSpam"], "subject": v["subject"]}

    def prepare_conditions(self, sb, caller, conditions):
        if not caller.has("impersonate"):
            return [c for c in conditions if c[0] != "accountId"]
        return conditions

    def matches(self, sb, caller, rec, prop, op, value) -> bool:
        account = rec.values["accountId"]
        return (ids.encode(account) if account is not None else None) == value

    def create(self, sb, caller, obj: dict):
        for key, value in obj.items():
            if key in self.server_set:
                raise SetError.invalid_patch(key, "Cannot modify server set property")
            if key not in self.properties:
                raise SetError.invalid_patch(key, "Invalid property")
            if value == "":
                raise SetError.invalid_patch(key, "Invalid value for property.")
        blob = obj.get("blobId")
        if not isinstance(blob, str):
            raise SetError.required("blobId")
        for key in ("isSpam", "deleteAfterUse"):
            if key in obj and not isinstance(obj[key], bool):
                raise SetError.invalid_patch(key, "Invalid value for property.")
        if caller.has("impersonate"):
            account = obj.get("accountId")
            if account is not None:
                number = ids.decode(account) if isinstance(account, str) else None
                p = sb.principals.get(number) if number is not None else None
                if p is None or p.type not in ("individual", "group"):
                    raise SetError.foreign_key("Account", str(account))
                account = number
        else:
            account = caller.account_id
        data = blob_data(sb, caller, blob)
        message = parse_message(data) if data is not None and len(data) <= MAX_MESSAGE else None
        if message is None or (message.get("subject") is None and message.get("from") is None):
            raise SetError.invalid_properties(["blobId"], "Invalid or inaccessible e-mail blob.")
        st = ops_state(sb)
        number = st.new_id()
        st.samples[number] = {
            "accountId": account, "blobId": blob, "isSpam": bool(obj.get("isSpam", False)),
            "deleteAfterUse": bool(obj.get("deleteAfterUse", False)),
            "from": message.address("from") or None, "subject": message.get("subject"),
            "expiresAt": sb.now() + HOLD_SAMPLES, "digest": digest(message),
        }
        return number, {}

    def update(self, sb, caller, rec, patch):
        raise SetError("forbidden", "Spam training samples cannot be updated")

    def destroy(self, sb, caller, rec) -> None:
        ops_state(sb).samples.pop(rec.id, None)


# ------------------------------------------------------------------------------ ClassifySpam
CLASSIFY_PROPERTIES = ("message", "remoteIp", "ehloDomain", "authenticatedAs", "isTls", "envFrom",
                       "envFromParameters", "envRcptTo")


def classify_action(sb, obj: dict) -> dict:
    from ..spamfilter import classify

    for key in obj:
        if key != "@type" and key not in CLASSIFY_PROPERTIES:
            raise SetError.invalid_patch(key, "Invalid property")
    missing = [k for k in ("message", "ehloDomain", "envFrom") if not isinstance(obj.get(k), str) or not obj[k]]
    if missing:
        raise SetError.required(*missing)
    rcpt = obj.get("envRcptTo") or {}
    if not isinstance(rcpt, dict) or not all(isinstance(k, str) for k in rcpt):
        raise SetError.invalid_patch("envRcptTo", "Invalid value for property.")
    try:
        remote = ipaddress.ip_address(obj.get("remoteIp") or "127.0.0.1")
    except ValueError:
        raise SetError.invalid_patch("remoteIp", "Invalid value for property.") from None
    if not isinstance(obj.get("isTls", True), bool):
        raise SetError.invalid_patch("isTls", "Invalid value for property.")
    request = {"message": obj["message"], "remoteIp": remote, "ehloDomain": obj["ehloDomain"],
               "authenticatedAs": obj.get("authenticatedAs"), "isTls": obj.get("isTls", True),
               "envFrom": obj["envFrom"], "envRcptTo": list(rcpt)}
    try:
        verdict = classify(sb, request)
    except Exception:  # noqa: BLE001 - a message that does not parse
        raise SetError.invalid_properties(["message"], "Failed to parse message.") from None
    tags = {}
    for name, tag in verdict["tags"].items():
        if tag["action"] in ("reject", "discard"):
            tags[name] = {"disposition": tag["action"], "score": 0.0}
        else:
            tags[name] = {"disposition": "score", "score": float(tag.get("value", 0.0))}
    action = verdict["disposition"]["action"]
    if action in ("reject", "discard"):
        result = action
    else:
        from ..spamfilter import SPAM_THRESHOLD

        result = "spam" if verdict["score"] >= SPAM_THRESHOLD else "ham"
    return {"result": result, "score": float(verdict["score"]), "tags": json.loads(json.dumps(tags))}


SPAM_TRAINING_SAMPLE = SpamTrainingSampleKind()
KINDS = (SPAM_TRAINING_SAMPLE,)
