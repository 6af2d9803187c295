"""Typed DMARC, TLS and ARF reports (api-behaviour §8.2, the mail-auth crate's serde shapes).

Parsing is lenient about missing keys (reports come from anyone on the Internet and
Stalwart only re-serialises what it could read) but every value shown is a plain string
or number: nothing from a report is ever trusted as markup.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils.translation import gettext_lazy as _

from . import errors
from .queue_types import from_timestamp, parse_time

KINDS = ("dmarc", "tls", "arf")


def _s(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def _n(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,) if value else ()
    if isinstance(value, list):
        return tuple(_s(item) for item in value if _s(item))
    return ()


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _time(value: Any) -> datetime | None:
    try:
        return parse_time(value, field="date")
    except errors.StalwartBadResponse:
        return None


def _fields(
    data: dict, convert: Callable[[Any], Any], names: str = "", *, dashed: bool = False, **renamed: str
) -> dict:
    """`{field: convert(data.get(key))}` for the space-separated field `names`, each read under
    its own name (kebab-case when `dashed`, as TLS reports write them), and for `field="key"`."""
    keys = {name: name.replace("_", "-") if dashed else name for name in names.split()} | renamed
    return {name: convert(data.get(key)) for name, key in keys.items()}


# --------------------------------------------------------------------------- DMARC


@dataclass(frozen=True, slots=True)
class AuthResult:
    domain: str
    detail: str  # DKIM selector or SPF scope
    result: str
    human_result: str

    @classmethod
    def list_from_api(cls, items: Any, detail: str) -> tuple[AuthResult, ...]:
        return tuple(
            cls(**_fields(item, _s, "domain result human_result", detail=detail)) for item in map(_dict, _list(items))
        )


@dataclass(frozen=True, slots=True)
class DmarcRecord:
    source_ip: str
    count: int
    disposition: str
    dkim: str
    spf: str
    reasons: tuple[tuple[str, str], ...]
    envelope_to: str
    envelope_from: str
    header_from: str
    dkim_results: tuple[AuthResult, ...]
    spf_results: tuple[AuthResult, ...]

    @property
    def passed(self) -> bool:
        """DMARC passes when either aligned mechanism passed."""
        return self.dkim == "Pass" or self.spf == "Pass"

    @property
    def disposition_label(self) -> str:
        return {"None": "Delivered", "Pass": "Delivered", "Unspecified": "Delivered"}.get(
            self.disposition, self.disposition or "Delivered"
        )

    @classmethod
    def from_api(cls, data: Any) -> DmarcRecord:
        data = _dict(data)
        row = _dict(data.get("row"))
        evaluated = _dict(row.get("policy_evaluated"))
        identifiers = _dict(data.get("identifiers"))
        auth = _dict(data.get("auth_results"))
        return cls(
            **_fields(row, _s, "source_ip"),
            count=_n(row.get("count")),
            **_fields(evaluated, _s, "disposition dkim spf"),
            reasons=tuple(
                (_s(r.get("type_")), _s(r.get("comment"))) for r in map(_dict, _list(evaluated.get("reason")))
            ),
            **_fields(identifiers, _s, "envelope_to envelope_from header_from"),
            dkim_results=AuthResult.list_from_api(auth.get("dkim"), "selector"),
            spf_results=AuthResult.list_from_api(auth.get("spf"), "scope"),
        )


@dataclass(frozen=True, slots=True)
class DmarcPolicy:
    domain: str
    adkim: str
    aspf: str
    p: str
    sp: str
    testing: bool
    fo: str


@dataclass(frozen=True, slots=True)
class DmarcReport:
    org_name: str
    email: str
    extra_contact_info: str
    report_id: str
    begin: datetime | None
    end: datetime | None
    errors: tuple[str, ...]
    policy: DmarcPolicy
    records: tuple[DmarcRecord, ...]

    @property
    def domain(self) -> str:
        return self.policy.domain

    @property
    def messages(self) -> int:
        return sum(r.count for r in self.records)

    @property
    def passed(self) -> int:
        return sum(r.count for r in self.records if r.passed)

    @property
    def failed(self) -> int:
        return self.messages - self.passed

    def _disposition(self, *names: str) -> int:
        return sum(r.count for r in self.records if r.disposition in names)

    @property
    def quarantined(self) -> int:
        return self._disposition("Quarantine")

    @property
    def rejected(self) -> int:
        return self._disposition("Reject")

    @property
    def delivered(self) -> int:
        return self.messages - self.quarantined - self.rejected

    @classmethod
    def from_api(cls, data: Any) -> DmarcReport:
        data = _dict(data)
        meta = _dict(data.get("report_metadata"))
        date_range = _dict(meta.get("date_range"))
        policy = _dict(data.get("policy_published"))
        return cls(
            **_fields(meta, _s, "org_name email extra_contact_info report_id"),
            **_fields(date_range, from_timestamp, "begin end"),
            errors=_strings(meta.get("error")),
            policy=DmarcPolicy(
                **_fields(policy, _s, "domain adkim aspf p sp fo"),
                testing=policy.get("testing") is True,
            ),
            records=tuple(DmarcRecord.from_api(r) for r in _list(data.get("record"))),
        )


# --------------------------------------------------------------------------- TLS

TLS_RESULT_TEXT = {
    "starttls-not-supported": _("STARTTLS not supported"),
    "certificate-host-mismatch": _("Certificate host mismatch"),
    "certificate-expired": _("Certificate expired"),
    "certificate-not-trusted": _("Certificate not trusted"),
    "validation-failure": _("Validation failure"),
    "tlsa-invalid": _("Invalid TLSA record"),
    "dnssec-invalid": _("Invalid DNSSEC"),
    "dane-required": _("DANE required"),
    "sts-policy-fetch-error": _("MTA-STS policy could not be fetched"),
    "sts-policy-invalid": _("Invalid MTA-STS policy"),
    "sts-webpki-invalid": _("MTA-STS WebPKI validation failed"),
}
TLS_POLICY_TEXT = {"tlsa": "DANE (TLSA)", "sts": "MTA-STS", "no-policy-found": _("No policy found")}


@dataclass(frozen=True, slots=True)
class TlsFailure:
    result_type: str
    sending_mta_ip: str
    receiving_mx_hostname: str
    receiving_mx_helo: str
    receiving_ip: str
    failed_sessions: int
    additional_information: str
    failure_reason_code: str

    @property
    def result_text(self) -> str:
        return TLS_RESULT_TEXT.get(self.result_type, self.result_type)

    @classmethod
    def from_api(cls, data: Any) -> TlsFailure:
        data = _dict(data)
        return cls(
            **_fields(
                data,
                _s,
                "result_type sending_mta_ip receiving_mx_hostname receiving_mx_helo receiving_ip "
                "additional_information failure_reason_code",
                dashed=True,
            ),
            failed_sessions=_n(data.get("failed-session-count")),
        )


@dataclass(frozen=True, slots=True)
class TlsPolicy:
    policy_type: str
    policy_strings: tuple[str, ...]
    domain: str
    mx_hosts: tuple[str, ...]
    successes: int
    failures: int
    failure_details: tuple[TlsFailure, ...]

    @property
    def type_text(self) -> str:
        return TLS_POLICY_TEXT.get(self.policy_type, self.policy_type)

    @classmethod
    def from_api(cls, data: Any) -> TlsPolicy:
        data = _dict(data)
        policy = _dict(data.get("policy"))
        summary = _dict(data.get("summary"))
        return cls(
            **_fields(policy, _s, "policy_type", dashed=True, domain="policy-domain"),
            **_fields(policy, _strings, policy_strings="policy-string", mx_hosts="mx-host"),
            **_fields(summary, _n, successes="total-successful-session-count", failures="total-failure-session-count"),
            failure_details=tuple(TlsFailure.from_api(f) for f in _list(data.get("failure-details"))),
        )


@dataclass(frozen=True, slots=True)
class TlsReport:
    organization: str
    start: datetime | None
    end: datetime | None
    contact: str
    report_id: str
    policies: tuple[TlsPolicy, ...]

    @property
    def successes(self) -> int:
        return sum(p.successes for p in self.policies)

    @property
    def failures(self) -> int:
        return sum(p.failures for p in self.policies)

    @property
    def domains(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p.domain for p in self.policies if p.domain))

    @classmethod
    def from_api(cls, data: Any) -> TlsReport:
        data = _dict(data)
        date_range = _dict(data.get("date-range"))
        return cls(
            **_fields(data, _s, "report_id", dashed=True, organization="organization-name", contact="contact-info"),
            **_fields(date_range, _time, start="start-datetime", end="end-datetime"),
            policies=tuple(TlsPolicy.from_api(item) for item in _list(data.get("policies"))),
        )


# --------------------------------------------------------------------------- ARF

FEEDBACK_TEXT = {
    "Abuse": _("Abuse"),
    "AuthFailure": _("Authentication failure"),
    "Fraud": _("Fraud"),
    "NotSpam": _("Not spam"),
    "Other": _("Other"),
    "Virus": _("Virus"),
}


def _text_or_bytes(value: Any) -> str:
    """`message`/`headers`: a string, or (other mail-auth versions) a list of byte values."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(b, int) and 0 <= b < 256 for b in value):
        return bytes(value).decode("utf-8", errors="replace")
    return ""


