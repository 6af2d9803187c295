"""What the sandbox's server "saw": log lines, stored traces (spans), metrics, live events.

``state(sb)`` returns the one :class:`Observability` of a sandbox, creating (and seeding) it on
first use and registering it with :meth:`Sandbox.register_state`, so that ``reset()`` brings back
the seeded logs, spans and metrics and forgets whatever the live traffic added.

Everything is generated from a fixed random seed relative to the time of creation: realistic SMTP
sessions and delivery attempts (with a few hostile-looking addresses and host names), the log
lines the file tracer would have written for them, and hourly metric points for a week.

Live traffic: while a live stream is open, :meth:`Observability.tick` makes up a new session
every ``traffic_interval`` seconds (0 turns that off); tests add events with :meth:`emit`.
"""

from __future__ import annotations

import copy
import math
import random
import time
from dataclasses import dataclass, field
from typing import Any

from .dates import rfc3339, snowflake

# --------------------------------------------------------------------------- vocabulary

#: Event type -> (log level, description ("text"), explanation ("details")).
EVENTS: dict[str, tuple[str, str, str]] = {
    "smtp.connection-start": ("INFO", "SMTP connection started", "A new SMTP connection was started"),
    "smtp.connection-end": ("INFO", "SMTP connection ended", "The SMTP connection was ended"),
    "smtp.ehlo": ("DEBUG", "SMTP EHLO command", "The remote server sent an EHLO command"),
    "smtp.start-tls": ("DEBUG", "SMTP STARTTLS command", "The remote client requested a TLS connection"),
    "tls.handshake": ("DEBUG", "TLS handshake", "Successfully negotiated a TLS connection"),
    "smtp.iprev-pass": ("DEBUG", "IPREV check passed", "Reverse IP check passed"),
    "smtp.iprev-fail": ("INFO", "IPREV check failed", "Reverse IP check failed"),
    "smtp.spf-ehlo-pass": ("DEBUG", "SPF EHLO check passed", "EHLO identity passed SPF check"),
    "smtp.mail-from": ("DEBUG", "SMTP MAIL FROM command", "The remote client sent a MAIL FROM command"),
    "smtp.spf-from-pass": ("DEBUG", "SPF From check passed", "MAIL FROM identity passed SPF check"),
    "smtp.spf-from-fail": ("INFO", "SPF From check failed", "MAIL FROM identity failed SPF check"),
    "smtp.rcpt-to": ("DEBUG", "SMTP RCPT TO command", "The remote client sent an RCPT TO command"),
    "smtp.mailbox-does-not-exist": (
        "INFO",
        "Mailbox does not exist",
        "The mailbox does not exist on the server",
    ),
    "smtp.relay-not-allowed": ("INFO", "Relay not allowed", "The server does not allow relaying"),
    "smtp.dkim-pass": ("DEBUG", "DKIM verification passed", "Successful DKIM verification"),
    "smtp.dkim-fail": ("INFO", "DKIM verification failed", "Failed to verify DKIM signature"),
    "smtp.dmarc-pass": ("DEBUG", "DMARC check passed", "Successful DMARC verification"),
    "smtp.dmarc-fail": ("INFO", "DMARC check failed", "Failed to verify DMARC policy"),
    "smtp.quit": ("DEBUG", "SMTP QUIT command", "The remote client sent a QUIT command"),
    "message-ingest.ham": ("INFO", "Message ingested", "The message has been ingested"),
    "message-ingest.spam": ("INFO", "Possible spam message ingested", "A possible spam message has been ingested"),
    "queue.queue-message": ("INFO", "Queued message for delivery", "A new message has been queued for delivery"),
    "queue.queue-message-authenticated": (
        "INFO",
        "Queued message submission for delivery",
        "A new message was submitted by an authenticated user and queued for delivery",
    ),
    "delivery.attempt-start": (
        "INFO",
        "Delivery attempt started",
        "A new delivery attempt for the message has started",
    ),
    "delivery.attempt-end": ("INFO", "Delivery attempt ended", "The delivery attempt has ended"),
    "delivery.domain-delivery-start": (
        "DEBUG",
        "New delivery attempt for domain",
        "A new delivery attempt for the domain has started",
    ),
    "delivery.mx-lookup": ("DEBUG", "MX record lookup", "Looking up the MX records of the domain"),
    "delivery.connect": ("DEBUG", "Connecting to remote server", "Connecting to the remote server"),
    "delivery.connect-error": ("WARN", "Connection error", "Failed to connect to the remote server"),
    "delivery.ehlo": ("DEBUG", "SMTP EHLO command", "The EHLO command was sent to the remote server"),
    "delivery.start-tls": ("DEBUG", "SMTP STARTTLS command", "The STARTTLS command was sent to the remote server"),
    "delivery.mail-from": ("DEBUG", "SMTP MAIL FROM command", "The MAIL FROM command was sent to the remote server"),
    "delivery.rcpt-to": ("DEBUG", "SMTP RCPT TO command", "The RCPT TO command was sent to the remote server"),
    "delivery.rcpt-to-rejected": ("INFO", "SMTP RCPT TO rejected", "The remote server rejected the RCPT TO command"),
    "delivery.unexpected-response": ("INFO", "Unexpected response", "The remote server sent an unexpected response"),
    "delivery.delivered": ("INFO", "Message delivered", "The message was delivered to the remote server"),
    "delivery.completed": ("INFO", "Delivery completed", "The delivery attempt completed"),
    "delivery.failed": ("WARN", "Delivery failed", "The delivery attempt failed"),
    "auth.success": ("INFO", "Authentication successful", "Successful authentication"),
    "auth.failed": ("INFO", "Authentication failed", "Failed authentication"),
    "security.authentication-ban": (
        "WARN",
        "Banned due to authentication errors",
        "The IP address was banned due to multiple authentication errors",
    ),
    "security.ip-blocked": ("INFO", "Blocked IP address", "Rejected connection from blocked IP address"),
    "imap.connection-start": ("INFO", "IMAP connection started", "IMAP connection started"),
    "imap.connection-end": ("INFO", "IMAP connection ended", "IMAP connection ended"),
    "pop3.connection-start": ("INFO", "POP3 connection started", "POP3 connection started"),
    "http.connection-start": ("INFO", "HTTP connection started", "An HTTP connection was started"),
    "http.request-body": ("TRACE", "HTTP request body", "The HTTP request body"),
    "http.error": ("ERROR", "HTTP error", "An HTTP error occurred"),
    "store.data-error": ("ERROR", "Data store error", "An error occurred with the data store"),
    "config.build-warning": (
        "WARN",
        "Configuration build warning",
        "A warning occurred while building the configuration",
    ),
    "server.startup": ("INFO", "Starting Stalwart Mail Server", "Stalwart Mail Server is starting up"),
    "housekeeper.run": ("INFO", "Housekeeper task run", "The housekeeper ran a task"),
    "resource.not-found": ("DEBUG", "Not found", "The requested resource was not found"),
}

