"""The report documents of Stalwart 0.16 in the shape Stalwart <= 0.15 served them.

0.16 carries DMARC (`x:DmarcReport`), TLS (`x:TlsReport`) and ARF (`x:ArfFeedbackReport`)
reports inside both the incoming (`x:<Kind>ExternalReport`) and the outgoing
(`x:<Kind>InternalReport`) objects (v0.16 objects.md §13): camelCase properties, lower-case
enum values, index-keyed lists and sets as objects. `rest_report()` turns one into the REST
shape (RFC 7489 / RFC 8460 / RFC 5965 as `/api/reports` and `/api/queue/reports` answered), so
the typed models of `portal.stalwart.report_types` parse one shape for both generations and
both directions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .wire import entries, members, obj, when


def stamp(value: Any) -> int | None:
    """A UTCDate as the seconds the REST API gave."""
    moment = when(value)
    return int(moment.timestamp()) if moment else None


def _cap(value: Any) -> Any:
    """`pass` -> `Pass`, `tempError` -> `TempError`: the enum spelling of the REST API."""
    return value[:1].upper() + value[1:] if isinstance(value, str) else value


# RFC 7489 `fo` tags of the 0.16 set `policyFailureReportingOptions`.
_FO = {"all": "0", "any": "1", "dkimFailure": "d", "spfFailure": "s"}
# TLS result types whose REST (RFC 8460) spelling is not the camelCase split at capitals.
_TLS_RESULT = {"startTlsNotSupported": "starttls-not-supported", "stsWebpkiInvalid": "sts-webpki-invalid"}
_TLS_POLICY = {"noPolicyFound": "no-policy-found"}


def _kebab(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if value in _TLS_RESULT:
        return _TLS_RESULT[value]
    return "".join(f"-{ch.lower()}" if ch.isupper() else ch for ch in value)


def _dmarc_record(record: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "row": {
            "source_ip": record.get("sourceIp"),
            "count": record.get("count"),
            "policy_evaluated": {
                "disposition": _cap(record.get("evaluatedDisposition")),
                "dkim": _cap(record.get("evaluatedDkim")),
                "spf": _cap(record.get("evaluatedSpf")),
                "reason": [
                    {"type_": _cap(reason.get("overrideType")), "comment": reason.get("comment")}
                    for reason in entries(record.get("policyOverrideReasons"))
                ],
            },
        },
        "identifiers": {
            "envelope_to": record.get("envelopeTo"),
            "envelope_from": record.get("envelopeFrom"),
            "header_from": record.get("headerFrom"),
        },
        "auth_results": {
            "dkim": [
                {
                    "domain": item.get("domain"),
                    "selector": item.get("selector"),
                    "result": _cap(item.get("result")),
                    "human_result": item.get("humanResult"),
                }
                for item in entries(record.get("dkimResults"))
            ],
            "spf": [
                {
                    "domain": item.get("domain"),
                    "scope": _cap(item.get("scope")),
                    "result": _cap(item.get("result")),
                    "human_result": item.get("humanResult"),
                }
                for item in entries(record.get("spfResults"))
            ],
        },
    }


def dmarc(report: Mapping[str, Any]) -> dict[str, Any]:
    """An x:DmarcReport as `DmarcReport.from_api` reads it."""
    fo = ":".join(_FO.get(option, option) for option in members(report.get("policyFailureReportingOptions")))
    return {
        "report_metadata": {
            "org_name": report.get("orgName"),
            "email": report.get("email"),
            "extra_contact_info": report.get("extraContactInfo"),
            "report_id": report.get("reportId"),
            "date_range": {"begin": stamp(report.get("dateRangeBegin")), "end": stamp(report.get("dateRangeEnd"))},
            "error": members(report.get("errors")),
        },
        "policy_published": {
            "domain": report.get("policyDomain"),
            "adkim": _cap(report.get("policyAdkim")),
            "aspf": _cap(report.get("policyAspf")),
            "p": _cap(report.get("policyDisposition")),
            "sp": _cap(report.get("policySubdomainDisposition")),
            "testing": report.get("policyTestingMode") is True,
            "fo": fo or None,
        },
        "record": [_dmarc_record(record) for record in entries(report.get("records"))],
    }


def _tls_policy(policy: Mapping[str, Any]) -> dict[str, Any]:
    policy_type = policy.get("policyType")
    return {
        "policy": {
            "policy-type": _TLS_POLICY.get(policy_type, policy_type) if isinstance(policy_type, str) else None,
            "policy-string": members(policy.get("policyStrings")),
            "policy-domain": policy.get("policyDomain"),
            "mx-host": members(policy.get("mxHosts")),
        },
        "summary": {
            "total-successful-session-count": policy.get("totalSuccessfulSessions"),
            "total-failure-session-count": policy.get("totalFailedSessions"),
        },
        "failure-details": [
            {
                "result-type": _kebab(failure.get("resultType")),
                "sending-mta-ip": failure.get("sendingMtaIp"),
                "receiving-mx-hostname": failure.get("receivingMxHostname"),
                "receiving-mx-helo": failure.get("receivingMxHelo"),
                "receiving-ip": failure.get("receivingIp"),
                "failed-session-count": failure.get("failedSessionCount"),
                "additional-information": failure.get("additionalInformation"),
                "failure-reason-code": failure.get("failureReasonCode"),
            }
            for failure in entries(policy.get("failureDetails"))
        ],
    }


def tls(report: Mapping[str, Any]) -> dict[str, Any]:
    """An x:TlsReport as `TlsReport.from_api` reads it (RFC 8460 JSON)."""
    return {
        "organization-name": report.get("organizationName"),
        "contact-info": report.get("contactInfo"),
        "report-id": report.get("reportId"),
        "date-range": {"start-datetime": report.get("dateRangeStart"), "end-datetime": report.get("dateRangeEnd")},
        "policies": [_tls_policy(policy) for policy in entries(report.get("policies"))],
    }


_ARF_STRINGS = (
    "originalEnvelopeId originalMailFrom originalRcptTo reportingMta sourceIp userAgent dkimAdspDns "
    "dkimCanonicalizedBody dkimCanonicalizedHeader dkimDomain dkimIdentity dkimSelector dkimSelectorDns spfDns "
    "message headers"
).split()


def _snake(name: str) -> str:
    return "".join(f"_{ch.lower()}" if ch.isupper() else ch for ch in name)


def arf(report: Mapping[str, Any]) -> dict[str, Any]:
    """An x:ArfFeedbackReport as `ArfReport.from_api` reads it."""
    shaped: dict[str, Any] = {_snake(name): report.get(name) for name in _ARF_STRINGS}
    shaped.update(
        feedback_type=_cap(report.get("feedbackType")),
        version=report.get("version"),
        arrival_date=stamp(report.get("arrivalDate")),
        incidents=report.get("incidents"),
        authentication_results=members(report.get("authenticationResults")),
        reported_domain=members(report.get("reportedDomains")),
        reported_uri=members(report.get("reportedUris")),
        source_port=report.get("sourcePort"),
        auth_failure=_cap(report.get("authFailure")),
        delivery_result=_cap(report.get("deliveryResult")),
        identity_alignment=_cap(report.get("identityAlignment")),
    )
    return shaped


_SHAPES: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {"dmarc": dmarc, "tls": tls, "arf": arf}


def rest_report(kind: str, report: Any) -> dict[str, Any]:
    """The 0.16 report document of `kind` (`dmarc`, `tls`, `arf`) in the REST shape."""
    return _SHAPES[kind](obj(report))
