"""Deterministic demo data for the queue, queued reports, incoming reports and undelete.

Everything is relative to the sandbox clock when the seed runs (and moved along on every
reset, see ``mailflow.shift``). Addresses use the demo domains; outside servers use
well-known provider names and documentation IP ranges (192.0.2.0/24, 198.51.100.0/24,
203.0.113.0/24, 2001:db8::/32) except for the large providers' own sending ranges.
"""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime

from .mailflow import DELIVERED_OK, MailFlow
from .queue import enqueue, schedule_report
from .reports import receive_report

OUR_IP = "203.0.113.25"
OUR_IP6 = "2001:db8:25::25"
OUR_HOST = "mail.example.org"
DAY = 86400

# --- SMTP answers and domain-level errors seen in real queues ------------------------------
OK_GOOGLE = "Code: 250, Enhanced code: 2.0.0, Message: OK  1714572343 a640c23a62f3a-a58d1d2e1e5si1234567ebx.123 - gsmtp"
OK_MS = (
    "Code: 250, Enhanced code: 2.6.0, Message: <{mid}> [InternalId=1614907, "
    "Hostname=AM0PR02MB5601.eurprd02.prod.outlook.com] Queued mail for delivery"
)
GREYLISTED = (
    "Code: 451, Enhanced code: 4.7.1, Message: Greylisted, see https://postgrey.schweikert.ch/help/{domain}.html"
)
OVER_QUOTA = (
    "Code: 452, Enhanced code: 4.2.2, Message: The email account that you tried to reach is over quota. "
    "Please direct the recipient to https://support.google.com/mail/?p=OverQuotaTemp - gsmtp"
)
TRY_LATER = "Code: 450, Enhanced code: 4.2.0, Message: <{rcpt}>: Recipient address rejected: try again later"
NO_SUCH_USER = (
    "Code: 550, Enhanced code: 5.1.1, Message: The email account that you tried to reach does not exist. "
    "Please try double-checking the recipient's email address for typos or unnecessary spaces. - gsmtp"
)
UNKNOWN_ECHO = (
    "Code: 550, Enhanced code: 5.1.1, Message: <{rcpt}>: Recipient address rejected: User unknown in virtual mailbox "
    'table; from=<{sender}> to=<{rcpt}> proto=ESMTP helo=<mail.example.org> <script>alert("x")</script>'
)
BLOCKLISTED = (
    "Code: 554, Enhanced code: 5.7.1, Message: Service unavailable; Client host [203.0.113.25] blocked using "
    "zen.spamhaus.org; https://www.spamhaus.org/query/ip/203.0.113.25"
)
MAILBOX_FULL = "Code: 552, Enhanced code: 5.2.2, Message: Mailbox full & over quota <img src=x onerror=alert(1)>"

DOMAIN_ERRORS = [
    "DNS lookup failed: Record not found for 'northwind-traders.example'",
    "Connection to 'mx1.contoso.net' failed: Connection refused (os error 111)",
    "Connection to 'mx.fabrikam.com' failed: Timed out while connecting",
    "TLS error from 'mail.tailspin.example': invalid peer certificate: Expired",
    "DANE failed to authenticate 'mx.wingtip.example': No matching certificates found in TLSA records",
    "MTA-STS auth failed: Policy fetch failed: HTTP status 404 Not Found",
    "Rate limited",
    "Too many concurrent connections to remote server",
    "Unexpected response from 'gmail-smtp-in.l.google.com': Code: 421, Enhanced code: 4.7.28, Message: "
    "[203.0.113.25] Our system has detected an unusual rate of unsolicited mail originating from your IP "
    "address. To protect our users from spam, mail sent from your IP address has been temporarily rate limited.",
    "Queue error: Failed to read message from blob store",
]

SUBJECTS = [
    "Quarterly numbers & forecast",
    "Re: Contract renewal — signed copy attached",
    "Invoice INV-2025-0412",
    "Your support ticket #48213 has been updated",
    "Team offsite: agenda and travel",
    "Fwd: Shipment 1Z999AA10123456784 delayed",
    "Weekly engineering digest",
    "Angebot Nr. 7781 / Rückfragen",
    'Newsletter: <b>Spring sale</b> "up to 40%" off',
    "Meeting notes 2025-04-29",
]