#: Every key name an event may carry (``trc::Key``), for the live filters.
KEYS = (
    "accountName accountId blobId causedBy changeId code collection contents details dkimFail dkimNone "
    "dkimPass dmarcNone dmarcPass dmarcQuarantine dmarcReject documentId domain due elapsed expires from "
    "hostname id key limit listenerId localIp localPort mailboxName mailboxId messageId nextDsn nextRetry "
    "path policy queueId queueName rangeFrom rangeTo reason remoteIp remotePort reportId result size source "
    "spanId spfFail spfNone spfPass strict tls to total totalFailures totalSuccesses type uid uidNext "
    "uidValidity url validFrom validTo value version"
).split()
KEYS_BY_LOWER = {key.lower(): key for key in KEYS}

#: What the metrics history store records (GET /api/telemetry/metrics), checked against the
#: server's metrics store writer at v0.11.8 and v0.12.4 (identical lists). Once per
#: ``metrics.history.interval`` (hourly by default) it writes, per counter, the number of events
#: since the previous write, only when that number is above 0; the two gauges only when above 0;
#: the histograms' count and sum since the previous write, only when they changed. Nothing else is
#: ever stored: no ``delivery.delivered``, ``auth.success``, ``smtp.*`` rejections, ``user.count``...
HISTORY_COUNTERS = (
    "smtp.connection-start",
    "imap.connection-start",
    "pop3.connection-start",
    "manage-sieve.connection-start",
    "http.connection-start",
    "delivery.attempt-start",
    "queue.queue-message",
    "queue.queue-message-authenticated",
    "queue.queue-dsn",
    "queue.queue-report",
    "message-ingest.ham",
    "message-ingest.spam",
    "auth.failed",
    "security.authentication-ban",
    "security.scan-ban",
    "security.abuse-ban",
    "security.loiter-ban",
    "security.ip-blocked",
    "incoming-report.dmarc-report",
    "incoming-report.dmarc-report-with-warnings",
    "incoming-report.tls-report",
    "incoming-report.tls-report-with-warnings",
)
HISTORY_GAUGES = ("queue.count", "server.memory")
HISTORY_HISTOGRAMS = (
    "message-ingest.time",
    "message-ingest.index-time",
    "delivery.total-time",
    "delivery.attempt-time",
    "dns.lookup-time",
)
#: Counters the live stream may carry besides those (any event the server counted).
COUNTERS = HISTORY_COUNTERS + ("delivery.delivered", "delivery.failed", "auth.success")
#: Gauges (``MetricType``) and their unit: what the live stream sends (Enterprise).
GAUGES = {
    "server.memory": "bytes",
    "queue.count": "messages",
    "user.count": "users",
    "domain.count": "domains",
    "smtp.active-connections": "connections",
    "imap.active-connections": "connections",
    "pop3.active-connections": "connections",
    "http.active-connections": "connections",
    "delivery.active-connections": "connections",
    "sieve.active-connections": "connections",
}
HISTOGRAMS = {
    "message-ingest.time": "milliseconds",
    "message-ingest.index-time": "milliseconds",
    "delivery.total-time": "milliseconds",
    "delivery.attempt-time": "milliseconds",
    "dns.lookup-time": "milliseconds",
    "message.size": "bytes",
}
METRIC_TYPES = (
    set(GAUGES)
    | set(HISTOGRAMS)
    | {
        "message.authenticated-size",
        "outgoing-report.size",
        "store.data-read-time",
        "store.data-write-time",
        "store.blob-read-time",
        "store.blob-write-time",
        "http.request-time",
        "imap.request-time",
        "pop3.request-time",
        "smtp.request-time",
        "sieve.request-time",
        "sieve.active-connections",
    }
)
EVENT_TYPES = set(EVENTS) | set(COUNTERS)