@dataclass(frozen=True, slots=True)
class ArfReport:
    feedback_type: str
    arrival_date: datetime | None
    authentication_results: tuple[str, ...]
    incidents: int
    original_envelope_id: str
    original_mail_from: str
    original_rcpt_to: str
    reported_domains: tuple[str, ...]
    reported_uris: tuple[str, ...]
    reporting_mta: str
    source_ip: str
    source_port: int
    user_agent: str
    version: str
    auth_failure: str
    delivery_result: str
    identity_alignment: str
    dkim_adsp_dns: str
    dkim_canonicalized_body: str
    dkim_canonicalized_header: str
    dkim_domain: str
    dkim_identity: str
    dkim_selector: str
    dkim_selector_dns: str
    spf_dns: str
    message: str
    headers: str

    @property
    def feedback_text(self) -> str:
        return FEEDBACK_TEXT.get(self.feedback_type, self.feedback_type)

    @property
    def is_auth_failure(self) -> bool:
        return self.feedback_type == "AuthFailure"

    @classmethod
    def from_api(cls, data: Any) -> ArfReport:
        data = _dict(data)
        return cls(
            **_fields(
                data,
                _s,
                "feedback_type original_envelope_id original_mail_from original_rcpt_to reporting_mta source_ip "
                "user_agent version auth_failure delivery_result identity_alignment dkim_adsp_dns "
                "dkim_canonicalized_body dkim_canonicalized_header dkim_domain dkim_identity dkim_selector "
                "dkim_selector_dns spf_dns",
            ),
            **_fields(
                data,
                _strings,
                "authentication_results",
                reported_domains="reported_domain",
                reported_uris="reported_uri",
            ),
            **_fields(data, _text_or_bytes, "message headers"),
            arrival_date=from_timestamp(data.get("arrival_date")),
            incidents=max(1, _n(data.get("incidents"))),
            source_port=_n(data.get("source_port")),
        )


