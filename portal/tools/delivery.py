"""Delivery troubleshooting in words: each stage as a step, then a verdict and a ticket summary.

`DeliveryRun` is fed the stages as they arrive (`add()` returns the step to show) and knows,
at any point, what the check found so far. Everything here is plain text; the templates
escape it.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from datetime import datetime

from django.utils import translation
from django.utils.formats import get_format, number_format
from django.utils.translation import get_language, gettext, gettext_lazy, ngettext

from portal.markup import kept
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
    #: its words in the language of the check (a run looks them up once for all its steps)
    words: StepWords = field(default_factory=lambda: step_words(), compare=False, repr=False)

    @property
    def mark(self) -> str:
        """A one-word status for the summary and for screen readers."""
        marks = self.words.marks
        return marks.get(self.outcome) or marks["info"]

    @property
    def elapsed_text(self) -> str:
        """What Stalwart measured, in words ("28 ms"); empty when it measured nothing."""
        return "" if self.elapsed is None else self.words.took % {"elapsed": self.elapsed}

    @property
    def at_text(self) -> str:
        """When the portal saw the step, counted from the start ("+1.5 s")."""
        words = self.words
        if self.at >= 1000:  # thousands may be grouped
            seconds = number_format(round(self.at, 1), 1)
        else:  # what number_format writes, without its look-ups
            seconds = f"{self.at:.1f}".replace(".", words.decimal)
        return words.at % {"seconds": seconds}


# Marks are looked up for every step relayed: translated once each, when used.
_MARKS = {
    "success": gettext_lazy("ok"),
    "error": gettext_lazy("failed"),
    "notFound": gettext_lazy("none"),
    "completed": gettext_lazy("done"),
    "start": "…",
    "info": gettext_lazy("info"),
}


@dataclass(frozen=True, slots=True)
class StepWords:
    marks: dict[str, str]
    took: str  # "%(elapsed)s ms"
    at: str  # "+%(seconds)s s"
    since: str  # what the "+1.5 s" counts from
    decimal: str


@functools.lru_cache(maxsize=16)
def _words_in(language: str | None) -> StepWords:
    return StepWords(
        marks={outcome: str(mark) for outcome, mark in _MARKS.items()},
        took=gettext("%(elapsed)s ms"),
        at=gettext("+%(seconds)s s"),
        since=gettext("Time since the check started"),
        decimal=str(get_format("DECIMAL_SEPARATOR")),
    )


def step_words() -> StepWords:
    """A step's words in the current language, looked up once per language: with a thousand
    checks relayed at once, translating them and formatting the time for every step were a
    tenth of the relay's work (and finding the current language for every step, a twentieth:
    a check keeps its steps' words from its start)."""
    return kept(_words_in)(get_language())


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


def _age(seconds: object) -> str:
    if not isinstance(seconds, int):
        return ""
    if seconds % 86400 == 0:
        days = seconds // 86400
        return ngettext("%(count)s day", "%(count)s days", days) % {"count": days}
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return ngettext("%(count)s hour", "%(count)s hours", hours) % {"count": hours}
    return f"{seconds} s"


@functools.lru_cache(maxsize=1024)
def _translated(language: str | None, message: str) -> str:
    with translation.override(language):
        return gettext(message)


