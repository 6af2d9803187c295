"""The ≤0.15 report documents (RFC 7489 / RFC 8460 / RFC 5965 as the REST API returns them)
rewritten as the 0.16 nested objects ``x:DmarcReport``, ``x:TlsReport`` and
``x:ArfFeedbackReport`` (objects.md §13: every property present, absent values ``null``,
lists as index-keyed objects, sets as ``{"value": true}``)."""

from __future__ import annotations

import re

from .store import utc


def olist(items) -> dict:
    return {str(i): item for i, item in enumerate(items or [])}


def oset(items) -> dict:
    return {str(item): True for item in items or [] if item is not None}


def _lower_first(value):
    if not isinstance(value, str) or not value:
        return value
    return value[0].lower() + value[1:]


def _camel(value):
    """``certificate-expired`` / ``Certificate_Expired`` / ``TempError`` → ``certificateExpired`` / ``tempError``."""
    if not isinstance(value, str) or not value:
        return value
    parts = [p for p in re.split(r"[-_ ]", value) if p]
    if len(parts) == 1:
        return _lower_first(parts[0])
    return parts[0].lower() + "".join(p[:1].upper() + p[1:].lower() for p in parts[1:])


# RFC 7489 `fo` tags (the REST API's one string, e.g. "1" or "0:d") as the 0.16 set members.
_FO = {"0": "all", "1": "any", "d": "dkimFailure", "s": "spfFailure"}


def _fo_tags(fo) -> list:
    return fo if isinstance(fo, list) else str(fo or "").split(":")


def _fo(value):
    value = str(value).strip()
    return _FO.get(value, _camel(value)) if value else None


def _epoch_utc(value):
    return utc(int(value)) if isinstance(value, int | float) else value


def dmarc(report: dict) -> dict:
    meta = report.get("report_metadata") or {}
    policy = report.get("policy_published") or {}
    date_range = meta.get("date_range") or {}
    fo = policy.get("fo")
    return {
        "version": float(report.get("version") or 1.0),
        "orgName": meta.get("org_name"),
        "email": meta.get("email"),
        "extraContactInfo": meta.get("extra_contact_info"),
        "reportId": meta.get("report_id"),
        "dateRangeBegin": _epoch_utc(date_range.get("begin")),
        "dateRangeEnd": _epoch_utc(date_range.get("end")),
        "errors": oset(meta.get("error")),
        "policyDomain": policy.get("domain"),
        "policyVersion": policy.get("version_published"),
        "policyAdkim": _camel(policy.get("adkim") or "Unspecified"),
        "policyAspf": _camel(policy.get("aspf") or "Unspecified"),
        "policyDisposition": _camel(policy.get("p") or "Unspecified"),
        "policySubdomainDisposition": _camel(policy.get("sp") or "Unspecified"),
        "policyNp": _camel(policy.get("np") or "Unspecified"),
        "policyTestingMode": bool(policy.get("testing")),
        "policyFailureReportingOptions": oset(_fo(x) for x in _fo_tags(fo)),
        "policyDiscoveryMethod": "unspecified",
        "generator": None,
        "extensions": olist(report.get("extensions")),
        "records": olist(_dmarc_record(r) for r in report.get("record") or report.get("records") or []),
    }


def _dmarc_record(record: dict) -> dict:
    row = record.get("row") or {}
    evaluated = row.get("policy_evaluated") or {}
    ident = record.get("identifiers") or {}
    auth = record.get("auth_results") or {}
    return {
        "sourceIp": row.get("source_ip"),
        "count": row.get("count") or 0,
        "evaluatedDisposition": _camel(evaluated.get("disposition") or "Unspecified"),
        "evaluatedDkim": _camel(evaluated.get("dkim") or "Unspecified"),
        "evaluatedSpf": _camel(evaluated.get("spf") or "Unspecified"),
        "policyOverrideReasons": olist(
            {"overrideType": (r.get("type_") or r.get("type") or "Other"), "comment": r.get("comment")}
            for r in evaluated.get("reason") or []),
        "envelopeTo": ident.get("envelope_to"),
        "envelopeFrom": ident.get("envelope_from"),
        "headerFrom": ident.get("header_from"),
        "dkimResults": olist({"domain": d.get("domain"), "selector": d.get("selector"),
                              "result": _camel(d.get("result")), "humanResult": d.get("human_result")}
                             for d in auth.get("dkim") or []),
        "spfResults": olist({"domain": s.get("domain"), "scope": _camel(s.get("scope")),
                             "result": _camel(s.get("result")), "humanResult": s.get("human_result")}
                            for s in auth.get("spf") or []),
        "extensions": olist(record.get("extensions")),
    }


def tls(report: dict) -> dict:
    date_range = report.get("date-range") or {}
    return {
        "organizationName": report.get("organization-name"),
        "contactInfo": report.get("contact-info"),
        "reportId": report.get("report-id"),
        "dateRangeStart": date_range.get("start-datetime"),
        "dateRangeEnd": date_range.get("end-datetime"),
        "policies": olist(_tls_policy(p) for p in report.get("policies") or []),
    }


def _tls_policy(item: dict) -> dict:
    policy = item.get("policy") or {}
    summary = item.get("summary") or {}
    return {
        "policyType": {"no-policy-found": "noPolicyFound"}.get(policy.get("policy-type"),
                                                              policy.get("policy-type") or "other"),
        "policyStrings": oset(policy.get("policy-string")),
        "policyDomain": policy.get("policy-domain"),
        "mxHosts": oset(policy.get("mx-host")),
        "totalSuccessfulSessions": summary.get("total-successful-session-count") or 0,
        "totalFailedSessions": summary.get("total-failure-session-count") or 0,
        "failureDetails": olist(
            {"resultType": _camel(f.get("result-type") or "other"), "sendingMtaIp": f.get("sending-mta-ip"),
             "receivingMxHostname": f.get("receiving-mx-hostname"), "receivingMxHelo": f.get("receiving-mx-helo"),
             "receivingIp": f.get("receiving-ip"), "failedSessionCount": f.get("failed-session-count") or 0,
             "additionalInformation": f.get("additional-information"),
             "failureReasonCode": f.get("failure-reason-code")}
            for f in item.get("failure-details") or []),
    }


_ARF_STRINGS = ("original_envelope_id", "original_mail_from", "original_rcpt_to", "reporting_mta", "source_ip",
                "user_agent", "dkim_adsp_dns", "dkim_canonicalized_body", "dkim_canonicalized_header",
                "dkim_domain", "dkim_identity", "dkim_selector", "dkim_selector_dns", "spf_dns", "message",
                "headers")


def arf(report: dict) -> dict:
    out = {
        "feedbackType": _camel(report.get("feedback_type") or "Other"),
        "version": report.get("version") or 1,
        "arrivalDate": _epoch_utc(report.get("arrival_date")),
        "incidents": report.get("incidents") or 0,
        "authenticationResults": oset(report.get("authentication_results")),
        "reportedDomains": oset(report.get("reported_domain")),
        "reportedUris": oset(report.get("reported_uri")),
        "sourcePort": report.get("source_port") or None,
        "authFailure": _camel(report.get("auth_failure") or "Unspecified"),
        "deliveryResult": _camel(report.get("delivery_result") or "Unspecified"),
        "identityAlignment": _camel(report.get("identity_alignment") or "Unspecified"),
    }
    for key in _ARF_STRINGS:
        out[_camel(key)] = report.get(key)
    return out


SHAPES = {"dmarc": dmarc, "tls": tls, "arf": arf}
