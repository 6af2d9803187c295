"""Mail-flow objects of the 0.16 front-end, shown from the REST sandbox's one mail-flow state
(``sandbox.mailflow``): ``x:QueuedMessage`` (objects.md §12), the outgoing report queue
``x:DmarcInternalReport``/``x:TlsInternalReport`` (§14), the incoming reports
``x:DmarcExternalReport``/``x:TlsExternalReport``/``x:ArfExternalReport`` (§13) and the
Enterprise undelete ``x:ArchivedItem`` (§15).

Ids: queued messages keep their queue id and incoming reports their report id. Outgoing
reports and archived items have string keys in the REST model; their JMAP id is a number made
of their start time and a hash, so ids stay stable across a reschedule and newer items have
larger ids."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from email.utils import parseaddr, parsedate_to_datetime

from .. import mailflow as flowmod
from ..dates import SNOWFLAKE_EPOCH
from ..mailflow import CANCELED, is_done, is_pending
from ..queue import process_queue, reschedule, tenant_domains
from ..rfc5322 import parse_message
from . import ids, reportshape
from .errors import SetError
from .objects import Kind
from .store import parse_utc, utc

_RESPONSE = re.compile(r"Code: (\d{3}), Enhanced code: ([0-9.]+), Message: (.*)$", re.S)
_HOST = re.compile(r"^(?:Error for |Unexpected response from ')([^':]+)'?:? ?(.*)$", re.S)


def _hash16(text: str, bits: int = 16) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") & ((1 << bits) - 1)


def blob_id(digest: str) -> str:
    """A blob id for a stored blob hash (opaque to clients)."""
    return "s" + digest


@dataclass
class Rec:
    """A record of a kind whose REST key is not a number."""

    id: int
    key: object
    item: object


# ------------------------------------------------------------------------------ queue
def recipient_status(status, mx: str) -> dict:
    kind, text = status
    if kind == "scheduled":
        return {"@type": "Scheduled"}
    text = text or ""
    host = mx or None
    match = _HOST.match(text)
    if match:
        host, text = match.group(1), match.group(2)
    response = _RESPONSE.search(text)
    code = enhanced = message = None
    if response:
        code, enhanced, message = int(response.group(1)), response.group(2), response.group(3)
    if kind == "completed":
        return {"@type": "Completed", "responseCode": code or 250, "responseEnhanced": enhanced or "2.0.0",
                "responseHostname": host, "responseMessage": message or "OK"}
    at_type = "TemporaryFailure" if kind == "temp_fail" else "PermanentFailure"
    if response:
        error_type = "unexpectedResponse"
    elif "dns" in text.lower() or "mx" in text.lower():
        error_type = "dnsError"
    elif "tls" in text.lower():
        error_type = "tlsError"
    else:
        error_type = "connectionError"
    return {"@type": at_type, "errorType": error_type, "errorCommand": "RCPT TO" if response else None,
            "errorMessage": None if response else text, "responseCode": code, "responseEnhanced": enhanced,
            "responseHostname": host, "responseMessage": message}


def _status_of(domain, recipient):
    if recipient.status[0] == "scheduled" and domain.status[0] == "temp_fail":
        return domain.status
    if recipient.status == ("perm_fail", CANCELED):
        return ("perm_fail", "Queue error: Delivery canceled.")
    return recipient.status


def _next_event(sb, message) -> int | None:
    pending = [d.next_retry for d in message.domains if is_pending(d.status)]
    return min(pending) if pending else None


class QueuedMessageKind(Kind):
    name = "QueuedMessage"
    prefix = "sysQueuedMessage"
    tenant_scoped = False
    properties = ("blobId", "createdAt", "envId", "flags", "nextNotify", "nextRetry", "priority", "receivedFromIp",
                  "receivedViaPort", "recipients", "returnPath", "size")
    server_set = ("blobId", "createdAt", "flags", "nextNotify", "receivedFromIp", "receivedViaPort", "returnPath",
                  "size")
    filters = ("due", "queueName", "returnPath", "to", "text")
    sorts = ("due",)
    default_sort = "due"

    def _all(self, sb) -> dict:
        process_queue(sb)
        return flowmod.state(sb).messages

    def records(self, sb, caller) -> dict:
        tenant = tenant_domains(sb, caller)
        messages = self._all(sb)
        if tenant is None:
            return dict(messages)
        return {k: m for k, m in messages.items() if m.return_path.rpartition("@")[2].lower() in tenant}

    def query_records(self, sb, caller) -> dict:
        tenant = tenant_domains(sb, caller)
        messages = self._all(sb)
        return {k: m for k, m in messages.items() if tenant is None or m.has_domain(tenant)}

    def view(self, sb, caller, m) -> dict:
        now = sb.now()
        recipients = {}
        for domain in m.domains:
            for r in domain.recipients:
                expires = ({"@type": "Attempts", "expiresAttempts": domain.expires_attempts}
                           if domain.expires_attempts is not None
                           else {"@type": "Ttl", "expiresAt": utc(domain.expires)})
                recipients[r.address] = {
                    "expires": expires, "flags": {}, "notifyCount": 0, "notifyDue": utc(domain.next_notify),
                    "orcpt": r.orcpt, "queueName": domain.queue, "retryCount": domain.retry_num,
                    "retryDue": utc(domain.next_retry), "status": recipient_status(_status_of(domain, r), domain.mx),
                }
        notify = [d.next_notify for d in m.domains if is_pending(d.status) and d.next_notify > now]
        return {
            "blobId": blob_id(m.blob_hash), "createdAt": utc(m.created), "envId": m.env_id,
            "flags": {"authenticated": True} if m.return_path else {"dsn": True},
            "nextNotify": utc(min(notify)) if notify else None, "nextRetry": utc(_next_event(sb, m)),
            "priority": m.priority, "receivedFromIp": "127.0.0.1", "receivedViaPort": 25,
            "recipients": recipients, "returnPath": m.return_path, "size": m.size,
        }

    def prepare_conditions(self, sb, caller, conditions):
        if any(p == "text" for p, _, _ in conditions):  # text wins over returnPath/to
            return [c for c in conditions if c[0] not in ("returnPath", "to")]
        return conditions

    def matches(self, sb, caller, m, prop, op, value) -> bool:
        if not isinstance(value, str):
            return False
        needle = value.lower()
        if prop == "text":
            return needle in m.return_path.lower() or any(needle in r.address_lcase for r in m.recipients())
        if prop == "returnPath":
            return needle in m.return_path.lower()
        if prop == "to":
            return any(needle in r.address_lcase for r in m.recipients())
        if prop == "queueName":
            return any(d.queue == value for d in m.domains)
        at = parse_utc(value)
        if at is None:
            return False
        due = _next_event(sb, m) or sb.now()
        return {"": due == at, "GreaterThan": due > at, "GreaterThanOrEqual": due >= at,
                "LessThan": due < at, "LessThanOrEqual": due <= at}[op]

    def sort_key(self, sb, m, prop):
        return (_next_event(sb, m) or sb.now(), m.id)

    def create(self, sb, caller, obj):
        raise SetError("forbidden", "Queued messages cannot be created")

    def update(self, sb, caller, m, patch: dict):
        changes = []
        for key, value in patch.items():
            top, _, rest = key.partition("/")
            if top in self.server_set:
                raise SetError.invalid_patch(key, "Cannot modify server set property")
            if top == "nextRetry":
                at = parse_utc(value)
                if at is None:
                    raise SetError.invalid_patch(key, "Invalid value for property.")
                changes.append(("retry", None, max(at, sb.now())))
            elif top == "priority":
                if not isinstance(value, int) or isinstance(value, bool) or not -100 <= value <= 100:
                    raise SetError.invalid_patch(key, "Invalid value for property.")
                changes.append(("priority", None, value))
            elif top == "envId":
                if value is not None and (not isinstance(value, str) or not value):
                    raise SetError.invalid_patch(key, "Invalid value for property.")
                changes.append(("envId", None, value))
            elif top == "recipients" and rest:
                address, _, field = rest.partition("/")
                address = address.replace("~1", "/").replace("~0", "~").lower()
                found = next(((d, r) for d in m.domains for r in d.recipients if r.address_lcase == address), None)
                if found is None:
                    raise SetError.invalid_patch(key, "Recipient not found.")
                if field == "" and value is None:
                    changes.append(("cancel", found, None))
                elif field == "retryDue":
                    at = parse_utc(value)
                    if at is None:
                        raise SetError.invalid_patch(key, "Invalid value for property.")
                    changes.append(("retryOne", found, max(at, sb.now())))
                elif field == "status" and isinstance(value, dict) and value.get("@type") == "Scheduled":
                    changes.append(("scheduled", found, None))
                elif field in ("status", "orcpt", "expires", "retryCount", "notifyDue", "notifyCount"):
                    changes.append(("ignore", found, None))
                else:
                    raise SetError.invalid_patch(key, "Invalid property")
            else:
                raise SetError.invalid_patch(key, "Invalid property")
        for what, target, value in changes:
            if what == "retry":
                for domain in m.domains:
                    if is_pending(domain.status):
                        reschedule(sb, domain, value)
            elif what == "retryOne":
                domain, _ = target
                if is_pending(domain.status):
                    reschedule(sb, domain, value)
            elif what == "priority":
                m.priority = value
            elif what == "envId":
                m.env_id = value
            elif what == "scheduled":
                domain, recipient = target
                recipient.status = flowmod.SCHEDULED
                if not is_pending(domain.status):
                    domain.status = flowmod.SCHEDULED
            elif what == "cancel":
                domain, recipient = target
                recipient.status = ("perm_fail", CANCELED)
                if is_pending(domain.status) and all(is_done(r.status) for r in domain.recipients):
                    domain.status = ("completed", "")
        if not any(is_pending(d.status) for d in m.domains):
            flowmod.state(sb).messages.pop(m.id, None)
        return None

    def destroy(self, sb, caller, m) -> None:
        flowmod.state(sb).messages.pop(m.id, None)


# ------------------------------------------------------------------------------ outgoing reports
def outgoing_id(report) -> int:
    return (report.seq_id << 16) | _hash16(f"{report.kind}!{report.domain}!{report.policy_hash}")


class InternalReportKind(Kind):
    tenant_scoped = False
    filters = ("domain",)
    sorts = ("id", "domain")
    letter = "d"

    def records(self, sb, caller) -> dict:
        out = {}
        for key, report in flowmod.state(sb).outgoing.items():
            if report.kind == self.letter and report.seq_id:
                out[outgoing_id(report)] = Rec(outgoing_id(report), key, report)
        return out

    def filter_value(self, sb, rec, prop):
        return rec.item.domain

    def text_of(self, sb, rec):
        return [rec.item.domain]

    def sort_key(self, sb, rec, prop):
        return rec.id if prop == "id" else (False, rec.item.domain)

    def report_body(self, sb, report) -> dict:
        from ..queue import report_json

        return report_json(report, sb)["report"]

    def create(self, sb, caller, obj):
        raise SetError("forbidden", "Reports cannot be created")

    def check_update(self, sb, caller, patch: dict) -> None:
        # In the patch's order, as mapping/report.rs reads it: the first bad key decides the error.
        for key, value in patch.items():
            if key == "id":
                continue
            if key != "deliverAt" or not isinstance(value, str):
                raise SetError.invalid_properties([key])
            at = parse_utc(value)
            if at is None or at <= sb.now():
                raise SetError.invalid_patch("deliverAt", "Invalid value for property")
        if "deliverAt" not in patch:
            raise SetError.invalid_patch("deliverAt", "Missing required property")

    def update(self, sb, caller, rec, patch: dict):
        flow = flowmod.state(sb)
        report = flow.outgoing.pop(rec.key)
        report.due = parse_utc(patch["deliverAt"])
        flow.outgoing[report.id] = report
        return None

    def destroy(self, sb, caller, rec) -> None:
        flowmod.state(sb).outgoing.pop(rec.key, None)


class DmarcInternalReportKind(InternalReportKind):
    name = "DmarcInternalReport"
    prefix = "sysDmarcInternalReport"
    letter = "d"
    properties = ("createdAt", "deliverAt", "domain", "policyIdentifier", "report", "rua")

    def view(self, sb, caller, rec) -> dict:
        r = rec.item
        return {"createdAt": utc(r.seq_id), "deliverAt": utc(r.due), "domain": r.domain,
                "policyIdentifier": r.policy_hash, "report": reportshape.dmarc(self.report_body(sb, r)),
                "rua": reportshape.oset(u.get("uri") for u in r.rua if isinstance(u, dict))}


class TlsInternalReportKind(InternalReportKind):
    name = "TlsInternalReport"
    prefix = "sysTlsInternalReport"
    letter = "t"
    properties = ("createdAt", "deliverAt", "domain", "httpRua", "mailRua", "policyIdentifiers", "report")

    def view(self, sb, caller, rec) -> dict:
        r = rec.item
        return {"createdAt": utc(r.seq_id), "deliverAt": utc(r.due), "domain": r.domain,
                "httpRua": reportshape.oset(u.get("Http") for u in r.rua if isinstance(u, dict)),
                "mailRua": reportshape.oset(u.get("Mail") for u in r.rua if isinstance(u, dict)),
                "policyIdentifiers": {str(r.policy_hash): True},
                "report": reportshape.tls(self.report_body(sb, r))}


# ------------------------------------------------------------------------------ incoming reports
def _tenant_of_report(sb, report) -> int | None:
    for address in [*report.to, report.sender]:
        domain = address.rpartition("@")[2].lower()
        pid = sb.by_name.get(domain)
        if pid is not None and sb.principals[pid].type == "domain" and sb.principals[pid].tenant is not None:
            return sb.principals[pid].tenant
    return None


class ExternalReportKind(Kind):
    tenant_scoped = True
    properties = ("expiresAt", "from", "memberTenantId", "receivedAt", "report", "subject", "to")
    filters = ("text", "memberTenantId", "totalSuccessfulSessions", "totalFailedSessions", "expiresAt")
    sorts = ("id", "expiresAt")
    cls = "dmarc"

    def records(self, sb, caller) -> dict:
        out = {}
        for key, report in flowmod.state(sb).incoming[self.cls].items():
            rec = Rec(key[0], key, report)
            if caller is None or caller.tenant_id is None or _tenant_of_report(sb, report) == caller.tenant_id:
                out[rec.id] = rec
        return out

    def view(self, sb, caller, rec) -> dict:
        r = rec.item
        tenant = _tenant_of_report(sb, r)
        received = SNOWFLAKE_EPOCH + (rec.key[0] >> 21) // 1000 if rec.key[0] > 1 << 40 else None
        return {"expiresAt": utc(rec.key[1]), "from": r.sender,
                "memberTenantId": ids.encode(tenant) if tenant is not None and sb.enterprise else None,
                "receivedAt": utc(received if received else rec.key[1] - flowmod.REPORT_RETENTION),
                "report": reportshape.SHAPES[self.cls](r.report), "subject": r.subject,
                "to": reportshape.oset(r.to)}

    def counters(self, rec) -> tuple[int, int]:
        report = rec.item.report
        if self.cls == "dmarc":
            records = report.get("record") or []
            ok = sum(1 for x in records
                     if ((x.get("row") or {}).get("policy_evaluated") or {}).get("disposition") == "Pass")
            return ok, len(records) - ok
        if self.cls == "tls":
            policies = report.get("policies") or []
            ok = sum(1 for p in policies if (p.get("summary") or {}).get("total-successful-session-count"))
            bad = sum(1 for p in policies if (p.get("summary") or {}).get("total-failure-session-count"))
            return ok, bad
        return report.get("incidents") or 0, 0

    def words(self, sb, rec) -> list[str]:
        obj = self.view(sb, None, rec)
        rep = obj["report"]
        words = [obj["from"]]
        if self.cls == "dmarc":
            words += [rep.get("email"), rep.get("policyDomain")]
            for record in rep["records"].values():
                words += [record.get("envelopeTo"), record.get("envelopeFrom"), record.get("headerFrom")]
                words += [d.get("domain") for d in record["dkimResults"].values()]
                words += [s.get("domain") for s in record["spfResults"].values()]
        elif self.cls == "tls":
            for policy in rep["policies"].values():
                words += [policy.get("policyDomain"), *policy["mxHosts"]]
                for f in policy["failureDetails"].values():
                    words += [f.get("receivingMxHostname"), f.get("receivingMxHelo")]
        else:
            words += [*rep["reportedDomains"], rep.get("dkimDomain"), rep.get("reportingMta"),
                      rep.get("originalMailFrom"), rep.get("originalRcptTo")]
        return [str(w).lower() for w in words if w]

    def matches(self, sb, caller, rec, prop, op, value) -> bool:
        if prop == "text":
            needle = str(value).lower()
            return any(needle == w or needle in w.split(".") or needle in re.split(r"[@.; ]", w) or needle in w
                       for w in self.words(sb, rec))
        if prop == "memberTenantId":
            if caller.tenant_id is not None:
                return True
            tenant = _tenant_of_report(sb, rec.item)
            return tenant is not None and ids.encode(tenant) == value
        if prop in ("totalSuccessfulSessions", "totalFailedSessions"):
            actual = self.counters(rec)[0 if prop == "totalSuccessfulSessions" else 1]
            if not isinstance(value, int):
                return False
        else:
            actual, value = rec.key[1], parse_utc(value)
            if value is None:
                return False
        return {"": actual == value, "GreaterThan": actual > value, "GreaterThanOrEqual": actual >= value,
                "LessThan": actual < value, "LessThanOrEqual": actual <= value}[op]

    def sort_key(self, sb, rec, prop):
        return rec.id if prop == "id" else (rec.key[1], rec.id)

    def create(self, sb, caller, obj):
        raise SetError("forbidden", "Reports cannot be created")

    def update(self, sb, caller, rec, patch):
        raise SetError("forbidden", "External reports cannot be updated")

    def destroy(self, sb, caller, rec) -> None:
        flowmod.state(sb).incoming[self.cls].pop(rec.key, None)


class DmarcExternalReportKind(ExternalReportKind):
    name = "DmarcExternalReport"
    prefix = "sysDmarcExternalReport"
    cls = "dmarc"


class TlsExternalReportKind(ExternalReportKind):
    name = "TlsExternalReport"
    prefix = "sysTlsExternalReport"
    cls = "tls"


class ArfExternalReportKind(ExternalReportKind):
    name = "ArfExternalReport"
    prefix = "sysArfExternalReport"
    cls = "arf"


# ------------------------------------------------------------------------------ archived items
def archived_id(item) -> int:
    return (item.deleted_at << 12) | _hash16(item.hash, 12)


def _visible_accounts(sb, caller) -> set[int] | None:
    """Accounts whose archived items the caller sees: all (None) with impersonate and no
    tenant, the tenant's accounts for a tenant caller with impersonate, else only its own."""
    if not caller.has("impersonate"):
        return {caller.account_id}
    if caller.tenant_id is None:
        return None
    return {pid for pid, p in sb.principals.items() if p.tenant == caller.tenant_id}


