"""Typed results of the queue API (`/api/queue/*`, api-behaviour §7).

Messages come in the v0.11/v0.12 shape (`domains[].recipients[]`); the v0.13+ shape, where
recipients sit on the message with their own retry times, is folded into the same
per-domain structure so the pages need not care.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.utils.translation import gettext

from . import errors

_SMTP = re.compile(
    r"^(?:(?P<prefix>.*?): )?Code: (?P<code>\d+), Enhanced code: (?P<esc>[\d.]+), Message: (?P<msg>.*)$", re.S
)


def parse_time(value: Any, *, field: str) -> datetime | None:
    """Stalwart's `YYYY-MM-DDTHH:MM:SSZ` (or null) as an aware datetime."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise errors.StalwartBadResponse(f"Unexpected value for {field}.")
    try:
        moment = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise errors.StalwartBadResponse(f"Unexpected value for {field}.") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def from_timestamp(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _int(value: Any, *, field: str, default: int = 0) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise errors.StalwartBadResponse(f"Unexpected value for {field}.")
    return value


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


@dataclass(frozen=True, slots=True)
class SmtpResponse:
    """`Code: 550, Enhanced code: 5.1.1, Message: …`, split for display."""

    prefix: str  # "Unexpected response from 'mx.example.com'" or ""
    code: str
    enhanced: str
    message: str

    @classmethod
    def parse(cls, text: str) -> SmtpResponse | None:
        match = _SMTP.match(text or "")
        if match is None:
            return None
        return cls(match["prefix"] or "", match["code"], match["esc"], match["msg"])


@dataclass(frozen=True, slots=True)
class DeliveryStatus:
    """`"scheduled"` or a one-key object `{"completed"|"temp_fail"|"perm_fail": text}`."""

    kind: str
    text: str = ""

    @classmethod
    def from_api(cls, value: Any, *, field: str = "status") -> DeliveryStatus:
        if value == "scheduled":
            return cls("scheduled")
        if isinstance(value, dict) and len(value) == 1:
            ((kind, text),) = value.items()
            if kind in ("completed", "temp_fail", "perm_fail"):
                return cls(kind, text if isinstance(text, str) else "")
        raise errors.StalwartBadResponse(f"Unexpected value for {field}.")

    @property
    def pending(self) -> bool:
        return self.kind in ("scheduled", "temp_fail")

    @property
    def delivered(self) -> bool:
        return self.kind == "completed"

    @property
    def failed(self) -> bool:
        return self.kind == "perm_fail"

    @property
    def label(self) -> str:
        return {
            "scheduled": gettext("Scheduled"),
            "completed": gettext("Delivered"),
            "temp_fail": gettext("Will retry"),
            "perm_fail": gettext("Failed"),
        }[self.kind]

    @property
    def tone(self) -> str:
        """A CSS modifier: ok, pending, warn or danger."""
        return {"scheduled": "pending", "completed": "ok", "temp_fail": "warn", "perm_fail": "danger"}[self.kind]

    @property
    def response(self) -> SmtpResponse | None:
        return SmtpResponse.parse(self.text)

    @property
    def canceled(self) -> bool:
        # <= 0.15: "…Message: Delivery canceled."; 0.16 writes the same words as the error message.
        return self.failed and self.text.endswith("Delivery canceled.")


@dataclass(frozen=True, slots=True)
class QueueRecipient:
    address: str
    status: DeliveryStatus
    # What the person should see: a scheduled recipient takes its domain's failure.
    effective: DeliveryStatus
    orcpt: str = ""
    queue: str = ""  # Stalwart 0.13+: the queue the recipient waits in (local, remote, dsn, report...)


@dataclass(frozen=True, slots=True)
class QueueDomain:
    name: str
    status: DeliveryStatus
    recipients: tuple[QueueRecipient, ...]
    retry_num: int
    next_retry: datetime | None
    next_notify: datetime | None
    expires: datetime | None

    @property
    def pending(self) -> bool:
        return self.status.pending


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    id: int
    return_path: str
    created: datetime | None
    size: int
    priority: int
    env_id: str
    blob_hash: str
    domains: tuple[QueueDomain, ...]

    @property
    def is_bounce(self) -> bool:
        """A null sender (`<>`): a delivery status notification from the mailer daemon."""
        return self.return_path == ""

    @property
    def recipients(self) -> tuple[QueueRecipient, ...]:
        return tuple(r for d in self.domains for r in d.recipients)

    @property
    def first_recipient(self) -> str:
        recipients = self.recipients
        return recipients[0].address if recipients else ""

    @property
    def more_recipients(self) -> int:
        return max(0, len(self.recipients) - 1)

    @property
    def delivered_count(self) -> int:
        return sum(1 for r in self.recipients if r.effective.delivered)

    @property
    def pending_count(self) -> int:
        return sum(1 for r in self.recipients if r.effective.pending)

    @property
    def failed_count(self) -> int:
        return sum(1 for r in self.recipients if r.effective.failed)

    @property
    def pending_domains(self) -> tuple[QueueDomain, ...]:
        return tuple(d for d in self.domains if d.pending)

    @property
    def next_retry(self) -> datetime | None:
        times = [d.next_retry for d in self.pending_domains if d.next_retry]
        return min(times) if times else None

    @property
    def next_notify(self) -> datetime | None:
        times = [d.next_notify for d in self.pending_domains if d.next_notify]
        return min(times) if times else None

    @property
    def expires(self) -> datetime | None:
        times = [d.expires for d in self.pending_domains if d.expires]
        return min(times) if times else None

    @property
    def priority_label(self) -> str:
        return "Low" if self.priority < 0 else "High" if self.priority > 0 else "Normal"

    @classmethod
    def from_api(cls, data: Any) -> QueuedMessage:
        if not isinstance(data, dict) or isinstance(data.get("id"), bool) or not isinstance(data.get("id"), int):
            raise errors.StalwartBadResponse("Unexpected queued message.")
        if isinstance(data.get("domains"), list):
            domains = tuple(_domain(item) for item in data["domains"])
        elif isinstance(data.get("recipients"), list):
            domains = _domains_from_recipients(data["recipients"])
        else:
            raise errors.StalwartBadResponse("Unexpected queued message.")
        return cls(
            id=data["id"],
            return_path=_str(data.get("return_path")),
            created=parse_time(data.get("created"), field="created"),
            size=_int(data.get("size"), field="size"),
            priority=_int(data.get("priority"), field="priority"),
            env_id=_str(data.get("env_id")),
            blob_hash=_str(data.get("blob_hash")),
            domains=domains,
        )


def _recipient(data: Any, domain_status: DeliveryStatus) -> QueueRecipient:
    if not isinstance(data, dict) or not isinstance(data.get("address"), str):
        raise errors.StalwartBadResponse("Unexpected recipient.")
    status = DeliveryStatus.from_api(data.get("status"))
    effective = status
    if status.kind == "scheduled" and domain_status.kind in ("temp_fail", "perm_fail"):
        effective = domain_status
    return QueueRecipient(data["address"], status, effective, _str(data.get("orcpt")), _str(data.get("queue")))


def _domain(data: Any) -> QueueDomain:
    if not isinstance(data, dict) or not isinstance(data.get("recipients"), list):
        raise errors.StalwartBadResponse("Unexpected queue domain.")
    status = DeliveryStatus.from_api(data.get("status"))
    return QueueDomain(
        name=_str(data.get("name")),
        status=status,
        recipients=tuple(_recipient(item, status) for item in data["recipients"]),
        retry_num=_int(data.get("retry_num"), field="retry_num"),
        next_retry=parse_time(data.get("next_retry"), field="next_retry"),
        next_notify=parse_time(data.get("next_notify"), field="next_notify"),
        expires=parse_time(data.get("expires"), field="expires"),
    )


def _domains_from_recipients(items: list[Any]) -> tuple[QueueDomain, ...]:
    """The v0.13+ shape: group recipients (each with its own retry data) by domain."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("address"), str):
            raise errors.StalwartBadResponse("Unexpected recipient.")
        grouped.setdefault(item["address"].rpartition("@")[2].lower(), []).append(item)
    domains = []
    for name, members in grouped.items():
        recipients = tuple(_recipient(item, DeliveryStatus("scheduled")) for item in members)
        pending = [r for r in recipients if r.status.pending]
        status = pending[0].status if pending else recipients[0].status

        def earliest(key: str, members: list[dict[str, Any]] = members) -> datetime | None:
            times = [parse_time(m.get(key), field=key) for m in members]
            present = [t for t in times if t]
            return min(present) if present else None

        domains.append(
            QueueDomain(
                name=name,
                status=status,
                recipients=recipients,
                retry_num=max(_int(m.get("retry_num"), field="retry_num") for m in members),
                next_retry=earliest("next_retry"),
                next_notify=earliest("next_notify"),
                expires=earliest("expires"),
            )
        )
    return tuple(domains)


@dataclass(frozen=True, slots=True)
class QueuePage:
    items: tuple[QueuedMessage, ...]
    total: int
    running: bool | None  # None: the server does not report it (0.16+)


@dataclass(frozen=True, slots=True)
class QueueSelection:
    """The selection parameters shared by the list and the bulk calls (§7.2)."""

    text: str = ""
    sender: str = ""
    recipient: str = ""
    before: datetime | None = None
    after: datetime | None = None
    queue: str = ""  # 0.16+: the virtual queue (`queueName`); <= 0.15 cannot select by it

    @property
    def is_empty(self) -> bool:
        return not (self.text or self.sender or self.recipient or self.before or self.after or self.queue)

    def params(self) -> dict[str, str]:
        # `text` makes Stalwart ignore `from` and `to`: never send them together.
        # Recipients are compared lowercased, so an upper-case `to` could never match.
        params = {"text": self.text} if self.text else {"from": self.sender, "to": self.recipient.lower()}
        if self.before:
            params["before"] = rfc3339(self.before)
        if self.after:
            params["after"] = rfc3339(self.after)
        return {key: value for key, value in params.items() if value}


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class OutgoingReportId:
    """`d!<domain>!<policy>!<period start>!<due>` (DMARC) or `t!…` (TLS), §7.4."""

    raw: str
    kind: str  # "dmarc", "tls" or "" when the id cannot be read
    domain: str
    range_from: datetime | None
    due: datetime | None

    @classmethod
    def parse(cls, raw: str) -> OutgoingReportId:
        parts = raw.split("!")
        kind = {"d": "dmarc", "t": "tls"}.get(parts[0], "") if len(parts) >= 5 else ""
        if not kind or not all(part.isdigit() for part in parts[2:5]):
            return cls(raw, "", "", None, None)
        return cls(raw, kind, parts[1], from_timestamp(int(parts[3])), from_timestamp(int(parts[4])))

    @property
    def period(self) -> str:
        if not self.range_from or not self.due:
            return ""
        seconds = (self.due - self.range_from).total_seconds()
        if seconds == 86400:
            return "Daily"
        if seconds == 7 * 86400:
            return "Weekly"
        hours = round(seconds / 3600)
        return f"{hours} hours" if hours < 48 else f"{round(hours / 24)} days"
