"""State of the mail-flow areas: the queue, queued (outgoing) reports, incoming reports,
blobs and deleted items that can be restored (spec §7, §8, §12).

``install(sb)`` puts one :class:`MailFlow` on the sandbox as ``sb.mailflow`` and registers
it with :meth:`Sandbox.register_state`. Every time in it is absolute (epoch seconds); a
reset moves them all by the time elapsed since the snapshot, so that "next retry in five
minutes" stays five minutes away however long the sandbox has been running.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import time
from dataclasses import dataclass, field
from typing import Any

from .dates import snowflake_shift

#: Default ``queue.schedule.retry`` of the server, in seconds.
DEFAULT_RETRY = [120, 300, 600, 900, 1800, 3600, 7200]
#: Default ``queue.schedule.notify`` and ``queue.schedule.expire``.
DEFAULT_NOTIFY = [86400, 3 * 86400]
DEFAULT_EXPIRE = 5 * 86400
#: Default ``report.analysis.store``: incoming reports are kept 30 days.
REPORT_RETENTION = 30 * 86400

# A status is ("scheduled", None), ("completed", text), ("temp_fail", text) or ("perm_fail", text).
Status = tuple[str, str | None]
SCHEDULED: Status = ("scheduled", None)
DELIVERED_OK = "Code: 250, Enhanced code: 2.0.0, Message: OK"
CANCELED = "Code: 0, Enhanced code: 0.0.0, Message: Delivery canceled."


def status_json(status: Status) -> Any:
    kind, text = status
    if kind == "scheduled":
        return "scheduled"
    return {kind: text or ""}


def is_pending(status: Status) -> bool:
    return status[0] in ("scheduled", "temp_fail")


def is_done(status: Status) -> bool:
    return status[0] in ("completed", "perm_fail")


@dataclass
class QueueRecipient:
    address: str
    status: Status = SCHEDULED
    orcpt: str | None = None
    #: What the remote server answers on the next delivery attempt (not on the wire).
    outcome: Status = ("completed", DELIVERED_OK)

    @property
    def address_lcase(self) -> str:
        return self.address.lower()


@dataclass
class QueueDomain:
    name: str
    recipients: list[QueueRecipient]
    status: Status = SCHEDULED
    retry_num: int = 0
    next_retry: int = 0
    next_notify: int = 0
    expires: int = 0
    #: A domain-level temporary failure every attempt meets (DNS, connection, TLS), or None.
    error: str | None = None
    #: The MX host name used in response texts.
    mx: str = ""
    #: v0.13+: the virtual queue ("remote", "local", "dsn", "report"); there one entry
    #: holds one recipient, whose own retry_num/next_retry/next_notify/expires these are.
    queue: str = "remote"
    #: v0.13+: after a reschedule the expiry counts attempts, not time (``QueueExpiry::Attempts``).
    expires_attempts: int | None = None


@dataclass
class QueuedMessage:
    id: int
    return_path: str
    created: int
    size: int
    blob_hash: str
    domains: list[QueueDomain]
    priority: int = 0
    env_id: str | None = None

    def recipients(self):
        for domain in self.domains:
            yield from domain.recipients

    def has_domain(self, domains: list[str]) -> bool:
        if any(d.name in domains for d in self.domains):
            return True
        _, at, sender_domain = self.return_path.rpartition("@")
        return bool(at) and sender_domain in domains


@dataclass
class OutgoingReport:
    """A queued aggregate report this server will send (``d!…``/``t!…`` ids, §7.4)."""

    kind: str  # "d" (DMARC) or "t" (TLS)
    domain: str
    policy_hash: int
    seq_id: int  # start of the reporting period
    due: int
    rua: list
    #: DMARC: {"policy_published": {...}, "records": [...]}; TLS: {"policies": [...]}
    data: dict

    @property
    def id(self) -> str:
        return f"{self.kind}!{self.domain}!{self.policy_hash}!{self.seq_id}!{self.due}"


@dataclass
class IncomingReport:
    """A received DMARC, TLS or ARF report (§8): the key is ``(id, expires)``."""

    id: int
    expires: int
    sender: str
    to: list[str]
    subject: str
    report: dict

    def wire(self) -> dict:
        return {"from": self.sender, "to": list(self.to), "subject": self.subject, "report": self.report}

    def has_domain(self, domains: list[str]) -> bool:
        return any(to.endswith(d) for to in self.to for d in domains) or any(self.sender.endswith(d) for d in domains)


@dataclass
class DeletedBlob:
    hash: str
    size: int
    deleted_at: int
    expires_at: int
    collection: str = "email"


@dataclass
class MailFlow:
    base_time: int
    messages: dict[int, QueuedMessage] = field(default_factory=dict)
    queue_running: bool = True
    retry_intervals: list[int] = field(default_factory=lambda: list(DEFAULT_RETRY))
    outgoing: dict[str, OutgoingReport] = field(default_factory=dict)
    #: class ("dmarc", "tls", "arf") -> {(id, expires): report}
    incoming: dict[str, dict[tuple[int, int], IncomingReport]] = field(
        default_factory=lambda: {"dmarc": {}, "tls": {}, "arf": {}}
    )
    blobs: dict[str, bytes] = field(default_factory=dict)
    #: principal id -> deleted items that can be restored (Enterprise undelete)
    deleted: dict[int, list[DeletedBlob]] = field(default_factory=dict)
    #: principal id -> number of restored messages (the sandbox keeps no mailboxes)
    restored: dict[int, int] = field(default_factory=dict)
    sequence: int = 0

    def next_sequence(self) -> int:
        self.sequence += 1
        return self.sequence

    def clear(self) -> None:
        """Empty every area (tests build their own scenarios)."""
        self.messages.clear()
        self.outgoing.clear()
        for reports in self.incoming.values():
            reports.clear()
        self.blobs.clear()
        self.deleted.clear()
        self.restored.clear()
        self.queue_running = True


def state(sb) -> MailFlow:
    return sb.mailflow


def blob_hash(content: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(content).digest()).decode().rstrip("=")


def tenant_domains(sb, access) -> list[str] | None:
    """Names of the caller's tenant domains, or None when the caller is not tenant-scoped (§5.7)."""
    if not sb.enterprise or access.tenant_id is None:
        return None
    return sorted(p.name for p in sb.principals.values() if p.type == "domain" and p.tenant == access.tenant_id)


