"""``/api/queue/*``: queued messages, queue status and queued outgoing reports (spec §7).

Delivery is simulated lazily: before a queue request is handled, every pending domain whose
``next_retry`` has come (while the queue runs) gets one delivery attempt. Each recipient
carries the answer the remote server will give (``QueueRecipient.outcome``) and a domain may
carry a domain-level failure (``QueueDomain.error``), so tests and the demo seed decide what
happens. A message with nothing left pending leaves the queue.
"""

from __future__ import annotations

import hashlib
import re

from .dates import parse_rfc3339, rfc3339, snowflake
from .errors import ProblemError
from .http import data_response, decode_path_element, parse_uint
from .mailflow import (
    CANCELED,
    DEFAULT_EXPIRE,
    DEFAULT_NOTIFY,
    SCHEDULED,
    OutgoingReport,
    QueuedMessage,
    QueueDomain,
    QueueRecipient,
    blob_hash,
    is_done,
    is_pending,
    state,
    status_json,
    tenant_domains,
)
from .routing import api_module, path_element

# --------------------------------------------------------------------------- helpers


def future_timestamp(sb, value: str | None) -> int | None:
    """``FutureTimestamp``: an RFC 3339 time that is not in the past, else None."""
    instant = parse_rfc3339(value)
    if instant is None or instant < sb.now():
        return None
    return instant


def message_json(sb, message: QueuedMessage) -> dict:
    if sb.at_least((0, 13)):
        return _message_json_v013(sb, message)
    now = sb.now()
    data: dict = {
        "id": message.id,
        "return_path": message.return_path,
        "domains": [
            {
                "name": domain.name,
                "status": status_json(("completed", "") if domain.status[0] == "completed" else domain.status),
                "recipients": [_recipient_json(r) for r in domain.recipients],
                "retry_num": domain.retry_num,
                "next_retry": rfc3339(domain.next_retry),
                "next_notify": rfc3339(domain.next_notify) if domain.next_notify > now else None,
                "expires": rfc3339(domain.expires),
            }
            for domain in message.domains
        ],
        "created": rfc3339(message.created),
        "size": message.size,
    }
    if message.priority:
        data["priority"] = message.priority
    if message.env_id is not None:
        data["env_id"] = message.env_id
    data["blob_hash"] = message.blob_hash
    return data


def _message_json_v013(sb, message: QueuedMessage) -> dict:
    """v0.13+: one flat ``recipients[]``, each with its own queue and schedule."""
    now = sb.now()
    recipients = []
    for domain in message.domains:
        for recipient in domain.recipients:
            item: dict = {
                "address": recipient.address,
                "queue": domain.queue,
                "status": status_json(_status_v013(message, domain, recipient)),
                "retry_num": domain.retry_num,
                "next_retry": rfc3339(domain.next_retry),
            }
            if domain.next_notify > now:
                item["next_notify"] = rfc3339(domain.next_notify)
            if domain.expires_attempts is None:
                item["expires"] = rfc3339(domain.expires)
            if recipient.orcpt is not None:
                item["orcpt"] = recipient.orcpt
            recipients.append(item)
    data: dict = {
        "id": message.id,
        "return_path": message.return_path,
        "recipients": recipients,
        "created": rfc3339(message.created),
        "size": message.size,
    }
    if message.priority:
        data["priority"] = message.priority
    if message.env_id is not None:
        data["env_id"] = message.env_id
    data["blob_hash"] = message.blob_hash
    return data


_UNEXPECTED_V012 = re.compile(r"^Unexpected response from '([^']*)': (.*)$", re.S)


def _status_v013(message: QueuedMessage, domain: QueueDomain, recipient: QueueRecipient):
    """A recipient's status as v0.13+ words it: failures read ``Error for <host>: <error>``."""
    kind, text = recipient.status
    if kind == "scheduled" and domain.status[0] == "temp_fail":
        kind, text = domain.status
    if kind not in ("temp_fail", "perm_fail") or text.startswith("Error for "):
        return kind, text
    if text == CANCELED:
        return kind, "Error for localhost: Queue error: Delivery canceled."
    host = domain.mx or f"mx.{domain.name}"
    match = _UNEXPECTED_V012.match(text)
    if match:
        host, text = match.groups()
    if text.startswith("Code: "):
        text = f"Unexpected response for RCPT TO:<{recipient.address}>: {text}"
    return kind, f"Error for {host}: {text}"


