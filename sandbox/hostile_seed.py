"""The ``hostile`` seed: the demo organisation with attacker-controlled text everywhere.

Everything the portal renders that comes from Stalwart is untrusted: principal names and
descriptions, report contents sent by other organisations, SMTP envelopes and responses,
message headers, log lines and traces, settings. ``apply(sb)`` runs after the demo seed
(``build_seed``) and puts script and template-injection payloads, a 100 KB string, bidi
overrides, zero-width characters and URL-significant characters (``/ .. %2F + & = ? #``) into
each of them, through the areas' own helpers, keeping every shape valid so that the portal
still parses it. The browser test ``tests/browser/test_hostile_content.py`` visits every page
with this seed and fails on any script run, dialog or request to another origin.
"""

from __future__ import annotations

import random

from .model import Principal
from .observability import Event
from .observability import state as observability_state
from .permissions import BUILTIN_ROLE_IDS
from .queue import enqueue, schedule_report
from .reports import receive_report
from .store import delete_blob

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
JS_URL = "javascript:alert(1)"
TEMPLATE = "{{7*7}}"
DEBUG_TAG = "{% debug %}"
#: Every payload that must come out as text, never as markup or evaluated template code.
MARKUP = f"{SCRIPT} {IMG} {TEMPLATE} {DEBUG_TAG}"
#: Right-to-left override and zero-width characters (a spoofed "exe.txt", an invisible split).
BIDI = "invoice\u202etxt.exe\u202c \u200bad\u200dmin\u2060\ufeff"
#: Characters that mean something in paths and query strings.
PATHY = "a/../b%2Fc+d&e=f?g#h"
#: 100 KB of text with payloads inside (a long log detail, a message body, a setting value).
_CHUNK = "0123456789 " + SCRIPT + " " + IMG + "\n"
BIG = (_CHUNK * (102_400 // len(_CHUNK) + 1))[:102_400]

EVIL_SENDER = '"<script>alert(1)</script>"@evil.example'

#: (type, name, description, emails, extra) of the hostile principals (names are lowercased).
PRINCIPALS = [
    ("individual", SCRIPT, MARKUP, ["x+y&z=1@example.org"], {"picture": JS_URL}),
    ("individual", IMG + "@example.org", f"{TEMPLATE} {DEBUG_TAG}", [], {"picture": "https://evil.example/p.png"}),
    ("individual", PATHY.lower() + "@example.org", PATHY, ["a%2fb@example.com"], {}),
    ("individual", "\u202eadmin\u200b@example.org", BIDI, [], {}),
    ("individual", "{{7*7}}@example.com", DEBUG_TAG, [], {}),
    ("group", "{% debug %}", IMG, ["hostile-group@example.org"], {}),
    ("group", PATHY.lower(), SCRIPT, [], {}),
    ("list", JS_URL, MARKUP, ["hostile-list@example.org"], {"external_members": [EVIL_SENDER, "a+b&c=d@evil.example"]}),
    ("role", IMG, SCRIPT, [], {}),
    (
        "oauthClient",
        "evil-client" + IMG,
        MARKUP,
        ["hostile-oauth@example.org"],
        {"urls": [JS_URL, "https://evil.example/cb?x=" + SCRIPT + "&y=" + PATHY], "picture": JS_URL},
    ),
    ("apiKey", "evil-key" + SCRIPT, IMG, [], {}),
]


def apply(sb) -> None:
    """Add the hostile content to a sandbox seeded with the demo organisation."""
    rng = random.Random(666)
    now = sb.now()
    _principals(sb)
    _settings(sb)
    _queue(sb, now)
    _reports(sb, now)
    _undelete(sb, now)
    _observability(sb, rng, now)


# --------------------------------------------------------------------------- directory


def _principals(sb) -> None:
    user_role = BUILTIN_ROLE_IDS["user"]
    for typ, name, description, emails, extra in PRINCIPALS:
        p = Principal(sb.allocate_id(), typ, name.lower())
        p.description = description
        p.emails = [email.lower() for email in emails]
        p.picture = extra.get("picture")
        p.urls = list(extra.get("urls", []))
        p.external_members = list(extra.get("external_members", []))
        if typ == "individual":
            p.member_of = [user_role]
        sb.insert(p)
    hostile_group = sb.by_name["{% debug %}"]
    for member in (SCRIPT, "x+y&z=1@example.org"):
        pid = sb.by_name.get(member) or sb.emails.get(member)
        if pid is not None:
            sb.add_membership(pid, hostile_group)
    # Descriptions of demo principals that appear on many pages.
    for name, description in (
        ("example.net", MARKUP),
        ("helpdesk", IMG),
        ("acme", SCRIPT + BIDI),
        ("webmail", f"{JS_URL} {PATHY}"),
    ):
        principal = sb.get(name)
        if principal is None:
            continue
        copy = principal.clone()
        copy.description = description
        if copy.type == "oauthClient":
            copy.urls = [*copy.urls, JS_URL]
        sb.replace(copy)


# --------------------------------------------------------------------------- settings


def _settings(sb) -> None:
    sb.settings.update(
        {
            "server.hostile.script": SCRIPT,
            "server.hostile.attribute": IMG,
            "server.hostile.url": JS_URL,
            "server.hostile.template": f"{TEMPLATE} {DEBUG_TAG}",
            "server.hostile.bidi": BIDI,
            "server.hostile.path": PATHY,
            "server.hostile.big": BIG,
            "hostile.section." + PATHY.replace(".", "_"): MARKUP,
        }
    )


# --------------------------------------------------------------------------- queue and blobs


def hostile_message(sender: str, recipients: list[str], subject: str, *, body: str = BIG) -> bytes:
    lines = [
        f"From: {sender}",
        f"To: {', '.join(recipients)}",
        f"Subject: {subject}",
        f"X-Hostile: {IMG}",
        f"X-Template: {TEMPLATE} {DEBUG_TAG}",
        f"X-Link: <{JS_URL}>",
        "Date: Tue, 29 Apr 2025 08:00:00 +0000",
        "Message-ID: <hostile.1@evil.example>",
        "Content-Type: text/html; charset=utf-8",
        "",
        f'<html><body>{SCRIPT}<a href="{JS_URL}">{BIDI}</a>',
        body,
        "</body></html>",
        "",
    ]
    return "\r\n".join(lines).encode()


def _queue(sb, now: int) -> None:
    recipients = ["x+y&z=1@example.org", "a%2fb@example.com", f"victim@{'evil.example'}"]
    enqueue(
        sb,
        return_path=EVIL_SENDER,
        recipients=recipients,
        created=now - 600,
        hold=540,  # one attempt a minute ago (evil.example failed it): due again in a minute
        env_id=IMG,
        raw_message=hostile_message(EVIL_SENDER, recipients, f"{SCRIPT} {BIDI}"),
        outcomes={
            "victim@evil.example": (
                "perm_fail",
                f"Code: 550, Enhanced code: 5.7.1, Message: {SCRIPT} {IMG} {TEMPLATE} {DEBUG_TAG}",
            ),
        },
        domain_errors={"evil.example": f"TLS handshake failed: {IMG} {JS_URL}"},
    )
    enqueue(
        sb,
        return_path="pathy+tag&x=1@evil.example",
        recipients=["someone@evil.example"],
        created=now - 300,
        hold=3600,
        raw_message=hostile_message("pathy@evil.example", ["someone@evil.example"], PATHY, body=MARKUP),
    )
    # An outgoing DMARC report addressed to a hostile rua.
    schedule_report(
        sb,
        kind="d",
        domain="evil.example",
        period=86400,
        due=now + 4 * 3600,
        rua=[{"uri": f"mailto:{EVIL_SENDER}", "max_size": 0}, {"uri": JS_URL, "max_size": 0}],
        data={
            "policy_published": {
                "domain": "evil.example",
                "adkim": "Relaxed",
                "aspf": "Relaxed",
                "p": "Reject",
                "sp": "Reject",
                "testing": False,
                "fo": None,
            },
            "records": [_dmarc_record(IMG)],
        },
    )


def _undelete(sb, now: int) -> None:
    principal = sb.get("jane.doe")
    if principal is None:
        return
    raw = hostile_message(EVIL_SENDER, ["jane.doe@example.org"], f"{IMG} {TEMPLATE}")
    delete_blob(sb, principal.id, raw, deleted_at=now - 3600, expires_at=now + 29 * 86400)


# --------------------------------------------------------------------------- reports


def _dmarc_record(header_from: str) -> dict:
    return {
        "row": {
            "source_ip": "192.0.2.66",
            "count": 3,
            "policy_evaluated": {
                "disposition": "Reject",
                "dkim": "Fail",
                "spf": "Fail",
                "reason": [{"type_": "Other", "comment": MARKUP}],
            },
        },
        "identifiers": {"envelope_to": PATHY, "envelope_from": EVIL_SENDER, "header_from": header_from},
        "auth_results": {
            "dkim": [{"domain": IMG, "selector": SCRIPT, "result": "Fail", "human_result": MARKUP}],
            "spf": [{"domain": JS_URL, "scope": "MailFrom", "result": "Fail", "human_result": BIDI}],
        },
        "extensions": [],
    }


def _tls_failure() -> dict:
    return {
        "result-type": "validation-failure",
        "sending-mta-ip": "192.0.2.66",
        "receiving-mx-hostname": IMG,
        "receiving-mx-helo": SCRIPT,
        "receiving-ip": "192.0.2.67",
        "failed-session-count": 2,
        "additional-information": JS_URL,
        "failure-reason-code": f"{MARKUP} {BIDI}",
    }


def _reports(sb, now: int) -> None:
    """Payloads in every incoming report (the lists show them) and one fully hostile report each."""
    incoming = sb.mailflow.incoming
    for item in incoming["dmarc"].values():
        meta = item.report["report_metadata"]
        meta["org_name"] = f"{meta['org_name']} {SCRIPT}"
        meta["extra_contact_info"] = JS_URL
        item.report["record"].append(_dmarc_record("example.org"))
    for item in incoming["tls"].values():
        item.report["organization-name"] = f"{item.report['organization-name']} {IMG}"
        item.report["contact-info"] = JS_URL
        item.report["policies"][0]["failure-details"].append(_tls_failure())
        item.report["policies"][0]["summary"]["total-failure-session-count"] += 2
    for item in incoming["arf"].values():
        item.report["user_agent"] = f"{SCRIPT} {BIDI}"
        item.report["reported_uri"] = [JS_URL, "https://evil.example/?" + PATHY]
        item.report["headers"] = f"Subject: {MARKUP}\r\nX-Hostile: {IMG}\r\n"
        item.subject = f"{item.subject} {IMG}"

    day = now - now % 86400 - 86400
    receive_report(
        sb,
        "dmarc",
        sender=EVIL_SENDER,
        to=["dmarc@example.org"],
        subject=f"Report Domain: example.org Submitter: {SCRIPT}",
        arrived=now - 200,
        report={
            "version": 1.0,
            "report_metadata": {
                "org_name": MARKUP,
                "email": EVIL_SENDER,
                "extra_contact_info": JS_URL,
                "report_id": PATHY,
                "date_range": {"begin": day, "end": day + 86399},
                "error": [SCRIPT, BIG],
            },
            "policy_published": {
                "domain": "example.org",
                "adkim": "Relaxed",
                "aspf": "Relaxed",
                "p": "Quarantine",
                "sp": "Quarantine",
                "testing": False,
                "fo": IMG,
            },
            "record": [_dmarc_record(IMG), _dmarc_record(SCRIPT)],
            "extensions": [],
        },
    )
    receive_report(
        sb,
        "tls",
        sender=EVIL_SENDER,
        to=["tls-reports@example.org"],
        subject=f"Report Domain: example.org Submitter: {IMG}",
        arrived=now - 200,
        report={
            "organization-name": MARKUP,
            "date-range": {
                "start-datetime": _rfc3339(day),
                "end-datetime": _rfc3339(day + 86399),
            },
            "contact-info": JS_URL,
            "report-id": PATHY,
            "policies": [
                {
                    "policy": {
                        "policy-type": "sts",
                        "policy-string": ["version: STSv1", f"mode: {SCRIPT}", f"mx: {IMG}"],
                        "policy-domain": "example.org",
                        "mx-host": [IMG],
                    },
                    "summary": {"total-successful-session-count": 1, "total-failure-session-count": 2},
                    "failure-details": [_tls_failure()],
                }
            ],
        },
    )
    arf = dict(next(iter(incoming["arf"].values())).report) if incoming["arf"] else {}
    arf.update(
        {
            "feedback_type": "Abuse",
            "arrival_date": now - 250,
            "authentication_results": [MARKUP],
            "original_envelope_id": IMG,
            "original_mail_from": EVIL_SENDER,
            "original_rcpt_to": "x+y&z=1@example.org",
            "reported_domain": [IMG, "example.org"],
            "reported_uri": [JS_URL],
            "reporting_mta": f"dns; {SCRIPT}",
            "source_ip": "192.0.2.66",
            "user_agent": f"{TEMPLATE} {DEBUG_TAG}",
            "dkim_domain": IMG,
            "dkim_identity": SCRIPT,
            "dkim_selector": JS_URL,
            "message": hostile_message(EVIL_SENDER, ["x+y&z=1@example.org"], SCRIPT).decode(),
            "headers": f"From: {EVIL_SENDER}\r\nSubject: {MARKUP}\r\nX-Bidi: {BIDI}\r\n",
        }
    )
    receive_report(
        sb,
        "arf",
        sender=EVIL_SENDER,
        to=["abuse@example.org"],
        subject=f"Abuse report {SCRIPT}",
        arrived=now - 250,
        report=arf,
    )


def _rfc3339(ts: int) -> str:
    from .dates import rfc3339

    return rfc3339(ts)


# --------------------------------------------------------------------------- logs and traces


def _observability(sb, rng: random.Random, now: int) -> None:
    obs = observability_state(sb)
    events = obs.received_session(now - 90, rng, hostile=True)
    for event in events:
        if event.type == "smtp.ehlo":
            event.data["domain"] = IMG
        elif event.type == "smtp.mail-from":
            event.data["from"] = EVIL_SENDER
        elif event.type == "smtp.rcpt-to":
            event.data["to"] = "x+y&z=1@example.org"
        elif event.type == "tls.handshake":
            event.data["details"] = BIG
    events.insert(
        -1,
        Event(
            "smtp.relay-not-allowed",
            now - 89,
            {"to": PATHY, "details": f"{MARKUP} {BIDI}", "reason": JS_URL, **_span_of(events)},
        ),
    )
    obs.emit(events)  # a stored span, and its log lines
    obs.emit(
        [
            Event("http.error", now - 60, {"url": "/api/" + PATHY + SCRIPT, "reason": IMG}),
            Event("auth.failed", now - 59, {"accountName": BIDI, "remoteIp": "192.0.2.66", "listenerId": TEMPLATE}),
            Event("config.build-warning", now - 58, {"key": DEBUG_TAG, "details": BIG}),
            Event("resource.not-found", now - 57, {"path": JS_URL, "remoteIp": "192.0.2.66"}),
        ],
        store_span=False,
    )
    obs.live.clear()


def _span_of(events: list[Event]) -> dict:
    first = events[0].data
    return {key: first[key] for key in ("spanId", "listenerId", "localPort", "remoteIp", "remotePort") if key in first}