def install(sb) -> MailFlow:
    """Create the (empty) mail-flow state and register it for resets; `sandbox.seed` fills it."""
    sb.mailflow = MailFlow(base_time=sb.now())

    def snapshot() -> MailFlow:
        return copy.deepcopy(sb.mailflow)

    def restore(saved: MailFlow) -> None:
        # reset() puts the clock offset back to 0 right after restoring: use real time.
        shift(saved, int(time.time()) - saved.base_time)
        sb.mailflow = saved

    sb.register_state("mailflow", snapshot, restore)
    return sb.mailflow


def shift(flow: MailFlow, seconds: int) -> None:
    """Move every time (and time-based id) in ``flow`` by ``seconds``."""
    if not seconds:
        return
    flow.base_time += seconds
    id_shift = snowflake_shift(seconds)
    messages = {}
    for message in flow.messages.values():
        message.id += id_shift
        message.created += seconds
        for domain in message.domains:
            domain.next_retry += seconds
            domain.next_notify += seconds
            domain.expires += seconds
        messages[message.id] = message
    flow.messages = messages
    # Report periods stay aligned as reporters align them: whole hours and whole days.
    hours, days = seconds - seconds % 3600, seconds - seconds % 86400
    outgoing = {}
    for report in flow.outgoing.values():
        report.seq_id += hours
        report.due += hours
        outgoing[report.id] = report
    flow.outgoing = outgoing
    for kind, reports in flow.incoming.items():
        moved = {}
        for report in reports.values():
            report.id += id_shift
            report.expires += seconds
            _shift_report(kind, report.report, days)
            moved[(report.id, report.expires)] = report
        flow.incoming[kind] = moved
    for items in flow.deleted.values():
        for item in items:
            item.deleted_at += seconds
            item.expires_at += seconds


def _shift_report(kind: str, report: dict, seconds: int) -> None:
    from .dates import parse_rfc3339, rfc3339

    if kind == "dmarc":
        date_range = report.get("report_metadata", {}).get("date_range", {})
        for key in ("begin", "end"):
            if isinstance(date_range.get(key), int):
                date_range[key] += seconds
    elif kind == "tls":
        date_range = report.get("date-range", {})
        for key in ("start-datetime", "end-datetime"):
            parsed = parse_rfc3339(date_range.get(key))
            if parsed is not None:
                date_range[key] = rfc3339(parsed + seconds)
    elif kind == "arf" and isinstance(report.get("arrival_date"), int):
        report["arrival_date"] += seconds
