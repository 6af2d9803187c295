"""Delivery troubleshooting in words: each stage as a step, then a verdict and a ticket summary.

`DeliveryRun` is fed the stages as they arrive (`add()` returns the step to show) and knows,
at any point, what the check found so far. Everything here is plain text; the templates
escape it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime

from portal.stalwart.tools_types import DeliveryStage


@dataclass(frozen=True, slots=True)
class Step:
    number: int
    outcome: str  # start, success, notFound, error, info, completed
    title: str
    detail: str = ""
    items: tuple[str, ...] = ()
    elapsed: int | None = None  # what Stalwart measured for this step, in ms
    at: float = 0.0  # seconds since the check started, as the portal saw it

    @property
    def mark(self) -> str:
        """A one-word status for the summary and for screen readers."""
        return {
            "success": "ok",
            "error": "failed",
            "notFound": "none",
            "completed": "done",
            "start": "…",
        }.get(self.outcome, "info")


@dataclass(frozen=True, slots=True)
class Verdict:
    level: str  # ok, warn, error
    headline: str
    explanation: str
    notes: tuple[str, ...] = ()


@dataclass
class HostResult:
    name: str
    ips: list[str] = field(default_factory=list)
    tls: bool | None = None
    dane: bool | None = None
    accepted: bool = False
    problems: list[tuple[str, str]] = field(default_factory=list)  # (stage type, reason)


# How far an error got: the furthest one explains the failure best.
_ERROR_RANK = {
    "mtaStsVerifyError": 1,
    "ipLookupError": 2,
    "connectionError": 3,
    "readGreetingError": 4,
    "ehloError": 5,
    "startTlsError": 6,
    "mailFromError": 7,
    "rcptToError": 8,
}


def _plural(count: int, word: str, plural: str = "") -> str:
    return f"{count} {word}" if count == 1 else f"{count} {plural or word + 's'}"


def _age(seconds: object) -> str:
    if not isinstance(seconds, int):
        return ""
    if seconds % 86400 == 0:
        return _plural(seconds // 86400, "day")
    if seconds % 3600 == 0:
        return _plural(seconds // 3600, "hour")
    return f"{seconds} s"


class DeliveryRun:
    def __init__(self, target: str) -> None:
        self.target = target
        self.email = target if "@" in target else ""
        self.domain = target.rpartition("@")[2]
        self.started = time.monotonic()
        self.steps: list[Step] = []
        self.mx: list[tuple[str, int]] = []
        self.mx_error = ""
        self.sts_mode = ""  # "" unknown, "none" when not published, else the policy mode
        self.sts_patterns: list[str] = []
        self.sts_error = ""
        self.tlsrpt: list[str] = []
        self.hosts: dict[str, HostResult] = {}
        self.host: HostResult | None = None
        self.ip = ""
        self.ehlo_count = 0
        self.delivered: HostResult | None = None
        self.completed = False
        self.interrupted = ""

    # --- feeding -------------------------------------------------------------------------
    def add(self, stage: DeliveryStage) -> Step:
        title, detail, items = self._describe(stage)
        step = Step(
            number=len(self.steps) + 1,
            outcome=stage.outcome,
            title=title,
            detail=detail,
            items=tuple(items),
            elapsed=stage.elapsed,
            at=time.monotonic() - self.started,
        )
        self.steps.append(step)
        return step

    def interrupt(self, reason: str) -> Step:
        """The check stopped before `completed` (stalled, broken, refused)."""
        self.interrupted = reason
        step = Step(len(self.steps) + 1, "error", "The check stopped", reason, at=time.monotonic() - self.started)
        self.steps.append(step)
        return step

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def _problem(self, stage: DeliveryStage) -> None:
        if self.host is not None:
            self.host.problems.append((stage.type, stage.reason or "no reason given"))

    def _describe(self, stage: DeliveryStage) -> tuple[str, str, list[str]]:  # noqa: C901 - one case per stage
        t, reason = stage.type, stage.reason
        host = self.host.name if self.host else "the server"
        match t:
            case "mxLookupStart":
                return f"Looking up the mail servers (MX) of {stage.text('domain') or self.domain}", "", []
            case "mxLookupSuccess":
                for mx in stage.data.get("mxs") or []:
                    if isinstance(mx, dict):
                        for exchange in mx.get("exchanges") or []:
                            self.mx.append((str(exchange), int(mx.get("preference") or 0)))
                items = [f"{name} (preference {pref})" for name, pref in self.mx]
                return f"Found {_plural(len(self.mx), 'mail server')}", "", items
            case "mxLookupError":
                self.mx_error = reason or "no reason given"
                return "The MX lookup failed", reason, []
            case "mtaStsFetchStart":
                return "Fetching the MTA-STS policy", "", []
            case "mtaStsFetchSuccess":
                policy = stage.data.get("policy") if isinstance(stage.data.get("policy"), dict) else {}
                self.sts_mode = str(policy.get("mode") or "none")
                for pattern in policy.get("mx") or []:
                    if isinstance(pattern, dict) and "equals" in pattern:
                        self.sts_patterns.append(str(pattern["equals"]))
                    elif isinstance(pattern, dict) and "startsWith" in pattern:
                        self.sts_patterns.append(f"*.{pattern['startsWith']}")
                items = [f"Mode: {self.sts_mode}", f"Allowed mail servers: {', '.join(self.sts_patterns) or 'none'}"]
                if policy.get("id"):
                    items.append(f"Policy id: {policy['id']}")
                if _age(policy.get("max_age")):
                    items.append(f"Cached for: {_age(policy.get('max_age'))}")
                return "MTA-STS policy found", "", items
            case "mtaStsFetchError":
                self.sts_error = reason
                return "The MTA-STS policy could not be fetched", reason, []
            case "mtaStsNotFound":
                self.sts_mode = "none"
                return "No MTA-STS policy", "The domain does not require TLS through MTA-STS.", []
            case "tlsRptLookupStart":
                return "Looking up where TLS reports go (TLS-RPT)", "", []
            case "tlsRptLookupSuccess":
                for rua in stage.data.get("rua") or []:
                    if isinstance(rua, dict):
                        self.tlsrpt.append(str(rua.get("email") or rua.get("url") or ""))
                return "TLS reports are sent to", "", list(self.tlsrpt)
            case "tlsRptLookupError":
                return "The TLS-RPT lookup failed", reason, []
            case "tlsRptNotFound":
                return "No TLS reporting address", "", []
            case "deliveryAttemptStart":
                name = stage.text("hostname") or "?"
                self.host = self.hosts.setdefault(name, HostResult(name))
                self.ehlo_count = 0
                return f"Trying {name}", "", []
            case "mtaStsVerifySuccess":
                return f"{host} is allowed by the MTA-STS policy", "", []
            case "mtaStsVerifyError":
                self._problem(stage)
                return f"{host} is not allowed by the MTA-STS policy", f"{reason}. This server is skipped.", []
            case "tlsaLookupStart":
                return "Looking up DANE (TLSA) records", "", []
            case "tlsaLookupSuccess":
                record = stage.data.get("record") if isinstance(stage.data.get("record"), dict) else {}
                items = []
                for entry in record.get("entries") or []:
                    if isinstance(entry, dict):
                        data = entry.get("data") or []
                        hex_data = "".join(f"{b:02x}" for b in data if isinstance(b, int) and 0 <= b < 256)
                        kind = "server certificate" if entry.get("is_end_entity") else "issuer"
                        what = "public key" if entry.get("is_spki") else "certificate"
                        algo = "SHA-256" if entry.get("is_sha256") else "SHA-512"
                        items.append(f"{kind}, {what}, {algo}: {hex_data}")
                return "DANE records found", "", items
            case "tlsaNotFound":
                return "No DANE records", reason, []
            case "tlsaLookupError":
                return "The DANE lookup failed", reason, []
            case "ipLookupStart":
                return f"Resolving the addresses of {host}", "", []
            case "ipLookupSuccess":
                ips = [str(ip) for ip in stage.data.get("remote_ips") or []]
                if self.host:
                    self.host.ips = ips
                return f"{host} has {_plural(len(ips), 'address', 'addresses')}", "", ips
            case "ipLookupError":
                self._problem(stage)
                return f"The addresses of {host} could not be resolved", reason, []
            case "connectionStart":
                self.ip = stage.text("remote_ip")
                return f"Connecting to {self.ip or host} on port 25", "", []
            case "connectionSuccess":
                return "Connected", "", []
            case "connectionError":
                self._problem(stage)
                return f"Could not connect to {self.ip or host}", reason, []
            case "readGreetingStart":
                return "Waiting for the server's greeting", "", []
            case "readGreetingSuccess":
                return "The server greeted us", "", []
            case "readGreetingError":
                self._problem(stage)
                return "The server did not greet us properly", reason, []
            case "ehloStart":
                self.ehlo_count += 1
                return ("Saying EHLO" if self.ehlo_count == 1 else "Saying EHLO again, over TLS"), "", []
            case "ehloSuccess":
                return "EHLO accepted", "", []
            case "ehloError":
                self._problem(stage)
                return "EHLO was refused", reason, []
            case "startTlsStart":
                return "Starting TLS (STARTTLS)", "", []
            case "startTlsSuccess":
                if self.host:
                    self.host.tls = True
                return "TLS is up", "", []
            case "startTlsError":
                if self.host:
                    self.host.tls = False
                self._problem(stage)
                return "TLS could not be started", reason, []
            case "daneVerifySuccess":
                if self.host:
                    self.host.dane = True
                return "The certificate matches the DANE records", "", []
            case "daneVerifyError":
                if self.host:
                    self.host.dane = False
                return "The certificate does not match the DANE records", reason, []
            case "mailFromStart":
                return "Sending MAIL FROM:<> (a test without a sender)", "", []
            case "mailFromSuccess":
                return "The sender was accepted", "", []
            case "mailFromError":
                self._problem(stage)
                return "The sender was refused", reason, []
            case "rcptToStart":
                return f"Asking whether {self.email} is accepted (RCPT TO)", "", []
            case "rcptToSuccess":
                if self.host:
                    self.host.accepted = True
                    self.delivered = self.host
                return f"{self.email} is accepted", "", []
            case "rcptToError":
                self._problem(stage)
                return f"{self.email} was refused", reason, []
            case "quitStart":
                return "Closing the connection (QUIT)", "", []
            case "quitCompleted":
                if not self.email and self.host and self.host.tls:
                    self.host.accepted = True
                    self.delivered = self.host
                return "Connection closed", "", []
            case "completed":
                self.completed = True
                return "Check finished", "", []
        return t, reason, []

    # --- conclusions -----------------------------------------------------------------------
    def verdict(self) -> Verdict:
        if self.mx_error:
            if "null mx" in self.mx_error.lower():
                return Verdict(
                    "error",
                    f"{self.domain} does not accept mail",
                    "The domain publishes a “null MX” record: it says it receives no e-mail at all.",
                )
            return Verdict(
                "error",
                f"Mail to {self.target} cannot be delivered",
                f"The mail servers (MX records) of {self.domain} could not be found: {self.mx_error}. "
                "Check the spelling, or the domain's DNS.",
            )
        notes = self._notes()
        if self.delivered is not None:
            host = self.delivered
            tls = " over TLS" + (" with a DANE-verified certificate" if host.dane else "") if host.tls else ""
            if self.email:
                return Verdict(
                    "ok",
                    f"{self.email} accepts mail",
                    f"{host.name} accepted the recipient{tls}. Mail from this server should be delivered.",
                    notes,
                )
            return Verdict(
                "ok",
                f"{self.domain} can receive mail",
                f"Stalwart reached {host.name} and started TLS{' (DANE verified)' if host.dane else ''}. "
                "To check one mailbox as well, enter its address.",
                notes,
            )
        if self.interrupted:
            return Verdict(
                "warn",
                "The check did not finish",
                f"{self.interrupted} The steps above are what Stalwart reported until then; run the check again.",
                notes,
            )
        problems = [(t, reason, host.name) for host in self.hosts.values() for t, reason in host.problems]
        if not problems:
            if not self.mx:
                return Verdict("warn", "Nothing was checked", "Stalwart reported no mail servers to try.", notes)
            return Verdict(
                "warn", "Delivery was not confirmed", "Stalwart tried the mail servers without a clear result.", notes
            )
        kind, reason, host = max(problems, key=lambda p: _ERROR_RANK.get(p[0], 0))
        explanations = {
            "rcptToError": (
                f"The recipient {self.email} was refused",
                f"{host} answered: {reason}. The address may not exist, be full or be blocked; "
                "ask the recipient to check it.",
            ),
            "mailFromError": (
                "The receiving server refused to start a message",
                f"{host} answered MAIL FROM with: {reason}. Stalwart's address may be blocked there.",
            ),
            "startTlsError": (
                "TLS could not be established",
                f"{host}: {reason}. Stalwart only falls back to an unencrypted connection when neither "
                "MTA-STS nor DANE require TLS for this domain.",
            ),
            "ehloError": ("The receiving server refused the conversation", f"{host} answered EHLO with: {reason}."),
            "readGreetingError": ("The receiving server did not greet properly", f"{host}: {reason}."),
            "connectionError": (
                f"No mail server of {self.domain} could be reached",
                f"{reason}. The servers may be down, or port 25 may be blocked between Stalwart and them.",
            ),
            "ipLookupError": ("The mail servers' addresses could not be resolved", f"{host}: {reason}."),
            "mtaStsVerifyError": (
                "No mail server is allowed by the domain's MTA-STS policy",
                f"The policy allows {', '.join(self.sts_patterns) or 'no server'}, but the MX records name "
                f"{', '.join(name for name, _ in self.mx)}. The domain must fix its policy or its MX records.",
            ),
        }
        headline, explanation = explanations.get(kind, ("Delivery failed", f"{host}: {reason}"))
        return Verdict("error", headline, explanation, notes)

    def _notes(self) -> tuple[str, ...]:
        notes = []
        if self.sts_error:
            notes.append(f"The MTA-STS policy could not be fetched: {self.sts_error}.")
        if any(host.dane is False for host in self.hosts.values()):
            notes.append("A server's certificate did not match its DANE records.")
        failed = [host.name for host in self.hosts.values() if host.problems and host is not self.delivered]
        if failed and self.delivered is not None:
            notes.append(f"Before that, {', '.join(failed)} failed.")
        return tuple(notes)

    def summary(self, *, when: datetime, version: str = "") -> str:
        """Plain text for a ticket."""
        verdict = self.verdict()
        lines = [
            f"Delivery check: {self.target}",
            f"When: {when:%Y-%m-%d %H:%M:%S %Z}".rstrip() + (f" (Stalwart {version})" if version else ""),
            f"Result: {verdict.level.upper()} - {verdict.headline}",
            verdict.explanation,
            *verdict.notes,
            "",
            "MX: " + (", ".join(f"{name} ({pref})" for name, pref in self.mx) or self.mx_error or "unknown"),
            "MTA-STS: "
            + (
                f"{self.sts_mode} ({', '.join(self.sts_patterns)})"
                if self.sts_patterns
                else self.sts_mode or self.sts_error or "unknown"
            ),
            "TLS-RPT: " + (", ".join(self.tlsrpt) or "none"),
        ]
        for host in self.hosts.values():
            facts = [", ".join(host.ips) or "no address"]
            if host.tls is not None:
                facts.append("TLS ok" if host.tls else "TLS failed")
            if host.dane is not None:
                facts.append("DANE ok" if host.dane else "DANE mismatch")
            if host.accepted:
                facts.append("accepted")
            facts.extend(f"{kind}: {reason}" for kind, reason in host.problems)
            lines.append(f"Host {host.name}: " + "; ".join(facts))
        lines += ["", f"Steps ({len(self.steps)} reported in {self.elapsed:.1f} s; starts left out):"]
        for step in self.steps:
            if step.outcome == "start":
                continue
            took = f" ({step.elapsed} ms)" if step.elapsed is not None else ""
            detail = f": {step.detail}" if step.detail and step.outcome in ("error", "notFound") else ""
            items = f": {', '.join(step.items)}" if step.items and not detail and len(step.items) <= 4 else ""
            lines.append(f"  [{step.mark}] {step.title}{took}{detail}{items}")
        return "\n".join(lines)