def queue_name(sb, return_path: str, domain: str) -> str:
    """The default ``queue.strategy.schedule`` of v0.13: local domains, DSNs, then remote."""
    local = sb.get(domain)
    if local is not None and local.type == "domain":
        return "local"
    return "dsn" if not return_path else "remote"


def _recipient_json(recipient: QueueRecipient) -> dict:
    data = {"address": recipient.address, "status": status_json(recipient.status)}
    if recipient.orcpt is not None:
        data["orcpt"] = recipient.orcpt
    return data


# --------------------------------------------------------------------------- queueing (tests, seed)


def enqueue(
    sb,
    *,
    return_path: str,
    recipients: list[str],
    hold: int = 0,
    env_id: str | None = None,
    priority: int = 0,
    created: int | None = None,
    raw_message: bytes | None = None,
    outcomes: dict[str, tuple[str, str]] | None = None,
    domain_errors: dict[str, str] | None = None,
    notify_after: int | None = None,
    expire_after: int | None = None,
    orcpt: bool = False,
) -> QueuedMessage:
    """Put a message in the queue the way the SMTP server would after accepting it.

    Recipients are grouped by domain (duplicates dropped). ``outcomes`` maps an address to the
    status its next delivery attempt gives; ``domain_errors`` a domain to a domain-level
    temporary failure. With ``hold`` 0 the message is due at once.
    """
    flow = state(sb)
    now = sb.now() if created is None else created
    if raw_message is None:
        raw_message = _default_message(return_path, recipients, now)
    digest = blob_hash(raw_message)
    flow.blobs[digest] = raw_message
    notify = notify_after if notify_after is not None else DEFAULT_NOTIFY[0]
    expire = expire_after if expire_after is not None else DEFAULT_EXPIRE
    domains: dict[str, QueueDomain] = {}
    seen: set[str] = set()
    per_recipient = sb.at_least((0, 13))
    for address in recipients:
        lower = address.lower()
        if lower in seen:
            continue
        seen.add(lower)
        name = lower.rpartition("@")[2]
        # v0.13+ schedules each recipient on its own: one entry per recipient.
        key = lower if per_recipient else name
        domain = domains.get(key)
        if domain is None:
            domain = domains[key] = QueueDomain(
                name=name,
                recipients=[],
                next_retry=now + hold,
                next_notify=now + notify + hold,
                expires=now + expire + hold,
                error=(domain_errors or {}).get(name),
                mx=f"mx.{name}",
                queue=queue_name(sb, return_path, name),
            )
        recipient = QueueRecipient(address=address, orcpt=f"rfc822;{address}" if orcpt else None)
        if outcomes and address in outcomes:
            recipient.outcome = outcomes[address]
        domain.recipients.append(recipient)
    message = QueuedMessage(
        id=snowflake(now, flow.next_sequence()),
        return_path=return_path,
        created=now,
        size=len(raw_message),
        blob_hash=digest,
        domains=list(domains.values()),
        priority=priority,
        env_id=env_id,
    )
    flow.messages[message.id] = message
    return message


def _default_message(sender: str, recipients: list[str], now: int) -> bytes:
    lines = [
        f"From: {sender or 'MAILER-DAEMON'}",
        f"To: {', '.join(recipients)}",
        "Subject: Test message",
        f"Date: {rfc3339(now)}",
        f"Message-ID: <{now}.{len(recipients)}@sandbox.example>",
        "",
        "Hello.",
        "",
    ]
    return "\r\n".join(lines).encode()


def process_queue(sb) -> None:
    """Run the delivery attempts that are due (the queue manager, lazily)."""
    flow = state(sb)
    if not flow.queue_running:
        return
    now = sb.now()
    for message in list(flow.messages.values()):
        for domain in message.domains:
            # A running server makes each attempt when it falls due; this one catches up on
            # read, each attempt at the time it was due, so the schedule never depends on
            # when the queue happens to be looked at.
            while is_pending(domain.status):
                if domain.expires_attempts is not None:
                    expired = domain.retry_num >= domain.expires_attempts
                else:
                    expired = domain.expires <= min(now, domain.next_retry)
                if expired:
                    _expire(domain)
                elif domain.next_retry <= now:
                    _attempt(flow, domain, domain.next_retry)
                else:
                    break
        if not any(is_pending(domain.status) for domain in message.domains):
            del flow.messages[message.id]