# --------------------------------------------------------------------------- people and hosts

_LOCAL_USERS = ["jane.doe", "alice", "bruno", "carla", "support", "sales", "theo.martin", "finance"]
_LOCAL_DOMAINS = ["example.org", "example.com"]
_REMOTE = [
    ("mail.partner.example", "203.0.113.25", "partner.example"),
    ("mx.newsletter.example", "198.51.100.40", "newsletter.example"),
    ("smtp.bank.example", "192.0.2.77", "bank.example"),
    ("mta7.bulk-mailer.example", "203.0.113.199", "bulk-mailer.example"),
    ("mail.university.example", "2001:db8::25", "university.example"),
]
#: Senders and HELO names an attacker controls.
_HOSTILE_SENDERS = [
    '"<script>alert(1)</script>"@evil.example',
    "x\"><img src=x onerror=alert('from')>@evil.example",
]
_HOSTILE_HELO = "<img src=x onerror=alert('helo')>"
_OUTBOUND = [
    ("mx1.customer.example", "198.51.100.10", "customer.example"),
    ("aspmx.l.mail.example", "192.0.2.150", "mail.example"),
    ("mx.supplier.example", "203.0.113.60", "supplier.example"),
]


@dataclass
class Event:
    type: str
    ts: int
    #: JSON-ready key -> value (strings, ints, bools, lists, nested event dicts); span keys included.
    data: dict[str, Any]

    def json(self, *, description: bool, spans: bool) -> dict:
        out: dict[str, Any] = {}
        if description:
            _, text, details = EVENTS.get(self.type, ("INFO", self.type, ""))
            out["text"] = text
            out["details"] = details
        out["createdAt"] = rfc3339(self.ts)
        out["type"] = self.type
        out["data"] = {key: value for key, value in self.data.items() if spans or key != "spanId"}
        return out