def _no_reason() -> str:
    return gettext("no reason given")


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
        self.language = get_language()
        self.words = kept(_words_in)(self.language)
        self._translate = kept(_translated)

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
            words=self.words,
        )
        self.steps.append(step)
        return step

    def interrupt(self, reason: str) -> Step:
        """The check stopped before `completed` (stalled, broken, refused)."""
        self.interrupted = reason
        step = Step(
            len(self.steps) + 1,
            "error",
            gettext("The check stopped"),
            reason,
            at=time.monotonic() - self.started,
            words=self.words,
        )
        self.steps.append(step)
        return step

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def _problem(self, stage: DeliveryStage) -> None:
        if self.host is not None:
            self.host.problems.append((stage.type, stage.reason or _no_reason()))

    def _gettext(self, message: str) -> str:
        """`gettext` in the check's language, each message looked up once per language: with
        a thousand checks relayed at once, finding the current language for every step's
        words was a twentieth of the relay's work."""
        return self._translate(self.language, message)

    def _describe(self, stage: DeliveryStage) -> tuple[str, str, list[str]]:  # noqa: C901 - one case per stage
        gettext = self._gettext
        t, reason = stage.type, stage.reason
        host = self.host.name if self.host else gettext("the server")
        match t:
            case "mxLookupStart":
                domain = stage.text("domain") or self.domain
                return gettext("Looking up the mail servers (MX) of %(domain)s") % {"domain": domain}, "", []
            case "mxLookupSuccess":
                for mx in stage.data.get("mxs") or []:
                    if isinstance(mx, dict):
                        for exchange in mx.get("exchanges") or []:
                            self.mx.append((str(exchange), int(mx.get("preference") or 0)))
                items = [
                    gettext("%(name)s (preference %(preference)s)") % {"name": name, "preference": pref}
                    for name, pref in self.mx
                ]
                count = len(self.mx)
                return (
                    ngettext("Found %(count)s mail server", "Found %(count)s mail servers", count) % {"count": count},
                    "",
                    items,
                )
            case "mxLookupError":
                self.mx_error = reason or _no_reason()
                return gettext("The MX lookup failed"), reason, []
            case "mtaStsFetchStart":
                return gettext("Fetching the MTA-STS policy"), "", []
            case "mtaStsFetchSuccess":
                policy = stage.data.get("policy") if isinstance(stage.data.get("policy"), dict) else {}
                self.sts_mode = str(policy.get("mode") or "none")
                for pattern in policy.get("mx") or []:
                    if isinstance(pattern, dict) and "equals" in pattern:
                        self.sts_patterns.append(str(pattern["equals"]))
                    elif isinstance(pattern, dict) and "startsWith" in pattern:
                        self.sts_patterns.append(f"*.{pattern['startsWith']}")
                allowed = ", ".join(self.sts_patterns) or gettext("none")
                items = [
                    gettext("Mode: %(mode)s") % {"mode": self.sts_mode},
                    gettext("Allowed mail servers: %(servers)s") % {"servers": allowed},
                ]
                if policy.get("id"):
                    items.append(gettext("Policy id: %(id)s") % {"id": policy["id"]})
                if _age(policy.get("max_age")):
                    items.append(gettext("Cached for: %(age)s") % {"age": _age(policy.get("max_age"))})
                return gettext("MTA-STS policy found"), "", items
            case "mtaStsFetchError":
                self.sts_error = reason
                return gettext("The MTA-STS policy could not be fetched"), reason, []
            case "mtaStsNotFound":
                self.sts_mode = "none"
                return gettext("No MTA-STS policy"), gettext("The domain does not require TLS through MTA-STS."), []
            case "tlsRptLookupStart":
                return gettext("Looking up where TLS reports go (TLS-RPT)"), "", []
            case "tlsRptLookupSuccess":
                for rua in stage.data.get("rua") or []:
                    if isinstance(rua, dict):
                        self.tlsrpt.append(str(rua.get("email") or rua.get("url") or ""))
                return gettext("TLS reports are sent to"), "", list(self.tlsrpt)
            case "tlsRptLookupError":
                return gettext("The TLS-RPT lookup failed"), reason, []
            case "tlsRptNotFound":
                return gettext("No TLS reporting address"), "", []
            case "deliveryAttemptStart":
                name = stage.text("hostname") or "?"
                self.host = self.hosts.setdefault(name, HostResult(name))
                self.ehlo_count = 0
                return gettext("Trying %(host)s") % {"host": name}, "", []
            case "mtaStsVerifySuccess":
                return gettext("%(host)s is allowed by the MTA-STS policy") % {"host": host}, "", []
            case "mtaStsVerifyError":
                self._problem(stage)
                return (
                    gettext("%(host)s is not allowed by the MTA-STS policy") % {"host": host},
                    gettext("%(reason)s. This server is skipped.") % {"reason": reason},
                    [],
                )
            case "tlsaLookupStart":
                return gettext("Looking up DANE (TLSA) records"), "", []
            case "tlsaLookupSuccess":
                record = stage.data.get("record") if isinstance(stage.data.get("record"), dict) else {}
                items = []
                for entry in record.get("entries") or []:
                    if isinstance(entry, dict):
                        data = entry.get("data") or []
                        hex_data = "".join(f"{b:02x}" for b in data if isinstance(b, int) and 0 <= b < 256)
                        kind = gettext("server certificate") if entry.get("is_end_entity") else gettext("issuer")
                        what = gettext("public key") if entry.get("is_spki") else gettext("certificate")
                        algo = "SHA-256" if entry.get("is_sha256") else "SHA-512"
                        items.append(f"{kind}, {what}, {algo}: {hex_data}")
                return gettext("DANE records found"), "", items
            case "tlsaNotFound":
                return gettext("No DANE records"), reason, []
            case "tlsaLookupError":
                return gettext("The DANE lookup failed"), reason, []
            case "ipLookupStart":
                return gettext("Resolving the addresses of %(host)s") % {"host": host}, "", []
            case "ipLookupSuccess":
                ips = [str(ip) for ip in stage.data.get("remote_ips") or []]
                if self.host:
                    self.host.ips = ips
                count = len(ips)
                return (
                    ngettext("%(host)s has %(count)s address", "%(host)s has %(count)s addresses", count)
                    % {"host": host, "count": count},
                    "",
                    ips,
                )
            case "ipLookupError":
                self._problem(stage)
                return gettext("The addresses of %(host)s could not be resolved") % {"host": host}, reason, []
            case "connectionStart":
                self.ip = stage.text("remote_ip")
                return gettext("Connecting to %(host)s on port 25") % {"host": self.ip or host}, "", []
            case "connectionSuccess":
                return gettext("Connected"), "", []
            case "connectionError":
                self._problem(stage)
                return gettext("Could not connect to %(host)s") % {"host": self.ip or host}, reason, []
            case "readGreetingStart":
                return gettext("Waiting for the server's greeting"), "", []
            case "readGreetingSuccess":
                return gettext("The server greeted us"), "", []
            case "readGreetingError":
                self._problem(stage)
                return gettext("The server did not greet us properly"), reason, []
            case "ehloStart":
                self.ehlo_count += 1
                title = gettext("Saying EHLO") if self.ehlo_count == 1 else gettext("Saying EHLO again, over TLS")
                return title, "", []
            case "ehloSuccess":
                return gettext("EHLO accepted"), "", []
            case "ehloError":
                self._problem(stage)
                return gettext("EHLO was refused"), reason, []
            case "startTlsStart":
                return gettext("Starting TLS (STARTTLS)"), "", []
            case "startTlsSuccess":
                if self.host:
                    self.host.tls = True
                return gettext("TLS is up"), "", []
            case "startTlsError":
                if self.host:
                    self.host.tls = False
                self._problem(stage)
                return gettext("TLS could not be started"), reason, []
            case "daneVerifySuccess":
                if self.host:
                    self.host.dane = True
                return gettext("The certificate matches the DANE records"), "", []
            case "daneVerifyError":
                if self.host:
                    self.host.dane = False
                return gettext("The certificate does not match the DANE records"), reason, []
            case "mailFromStart":
                return gettext("Sending MAIL FROM:<> (a test without a sender)"), "", []
            case "mailFromSuccess":
                return gettext("The sender was accepted"), "", []
            case "mailFromError":
                self._problem(stage)
                return gettext("The sender was refused"), reason, []
            case "rcptToStart":
                return gettext("Asking whether %(address)s is accepted (RCPT TO)") % {"address": self.email}, "", []
            case "rcptToSuccess":
                if self.host:
                    self.host.accepted = True
                    self.delivered = self.host
                return gettext("%(address)s is accepted") % {"address": self.email}, "", []
            case "rcptToError":
                self._problem(stage)
                return gettext("%(address)s was refused") % {"address": self.email}, reason, []
            case "quitStart":
                return gettext("Closing the connection (QUIT)"), "", []
            case "quitCompleted":
                if not self.email and self.host and self.host.tls:
                    self.host.accepted = True
                    self.delivered = self.host
                return gettext("Connection closed"), "", []
            case "completed":
                self.completed = True
                return gettext("Check finished"), "", []
        return t, reason, []

    # --- conclusions -----------------------------------------------------------------------
    def verdict(self) -> Verdict:
        if self.mx_error:
            if "null mx" in self.mx_error.lower():
                return Verdict(
                    "error",
                    gettext("%(domain)s does not accept mail") % {"domain": self.domain},
                    gettext("The domain publishes a “null MX” record: it says it receives no e-mail at all."),
                )
            return Verdict(
                "error",
                gettext("Mail to %(target)s cannot be delivered") % {"target": self.target},
                gettext(
                    "The mail servers (MX records) of %(domain)s could not be found: %(reason)s. "
                    "Check the spelling, or the domain's DNS."
                )
                % {"domain": self.domain, "reason": self.mx_error},
            )
        notes = self._notes()
        if self.delivered is not None:
            host = self.delivered
            if self.email:
                if host.tls and host.dane:
                    text = gettext(
                        "%(host)s accepted the recipient over TLS with a DANE-verified certificate. "
                        "Mail from this server should be delivered."
                    )
                elif host.tls:
                    text = gettext(
                        "%(host)s accepted the recipient over TLS. Mail from this server should be delivered."
                    )
                else:
                    text = gettext("%(host)s accepted the recipient. Mail from this server should be delivered.")
                return Verdict(
                    "ok",
                    gettext("%(address)s accepts mail") % {"address": self.email},
                    text % {"host": host.name},
                    notes,
                )
            if host.dane:
                text = gettext(
                    "Stalwart reached %(host)s and started TLS (DANE verified). "
                    "To check one mailbox as well, enter its address."
                )
            else:
                text = gettext(
                    "Stalwart reached %(host)s and started TLS. To check one mailbox as well, enter its address."
                )
            return Verdict(
                "ok",
                gettext("%(domain)s can receive mail") % {"domain": self.domain},
                text % {"host": host.name},
                notes,
            )
        if self.interrupted:
            return Verdict(
                "warn",
                gettext("The check did not finish"),
                gettext("%(reason)s The steps above are what Stalwart reported until then; run the check again.")
                % {"reason": self.interrupted},
                notes,
            )
        problems = [(t, reason, host.name) for host in self.hosts.values() for t, reason in host.problems]
        if not problems:
            if not self.mx:
                return Verdict(
                    "warn",
                    gettext("Nothing was checked"),
                    gettext("Stalwart reported no mail servers to try."),
                    notes,
                )
            return Verdict(
                "warn",
                gettext("Delivery was not confirmed"),
                gettext("Stalwart tried the mail servers without a clear result."),
                notes,
            )
        kind, reason, host = max(problems, key=lambda p: _ERROR_RANK.get(p[0], 0))
        values = {
            "host": host,
            "reason": reason,
            "address": self.email,
            "domain": self.domain,
            "allowed": ", ".join(self.sts_patterns) or gettext("no server"),
            "servers": ", ".join(name for name, _ in self.mx),
        }
        explanations = {
            "rcptToError": (
                gettext("The recipient %(address)s was refused"),
                gettext(
                    "%(host)s answered: %(reason)s. The address may not exist, be full or be blocked; "
                    "ask the recipient to check it."
                ),
            ),
            "mailFromError": (
                gettext("The receiving server refused to start a message"),
                gettext("%(host)s answered MAIL FROM with: %(reason)s. Stalwart's address may be blocked there."),
            ),
            "startTlsError": (
                gettext("TLS could not be established"),
                gettext(
                    "%(host)s: %(reason)s. Stalwart only falls back to an unencrypted connection when neither "
                    "MTA-STS nor DANE require TLS for this domain."
                ),
            ),
            "ehloError": (
                gettext("The receiving server refused the conversation"),
                gettext("%(host)s answered EHLO with: %(reason)s."),
            ),
            "readGreetingError": (
                gettext("The receiving server did not greet properly"),
                gettext("%(host)s: %(reason)s."),
            ),
            "connectionError": (
                gettext("No mail server of %(domain)s could be reached"),
                gettext("%(reason)s. The servers may be down, or port 25 may be blocked between Stalwart and them."),
            ),
            "ipLookupError": (
                gettext("The mail servers' addresses could not be resolved"),
                gettext("%(host)s: %(reason)s."),
            ),
            "mtaStsVerifyError": (
                gettext("No mail server is allowed by the domain's MTA-STS policy"),
                gettext(
                    "The policy allows %(allowed)s, but the MX records name %(servers)s. "
                    "The domain must fix its policy or its MX records."
                ),
            ),
        }
        headline, explanation = explanations.get(kind, (gettext("Delivery failed"), gettext("%(host)s: %(reason)s")))
        return Verdict("error", headline % values, explanation % values, notes)

    def _notes(self) -> tuple[str, ...]:
        notes = []
        if self.sts_error:
            notes.append(gettext("The MTA-STS policy could not be fetched: %(reason)s.") % {"reason": self.sts_error})
        if any(host.dane is False for host in self.hosts.values()):
            notes.append(gettext("A server's certificate did not match its DANE records."))
        failed = [host.name for host in self.hosts.values() if host.problems and host is not self.delivered]
        if failed and self.delivered is not None:
            notes.append(gettext("Before that, %(servers)s failed.") % {"servers": ", ".join(failed)})
        return tuple(notes)

    def summary(self, *, when: datetime, version: str = "") -> str:
        """Plain text for a ticket."""
        verdict = self.verdict()
        unknown = gettext("unknown")
        checked = gettext("When: %(time)s") % {"time": f"{when:%Y-%m-%d %H:%M:%S %Z}".rstrip()}
        if version:
            checked += f" (Stalwart {version})"
        lines = [
            gettext("Delivery check: %(target)s") % {"target": self.target},
            checked,
            gettext("Result: %(level)s - %(headline)s")
            % {"level": verdict.level.upper(), "headline": verdict.headline},
            verdict.explanation,
            *verdict.notes,
            "",
            "MX: " + (", ".join(f"{name} ({pref})" for name, pref in self.mx) or self.mx_error or unknown),
            "MTA-STS: "
            + (
                f"{self.sts_mode} ({', '.join(self.sts_patterns)})"
                if self.sts_patterns
                else self.sts_mode or self.sts_error or unknown
            ),
            "TLS-RPT: " + (", ".join(self.tlsrpt) or gettext("none")),
        ]
        for host in self.hosts.values():
            facts = [", ".join(host.ips) or gettext("no address")]
            if host.tls is not None:
                facts.append(gettext("TLS ok") if host.tls else gettext("TLS failed"))
            if host.dane is not None:
                facts.append(gettext("DANE ok") if host.dane else gettext("DANE mismatch"))
            if host.accepted:
                facts.append(gettext("accepted"))
            facts.extend(f"{kind}: {reason}" for kind, reason in host.problems)
            lines.append(gettext("Host %(host)s: %(facts)s") % {"host": host.name, "facts": "; ".join(facts)})
        lines += [
            "",
            ngettext(
                "Steps (%(count)s reported in %(seconds)s s; starts left out):",
                "Steps (%(count)s reported in %(seconds)s s; starts left out):",
                len(self.steps),
            )
            % {"count": len(self.steps), "seconds": f"{self.elapsed:.1f}"},
        ]
        for step in self.steps:
            if step.outcome == "start":
                continue
            took = f" ({step.elapsed} ms)" if step.elapsed is not None else ""
            detail = f": {step.detail}" if step.detail and step.outcome in ("error", "notFound") else ""
            items = f": {', '.join(step.items)}" if step.items and not detail and len(step.items) <= 4 else ""
            lines.append(f"  [{step.mark}] {step.title}{took}{detail}{items}")
        return "\n".join(lines)