def _rfc2822(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")


def raw_message(sender: str, recipients: list[str], subject: str, when: int, *, body: str = "", mid: str) -> bytes:
    from_header = (
        f"{sender.split('@')[0].replace('.', ' ').title()} <{sender}>"
        if sender
        else ("Mail Delivery System <MAILER-DAEMON@mail.example.org>")
    )
    headers = [
        f"Return-Path: <{sender}>",
        f"Received: from [198.51.100.14] (dyn-14.office.example.org [198.51.100.14])\r\n\tby {OUR_HOST} "
        f"(Stalwart SMTP) with ESMTPSA id {mid.split('@')[0]};\r\n\t{_rfc2822(when)}",
        f"DKIM-Signature: v=1; a=rsa-sha256; s=202504r; d={sender.rpartition('@')[2] or 'example.org'}; "
        "c=relaxed/relaxed;\r\n\th=From:To:Subject:Date:Message-ID; t="
        + str(when)
        + "; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;"
        "\r\n\tb=dGhpcyBpcyBub3QgYSByZWFsIHNpZ25hdHVyZQ==",
        f"From: {from_header}",
        f"To: {', '.join(recipients[:3])}" + (",\r\n\t" + ", ".join(recipients[3:]) if len(recipients) > 3 else ""),
        f"Subject: {subject}",
        f"Date: {_rfc2822(when)}",
        f"Message-ID: <{mid}>",
        "MIME-Version: 1.0",
        'Content-Type: text/plain; charset="utf-8"',
        "Content-Transfer-Encoding: 8bit",
    ]
    text = body or "Hello,\r\n\r\nplease find the details below.\r\n\r\nBest regards\r\n"
    return ("\r\n".join(headers) + "\r\n\r\n" + text).encode()


def seed_mail_flow(sb, flow: MailFlow) -> None:
    rng = random.Random(20250430)
    now = sb.now()
    _seed_queue(sb, flow, rng, now)
    _seed_outgoing(sb, rng, now)
    _seed_dmarc(sb, rng, now)
    _seed_tls(sb, rng, now)
    _seed_arf(sb, now)
    _seed_undelete(sb, now)


# --------------------------------------------------------------------------- queue

_EXTERNAL = [
    "gmail.com",
    "outlook.com",
    "yahoo.com",
    "web.de",
    "gmx.de",
    "orange.fr",
    "contoso.net",
    "fabrikam.com",
    "icloud.com",
    "protonmail.com",
    "libero.it",
    "t-online.de",
    "northwind-traders.example",
    "tailspin.example",
    "wingtip.example",
]
_LOCAL_PARTS = [
    "john.smith",
    "m.garcia",
    "info",
    "sales",
    "k.tanaka",
    "anna",
    "billing",
    "o'brien+orders",
    "support",
    "p.novak",
    "lisa.m",
    "procurement",
]


def _staff(sb) -> list[str]:
    emails = sorted(
        p.emails[0]
        for p in sb.principals.values()
        if p.type == "individual" and p.emails and p.tenant is None and not p.emails[0].startswith("admin@")
    )
    return emails or ["alice@example.org"]


def _seed_queue(sb, flow: MailFlow, rng: random.Random, now: int) -> None:
    senders = _staff(sb)
    # (plan, count): what happens to the message so far
    plans = (
        ["fresh"] * 12
        + ["temp"] * 12
        + ["greylisted"] * 4
        + ["partial"] * 4
        + ["perm_domain"] * 3
        + ["bounce"] * 3
        + ["multi"] * 2
    )
    for index, plan in enumerate(plans):
        age = rng.randint(60, 3 * DAY) if plan != "fresh" else rng.randint(5, 600)
        created = now - age
        sender = senders[(index * 7) % len(senders)]
        domains = rng.sample(_EXTERNAL, 3 if plan == "multi" else (2 if plan in ("partial", "perm_domain") else 1))
        recipients = []
        for domain in domains:
            for _ in range(rng.choice([1, 1, 1, 2, 3])):
                recipients.append(f"{rng.choice(_LOCAL_PARTS)}@{domain}")
        if plan == "bounce":
            # A delivery status notification for a message that could not be delivered.
            sender_addr, recipients = "", [f"{rng.choice(_LOCAL_PARTS)}@{domains[0]}"]
            subject = "Undelivered Mail Returned to Sender"
        else:
            sender_addr = sender
            subject = SUBJECTS[index % len(SUBJECTS)]
        mid = f"{created:x}.{index}@example.org"
        raw = raw_message(sender_addr, recipients, subject, created, mid=mid)
        size = rng.choice([len(raw), 2_481, 18_204, 96_512, 1_204_331, 7_840_112, 24_117_903])
        message = enqueue(
            sb,
            return_path=sender_addr,
            recipients=recipients,
            created=created,
            raw_message=raw,
            env_id=f"env-{index:03d}" if index % 5 == 0 else None,
            priority=[0, 0, 0, 0, -1, 1][index % 6],
            orcpt=index % 4 == 0,
        )
        message.size = size
        _apply_plan(flow, message, plan, rng, now, created, index)
    if sb.enterprise and sb.get("acme.org") is not None:
        # The tenant's own outgoing mail (tenant administrators see only these).
        for index, (sender, rcpt, plan) in enumerate(
            [
                ("wile.coyote@acme.org", "orders@roadrunner-supplies.example", "temp"),
                ("road.runner@acme.org", "beep@gmail.com", "fresh"),
                ("daisy.duck@acme.org", "donald@outlook.com", "greylisted"),
            ]
        ):
            created = now - rng.randint(120, DAY)
            raw = raw_message(sender, [rcpt], SUBJECTS[index], created, mid=f"{created:x}.acme{index}@acme.org")
            message = enqueue(sb, return_path=sender, recipients=[rcpt], created=created, raw_message=raw)
            _apply_plan(flow, message, plan, rng, now, created, index)


def _interval(flow: MailFlow, retry_num: int) -> int:
    return flow.retry_intervals[min(retry_num, len(flow.retry_intervals) - 1)]


def _apply_plan(flow: MailFlow, message, plan: str, rng: random.Random, now: int, created: int, index: int) -> None:
    for position, domain in enumerate(message.domains):
        domain.next_notify = created + DAY
        domain.expires = created + 5 * DAY
        for recipient in domain.recipients:
            recipient.outcome = _ok(domain.name, recipient.address)
        if plan == "fresh":
            domain.next_retry = now + rng.randint(60, 900)
            continue
        if plan == "bounce":
            domain.retry_num = rng.randint(1, 4)
            domain.status = ("temp_fail", DOMAIN_ERRORS[rng.choice([1, 2, 5])])
            domain.error = domain.status[1]
            domain.next_retry = now + rng.randint(120, _interval(flow, domain.retry_num) + 600)
            continue
        if plan == "greylisted":
            domain.retry_num = 1
            for recipient in domain.recipients:
                recipient.status = ("temp_fail", GREYLISTED.format(domain=domain.name))
            domain.status = (
                "temp_fail",
                f"Unexpected response from 'mx.{domain.name}': " + domain.recipients[0].status[1],
            )
            domain.next_retry = now + rng.randint(90, 300)
            continue
        if plan in ("partial", "multi") and position == 0:
            # First domain already delivered.
            domain.retry_num = 1
            domain.status = ("completed", "")
            for recipient in domain.recipients:
                recipient.status = _ok(domain.name, recipient.address)
            continue
        if plan == "perm_domain" and position == 0:
            domain.retry_num = 1
            text = [UNKNOWN_ECHO, BLOCKLISTED, MAILBOX_FULL, NO_SUCH_USER][index % 4]
            for recipient in domain.recipients:
                recipient.status = ("perm_fail", text.format(rcpt=recipient.address, sender=message.return_path))
            domain.status = (
                "perm_fail",
                f"Unexpected response from 'mx.{domain.name}': " + domain.recipients[0].status[1],
            )
            continue
        # Pending with temporary failures.
        domain.retry_num = rng.randint(1, 9)
        kind = rng.random()
        if kind < 0.55:
            domain.error = DOMAIN_ERRORS[rng.randrange(len(DOMAIN_ERRORS))]
            domain.status = ("temp_fail", domain.error)
        else:
            first = domain.recipients[0]
            text = rng.choice([OVER_QUOTA, TRY_LATER]).format(rcpt=first.address)
            first.status = first.outcome = ("temp_fail", text)
            for other in domain.recipients[1:]:
                other.status = _ok(domain.name, other.address)
            domain.status = ("temp_fail", f"Unexpected response from 'mx.{domain.name}': {text}")
        domain.next_retry = now + rng.randint(120, max(180, _interval(flow, domain.retry_num)))


def _ok(domain: str, address: str):
    if domain in ("gmail.com",):
        return ("completed", OK_GOOGLE)
    if domain in ("outlook.com",):
        digest = hashlib.sha256(address.encode()).hexdigest()[:12]
        return ("completed", OK_MS.format(mid=f"{digest}@example.org"))
    return ("completed", DELIVERED_OK)


# --------------------------------------------------------------------------- DMARC records


def dmarc_record(
    ip: str,
    count: int,
    header_from: str,
    *,
    dkim: str,
    spf: str,
    disposition: str = "None",
    dkim_results: list[tuple[str, str, str]] = (),
    spf_results: list[tuple[str, str, str]] = (),
    reasons: list[tuple[str, str | None]] = (),
    envelope_from: str | None = None,
    envelope_to: str | None = None,
) -> dict:
    """One ``record`` of an aggregate report in mail-auth's serde shape."""
    return {
        "row": {
            "source_ip": ip,
            "count": count,
            "policy_evaluated": {
                "disposition": disposition,
                "dkim": dkim,
                "spf": spf,
                "reason": [{"type_": kind, "comment": comment} for kind, comment in reasons],
            },
        },
        "identifiers": {
            "envelope_to": envelope_to,
            "envelope_from": envelope_from if envelope_from is not None else header_from,
            "header_from": header_from,
        },
        "auth_results": {
            "dkim": [{"domain": d, "selector": s, "result": r, "human_result": None} for d, s, r in dkim_results],
            "spf": [{"domain": d, "scope": sc, "result": r, "human_result": None} for d, sc, r in spf_results],
        },
        "extensions": [],
    }


POLICIES = {
    "example.org": ("Quarantine", "Quarantine"),
    "example.com": ("None", "None"),
    "example.net": ("Reject", "Reject"),
    "acme.org": ("Reject", "Unspecified"),
}


def policy_published(domain: str) -> dict:
    p, sp = POLICIES.get(domain, ("None", "Unspecified"))
    return {
        "domain": domain,
        "version_published": None,
        "adkim": "Relaxed",
        "aspf": "Relaxed",
        "p": p,
        "sp": sp,
        "testing": False,
        "fo": "1" if domain == "example.org" else None,
    }


def _records_for(domain: str, rng: random.Random, reporter: str) -> list[dict]:
    """Realistic sources for mail claiming to be from ``domain``."""
    p = POLICIES.get(domain, ("None", "None"))[0]
    failing = {"Quarantine": "Quarantine", "Reject": "Reject"}.get(p, "None")
    sel = "202504r"
    records = [
        dmarc_record(
            OUR_IP,
            rng.randint(8, 160),
            domain,
            dkim="Pass",
            spf="Pass",
            dkim_results=[(domain, sel, "Pass")],
            spf_results=[(domain, "MailFrom", "Pass")],
            envelope_to=reporter,
        )
    ]
    if rng.random() < 0.6:
        records.append(
            dmarc_record(
                OUR_IP6,
                rng.randint(1, 40),
                domain,
                dkim="Pass",
                spf="Pass",
                dkim_results=[(domain, sel, "Pass")],
                spf_results=[(domain, "MailFrom", "Pass")],
            )
        )
    if rng.random() < 0.45:
        # Forwarded by a university alias: SPF breaks, DKIM survives.
        records.append(
            dmarc_record(
                "198.51.100.77",
                rng.randint(1, 9),
                domain,
                dkim="Pass",
                spf="Fail",
                dkim_results=[(domain, sel, "Pass")],
                spf_results=[("forwarder.university.example", "MailFrom", "Pass")],
                reasons=[("Forwarded", None)],
                envelope_from="forwarder.university.example",
            )
        )
    if rng.random() < 0.35:
        # A mailing list that rewrites the subject: both break, local policy overrides.
        records.append(
            dmarc_record(
                "198.51.100.140",
                rng.randint(1, 6),
                domain,
                dkim="Fail",
                spf="Fail",
                disposition="None",
                dkim_results=[(domain, sel, "Fail")],
                spf_results=[("lists.opensource.example", "MailFrom", "Pass")],
                reasons=[("MailingList", "arc=pass as=2 ams=2")],
                envelope_from="lists.opensource.example",
            )
        )
    if domain == "example.com" and rng.random() < 0.7:
        # The newsletter service signs with its own domain: not aligned.
        records.append(
            dmarc_record(
                "198.51.100.201",
                rng.randint(40, 400),
                domain,
                dkim="Fail",
                spf="Fail",
                disposition=failing,
                dkim_results=[("bounce.mailer-service.example", "s1", "Pass")],
                spf_results=[("bounce.mailer-service.example", "MailFrom", "Pass")],
                envelope_from="bounce.mailer-service.example",
            )
        )
    if rng.random() < 0.5:
        # Spoofing from a botnet.
        spoofer = rng.choice(["192.0.2.66", "192.0.2.187", "2001:db8:bad::17", "198.51.100.9"])
        records.append(
            dmarc_record(
                spoofer,
                rng.randint(1, 80),
                domain,
                dkim="Fail",
                spf="Fail",
                disposition=failing,
                spf_results=[(domain, "MailFrom", rng.choice(["Fail", "SoftFail"]))],
                envelope_from=domain,
            )
        )
    return records


# --------------------------------------------------------------------------- incoming DMARC

_REPORTERS = {
    "google.com": {
        "from": "noreply-dmarc-support@google.com",
        "org": "google.com",
        "email": "noreply-dmarc-support@google.com",
        "extra": "https://support.google.com/a/answer/2466580",
        "to_user": "postmaster",
        "id": lambda rng, day: str(rng.randrange(10**18, 10**19)),
        "subject": "Report domain: {domain} Submitter: google.com Report-ID: {rid}",
    },
    "yahoo.com": {
        "from": "dmarchelp@yahooinc.com",
        "org": "Yahoo",
        "email": "dmarchelp@yahooinc.com",
        "extra": None,
        "to_user": "dmarc-reports",
        "id": lambda rng, day: f"{day}.{rng.randrange(10**5, 10**6)}",
        "subject": "Report Domain: {domain} Submitter: yahoo.com Report-ID: <{rid}>",
    },
    "outlook.com": {
        "from": "dmarcreport@microsoft.com",
        "org": "Enterprise Outlook",
        "email": "dmarcreport@microsoft.com",
        "extra": None,
        "to_user": "dmarc-reports",
        "id": lambda rng, day: f"{rng.getrandbits(128):032x}",
        "subject": "Report Domain: {domain} Submitter: enterprise.protection.outlook.com Report-ID: <{rid}>",
    },
    "mail.ru": {
        "from": "dmarc_support@corp.mail.ru",
        "org": "Mail.Ru",
        "email": "dmarc_support@corp.mail.ru",
        "extra": "http://help.mail.ru/mail-help",
        "to_user": "dmarc-reports",
        "id": lambda rng, day: str(rng.randrange(10**17, 10**18)),
        "subject": "Report Domain: {domain} Submitter: Mail.Ru Report-ID: {rid}",
    },
    "comcast.net": {
        "from": "noreply@dmarc.comcast.net",
        "org": "comcast.net",
        "email": "noreply@dmarc.comcast.net",
        "extra": "https://postmaster.comcast.net/dmarc.html?a=1&b=2",
        "to_user": "dmarc-reports",
        "id": lambda rng, day: f"comcast-{day}-{rng.randrange(1000, 9999)}",
        "subject": "Report Domain: {domain} Submitter: comcast.net Report-ID: {rid}",
    },
}


def _dmarc_schedule(sb) -> list[tuple[str, str, int]]:
    """(reporter, domain, days ago) of every seeded aggregate report."""
    plan = []
    for day in range(1, 21):
        plan.append(("google.com", "example.org", day))
    for day in range(2, 30, 3):
        plan.append(("google.com", "example.com", day))
    for day in range(1, 29, 3):
        plan.append(("yahoo.com", "example.org", day))
    for day in range(1, 29, 3):
        plan.append(("outlook.com", "example.org", day))
    for day in range(3, 29, 6):
        plan.append(("outlook.com", "example.com", day))
    for day in range(4, 29, 8):
        plan.append(("mail.ru", "example.net", day))
    for day in (5, 12, 19):
        plan.append(("comcast.net", "example.org", day))
    if sb.enterprise and sb.get("acme.org") is not None:
        for day in range(2, 29, 7):
            plan.append(("google.com", "acme.org", day))
    return plan


def _seed_dmarc(sb, rng: random.Random, now: int) -> None:
    today = now - now % DAY
    for reporter, domain, days_ago in _dmarc_schedule(sb):
        info = _REPORTERS[reporter]
        begin = today - days_ago * DAY
        end = begin + DAY - 1
        report_id = info["id"](rng, begin)
        report = {
            "version": 1.0,
            "report_metadata": {
                "org_name": info["org"],
                "email": info["email"],
                "extra_contact_info": info["extra"],
                "report_id": report_id,
                "date_range": {"begin": begin, "end": end},
                "error": [],
            },
            "policy_published": policy_published(domain),
            "record": _records_for(domain, rng, reporter),
            "extensions": [],
        }
        arrived = min(end + rng.randint(2 * 3600, 9 * 3600), now - 300)
        receive_report(
            sb,
            "dmarc",
            sender=info["from"],
            to=[f"{info['to_user']}@{domain}"],
            subject=info["subject"].format(domain=domain, rid=report_id),
            report=report,
            arrived=arrived,
        )


# --------------------------------------------------------------------------- incoming TLS


def _sts_policy(domain: str) -> dict:
    return {
        "policy-type": "sts",
        "policy-string": ["version: STSv1", "mode: enforce", f"mx: mail.{domain}", "max_age: 604800"],
        "policy-domain": domain,
        "mx-host": [f"mail.{domain}"],
    }


def _seed_tls(sb, rng: random.Random, now: int) -> None:
    today = now - now % DAY
    plan = [
        ("google", "example.org", 1),
        ("microsoft", "example.org", 1),
        ("google", "example.org", 2),
        ("google", "example.com", 3),
        ("microsoft", "example.org", 4),
        ("google", "example.net", 5),
        ("google", "example.org", 8),
        ("microsoft", "example.com", 9),
        ("google", "example.org", 15),
        ("microsoft", "example.org", 22),
    ]
    for index, (who, domain, days_ago) in enumerate(plan):
        begin = today - days_ago * DAY
        if who == "google":
            org, contact, sender = (
                "Google Inc.",
                "smtp-tls-reporting@google.com",
                "noreply-smtp-tls-reporting@google.com",
            )
            report_id = f"{datetime.fromtimestamp(begin, UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}_{domain}"
        else:
            org, contact, sender = (
                "Microsoft Corporation",
                "tlsrpt-noreply@microsoft.com",
                "tlsrpt-noreply@microsoft.com",
            )
            report_id = f"{rng.randrange(10**17, 10**18)}+{domain}"
        policies = []
        if domain == "example.net":
            policies.append(
                {
                    "policy": {
                        "policy-type": "no-policy-found",
                        "policy-string": [],
                        "policy-domain": domain,
                        "mx-host": [],
                    },
                    "summary": {"total-successful-session-count": rng.randint(5, 40), "total-failure-session-count": 0},
                    "failure-details": [],
                }
            )
        else:
            failures = []
            if index % 3 == 0:
                failures.append(
                    {
                        "result-type": "certificate-expired",
                        "sending-mta-ip": "209.85.220.41" if who == "google" else "40.107.22.54",
                        "receiving-mx-hostname": f"mail.{domain}",
                        "receiving-mx-helo": OUR_HOST,
                        "receiving-ip": OUR_IP,
                        "failed-session-count": rng.randint(1, 12),
                        "additional-information": "https://tlsrpt.example/help?code=cert-expired&host=mail",
                        "failure-reason-code": "X509_V_ERR_CERT_HAS_EXPIRED",
                    }
                )
            if index % 4 == 1:
                failures.append(
                    {
                        "result-type": "sts-policy-fetch-error",
                        "sending-mta-ip": "40.107.22.54",
                        "receiving-mx-hostname": None,
                        "receiving-mx-helo": None,
                        "receiving-ip": None,
                        "failed-session-count": rng.randint(1, 4),
                        "additional-information": None,
                        "failure-reason-code": "HTTP 503 fetching https://mta-sts."
                        + domain
                        + "/.well-known/mta-sts.txt",
                    }
                )
            total_failures = sum(f["failed-session-count"] for f in failures)
            policies.append(
                {
                    "policy": _sts_policy(domain),
                    "summary": {
                        "total-successful-session-count": rng.randint(20, 900),
                        "total-failure-session-count": total_failures,
                    },
                    "failure-details": failures,
                }
            )
            if domain == "example.com":
                policies.append(
                    {
                        "policy": {
                            "policy-type": "tlsa",
                            "policy-string": ["3 1 1 0C72AC70B745AC19998811B131D662C9AC69DBDBE7CB23E5B514B56664C5D3D6"],
                            "policy-domain": domain,
                            "mx-host": [f"mail.{domain}"],
                        },
                        "summary": {
                            "total-successful-session-count": rng.randint(5, 60),
                            "total-failure-session-count": 0,
                        },
                        "failure-details": [],
                    }
                )
        report = {
            "organization-name": org,
            "date-range": {
                "start-datetime": datetime.fromtimestamp(begin, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "end-datetime": datetime.fromtimestamp(begin + DAY - 1, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
            "contact-info": contact,
            "report-id": report_id,
            "policies": policies,
        }
        receive_report(
            sb,
            "tls",
            sender=sender,
            to=[f"tls-reports@{domain}"],
            subject=f"Report Domain: {domain} Submitter: {'google.com' if who == 'google' else 'microsoft.com'} "
            f"Report-ID: <{report_id}>",
            report=report,
            arrived=min(begin + DAY + rng.randint(3600, 6 * 3600), now - 600),
        )


# --------------------------------------------------------------------------- incoming ARF


def _feedback(**fields) -> dict:
    base = {
        "feedback_type": "Other",
        "arrival_date": None,
        "authentication_results": [],
        "incidents": 1,
        "original_envelope_id": None,
        "original_mail_from": None,
        "original_rcpt_to": None,
        "reported_domain": [],
        "reported_uri": [],
        "reporting_mta": None,
        "source_ip": None,
        "user_agent": None,
        "version": 1,
        "source_port": 0,
        "auth_failure": "Unspecified",
        "delivery_result": "Unspecified",
        "dkim_adsp_dns": None,
        "dkim_canonicalized_body": None,
        "dkim_canonicalized_header": None,
        "dkim_domain": None,
        "dkim_identity": None,
        "dkim_selector": None,
        "dkim_selector_dns": None,
        "spf_dns": None,
        "identity_alignment": "Unspecified",
        "message": None,
        "headers": None,
    }
    base.update(fields)
    return base


def _seed_arf(sb, now: int) -> None:
    reports = [
        (
            "feedback@arf.mail.yahoo.com",
            "abuse@example.com",
            "FW: Spring sale",
            _feedback(
                feedback_type="Abuse",
                arrival_date=now - 2 * DAY - 3600,
                authentication_results=[
                    "mta4402.mail.gq1.yahoo.com; dkim=pass header.i=@example.com header.s=202504r; "
                    "spf=pass smtp.mailfrom=example.com; dmarc=pass(p=NONE) header.from=example.com"
                ],
                original_mail_from="newsletter@example.com",
                original_rcpt_to="redacted@yahoo.com",
                reported_domain=["example.com"],
                reporting_mta="dns; mta4402.mail.gq1.yahoo.com",
                source_ip=OUR_IP,
                user_agent="Yahoo!-Mail-Feedback/2.0",
                headers="From: Example Newsletter <newsletter@example.com>\r\nTo: redacted@yahoo.com\r\n"
                'Subject: Newsletter: <b>Spring sale</b> "up to 40%" off\r\nDate: Tue, 29 Apr 2025 08:00:00 +0000\r\n'
                "List-Unsubscribe: <https://example.com/unsubscribe?u=REDACTED&l=news>\r\n",
            ),
            now - 2 * DAY,
        ),
        (
            "scomp@aol.net",
            "abuse@example.org",
            "Email Feedback Report for IP 203.0.113.25",
            _feedback(
                feedback_type="Abuse",
                arrival_date=now - 6 * DAY,
                original_mail_from="alice.schmidt@example.org",
                original_rcpt_to="someone@aol.com",
                reported_domain=["example.org"],
                reporting_mta="dns; omr-m021.mx.aol.com",
                source_ip=OUR_IP,
                source_port=41822,
                user_agent="AOL SComp",
                message="Received: from mail.example.org (mail.example.org [203.0.113.25])\r\n"
                "\tby omr-m021.mx.aol.com\r\n"
                "From: Alice Schmidt <alice.schmidt@example.org>\r\nTo: someone@aol.com\r\n"
                "Subject: Following up\r\n\r\n"
                "Hi, just following up on my last message.\r\n",
            ),
            now - 6 * DAY + 1800,
        ),
        (
            "dmarc-forensic@mail.ru",
            "dmarc-failures@example.org",
            "DMARC failure report for example.org",
            _feedback(
                feedback_type="AuthFailure",
                arrival_date=now - 9 * DAY,
                authentication_results=[
                    "mx.mail.ru; dkim=fail header.d=example.org; spf=fail smtp.mailfrom=example.org; "
                    "dmarc=fail (p=QUARANTINE) header.from=example.org"
                ],
                original_mail_from="billing@example.org",
                original_rcpt_to="victim@mail.ru",
                reported_domain=["example.org"],
                reporting_mta="dns; mx.mail.ru",
                source_ip="192.0.2.66",
                source_port=50231,
                auth_failure="Dmarc",
                delivery_result="Spam",
                dkim_domain="example.org",
                dkim_selector="202504r",
                dkim_identity="@example.org",
                spf_dns="txt : example.org : v=spf1 mx -all",
                identity_alignment="None",
                headers="From: Billing <billing@example.org>\r\nTo: victim@mail.ru\r\n"
                "Subject: Invoice overdue <img src=x onerror=alert(document.domain)>\r\n"
                "Reply-To: payments@evil.example\r\n",
            ),
            now - 9 * DAY + 600,
        ),
        (
            "dmarc-forensic@mail.ru",
            "dmarc-failures@example.org",
            "SPF failure report for example.org",
            _feedback(
                feedback_type="AuthFailure",
                arrival_date=now - 14 * DAY,
                original_mail_from="hr@example.org",
                original_rcpt_to="someone@mail.ru",
                reported_domain=["example.org"],
                reporting_mta="dns; mx.mail.ru",
                source_ip="198.51.100.9",
                auth_failure="Spf",
                delivery_result="Reject",
                spf_dns="txt : example.org : v=spf1 mx -all",
                identity_alignment="Dkim",
            ),
            now - 14 * DAY + 900,
        ),
        (
            "phish-report@security.contoso.net",
            "abuse@example.net",
            "Phishing site hosted on your domain",
            _feedback(
                feedback_type="Fraud",
                arrival_date=None,
                incidents=3,
                original_mail_from="security@example-net-login.example",
                original_rcpt_to="staff@contoso.net",
                reported_domain=["example.net", "example-net-login.example"],
                reported_uri=["http://example-net-login.example/verify?acct=1&next=%2Flogin"],
                reporting_mta="dns; mx1.contoso.net",
                source_ip="2001:db8:bad::17",
                user_agent="ContosoPhishReporter/3.1",
            ),
            now - 20 * DAY,
        ),
    ]
    for sender, to, subject, report, arrived in reports:
        receive_report(sb, "arf", sender=sender, to=[to], subject=subject, report=report, arrived=arrived)


# --------------------------------------------------------------------------- outgoing reports


def _seed_outgoing(sb, rng: random.Random, now: int) -> None:
    hour = now - now % 3600
    dmarc = [
        ("gmail.com", DAY, 5 * 3600, [{"uri": "mailauth-reports@google.com", "max_size": 0}]),
        ("contoso.net", DAY, 9 * 3600, [{"uri": "dmarc@contoso.net", "max_size": 0}]),
        (
            "fabrikam.com",
            7 * DAY,
            3 * DAY,
            [
                {"uri": "dmarc-rua@fabrikam.com", "max_size": 10485760},
                {"uri": "reports@dmarc-analyzer.example", "max_size": 0},
            ],
        ),
    ]
    for domain, period, due_in, rua in dmarc:
        records = [
            dmarc_record(
                rng.choice(["209.85.220.41", "40.107.22.54", "198.51.100.33"]),
                rng.randint(1, 50),
                domain,
                dkim="Pass",
                spf="Pass",
                dkim_results=[(domain, "s1", "Pass")],
                spf_results=[(domain, "MailFrom", "Pass")],
                envelope_to="example.org",
            ),
            dmarc_record(
                "192.0.2.187",
                rng.randint(1, 5),
                domain,
                dkim="Fail",
                spf="Fail",
                disposition="Reject",
                spf_results=[(domain, "MailFrom", "Fail")],
                envelope_to="example.org",
            ),
        ]
        schedule_report(
            sb,
            kind="d",
            domain=domain,
            period=period,
            due=hour + due_in,
            rua=rua,
            data={"policy_published": policy_published(domain) | {"p": "Reject"}, "records": records},
        )
    tls = [
        ("outlook.com", DAY, 7 * 3600, [{"Mail": "tlsrpt@microsoft.com"}], []),
        ("contoso.net", DAY, 11 * 3600, [{"Http": "https://tlsrpt.contoso.net/v1/report"}], []),
        (
            "fabrikam.com",
            7 * DAY,
            4 * DAY,
            [{"Mail": "tls-reports@fabrikam.com"}],
            [
                {
                    "result-type": "sts-policy-invalid",
                    "sending-mta-ip": OUR_IP,
                    "receiving-mx-hostname": "mx.fabrikam.com",
                    "receiving-mx-helo": None,
                    "receiving-ip": "198.51.100.50",
                    "failed-session-count": 3,
                    "additional-information": None,
                    "failure-reason-code": "Invalid MTA-STS policy: missing max_age",
                }
            ],
        ),
    ]
    for domain, period, due_in, rua, failures in tls:
        policy = {
            "policy": _sts_policy(domain) | {"mx-host": [f"mx.{domain}"]},
            "summary": {
                "total-successful-session-count": rng.randint(3, 200),
                "total-failure-session-count": sum(f["failed-session-count"] for f in failures),
            },
            "failure-details": failures,
        }
        schedule_report(
            sb, kind="t", domain=domain, period=period, due=hour + due_in, rua=rua, data={"policies": [policy]}
        )
    if sb.enterprise and sb.get("acme.org") is not None:
        schedule_report(
            sb,
            kind="d",
            domain="acme.org",
            period=DAY,
            due=hour + 6 * 3600,
            rua=[{"uri": "dmarc@acme.org", "max_size": 0}],
            data={
                "policy_published": policy_published("acme.org"),
                "records": [
                    dmarc_record(
                        "198.51.100.60",
                        12,
                        "acme.org",
                        dkim="Pass",
                        spf="Pass",
                        dkim_results=[("acme.org", "acme1", "Pass")],
                        spf_results=[("acme.org", "MailFrom", "Pass")],
                    )
                ],
            },
        )


# --------------------------------------------------------------------------- undelete


def _seed_undelete(sb, now: int) -> None:
    from .store import delete_blob

    items = {
        "jane.doe": [
            ("Lunch on Friday?", "tom.keller@example.org", 2),
            ("Signed NDA — please countersign", "legal@fabrikam.com", 5),
            ("Flight confirmation ABC123", "noreply@airline.example", 12),
        ],
        "theo.martin": [("Build failed: main #4812", "ci@example.org", 1)],
    }
    for account, deleted in items.items():
        principal = sb.get(account)
        if principal is None:
            continue
        for subject, sender, days_ago in deleted:
            when = now - days_ago * DAY
            raw = raw_message(sender, principal.emails[:1], subject, when - 3 * DAY, mid=f"{when:x}.del@example.org")
            delete_blob(sb, principal.id, raw, deleted_at=when, expires_at=when + 30 * DAY)


__all__ = ["seed_mail_flow", "dmarc_record", "policy_published", "raw_message"]