@dataclass
class Span:
    id: int
    events: list[Event]

    @property
    def type(self) -> str:
        return self.events[0].type

    def index_values(self) -> tuple[set[int], set[str]]:
        """Queue ids and the strings the store indexes (from, to, domain, hostname, remoteIp)."""
        queue_ids: set[int] = set()
        values: set[str] = set()
        for event in self.events:
            for key, value in event.data.items():
                if key == "queueId" and isinstance(value, int):
                    queue_ids.add(value)
                elif key in ("from", "to", "domain", "hostname", "remoteIp") and isinstance(value, str):
                    values.add(value)
                elif key == "to" and isinstance(value, list):
                    values.update(item for item in value if isinstance(item, str))
        return queue_ids, values


@dataclass
class Observability:
    created: int
    #: Log files, oldest first: (file name, lines oldest first).
    log_files: list[tuple[str, list[str]]] = field(default_factory=list)
    spans: dict[int, Span] = field(default_factory=dict)
    #: Metric points: dicts in the wire shape plus "ts" (epoch seconds).
    metrics: list[dict] = field(default_factory=list)
    #: Totals of the live counters, gauges and histograms (for the live metrics stream).
    counter_totals: dict[str, int] = field(default_factory=dict)
    # --- tuning for tests (not part of the wire behaviour) ---
    batch_interval: float = 1.0
    ping_interval: float = 30.0
    poll_interval: float = 0.05
    traffic_interval: float = 4.0
    #: Seconds between live metric frames, overriding ``interval`` (None: use the parameter).
    metrics_interval: float | None = None
    #: Make /api/logs fail with ME other "Failed to read log files".
    log_read_error: bool = False
    # --- live state (never snapshotted) ---
    live: list[tuple[int, Event]] = field(default_factory=list)
    live_seq: int = 0
    open_streams: int = 0
    streams_opened: int = 0
    next_traffic: float = 0.0
    sequence: int = 0
    rng: random.Random = field(default_factory=lambda: random.Random(7))

    # ------------------------------------------------------------------ live events
    def emit(self, events: list[Event], *, store_span: bool = True) -> None:
        """Publish events to live streams (and the log); a complete span also goes to the store."""
        for event in events:
            self.live_seq += 1
            self.live.append((self.live_seq, event))
            self._log_event(event)
        del self.live[:-5000]
        if store_span and events and "spanId" in events[0].data:
            span_id = events[0].data["spanId"]
            if isinstance(span_id, int) and events[-1].type.endswith(("-end", "connection-end")):
                self.spans[span_id] = Span(span_id, list(events))

    def events_after(self, seq: int) -> list[tuple[int, Event]]:
        return [(number, event) for number, event in self.live if number > seq]

    def tick(self, sb) -> None:
        """Make up live traffic when it is due (called by open live streams)."""
        if self.traffic_interval <= 0:
            return
        now = time.monotonic()
        if now < self.next_traffic:
            return
        self.next_traffic = now + self.traffic_interval
        when = sb.now()
        received = self.received_session(when, self.rng)
        self.emit(received)
        if self.rng.random() < 0.5:
            self.emit(self.delivery_attempt(when + 1, self.rng, queue_id=received[0].data.get("spanId", 0) + 1))

    # ------------------------------------------------------------------ generators
    def _span_id(self, ts: float) -> int:
        self.sequence += 1
        return snowflake(ts, self.sequence)

    def received_session(self, ts: int, rng: random.Random, *, hostile: bool = False) -> list[Event]:
        host, ip, domain = rng.choice(_REMOTE)
        span_id = self._span_id(ts)
        sender = (
            rng.choice(_HOSTILE_SENDERS)
            if hostile
            else f"{rng.choice(['news', 'info', 'billing', 'j.smith', 'noreply'])}@{domain}"
        )
        helo = _HOSTILE_HELO if hostile else host
        span = {
            "spanId": span_id,
            "listenerId": "smtp",
            "localPort": 25,
            "remoteIp": ip,
            "remotePort": rng.randint(30000, 65000),
        }
        rcpts = [f"{rng.choice(_LOCAL_USERS)}@{rng.choice(_LOCAL_DOMAINS)}" for _ in range(rng.choice([1, 1, 1, 2, 3]))]
        rcpts = list(dict.fromkeys(rcpts))
        events = [Event("smtp.connection-start", ts, dict(span))]
        t = ts

        def add(kind: str, **data: Any) -> None:
            events.append(Event(kind, t, {**data, **span}))

        add("smtp.ehlo", domain=helo)
        add("smtp.start-tls")
        add("tls.handshake", version="TLSv1.3", details="TLS13_AES_256_GCM_SHA384")
        add("smtp.iprev-pass", domain=host)
        add("smtp.spf-ehlo-pass", domain=helo)
        add("smtp.mail-from", **{"from": sender})
        add("smtp.spf-from-pass", **{"from": sender})
        accepted = []
        for rcpt in rcpts:
            add("smtp.rcpt-to", to=rcpt)
            if rng.random() < 0.12:
                add("smtp.mailbox-does-not-exist", to=rcpt)
            else:
                accepted.append(rcpt)
        t += 1
        if accepted:
            add("smtp.dkim-pass", domain=domain)
            add("smtp.dmarc-pass", domain=domain, policy="reject")
            size = rng.randint(2_000, 4_500_000)
            spam = rng.random() < 0.15
            add("message-ingest.spam" if spam else "message-ingest.ham", size=size, to=accepted)
            add(
                "queue.queue-message",
                **{"from": sender},
                to=accepted,
                size=size,
                queueId=span_id + 1,
                total=len(accepted),
            )
        add("smtp.quit")
        t += 1
        add("smtp.connection-end", elapsed=rng.randint(180, 2500))
        return events

    def delivery_attempt(
        self, ts: int, rng: random.Random, *, queue_id: int | None = None, fail: bool = False
    ) -> list[Event]:
        host, ip, domain = rng.choice(_OUTBOUND)
        span_id = self._span_id(ts)
        sender = f"{rng.choice(_LOCAL_USERS)}@{_LOCAL_DOMAINS[0]}"
        rcpts = [
            f"{name}@{domain}"
            for name in rng.sample(["orders", "ceo", "team", "invoices", "m.rossi"], rng.choice([1, 1, 2]))
        ]
        queue_id = queue_id or span_id - 7
        size = rng.randint(3_000, 900_000)
        span = {"spanId": span_id, "queueId": queue_id}
        t = ts
        events = [
            Event("delivery.attempt-start", t, {**span, "from": sender, "to": rcpts, "size": size, "total": len(rcpts)})
        ]

        def add(kind: str, **data: Any) -> None:
            events.append(Event(kind, t, {**data, **span}))

        add("delivery.domain-delivery-start", domain=domain, total=len(rcpts))
        add("delivery.mx-lookup", domain=domain, details=[host], elapsed=rng.randint(2, 40))
        if fail:
            add(
                "delivery.connect-error",
                domain=domain,
                hostname=host,
                remoteIp=ip,
                remotePort=25,
                reason="Connection refused (os error 111)",
            )
            t += 30
            add("delivery.failed", domain=domain, nextRetry=rfc3339(t + 300), total=len(rcpts))
            add("delivery.attempt-end", elapsed=30_000 + rng.randint(0, 900))
            return events
        add("delivery.connect", domain=domain, hostname=host, remoteIp=ip, remotePort=25, elapsed=rng.randint(20, 300))
        add("delivery.ehlo", hostname=host, details=["PIPELINING", "8BITMIME", "STARTTLS", "SIZE 52428800"])
        add("delivery.start-tls", hostname=host, version="TLSv1.3", tls=True)
        add("delivery.mail-from", hostname=host, **{"from": sender}, code=250)
        delivered = 0
        t += 1
        for rcpt in rcpts:
            if rng.random() < 0.15:
                add(
                    "delivery.rcpt-to-rejected",
                    hostname=host,
                    to=rcpt,
                    causedBy={
                        "type": "delivery.unexpected-response",
                        "text": "Unexpected response",
                        "details": "The remote server sent an unexpected response",
                        "data": {"code": 550, "details": f"5.1.1 <{rcpt}>: Recipient address rejected: User unknown"},
                    },
                )
            else:
                add("delivery.rcpt-to", hostname=host, to=rcpt, code=250)
                delivered += 1
        if delivered:
            add(
                "delivery.delivered",
                hostname=host,
                code=250,
                details="2.0.0 Ok: queued as 4XkQ2m1Zb7z9",
                total=delivered,
            )
        add(
            "delivery.completed",
            domain=domain,
            total=len(rcpts),
            totalSuccesses=delivered,
            totalFailures=len(rcpts) - delivered,
        )
        t += 1
        add("delivery.attempt-end", elapsed=rng.randint(300, 4000))
        return events

    # ------------------------------------------------------------------ logs
    def _log_event(self, event: Event) -> None:
        if not self.log_files:
            self.log_files.append((_log_name(event.ts), []))
        name = _log_name(event.ts)
        if self.log_files[-1][0] != name:
            self.log_files.append((name, []))
        self.log_files[-1][1].append(log_line(event))

    def log_lines_newest_first(self):
        """(file index, line) pairs the way the server reads them: newest file, newest line first."""
        for index in range(len(self.log_files) - 1, -1, -1):
            lines = self.log_files[index][1]
            for line in reversed(lines):
                yield index, line