def _attempt(flow, domain: QueueDomain, now: int) -> None:
    domain.retry_num += 1
    interval = flow.retry_intervals[min(domain.retry_num - 1, len(flow.retry_intervals) - 1)]
    if domain.error:
        domain.status = ("temp_fail", domain.error)
        domain.next_retry = now + interval
        return
    first_temp = first_perm = None
    delivered = False
    for recipient in domain.recipients:
        if not is_pending(recipient.status):
            delivered = delivered or recipient.status[0] == "completed"
            continue
        recipient.status = recipient.outcome
        kind, text = recipient.outcome
        if kind == "temp_fail":
            first_temp = first_temp or text
        elif kind == "perm_fail":
            first_perm = first_perm or text
        else:
            delivered = True
    if first_temp:
        domain.status = ("temp_fail", f"Unexpected response from '{domain.mx}': {first_temp}")
        domain.next_retry = now + interval
    elif delivered or not first_perm:
        domain.status = ("completed", "")
    else:
        domain.status = ("perm_fail", f"Unexpected response from '{domain.mx}': {first_perm}")


def _expire(domain: QueueDomain) -> None:
    reason = domain.status[1] or "Queue error: message expired"
    domain.status = ("perm_fail", reason)
    for recipient in domain.recipients:
        if is_pending(recipient.status):
            recipient.status = ("perm_fail", recipient.status[1] or reason)


# --------------------------------------------------------------------------- selection (§7.2)


def select_messages(sb, params, tenant: list[str] | None) -> tuple[list[int], list[dict], int]:
    """``fetch_queued_messages``: (ids, values, total)."""
    text = params.get("text")
    sender = params.get("from")
    to = params.get("to")
    before = future_timestamp(sb, params.get("before"))
    after = future_timestamp(sb, params.get("after"))
    page = params.get_uint("page") or 0
    limit = params.get_uint("limit") or 0
    values = "values" in params
    range_start = params.get_uint("range-start") or 0
    range_end = params.get_uint("range-end")
    range_end = 2**64 - 1 if range_end is None else range_end
    max_total = params.get_uint("max-total") or 0
    # v0.13+: ?queue= (a queue name of 1 to 8 bytes; anything else is ignored)
    queue = params.get("queue") if sb.at_least((0, 13)) else None
    if queue is not None and not 1 <= len(queue.encode()) <= 8:
        queue = None
    has_filters = any(v is not None for v in (text, sender, to, before, after, queue))
    offset = max(page - 1, 0) * limit
    ids: list[int] = []
    items: list[dict] = []
    total = returned = 0
    for message_id in sorted(state(sb).messages):
        if not range_start <= message_id <= range_end:
            continue
        message = state(sb).messages[message_id]
        if tenant is not None and not message.has_domain(tenant):
            continue
        if has_filters and not _matches(sb, message, text, sender, to, before, after, queue):
            continue
        if offset == 0:
            if limit == 0 or returned < limit:
                if values:
                    items.append(message_json(sb, message))
                else:
                    ids.append(message_id)
                returned += 1
        else:
            offset -= 1
        total += 1
        if max_total and total >= max_total:
            break
    return ids, items, total


def _matches(sb, message: QueuedMessage, text, sender, to, before, after, queue=None) -> bool:
    if text is not None:
        ok = text in message.return_path or any(text in r.address_lcase for r in message.recipients())
    else:
        ok = (sender is None or sender in message.return_path) and (
            to is None or any(to in r.address_lcase for r in message.recipients())
        )
    if not ok:
        return False
    if queue is not None and not any(d.queue == queue for d in message.domains):
        return False
    next_delivery = _next_delivery_event(sb, message, queue)
    if before is not None and not next_delivery < before:
        return False
    return after is None or next_delivery > after


def _next_delivery_event(sb, message: QueuedMessage, queue: str | None = None) -> int:
    pending = [
        d.next_retry for d in message.domains if is_pending(d.status) and (queue is None or d.queue == queue)
    ]
    return min(pending) if pending else sb.now()


# --------------------------------------------------------------------------- reschedule and cancel


def reschedule(sb, domain: QueueDomain, at: int) -> None:
    domain.next_retry = at
    if sb.at_least((0, 13)):
        # the expiry becomes "ten more attempts" (and leaves the JSON)
        if domain.expires_attempts is None and domain.expires > at:
            domain.expires_attempts = domain.retry_num + 10
    elif domain.expires > at:
        domain.expires = at + 10