class ArchivedItemKind(Kind):
    name = "ArchivedItem"
    prefix = "sysArchivedItem"
    tenant_scoped = False
    enterprise_only = True
    properties = ("@type", "accountId", "archivedAt", "archivedUntil", "blobId", "from", "receivedAt", "size",
                  "subject")
    filters = ("accountId",)
    sorts = ("id",)

    def records(self, sb, caller) -> dict:
        allowed = _visible_accounts(sb, caller)
        out = {}
        for account, items in flowmod.state(sb).deleted.items():
            if allowed is not None and account not in allowed:
                continue
            for item in items:
                if item.collection == "email" and item.expires_at > sb.now():
                    out[archived_id(item)] = Rec(archived_id(item), account, item)
        return out

    def view(self, sb, caller, rec) -> dict:
        item = rec.item
        message = parse_message(flowmod.state(sb).blobs.get(item.hash, b""))
        received = item.deleted_at
        header = message.get("date") if message is not None else None
        if header:
            try:
                received = int(parsedate_to_datetime(header).timestamp())
            except (TypeError, ValueError, IndexError):
                pass
        name, address = parseaddr((message.get("from") if message is not None else None) or "")
        return {"@type": "Email", "accountId": ids.encode(rec.key), "archivedAt": utc(item.deleted_at),
                "archivedUntil": utc(item.expires_at), "blobId": blob_id(item.hash),
                "from": f"{name} <{address}>" if name and address else address or name,
                "receivedAt": utc(received), "size": item.size,
                "subject": (message.get("subject") if message is not None else None) or ""}

    def prepare_conditions(self, sb, caller, conditions):
        if not caller.has("impersonate"):  # others always get their own
            return [c for c in conditions if c[0] != "accountId"] + [("accountId", "", caller.jmap_id)]
        return conditions

    def matches(self, sb, caller, rec, prop, op, value) -> bool:
        return ids.encode(rec.key) == value

    def create(self, sb, caller, obj):
        raise SetError("forbidden", "Archived items cannot be created")

    def check_update(self, sb, caller, patch: dict) -> None:
        for key, value in patch.items():
            if key not in ("status", "archivedUntil") or not isinstance(value, str):
                raise SetError.invalid_properties([key])
        if patch.get("status", "archived") not in ("archived", "requestRestore"):
            raise SetError.invalid_patch("status", "Invalid value for property")
        if "archivedUntil" in patch:
            at = parse_utc(patch["archivedUntil"])
            if at is None or at <= sb.now():
                raise SetError.invalid_patch("archivedUntil", "Invalid value for property")

    def update(self, sb, caller, rec, patch: dict):
        status = patch.get("status", "archived")
        until = parse_utc(patch["archivedUntil"]) if "archivedUntil" in patch else None
        if until is not None and status != "archived":
            rec.item.expires_at = until  # v0.16.18: this combination only changes retention
            return None
        if until is None and status == "archived":
            raise SetError("notFound")
        flow = flowmod.state(sb)
        flow.deleted[rec.key] = [i for i in flow.deleted.get(rec.key, []) if i is not rec.item]
        flow.restored[rec.key] = flow.restored.get(rec.key, 0) + 1
        from .ops import new_task

        new_task(sb, {"@type": "RestoreArchivedItem", "accountId": ids.encode(rec.key),
                      "archivedItemId": ids.encode(rec.id), "blobId": blob_id(rec.item.hash)})
        return None

    def destroy(self, sb, caller, rec) -> None:
        flow = flowmod.state(sb)
        flow.deleted[rec.key] = [i for i in flow.deleted.get(rec.key, []) if i is not rec.item]


QUEUED_MESSAGE = QueuedMessageKind()
KINDS = (QUEUED_MESSAGE, DmarcInternalReportKind(), TlsInternalReportKind(), DmarcExternalReportKind(),
         TlsExternalReportKind(), ArfExternalReportKind(), ArchivedItemKind())