def _log_name(ts: int) -> str:
    return "stalwart.log." + time.strftime("%Y-%m-%d", time.gmtime(ts))


def _text_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_text_value(item) for item in value) + "]"
    if isinstance(value, dict):
        _, text, _ = EVENTS.get(value.get("type", ""), ("", value.get("text", ""), ""))
        inner = ", ".join(f"{k} = {_text_value(v)}" for k, v in value.get("data", {}).items())
        return f"{text} ({value.get('type', '')})" + (f" {{ {inner} }}" if inner else "")
    text = str(value)
    if _looks_like_ip(text):
        return text
    escaped = text.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


def _looks_like_ip(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def log_line(event: Event, level: str | None = None) -> str:
    """``<rfc3339> <LEVEL> <description> (<event id>) <key = value, ...>`` like the file tracer."""
    default_level, text, _ = EVENTS.get(event.type, ("INFO", event.type, ""))
    keys = ", ".join(f"{key} = {_text_value(value)}" for key, value in event.data.items() if key != "spanId")
    return f"{rfc3339(event.ts)} {level or default_level} {text} ({event.type}) {keys}"


# --------------------------------------------------------------------------- seeding

_EXTRA_LOG_LINES = [
    ("ERROR", "store.data-error", {"reason": "Connection reset by peer (os error 104)", "details": "PostgreSQL pool"}),
    ("WARN", "config.build-warning", {"key": "legacy.imap.folders.drafts", "details": "Unused configuration key"}),
    ("ERROR", "http.error", {"url": "/api/principal/<script>alert('url')</script>", "reason": "Invalid path"}),
    ("TRACE", "http.request-body", {"listenerId": "http", "contents": '{"type":"code","client_id":"webadmin"}'}),
    ("INFO", "housekeeper.run", {"details": "Purge expired OAuth tokens", "total": 12}),
    (
        "DEBUG",
        "resource.not-found",
        {"path": '/.well-known/mta-sts.txt"><svg onload=alert(1)>', "remoteIp": "198.51.100.200"},
    ),
    ("INFO", "auth.failed", {"accountName": "admin' OR '1'='1", "remoteIp": "203.0.113.66", "listenerId": "imaptls"}),
    ("WARN", "security.authentication-ban", {"remoteIp": "203.0.113.66", "accountName": "admin"}),
    ("INFO", "auth.success", {"accountName": "jane.doe", "remoteIp": "192.0.2.31", "listenerId": "imaptls"}),
    (
        "INFO",
        "imap.connection-start",
        {"listenerId": "imaptls", "localPort": 993, "remoteIp": "192.0.2.31", "remotePort": 50211},
    ),
    (
        "INFO",
        "http.connection-start",
        {"listenerId": "https", "localPort": 443, "remoteIp": "192.0.2.8", "remotePort": 61520},
    ),
    (
        "INFO",
        "auth.failed",
        {
            "accountName": "\u202eelpmaxe\u202c\u00e9\u00e8 \u2603 user",
            "remoteIp": "2001:db8::bad",
            "listenerId": "submissions",
        },
    ),
]


def build(sb) -> Observability:
    """The seeded observability state of a sandbox (empty logs and traces for the empty seed)."""
    rng = random.Random(20250105)
    now = sb.now()
    obs = Observability(created=now)
    if not sb.has_demo_data:
        return obs
    start = now - 2 * 86400
    stamps = sorted(rng.randint(start, now - 120) for _ in range(70))
    for number, ts in enumerate(stamps):
        if number % 3 == 2:
            events = obs.delivery_attempt(ts, rng, fail=number % 11 == 5)
        else:
            events = obs.received_session(ts, rng, hostile=number in (7, 33))
        obs.spans[events[0].data["spanId"]] = Span(events[0].data["spanId"], events)
        for event in events:
            obs._log_event(event)
    # A few lines about other things, spread over the same period, then sort each file by time.
    for number in range(160):
        level, kind, data = _EXTRA_LOG_LINES[number % len(_EXTRA_LOG_LINES)]
        obs._log_event(Event(kind, rng.randint(start, now - 60), dict(data)))
    files: dict[str, list[str]] = {}
    for _, lines in obs.log_files:
        for line in lines:
            ts_text = line.split(" ", 1)[0]
            files.setdefault("stalwart.log." + ts_text[:10], []).append(line)
    obs.log_files = [
        (name, sorted(lines, key=lambda line: line.split(" ", 1)[0])) for name, lines in sorted(files.items())
    ]
    # Lines written before the levels were parsed: the reader skips what it cannot parse.
    obs.log_files[0][1].insert(0, "garbage line without a timestamp")
    obs.metrics = _metric_history(sb, rng, now)
    return obs


def _metric_history(sb, rng: random.Random, now: int) -> list[dict]:
    """A week of what the metrics history store would hold: one write at the top of each hour,
    with a daily rhythm, the names and the skipped zeros of :data:`HISTORY_COUNTERS`."""
    points: list[dict] = []
    hour = now - now % 3600
    queue = 12
    for step in range(7 * 24, 0, -1):
        queue = _hour_written(points, hour - step * 3600, rng, queue, step)
    return points


def _hour_written(points: list[dict], ts: int, rng: random.Random, queue: int, step: int | None = None) -> int:
    """Append the points of the write at `ts` (`step` hours before the seeding: the seeded
    week's incidents); returns the queue size it recorded."""
    local_hour = (ts // 3600) % 24
    activity = 0.25 + 0.75 * max(0.0, math.sin((local_hour - 6) / 24 * 2 * math.pi))
    stamp = rfc3339(ts)
    received = int(activity * rng.randint(40, 90))
    counters = {
        "smtp.connection-start": received + rng.randint(5, 40),
        "imap.connection-start": int(activity * rng.randint(60, 160)),
        "pop3.connection-start": rng.randint(0, 6),
        "manage-sieve.connection-start": rng.randint(0, 2),
        "http.connection-start": int(activity * rng.randint(100, 300)),
        "delivery.attempt-start": int(activity * rng.randint(20, 50)),
        "queue.queue-message": received,
        "queue.queue-message-authenticated": int(activity * rng.randint(15, 40)),
        "queue.queue-dsn": rng.randint(0, 2),
        "queue.queue-report": rng.randint(0, 1),
        "message-ingest.ham": int(received * 0.85),
        "message-ingest.spam": received - int(received * 0.85),
        "auth.failed": rng.randint(0, 12) + (40 if step in (30, 31) else 0),
        "security.authentication-ban": 1 if step == 30 else 0,
        "security.scan-ban": 1 if step is not None and step % 50 == 7 else 0,
        "security.ip-blocked": rng.randint(0, 3),
        "incoming-report.dmarc-report": 1 if local_hour == 3 else 0,
        "incoming-report.tls-report": 1 if local_hour == 4 else 0,
    }
    for counter_id, value in counters.items():
        if value > 0:
            points.append({"type": "counter", "id": counter_id, "timestamp": stamp, "value": value, "ts": ts})
    queue = min(60, max(0, queue + rng.randint(-4, 5)))
    gauges = {"queue.count": queue, "server.memory": int((310 + 60 * activity + rng.randint(-8, 8)) * 1024 * 1024)}
    for gauge_id, value in gauges.items():
        if value > 0:
            points.append({"type": "gauge", "id": gauge_id, "timestamp": stamp, "value": value, "ts": ts})
    for histogram_id, mean in (
        ("message-ingest.time", 45),
        ("message-ingest.index-time", 20),
        ("delivery.total-time", 1800),
        ("delivery.attempt-time", 900),
        ("dns.lookup-time", 12),
    ):
        count = int(activity * rng.randint(0, 40))
        if count > 0:
            points.append(
                {
                    "type": "histogram",
                    "id": histogram_id,
                    "timestamp": stamp,
                    "count": count,
                    "sum": count * (mean + rng.randint(-mean // 3, mean // 3)),
                    "ts": ts,
                }
            )
    return queue


def metric_history(sb) -> list[dict]:
    """The metrics history as the store holds it now. A running server writes at the top of
    every hour; this one writes on read the hours that have turned since its newest write
    (each from a generator seeded by its hour, so reading twice gives the same history)."""
    obs = state(sb)
    with sb.lock:
        points = obs.metrics
        if not points:
            return points
        newest = max(point["ts"] for point in points)
        now = sb.now()
        last_due = now - now % 3600 - 3600  # the write at the top of this hour covers the one before
        # a server that was down for a while wrote nothing meanwhile: at most a week is made up
        ts = max(newest + 3600, last_due - 7 * 24 * 3600)
        queue = next((p["value"] for p in reversed(points) if p["id"] == "queue.count"), 0)
        while ts <= last_due:
            queue = _hour_written(points, ts, random.Random(ts), queue)
            ts += 3600
        return points


def state(sb) -> Observability:
    obs = getattr(sb, "observability", None)
    if obs is not None:
        return obs
    with sb.lock:
        obs = getattr(sb, "observability", None)
        if obs is None:
            obs = sb.observability = build(sb)

            def snapshot() -> dict:
                current = sb.observability
                return copy.deepcopy(
                    {"log_files": current.log_files, "spans": current.spans, "metrics": current.metrics}
                )

            def restore(saved: dict) -> None:
                fresh = Observability(created=sb.observability.created, **saved)
                # Live plumbing survives a reset; tuning goes back to the defaults.
                fresh.open_streams = sb.observability.open_streams
                fresh.streams_opened = sb.observability.streams_opened
                fresh.live_seq = sb.observability.live_seq
                fresh.sequence = sb.observability.sequence
                sb.observability = fresh

            sb.register_state("observability", snapshot, restore)
    return obs


# --------------------------------------------------------------------------- configuration lookups


def log_path(sb) -> str | None:
    """The file tracer's directory (``tracer.<id>.path`` of an enabled ``log`` tracer), or None."""
    settings = sb.settings
    for key, value in settings.items():
        if key.startswith("tracer.") and key.endswith(".type") and value == "log":
            base = key[: -len("type")]
            if settings.get(base + "enable", "true") != "false" and settings.get(base + "path"):
                return settings[base + "path"]
    return None


def history_store(sb, kind: str) -> str | None:
    """``tracing`` or ``metrics``: the store holding the history, or None when not configured."""
    if sb.settings.get(f"{kind}.history.enable", "false") != "true":
        return None
    return sb.settings.get(f"{kind}.history.store") or sb.settings.get("storage.data") or "default"
