"""``/api/reports/{dmarc|tls|arf}``: received reports (spec §8).

Reports are stored under ``(id, expires)`` and listed newest expiry first; the list gives
``"<id>_<expires>"`` strings only. ``text`` is matched case-sensitively against lowercased
envelope fields and the report contents, as the server's ``Contains`` implementations do.
"""

from __future__ import annotations

from .dates import snowflake
from .errors import ProblemError
from .http import data_response, decode_path_element, parse_uint
from .mailflow import REPORT_RETENTION, IncomingReport, state, tenant_domains
from .routing import api_module, path_element

CLASSES = ("dmarc", "tls", "arf")


def receive_report(
    sb, kind: str, *, sender: str, to: list[str], subject: str, report: dict, arrived: int | None = None
) -> IncomingReport:
    """Store a report as the report analyser does when one arrives by mail."""
    flow = state(sb)
    arrived = sb.now() if arrived is None else arrived
    item = IncomingReport(
        id=snowflake(arrived, flow.next_sequence()),
        expires=arrived + REPORT_RETENTION,
        sender=sender,
        to=list(to),
        subject=subject,
        report=report,
    )
    flow.incoming[kind][(item.id, item.expires)] = item
    return item


def parse_report_id(value: str) -> tuple[int, int] | None:
    parts = value.split("_")
    if len(parts) < 2:
        return None
    report_id, expires = parse_uint(parts[0]), parse_uint(parts[1])
    if report_id is None or expires is None:
        return None
    return report_id, expires


# --------------------------------------------------------------------------- text search


def _has(value, text: str, *, lower: bool = False) -> bool:
    if not isinstance(value, str):
        return False
    return text in (value.lower() if lower else value)


def _dmarc_contains(report: dict, text: str) -> bool:
    meta = report.get("report_metadata") or {}
    policy = report.get("policy_published") or {}
    if (
        _has(policy.get("domain"), text)
        or _has(meta.get("org_name"), text, lower=True)
        or _has(meta.get("report_id"), text)
        or _has(meta.get("extra_contact_info"), text, lower=True)
    ):
        return True
    for record in report.get("record") or []:
        identifiers = record.get("identifiers") or {}
        auth = record.get("auth_results") or {}
        row = record.get("row") or {}
        if (
            _has(identifiers.get("envelope_from"), text)
            or _has(identifiers.get("header_from"), text)
            or _has(identifiers.get("envelope_to"), text)
            or _has(row.get("source_ip"), text)
        ):
            return True
        for dkim in auth.get("dkim") or []:
            if (
                _has(dkim.get("domain"), text)
                or _has(dkim.get("selector"), text)
                or _has(dkim.get("human_result"), text)
            ):
                return True
        for spf in auth.get("spf") or []:
            if _has(spf.get("domain"), text) or _has(spf.get("human_result"), text):
                return True
    return False


def _tls_contains(report: dict, text: str) -> bool:
    if (
        _has(report.get("organization-name"), text, lower=True)
        or _has(report.get("contact-info"), text, lower=True)
        or _has(report.get("report-id"), text)
    ):
        return True
    for policy in report.get("policies") or []:
        details = policy.get("policy") or {}
        if _has(details.get("policy-domain"), text):
            return True
        if any(_has(s, text, lower=True) for s in details.get("policy-string") or []):
            return True
        if any(_has(s, text, lower=True) for s in details.get("mx-host") or []):
            return True
        for failure in policy.get("failure-details") or []:
            keys = (
                "sending-mta-ip",
                "receiving-ip",
                "receiving-mx-hostname",
                "receiving-mx-helo",
                "additional-information",
                "failure-reason-code",
            )
            if any(_has(failure.get(key), text) for key in keys):
                return True
    return False


_ARF_TEXT_FIELDS = (
    "original_envelope_id",
    "original_mail_from",
    "original_rcpt_to",
    "reporting_mta",
    "user_agent",
    "dkim_adsp_dns",
    "dkim_canonicalized_body",
    "dkim_canonicalized_header",
    "dkim_domain",
    "dkim_identity",
    "dkim_selector",
    "dkim_selector_dns",
    "spf_dns",
    "message",
    "headers",
)


def _arf_contains(report: dict, text: str) -> bool:
    for key in ("authentication_results", "reported_domain", "reported_uri"):
        if any(_has(item, text) for item in report.get(key) or []):
            return True
    return any(_has(report.get(key), text) for key in _ARF_TEXT_FIELDS)


_CONTAINS = {"dmarc": _dmarc_contains, "tls": _tls_contains, "arf": _arf_contains}


def report_contains(kind: str, item: IncomingReport, text: str) -> bool:
    return (
        text in item.sender.lower()
        or any(text in to.lower() for to in item.to)
        or text in item.subject.lower()
        or _CONTAINS[kind](item.report, text)
    )


# --------------------------------------------------------------------------- selection


def select_reports(sb, kind: str, params, tenant: list[str] | None) -> tuple[list[tuple[int, int]], int]:
    text = params.get("text")
    page = params.get_uint("page") or 0
    limit = params.get_uint("limit") or 0
    max_total = params.get_uint("max-total") or 0
    offset = max(page - 1, 0) * limit
    reports = state(sb).incoming[kind]
    keys: list[tuple[int, int]] = []
    total = 0
    # Keys are ordered by expiry, then id; the list walks them newest first.
    for report_id, expires in sorted(reports, key=lambda key: (key[1], key[0]), reverse=True):
        item = reports[(report_id, expires)]
        if text is not None and not report_contains(kind, item, text):
            continue
        if tenant is not None and not item.has_domain(tenant):
            continue
        if offset == 0:
            if limit == 0 or len(keys) < limit:
                keys.append((report_id, expires))
        else:
            offset -= 1
        total += 1
        if max_total and total >= max_total:
            break
    return keys, total


# --------------------------------------------------------------------------- routing


@api_module("reports")
def handle_reports(sb, req):
    access = req.access
    tenant = tenant_domains(sb, access)
    kind = path_element(req, 1) or ""
    raw_item = path_element(req, 2)
    item = decode_path_element(raw_item) if raw_item is not None else None
    method = req.method
    if kind not in CLASSES:
        raise ProblemError.not_found()
    reports = state(sb).incoming[kind]

    if item is None and method == "GET":
        access.require("incoming-report-list")
        keys, total = select_reports(sb, kind, req.params, tenant)
        return data_response({"items": [f"{i}_{e}" for i, e in keys], "total": total})
    if item is not None and method == "GET":
        access.require("incoming-report-get")
        key = parse_report_id(item)
        report = reports.get(key) if key else None
        if report is None or (tenant is not None and not report.has_domain(tenant)):
            raise ProblemError.not_found()
        return data_response(report.wire())
    if item is None and method == "DELETE":
        access.require("incoming-report-delete")
        keys, _ = select_reports(sb, kind, req.params, tenant)
        for key in keys:
            reports.pop(key, None)
        return data_response(bool(keys))
    if item is not None and method == "DELETE":
        access.require("incoming-report-delete")
        key = parse_report_id(item)
        if key is None:
            raise ProblemError.not_found()
        report = reports.get(key)
        if tenant is not None and report is not None and not report.has_domain(tenant):
            raise ProblemError.not_found()
        reports.pop(key, None)
        return data_response(True)
    raise ProblemError.not_found()
