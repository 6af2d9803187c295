"""Typed DMARC, TLS and ARF reports (api-behaviour §8.2, the mail-auth crate's serde shapes).

Parsing is lenient about missing keys (reports come from anyone on the Internet and
Stalwart only re-serialises what it could read) but every value shown is a plain string
or number: nothing from a report is ever trusted as markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

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


# --------------------------------------------------------------------------- DMARC


@dataclass(frozen=True, slots=True)
class AuthResult:
    domain: str
    detail: str  # DKIM selector or SPF scope
    result: str
    human_result: str


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
            source_ip=_s(row.get("source_ip")),
            count=_n(row.get("count")),
            disposition=_s(evaluated.get("disposition")),
            dkim=_s(evaluated.get("dkim")),
            spf=_s(evaluated.get("spf")),
            reasons=tuple(
                (_s(_dict(r).get("type_")), _s(_dict(r).get("comment"))) for r in _list(evaluated.get("reason"))
            ),
            envelope_to=_s(identifiers.get("envelope_to")),
            envelope_from=_s(identifiers.get("envelope_from")),
            header_from=_s(identifiers.get("header_from")),
            dkim_results=tuple(
                AuthResult(_s(d.get("domain")), _s(d.get("selector")), _s(d.get("result")), _s(d.get("human_result")))
                for d in map(_dict, _list(auth.get("dkim")))
            ),
            spf_results=tuple(
                AuthResult(_s(d.get("domain")), _s(d.get("scope")), _s(d.get("result")), _s(d.get("human_result")))
                for d in map(_dict, _list(auth.get("spf")))
            ),
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
            org_name=_s(meta.get("org_name")),
            email=_s(meta.get("email")),
            extra_contact_info=_s(meta.get("extra_contact_info")),
            report_id=_s(meta.get("report_id")),
            begin=from_timestamp(date_range.get("begin")),
            end=from_timestamp(date_range.get("end")),
            errors=_strings(meta.get("error")),
            policy=DmarcPolicy(
                domain=_s(policy.get("domain")),
                adkim=_s(policy.get("adkim")),
                aspf=_s(policy.get("aspf")),
                p=_s(policy.get("p")),
                sp=_s(policy.get("sp")),
                testing=policy.get("testing") is True,
                fo=_s(policy.get("fo")),
            ),
            records=tuple(DmarcRecord.from_api(r) for r in _list(data.get("record"))),
        )


# --------------------------------------------------------------------------- TLS

TLS_RESULT_TEXT = {
    "starttls-not-supported": "STARTTLS not supported",
    "certificate-host-mismatch": "Certificate host mismatch",
    "certificate-expired": "Certificate expired",
    "certificate-not-trusted": "Certificate not trusted",
    "validation-failure": "Validation failure",
    "tlsa-invalid": "Invalid TLSA record",
    "dnssec-invalid": "Invalid DNSSEC",
    "dane-required": "DANE required",
    "sts-policy-fetch-error": "MTA-STS policy could not be fetched",
    "sts-policy-invalid": "Invalid MTA-STS policy",
    "sts-webpki-invalid": "MTA-STS WebPKI validation failed",
}
TLS_POLICY_TEXT = {"tlsa": "DANE (TLSA)", "sts": "MTA-STS", "no-policy-found": "No policy found"}


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
        policies = []
        for item in map(_dict, _list(data.get("policies"))):
            policy = _dict(item.get("policy"))
            summary = _dict(item.get("summary"))
            policies.append(
                TlsPolicy(
                    policy_type=_s(policy.get("policy-type")),
                    policy_strings=_strings(policy.get("policy-string")),
                    domain=_s(policy.get("policy-domain")),
                    mx_hosts=_strings(policy.get("mx-host")),
                    successes=_n(summary.get("total-successful-session-count")),
                    failures=_n(summary.get("total-failure-session-count")),
                    failure_details=tuple(
                        TlsFailure(
                            result_type=_s(f.get("result-type")),
                            sending_mta_ip=_s(f.get("sending-mta-ip")),
                            receiving_mx_hostname=_s(f.get("receiving-mx-hostname")),
                            receiving_mx_helo=_s(f.get("receiving-mx-helo")),
                            receiving_ip=_s(f.get("receiving-ip")),
                            failed_sessions=_n(f.get("failed-session-count")),
                            additional_information=_s(f.get("additional-information")),
                            failure_reason_code=_s(f.get("failure-reason-code")),
                        )
                        for f in map(_dict, _list(item.get("failure-details")))
                    ),
                )
            )
        return cls(
            organization=_s(data.get("organization-name")),
            start=_time(date_range.get("start-datetime")),
            end=_time(date_range.get("end-datetime")),
            contact=_s(data.get("contact-info")),
            report_id=_s(data.get("report-id")),
            policies=tuple(policies),
        )


# --------------------------------------------------------------------------- ARF

FEEDBACK_TEXT = {
    "Abuse": "Abuse",
    "AuthFailure": "Authentication failure",
    "Fraud": "Fraud",
    "NotSpam": "Not spam",
    "Other": "Other",
    "Virus": "Virus",
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
            feedback_type=_s(data.get("feedback_type")),
            arrival_date=from_timestamp(data.get("arrival_date")),
            authentication_results=_strings(data.get("authentication_results")),
            incidents=max(1, _n(data.get("incidents"))),
            original_envelope_id=_s(data.get("original_envelope_id")),
            original_mail_from=_s(data.get("original_mail_from")),
            original_rcpt_to=_s(data.get("original_rcpt_to")),
            reported_domains=_strings(data.get("reported_domain")),
            reported_uris=_strings(data.get("reported_uri")),
            reporting_mta=_s(data.get("reporting_mta")),
            source_ip=_s(data.get("source_ip")),
            source_port=_n(data.get("source_port")),
            user_agent=_s(data.get("user_agent")),
            version=_s(data.get("version")),
            auth_failure=_s(data.get("auth_failure")),
            delivery_result=_s(data.get("delivery_result")),
            identity_alignment=_s(data.get("identity_alignment")),
            dkim_adsp_dns=_s(data.get("dkim_adsp_dns")),
            dkim_canonicalized_body=_s(data.get("dkim_canonicalized_body")),
            dkim_canonicalized_header=_s(data.get("dkim_canonicalized_header")),
            dkim_domain=_s(data.get("dkim_domain")),
            dkim_identity=_s(data.get("dkim_identity")),
            dkim_selector=_s(data.get("dkim_selector")),
            dkim_selector_dns=_s(data.get("dkim_selector_dns")),
            spf_dns=_s(data.get("spf_dns")),
            message=_text_or_bytes(data.get("message")),
            headers=_text_or_bytes(data.get("headers")),
        )


_PARSERS = {"dmarc": DmarcReport.from_api, "tls": TlsReport.from_api, "arf": ArfReport.from_api}


# --------------------------------------------------------------------------- the incoming wrapper


@dataclass(frozen=True, slots=True)
class IncomingReportId:
    """`<id>_<expires>`: the second number is when Stalwart deletes the report, not its arrival."""

    raw: str
    expires: datetime | None

    @classmethod
    def parse(cls, raw: str) -> IncomingReportId:
        _, sep, expires = raw.partition("_")
        return cls(raw, from_timestamp(int(expires)) if sep and expires.isdigit() else None)

    @property
    def valid(self) -> bool:
        first, sep, second = self.raw.partition("_")
        return bool(sep) and first.isdigit() and second.isdigit() and len(self.raw) <= 60


@dataclass(frozen=True, slots=True)
class IncomingReport:
    kind: str
    id: IncomingReportId
    sender: str
    recipients: tuple[str, ...]
    subject: str
    report: DmarcReport | TlsReport | ArfReport

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
        )