def _reschedule_match(sb, domain: QueueDomain, item: str | None) -> bool:
    """``filter`` of a message reschedule: the domain name (v0.12-), a recipient address (v0.13+)."""
    if item is None:
        return True
    if sb.at_least((0, 13)):
        return any(item in r.address_lcase for r in domain.recipients)
    return item in domain.name


def cancel_recipients(sb, message: QueuedMessage, item: str) -> bool:
    found = False
    for recipient in message.recipients():
        if item in recipient.address_lcase:
            recipient.status = ("perm_fail", CANCELED)
            found = True
    if not found:
        return False
    for domain in message.domains:
        if is_pending(domain.status) and all(is_done(r.status) for r in domain.recipients):
            domain.status = ("completed", "")
    if not any(is_pending(domain.status) for domain in message.domains):
        del state(sb).messages[message.id]
    return True


# --------------------------------------------------------------------------- outgoing reports (§7.4)


def parse_report_id(value: str) -> tuple[str, str, int, int, int] | None:
    parts = value.split("!")
    if len(parts) < 5 or parts[0] not in ("d", "t"):
        return None
    numbers = [parse_uint(part) for part in parts[2:5]]
    if any(number is None for number in numbers):
        return None
    return parts[0], parts[1], numbers[0], numbers[1], numbers[2]  # type: ignore[return-value]


def select_reports(sb, params, tenant: list[str] | None) -> tuple[list[OutgoingReport], int]:
    domain = params.get("domain")
    domain = domain.lower() if domain is not None else None
    kind = {"dmarc": "d", "tls": "t"}.get(params.get("type") or "")
    page = params.get_uint("page") or 0
    limit = params.get_uint("limit") or 0
    range_start = params.get_uint("range-start") or 0
    range_end = params.get_uint("range-end")
    range_end = 2**64 - 1 if range_end is None else range_end
    max_total = params.get_uint("max-total") or 0
    offset = max(page - 1, 0) * limit
    selected: list[OutgoingReport] = []
    total = 0
    ordered = sorted(state(sb).outgoing.values(), key=lambda r: (r.due, r.domain, r.kind, r.policy_hash, r.seq_id))
    for report in ordered:
        if not range_start <= report.due <= range_end:
            continue
        if kind is not None and report.kind != kind:
            continue
        if tenant is not None and report.domain not in tenant:
            continue
        if report.seq_id == 0 or (domain is not None and domain not in report.domain):
            continue
        if offset == 0:
            if limit == 0 or len(selected) < limit:
                selected.append(report)
        else:
            offset -= 1
        total += 1
        if max_total and total >= max_total:
            break
    return selected, total


def report_json(report: OutgoingReport, sb) -> dict:
    common = {
        "id": report.id,
        "domain": report.domain,
        "range_from": rfc3339(report.seq_id),
        "range_to": rfc3339(report.due),
    }
    org = sb.settings.get("report.submitter") or sb.settings.get("server.hostname", "mail.example.org")
    contact = f"noreply-dmarc@{sb.settings.get('report.domain', 'example.org')}"
    if report.kind == "d":
        body = {
            "version": 1.0,
            "report_metadata": {
                "org_name": org,
                "email": contact,
                "extra_contact_info": None,
                "report_id": f"{report.seq_id}.{report.policy_hash}",
                "date_range": {"begin": report.seq_id, "end": report.due},
                "error": [],
            },
            "policy_published": report.data["policy_published"],
            "record": report.data["records"],
            "extensions": [],
        }
        return {"type": "dmarc", **common, "report": body, "rua": report.rua}
    body = {
        "organization-name": org,
        "date-range": {"start-datetime": rfc3339(report.seq_id), "end-datetime": rfc3339(report.due)},
        "contact-info": f"postmaster@{sb.settings.get('report.domain', 'example.org')}",
        "report-id": f"{report.seq_id}_{report.policy_hash}",
        "policies": report.data["policies"],
    }
    return {"type": "tls", **common, "report": body, "rua": report.rua}


def schedule_report(
    sb,
    *,
    kind: str,
    domain: str,
    period: int,
    rua: list,
    data: dict,
    due: int | None = None,
    policy_hash: int | None = None,
) -> OutgoingReport:
    """Queue an aggregate report covering ``period`` seconds and due at ``due`` (default: now + period)."""
    now = sb.now()
    due = now + period if due is None else due
    if policy_hash is None:
        policy_hash = int.from_bytes(hashlib.sha256(f"{kind}{domain}{rua}".encode()).digest()[:8], "big")
    report = OutgoingReport(kind, domain.lower(), policy_hash, due - period, due, rua, data)
    state(sb).outgoing[report.id] = report
    return report


