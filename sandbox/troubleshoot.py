"""``/api/troubleshoot/*`` (spec §14, §2.2): short-lived token, delivery stream, DMARC check.

The delivery stream sends ``event: event`` / ``data: [<stage>]`` frames and always ends with
``{"type":"completed"}``. What the "remote side" does depends on the target's domain (the part
after the last ``@``, lowercased):

=================  ====================================================================
domain starts with  what happens
=================  ====================================================================
``nomx.``           the MX lookup fails (NXDOMAIN)
``nullmx.``         the domain publishes a null MX ("Null MX record")
``noconnect.``      both MX hosts refuse the connection
``slow.``           the only MX host never answers: ``connectionError`` after ``timeout`` s
``badtls.``         no MTA-STS, TLS-RPT or TLSA; STARTTLS fails on both MX hosts
``stsmismatch.``    the MTA-STS policy (enforce) authorises neither MX host
``reject.``         for an address: both MX hosts answer RCPT TO with 550 5.1.1
``stall.``          a few frames, then nothing more until the client goes away
anything else       delivered to ``mx1.<domain>`` (MTA-STS enforce, TLS-RPT, DANE)
=================  ====================================================================

Timing: frames are ``frame_delay`` seconds apart (default 50-150 ms) and network time-outs last
``timeout * time_scale`` seconds; ``stall_after`` stops every stream after that many frames. All
three live in :func:`sandbox.toolstate.tools_state` and are reset with the sandbox. Each stream
served is recorded in ``tools_state(sb).streams`` (frames sent, completed, closed).

DMARC results are deterministic functions of the input (see :func:`dmarc_report`).
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import json
import random
import secrets
import zlib
from dataclasses import dataclass
from typing import Any

from .auth import AccessToken, validate_token
from .errors import ManagementError, ProblemError
from .http import data_response, decode_path_element, event_stream_response
from .rfc5322 import domain_of, organizational_domain, parse_message
from .routing import QUERY_TOKEN_FALLBACKS, api_module, path_element
from .state import TokenInfo
from .toolstate import StreamRecord, tools_state

TOKEN_LIFETIME = 60
GRANT = "troubleshoot"


# --------------------------------------------------------------------------- routing


@api_module("troubleshoot")
def handle_troubleshoot(sb, req):
    """Permission, then the route (spec §1.7)."""
    req.access.require("troubleshoot")
    sub, arg = path_element(req, 1) or "", path_element(req, 2)
    if sub == "token" and arg is None and req.method == "GET":
        return data_response(_mint(sb, req.access.account_id))
    if sub == "delivery" and arg is not None and req.method == "GET":
        timeout = req.params.get_uint("timeout")
        timeout = timeout if timeout is not None and timeout >= 1 else 30
        return _delivery(sb, decode_path_element(arg).lower(), timeout)
    if sub == "dmarc" and arg is None and req.method == "POST":
        return data_response(dmarc_report(_dmarc_request(req)))
    raise ProblemError.not_found()


def _mint(sb, account_id: int) -> str:
    # Standard base64 with "+", "/" and "=": clients must percent-encode it (spec §2.2).
    token = base64.b64encode(secrets.token_bytes(50)).decode()
    now = sb.now()
    sb.tokens[token] = TokenInfo(GRANT, account_id, "web", now, now + TOKEN_LIFETIME, None)
    return token


def _query_token(sb, req):
    """``?token=`` when header authentication failed: only on /api/troubleshoot/..."""
    token = req.params.get("token")
    if path_element(req, 0) != "troubleshoot" or token is None:
        return None
    info = validate_token(sb, token, GRANT)
    req.access = AccessToken(
        info.account_id, sb.name_of(info.account_id) or "", sb.perms.mask_of("troubleshoot"), None, "token", sb
    )
    req.body = None  # the server hands no body to this path
    return handle_troubleshoot(sb, req)


QUERY_TOKEN_FALLBACKS.append(_query_token)


# --------------------------------------------------------------------------- delivery


@dataclass
class _Step:
    stage: dict | None  # None: stall here
    #: a network time-out to wait (seconds, times ``time_scale``) instead of the frame delay
    wait: float | None = None


class _Run:
    """Builds the stage sequence of one target, with plausible deterministic timings."""

    def __init__(self, target: str, timeout: int):
        self.target = target
        self.email = target if "@" in target else None
        self.domain = target.rpartition("@")[2] if self.email else target
        self.timeout = timeout
        self.rng = random.Random(zlib.crc32(target.encode()))
        self.steps: list[_Step] = []

    def ms(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)

    def add(self, type_: str, wait: float | None = None, **fields: Any) -> None:
        self.steps.append(_Step({"type": type_, **fields}, wait))

    def stall(self) -> None:
        self.steps.append(_Step(None))

    def scenario(self) -> str:
        for prefix in ("nomx", "nullmx", "noconnect", "slow", "badtls", "stsmismatch", "reject", "stall"):
            if self.domain.startswith(prefix + "."):
                return prefix
        return "ok"

    def build(self) -> list[_Step]:
        scenario = self.scenario()
        d = self.domain
        self.add("mxLookupStart", domain=d)
        if scenario == "nomx":
            self.add("mxLookupError", reason="DNS record not found: NXDomain", elapsed=self.ms(5, 40))
            return self.steps
        if scenario == "nullmx":
            self.add("mxLookupError", reason="Null MX record", elapsed=self.ms(3, 30))
            return self.steps
        hosts = [f"mx1.{d}"] if scenario == "slow" else [f"mx1.{d}", f"mx2.{d}"]
        self.add(
            "mxLookupSuccess",
            mxs=[{"exchanges": [host], "preference": 10 * (i + 1)} for i, host in enumerate(hosts)],
            elapsed=self.ms(3, 40),
        )
        self.add("mtaStsFetchStart")
        if scenario == "stall":
            self.stall()
            return self.steps
        with_sts = scenario in ("ok", "reject", "stsmismatch", "noconnect")
        if with_sts:
            pattern = {"equals": f"mail.{d}"} if scenario == "stsmismatch" else {"startsWith": d}
            policy = {"id": "20250301T080000", "mode": "enforce", "mx": [pattern], "max_age": 604800}
            self.add("mtaStsFetchSuccess", policy=policy, elapsed=self.ms(60, 260))
        else:
            self.add("mtaStsNotFound", elapsed=self.ms(5, 40))
        self.add("tlsRptLookupStart")
        if with_sts:
            self.add("tlsRptLookupSuccess", rua=[{"type": "mail", "email": f"tls-reports@{d}"}], elapsed=self.ms(3, 30))
        else:
            self.add("tlsRptNotFound", elapsed=self.ms(3, 30))
        for index, host in enumerate(hosts):
            if self.host(scenario, index, host, with_sts):
                break
        return self.steps

    def host(self, scenario: str, index: int, host: str, with_sts: bool) -> bool:
        """The attempts on one MX host; True when delivery would succeed (stop there)."""
        self.add("deliveryAttemptStart", hostname=host)
        if with_sts:
            if scenario == "stsmismatch":
                self.add("mtaStsVerifyError", reason="Not authorized by policy")
                return False
            self.add("mtaStsVerifySuccess")
        self.add("tlsaLookupStart")
        dane = scenario in ("ok", "reject") and index == 0
        if dane:
            digest = list(zlib.crc32(host.encode()).to_bytes(4, "big") * 8)
            record = {
                "entries": [{"is_end_entity": True, "is_sha256": True, "is_spki": True, "data": digest}],
                "has_end_entities": True,
                "has_intermediates": False,
            }
            self.add("tlsaLookupSuccess", record=record, elapsed=self.ms(4, 35))
        else:
            self.add("tlsaNotFound", elapsed=self.ms(4, 35), reason="No TLSA records found for MX")
        self.add("ipLookupStart")
        ips = [f"192.0.2.{10 + index}"] + ([f"2001:db8::{10 + index:x}"] if scenario == "ok" and index == 0 else [])
        self.add("ipLookupSuccess", remote_ips=ips, elapsed=self.ms(2, 25))
        for ip in ips:
            self.add("connectionStart", remote_ip=ip)
            if scenario == "noconnect":
                self.add("connectionError", elapsed=self.ms(1, 9), reason="Connection refused (os error 111)")
                continue
            if scenario == "slow":
                self.add(
                    "connectionError", wait=self.timeout, elapsed=self.timeout * 1000, reason="Connection timed out"
                )
                continue
            self.add("connectionSuccess", elapsed=self.ms(12, 90))
            self.add("readGreetingStart")
            self.add("readGreetingSuccess", elapsed=self.ms(20, 140))
            self.add("ehloStart")
            self.add("ehloSuccess", elapsed=self.ms(5, 30))
            self.add("startTlsStart")
            if scenario == "badtls":
                self.add("startTlsError", elapsed=self.ms(20, 80), reason="invalid peer certificate: Expired")
                continue
            self.add("startTlsSuccess", elapsed=self.ms(25, 95))
            if dane:
                self.add("daneVerifySuccess")
            self.add("ehloStart")
            self.add("ehloSuccess", elapsed=self.ms(5, 30))
            success = self.email is None
            if self.email is not None:
                self.add("mailFromStart")
                self.add("mailFromSuccess", elapsed=self.ms(4, 25))
                self.add("rcptToStart")
                if scenario == "reject":
                    reason = f"Unexpected reply: 550 5.1.1 <{self.email}>: Recipient address rejected: User unknown"
                    self.add("rcptToError", reason=reason, elapsed=self.ms(4, 40))
                else:
                    self.add("rcptToSuccess", elapsed=self.ms(4, 40))
                    success = True
            self.add("quitStart")
            self.add("quitCompleted", elapsed=self.ms(1, 8))
            if success:
                return True
        return False


def delivery_stages(target: str, timeout: int = 30) -> list[dict | None]:
    """The stages a target produces (None marks a stall), without ``completed``."""
    return [step.stage for step in _Run(target, timeout).build()]


def _frame(stage: dict) -> bytes:
    return f"event: event\ndata: [{json.dumps(stage, separators=(',', ':'))}]\n\n".encode()


def _delivery(sb, target: str, timeout: int):
    state = tools_state(sb)
    steps = _Run(target, timeout).build()
    steps.append(_Step({"type": "completed"}))
    low, high = state.frame_delay
    delays = random.Random(zlib.crc32(b"delay:" + target.encode()))
    record = StreamRecord(target)
    state.streams.append(record)
    scale = state.time_scale
    stall_after = state.stall_after

    async def frames():
        try:
            for index, step in enumerate(steps):
                if step.stage is None or (stall_after is not None and index >= stall_after):
                    record.stalled = True
                    await asyncio.Event().wait()  # until the client goes away
                if index:
                    await asyncio.sleep(step.wait * scale if step.wait is not None else delays.uniform(low, high))
                yield _frame(step.stage)
                record.frames_sent += 1
            record.completed = True
        finally:
            record.closed = True

    return event_stream_response(frames())


# --------------------------------------------------------------------------- DMARC


def _dmarc_request(req) -> dict:
    body = req.json_body()
    if not isinstance(body, dict):
        raise ProblemError.json_failed()
    fields = {}
    for key in ("remoteIp", "ehloDomain", "mailFrom"):
        if not isinstance(body.get(key), str):
            raise ProblemError.json_failed()
        fields[key] = body[key]
    try:
        fields["remoteIp"] = ipaddress.ip_address(fields["remoteIp"])
    except ValueError:
        raise ProblemError.json_failed() from None
    message = body.get("body")
    if message is not None and not isinstance(message, str):
        raise ProblemError.json_failed()
    fields["body"] = message
    return fields


_TRUSTED = [ipaddress.ip_network(n) for n in ("192.0.2.0/24", "127.0.0.0/8", "::1/128", "2001:db8::/32")]
_SOFTFAIL = ipaddress.ip_network("203.0.113.0/24")
_NO_PTR = [ipaddress.ip_network(n) for n in ("198.51.100.0/24", "203.0.113.0/24")]


def _result(kind: str, details: str | None = None) -> dict:
    return {"type": kind} if kind in ("pass", "none") else {"type": kind, "details": details}


def spf_result(domain: str, ip) -> dict:
    """SPF in the sandbox: ``nospf.`` has no record, ``temperror.`` and ``permerror.`` fail to
    evaluate; otherwise the documentation networks (192.0.2/24, 2001:db8::/32) and loopback
    pass, 203.0.113/24 soft-fails and every other address fails."""
    if not domain or "." not in domain or domain.startswith("nospf."):
        return _result("none")
    if domain.startswith("temperror."):
        return _result("tempError", "DNS query timed out")
    if domain.startswith("permerror."):
        return _result("permError", "Invalid SPF record: too many DNS lookups")
    if any(ip in net for net in _TRUSTED if net.version == ip.version):
        return _result("pass")
    if ip.version == 4 and ip in _SOFTFAIL:
        return _result("softFail")
    return _result("fail")


def _dkim(message) -> list[dict]:
    results = []
    for value in message.get_all("dkim-signature"):
        tags = dict(
            (part.split("=", 1)[0].strip().lower(), part.split("=", 1)[1].strip())
            for part in value.split(";")
            if "=" in part
        )
        domain = tags.get("d", "").lower()
        if not domain or not tags.get("s") or not tags.get("b"):
            results.append(_result("permError", "Missing parameters"))
        elif domain.startswith("fail.") or tags.get("bh") == "invalid":
            results.append(_result("fail", "Signature verification failed"))
        else:
            results.append(_result("pass"))
        results[-1] = {**results[-1], "_domain": domain}
    return results


def dmarc_report(request: dict) -> dict:
    """A deterministic DMARC analysis.

    SPF follows :func:`spf_result`; the reverse IP passes for addresses outside 198.51.100/24
    and 203.0.113/24. DKIM passes for every complete ``DKIM-Signature`` unless ``d=`` starts
    with ``fail.`` or ``bh=invalid``. ARC is none without ``ARC-Seal``, fails with ``cv=fail``.
    DMARC (relaxed alignment on the last two labels) has no record for ``nodmarc.`` From
    domains; the policy is ``quarantine`` for ``quarantine.``, ``none`` for ``monitor.`` and
    ``reject`` otherwise.
    """
    ip = request["remoteIp"]
    ehlo = request["ehloDomain"].lower()
    mail_from = request["mailFrom"].lower()
    body = request["body"] if request["body"] is not None else f"From: {mail_from}\r\nSubject: test\r\n\r\ntest"
    message = parse_message(body)
    if message is None:
        raise ManagementError.other("Invalid message body", "Failed to parse message body")
    mail_from_domain = domain_of(mail_from) or ehlo
    spf_ehlo = spf_result(ehlo, ip)
    spf_mail = spf_result(mail_from_domain, ip)
    if any(ip in net for net in _NO_PTR if net.version == ip.version):
        iprev, ptr = _result("permError", "DNS record not found: NXDomain"), []
    else:
        host = "localhost." if ip.is_loopback else f"{ehlo or 'host'}."
        iprev, ptr = _result("pass"), [host]
    dkim = _dkim(message)
    seals = message.get_all("arc-seal")
    if not seals:
        arc = _result("none")
    elif any("cv=fail" in seal.replace(" ", "").lower() for seal in seals):
        arc = _result("fail", "ARC chain validation failed")
    else:
        arc = _result("pass")
    from_domain = domain_of(message.address("from"))
    org = organizational_domain(from_domain)
    if not from_domain or from_domain.startswith("nodmarc."):
        dmarc, policy, dmarc_pass = _result("none"), "unspecified", False
    else:
        policy = (
            "quarantine"
            if from_domain.startswith("quarantine.")
            else "none"
            if from_domain.startswith("monitor.")
            else "reject"
        )
        spf_aligned = spf_mail["type"] == "pass" and organizational_domain(mail_from_domain) == org
        dkim_aligned = any(r["type"] == "pass" and organizational_domain(r["_domain"]) == org for r in dkim)
        dmarc_pass = spf_aligned or dkim_aligned
        dmarc = _result("pass") if dmarc_pass else _result("fail", "Not aligned")
    seed = zlib.crc32(json.dumps([str(ip), ehlo, mail_from, body]).encode())
    return {
        "spfEhloDomain": ehlo,
        "spfEhloResult": spf_ehlo,
        "spfMailFromDomain": mail_from_domain,
        "spfMailFromResult": spf_mail,
        "ipRevResult": iprev,
        "ipRevPtr": ptr,
        "dkimResults": [{k: v for k, v in r.items() if k != "_domain"} for r in dkim],
        "dkimPass": any(r["type"] == "pass" for r in dkim),
        "arcResult": arc,
        "dmarcResult": dmarc,
        "dmarcPass": dmarc_pass,
        "dmarcPolicy": policy,
        "elapsed": 15 + seed % 380,
    }
