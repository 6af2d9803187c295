"""Plain-language readings of DMARC analyses and spam classifications."""

from __future__ import annotations

from dataclasses import dataclass

from portal.stalwart.tools_types import AuthResult, DmarcReport, SpamClassification

RESULT_LABELS = {
    "pass": ("Pass", "ok"),
    "fail": ("Fail", "danger"),
    "softFail": ("Soft fail", "warn"),
    "tempError": ("Temporary error", "warn"),
    "permError": ("Permanent error", "danger"),
    "neutral": ("Neutral", "warn"),
    "none": ("None", "neutral"),
}


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    subject: str  # what was checked: a domain, an IP
    label: str
    tone: str  # ok, warn, danger, neutral
    details: str  # Stalwart's own words, when it gave any
    explanation: str


@dataclass(frozen=True, slots=True)
class Reading:
    level: str  # ok, warn, error
    headline: str
    explanation: str
    checks: tuple[Check, ...]


def _check(name: str, subject: str, result: AuthResult, explanation: str) -> Check:
    label, tone = RESULT_LABELS.get(result.kind, (result.kind, "neutral"))
    return Check(name, subject, label, tone, result.details, explanation)


def _spf(result: AuthResult, domain: str, ip: str) -> str:
    return {
        "pass": f"{domain} publishes an SPF record that allows {ip} to send its mail.",
        "fail": f"The SPF record of {domain} does not allow {ip}: receivers may reject the message.",
        "softFail": f"The SPF record of {domain} says {ip} is probably not allowed (~all).",
        "neutral": f"The SPF record of {domain} says nothing about {ip}.",
        "none": f"{domain} has no SPF record.",
        "tempError": "A DNS error stopped the SPF check; it may work a moment later.",
        "permError": f"The SPF record of {domain} is broken and cannot be evaluated.",
    }.get(result.kind, "")


_POLICY = {
    "reject": "Its policy is reject: receivers that follow DMARC refuse the message.",
    "quarantine": "Its policy is quarantine: receivers that follow DMARC put the message in spam.",
    "none": "Its policy is none: receivers only report the failure to the domain owner.",
    "unspecified": "",
}


def read_dmarc(report: DmarcReport, *, remote_ip: str, mail_from: str) -> Reading:
    checks = [
        _check(
            "SPF of the EHLO name",
            report.spf_ehlo_domain,
            report.spf_ehlo,
            _spf(report.spf_ehlo, report.spf_ehlo_domain, remote_ip),
        ),
        _check(
            "SPF of the sender",
            report.spf_mail_from_domain or mail_from,
            report.spf_mail_from,
            _spf(report.spf_mail_from, report.spf_mail_from_domain, remote_ip),
        ),
        _check(
            "Reverse DNS",
            f"{remote_ip} → {', '.join(report.iprev_ptr)}" if report.iprev_ptr else remote_ip,
            report.iprev,
            f"{remote_ip} has a reverse DNS name that points back to it."
            if report.iprev.passed
            else f"{remote_ip} has no matching reverse DNS name; many receivers distrust such servers.",
        ),
    ]
    if not report.dkim:
        checks.append(
            Check("DKIM", "", "None", "neutral", "", "The message has no DKIM signature (or no message was given).")
        )
    for index, result in enumerate(report.dkim, start=1):
        explanation = (
            "The signature is valid: the message was signed by its domain and not changed since."
            if result.passed
            else "The signature does not verify: the key is missing or the message was changed after signing."
        )
        checks.append(_check(f"DKIM signature {index}" if len(report.dkim) > 1 else "DKIM", "", result, explanation))
    checks.append(
        _check(
            "ARC",
            "",
            report.arc,
            {
                "none": "No ARC headers: normal unless the message was forwarded by a list or a forwarder.",
                "pass": "The ARC chain is intact: forwarders vouch for the original authentication.",
            }.get(report.arc.kind, "The ARC chain does not verify."),
        )
    )
    policy = _POLICY.get(report.dmarc_policy, "")
    if report.dmarc.kind == "none":
        checks.append(_check("DMARC", "", report.dmarc, "The From: domain publishes no DMARC record."))
        return Reading(
            "warn",
            "No DMARC policy applies",
            "The sender's domain publishes no DMARC record, so receivers judge the message on SPF, DKIM and "
            "its content alone.",
            tuple(checks),
        )
    if report.dmarc_pass:
        checks.append(
            _check(
                "DMARC",
                f"policy {report.dmarc_policy}",
                report.dmarc,
                "SPF or DKIM passed for a domain aligned with From:.",
            )
        )
        return Reading(
            "ok",
            "The message passes DMARC",
            "SPF or DKIM passed for the domain in the From: header, so receivers that check DMARC accept "
            "where it comes from.",
            tuple(checks),
        )
    checks.append(
        _check(
            "DMARC", f"policy {report.dmarc_policy}", report.dmarc, "Neither SPF nor DKIM passed for the From: domain."
        )
    )
    return Reading(
        "error",
        "The message fails DMARC",
        "Neither SPF nor DKIM passed for the domain in the From: header. "
        + (policy or "The domain has no policy for failures.")
        + " Add the sending server to the domain's SPF record, or sign its mail with DKIM.",
        tuple(checks),
    )


def spam_headline(result: SpamClassification) -> tuple[str, str]:
    """(level, headline) of a classification."""
    if result.action == "reject":
        return "error", "Stalwart would reject this message"
    if result.action == "discard":
        return "error", "Stalwart would silently discard this message"
    if result.is_spam:
        return "warn", f"Spam, with a score of {result.score:.2f}"
    return "ok", f"Not spam, with a score of {result.score:.2f}"