# --------------------------------------------------------------------------- routing


@api_module("queue")
def handle_queue(sb, req):
    access = req.access
    tenant = tenant_domains(sb, access)
    area = path_element(req, 1) or ""
    raw_item = path_element(req, 2)
    item = decode_path_element(raw_item) if raw_item is not None else None
    method = req.method
    params = req.params
    process_queue(sb)
    flow = state(sb)

    if area == "messages":
        if item is None and method == "GET":
            access.require("message-queue-list")
            ids, values, total = select_messages(sb, params, tenant)
            items = values if values else ids
            return data_response({"items": items, "total": total, "status": flow.queue_running})
        if item is not None and method == "GET":
            access.require("message-queue-get")
            message = _message(sb, item, tenant)
            return data_response(message_json(sb, message))
        if item is None and method == "PATCH":
            access.require("message-queue-update")
            at = future_timestamp(sb, params.get("at")) or sb.now()
            ids, _, _ = select_messages(sb, params, tenant)
            for message_id in ids:
                for domain in flow.messages[message_id].domains:
                    if is_pending(domain.status):
                        reschedule(sb, domain, at)
            return data_response(bool(ids))
        if item is not None and method == "PATCH":
            access.require("message-queue-update")
            at = future_timestamp(sb, params.get("at")) or sb.now()
            domain_filter = params.get("filter")
            message = _message(sb, item, tenant)
            found = False
            for domain in message.domains:
                if not is_pending(domain.status) or not _reschedule_match(sb, domain, domain_filter):
                    continue
                reschedule(sb, domain, at)
                found = True
            return data_response(found)
        if item is None and method == "DELETE":
            access.require("message-queue-delete")
            ids, _, _ = select_messages(sb, params, tenant)
            for message_id in ids:
                flow.messages.pop(message_id, None)
            return data_response(bool(ids))
        if item is not None and method == "DELETE":
            access.require("message-queue-delete")
            message = _message(sb, item, tenant)
            recipient_filter = params.get("filter")
            if recipient_filter is None:
                del flow.messages[message.id]
                return data_response(True)
            return data_response(cancel_recipients(sb, message, recipient_filter))
        raise ProblemError.not_found()

    if area == "reports":
        if item is None and method == "GET":
            access.require("outgoing-report-list")
            reports, total = select_reports(sb, params, tenant)
            return data_response({"items": [r.id for r in reports], "total": total})
        if item is not None and method == "GET":
            access.require("outgoing-report-get")
            parsed = parse_report_id(item)
            report = flow.outgoing.get(_report_key(parsed)) if parsed else None
            if report is None or (tenant is not None and report.domain not in tenant):
                raise ProblemError.not_found()
            return data_response(report_json(report, sb))
        if item is None and method == "DELETE":
            access.require("outgoing-report-delete")
            reports, _ = select_reports(sb, params, tenant)
            for report in reports:
                flow.outgoing.pop(report.id, None)
            return data_response(bool(reports))
        if item is not None and method == "DELETE":
            access.require("outgoing-report-delete")
            parsed = parse_report_id(item)
            if parsed is None:
                raise ProblemError.not_found()
            if tenant is not None and parsed[1] not in tenant:
                return data_response(False)
            flow.outgoing.pop(_report_key(parsed), None)
            return data_response(True)
        raise ProblemError.not_found()

    if area == "status":
        if item is None and method == "GET":
            access.require("message-queue-get")
            return data_response(flow.queue_running)
        if item is not None and method == "PATCH":
            access.require("message-queue-update")
            previous = flow.queue_running
            flow.queue_running = item != "stop"
            return data_response(previous)
        raise ProblemError.not_found()

    raise ProblemError.not_found()


def _message(sb, item: str, tenant: list[str] | None) -> QueuedMessage:
    message = state(sb).messages.get(parse_uint(item) or 0)
    if message is None or (tenant is not None and not message.has_domain(tenant)):
        raise ProblemError.not_found()
    return message


def _report_key(parsed) -> str:
    kind, domain, policy_hash, seq_id, due = parsed
    return f"{kind}!{domain}!{policy_hash}!{seq_id}!{due}"


__all__ = [
    "SCHEDULED",
    "enqueue",
    "process_queue",
    "schedule_report",
    "message_json",
    "tenant_domains",
]