_PARSERS = {"dmarc": DmarcReport.from_api, "tls": TlsReport.from_api, "arf": ArfReport.from_api}


# --------------------------------------------------------------------------- the incoming wrapper


#: The characters of Stalwart 0.16 object ids (a 64-bit number in base 32).
OBJECT_ID_ALPHABET = frozenset("abcdefghijklmnopqrstuvwxyz792013")


@dataclass(frozen=True, slots=True)
class IncomingReportId:
    """`<id>_<expires>`: the second number is when Stalwart deletes the report, not its arrival.

    On 0.16+ `raw` is the object's id and `expires` its `expiresAt`."""

    raw: str
    expires: datetime | None

    @classmethod
    def parse(cls, raw: str) -> IncomingReportId:
        _, sep, expires = raw.partition("_")
        return cls(raw, from_timestamp(int(expires)) if sep and expires.isdigit() else None)

    @property
    def valid(self) -> bool:
        """An id Stalwart could have made: `<id>_<expires>` (<= 0.15) or an object id (0.16+)."""
        first, sep, second = self.raw.partition("_")
        rest = bool(sep) and first.isdigit() and second.isdigit() and len(self.raw) <= 60
        return rest or self.valid_object_id

    @property
    def valid_object_id(self) -> bool:
        """A 0.16 object id: at most 13 characters of Stalwart's base-32 alphabet (a 64-bit number)."""
        return 0 < len(self.raw) <= 13 and all(ch in OBJECT_ID_ALPHABET for ch in self.raw)


@dataclass(frozen=True, slots=True, weakref_slot=True)  # rows are kept by weak reference (reports/rows.py)
class IncomingReport:
    kind: str
    id: IncomingReportId
    sender: str
    recipients: tuple[str, ...]
    subject: str
    report: DmarcReport | TlsReport | ArfReport
    #: 0.16+: when the report arrived (<= 0.15 does not say)
    received: datetime | None = None

    @classmethod
    def from_api(cls, kind: str, report_id: str, data: Any) -> IncomingReport:
        if not isinstance(data, dict) or "report" not in data:
            raise errors.StalwartBadResponse("Unexpected report.")
        return cls(
            kind=kind,
            id=IncomingReportId.parse(report_id),
            sender=_s(data.get("from")),
            recipients=_strings(data.get("to")),
            subject=_s(data.get("subject")),
            report=_PARSERS[kind](data.get("report")),
        )


@dataclass(frozen=True, slots=True)
class OutgoingReport:
    """A queued aggregate report as Stalwart would send it (§7.4)."""

    id: str
    kind: str  # "dmarc" or "tls"
    domain: str
    range_from: datetime | None
    range_to: datetime | None
    report: DmarcReport | TlsReport
    rua: tuple[str, ...]
    #: when it is sent (0.16: `deliverAt`, which a reschedule moves; <= 0.15: the id's due time)
    due: datetime | None = None

    @classmethod
    def from_api(cls, data: Any) -> OutgoingReport:
        if not isinstance(data, dict) or data.get("type") not in ("dmarc", "tls"):
            raise errors.StalwartBadResponse("Unexpected queued report.")
        kind = data["type"]
        rua = []
        for item in _list(data.get("rua")):
            item = _dict(item)
            if "uri" in item:
                size = _n(item.get("max_size"))
                rua.append(_s(item.get("uri")) + (f" (at most {size} bytes)" if size else ""))
            else:
                rua.extend(_s(value) for value in item.values())
        return cls(
            id=_s(data.get("id")),
            kind=kind,
            domain=_s(data.get("domain")),
            range_from=_time(data.get("range_from")),
            range_to=_time(data.get("range_to")),
            report=_PARSERS[kind](data.get("report")),
            rua=tuple(r for r in rua if r),
            due=_time(data.get("due")),
        )
