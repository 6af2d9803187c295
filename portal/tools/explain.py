"""Plain-language readings of DMARC analyses and spam classifications."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from portal.stalwart.tools_types import AuthResult, DmarcReport, SpamClassification

RESULT_LABELS = {
    "pass": (_("Pass"), "ok"),
    "fail": (_("Fail"), "danger"),
    "softFail": (_("Soft fail"), "warn"),
    "tempError": (_("Temporary error"), "warn"),
    "permError": (_("Permanent error"), "danger"),
    "neutral": (_("Neutral"), "warn"),
    "none": (_("None"), "neutral"),
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


_SPF = {
    "pass": _("%(domain)s publishes an SPF record that allows %(ip)s to send its mail."),
    "fail": _("The SPF record of %(domain)s does not allow %(ip)s: receivers may reject the message."),
    "softFail": _("The SPF record of %(domain)s says %(ip)s is probably not allowed (~all)."),
    "neutral": _("The SPF record of %(domain)s says nothing about %(ip)s."),
    "none": _("%(domain)s has no SPF record."),
    "tempError": _("A DNS error stopped the SPF check; it may work a moment later."),
    "permError": _("The SPF record of %(domain)s is broken and cannot be evaluated."),
}


def _spf(result: AuthResult, domain: str, ip: str) -> str:
    text = _SPF.get(result.kind)
    return str(text) % {"domain": domain, "ip": ip} if text else ""


_POLICY = {
    "reject": _("Its policy is reject: receivers that follow DMARC refuse the message."),
    "quarantine": _("Its policy is quarantine: receivers that follow DMARC put the message in spam."),
    "none": _("Its policy is none: receivers only report the failure to the domain owner."),
    "unspecified": "",
}


def read_dmarc(report: DmarcReport, *, remote_ip: str, mail_from: str) -> Reading:
    checks = [
        _check(
            gettext("SPF of the EHLO name"),
            report.spf_ehlo_domain,
            report.spf_ehlo,
            _spf(report.spf_ehlo, report.spf_ehlo_domain, remote_ip),
        ),
        _check(
            gettext("SPF of the sender"),
            report.spf_mail_from_domain or mail_from,
            report.spf_mail_from,
            _spf(report.spf_mail_from, report.spf_mail_from_domain, remote_ip),
        ),
        _check(
            gettext("Reverse DNS"),
            f"{remote_ip} → {', '.join(report.iprev_ptr)}" if report.iprev_ptr else remote_ip,
            report.iprev,
            gettext("%(ip)s has a reverse DNS name that points back to it.") % {"ip": remote_ip}
            if report.iprev.passed
            else gettext("%(ip)s has no matching reverse DNS name; many receivers distrust such servers.")
            % {"ip": remote_ip},
        ),
    ]
    if not report.dkim:
        checks.append(
            Check(
                "DKIM",
                "",
                gettext("None"),
                "neutral",
                "",
                gettext("The message has no DKIM signature (or no message was given)."),
            )
        )
    for index, result in enumerate(report.dkim, start=1):
        explanation = (
            gettext("The signature is valid: the message was signed by its domain and not changed since.")
            if result.passed
            else gettext("The signature does not verify: the key is missing or the message was changed after signing.")
        )
        name = gettext("DKIM signature %(number)s") % {"number": index} if len(report.dkim) > 1 else "DKIM"
        checks.append(_check(name, "", result, explanation))
    checks.append(
        _check(
            "ARC",
            "",
            report.arc,
            {
                "none": gettext("No ARC headers: normal unless the message was forwarded by a list or a forwarder."),
                "pass": gettext("The ARC chain is intact: forwarders vouch for the original authentication."),
            }.get(report.arc.kind, gettext("The ARC chain does not verify.")),
        )
    )
    policy = str(_POLICY.get(report.dmarc_policy, ""))
    if report.dmarc.kind == "none":
        checks.append(_check("DMARC", "", report.dmarc, gettext("The From: domain publishes no DMARC record.")))
        return Reading(
            "warn",
            gettext("No DMARC policy applies"),
            gettext(
                "The sender's domain publishes no DMARC record, so receivers judge the message on SPF, DKIM and "
                "its content alone."
            ),
            tuple(checks),
        )
    if report.dmarc_pass:
        checks.append(
            _check(
                "DMARC",
                gettext("policy %(policy)s") % {"policy": report.dmarc_policy},
                report.dmarc,
                gettext("SPF or DKIM passed for a domain aligned with From:."),
            )
        )
        return Reading(
            "ok",
            gettext("The message passes DMARC"),
            gettext(
                "SPF or DKIM passed for the domain in the From: header, so receivers that check DMARC accept "
                "where it comes from."
            ),
            tuple(checks),
        )
    checks.append(
        _check(
            "DMARC",
            gettext("policy %(policy)s") % {"policy": report.dmarc_policy},
            report.dmarc,
            gettext("Neither SPF nor DKIM passed for the From: domain."),
        )
    )
    return Reading(
        "error",
        gettext("The message fails DMARC"),
        gettext("Neither SPF nor DKIM passed for the domain in the From: header.")
        + " "
        + (policy or gettext("The domain has no policy for failures."))
        + " "
        + gettext("Add the sending server to the domain's SPF record, or sign its mail with DKIM."),
        tuple(checks),
    )


def spam_headline(result: SpamClassification) -> tuple[str, str]:
    """(level, headline) of a classification."""
    if result.action == "reject":
        return "error", gettext("Stalwart would reject this message")
    if result.action == "discard":
        return "error", gettext("Stalwart would silently discard this message")
    if result.is_spam:
        return "warn", gettext("Spam, with a score of %(score)s") % {"score": f"{result.score:.2f}"}
    return "ok", gettext("Not spam, with a score of %(score)s") % {"score": f"{result.score:.2f}"}
