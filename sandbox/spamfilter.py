"""``/api/spam-filter/*`` (spec §13): Bayes training and classification.

Up to v0.14 every route needs spam-filter-train, classify included (a quirk of the server).
v0.15 replaces training with sample uploads (``upload/{spam,ham}[/account]``) and a trainer
driven by ``GET train/{start,reset,stop,delete,status}``; each route checks its own permission
(classify: spam-filter-test) and an unknown route is 404 before any check. The
classifier is synthetic but deterministic and shape-exact: it tags what it sees in the message
and envelope, looks the message up in the global Bayes model (what was trained), and scores
with fixed tag scores.

* GTUBE in the message gives the ``GTUBE`` tag with action ``reject``; an envelope sender
  at ``discard.test`` gives ``DISCARD_SENDER`` with action ``discard``.
* The words "lottery", "winner", "bitcoin", "viagra" and "urgent" tag ``SPAM_KEYWORDS``.
* A message trained as spam tags ``BAYES_SPAM``, as ham ``BAYES_HAM``.
* SPF and DKIM follow the DMARC endpoint's rules (``sandbox.troubleshoot``).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json

from .errors import ManagementError, ProblemError
from .http import data_response, decode_path_element
from .rfc5322 import digest, domain_of, parse_message
from .routing import api_module, path_element
from .toolstate import tools_state
from .troubleshoot import spf_result

GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
SPAM_THRESHOLD = 5.0
SPAM_WORDS = ("lottery", "winner", "bitcoin", "viagra", "urgent")

#: Configured tag scores; "reject"/"discard" are actions. Tags missing here report allow 0.0.
SCORES: dict[str, float | str] = {
    "GTUBE": "reject",
    "DISCARD_SENDER": "discard",
    "BAYES_SPAM": 5.1,
    "BAYES_HAM": -3.0,
    "SPAM_KEYWORDS": 4.0,
    "MISSING_DATE": 1.0,
    "MISSING_MID": 2.5,
    "MISSING_SUBJECT": 2.0,
    "MISSING_TO": 2.0,
    "SUBJ_ALL_CAPS": 3.0,
    "RCVD_NO_TLS_LAST": 0.1,
    "SPF_ALLOW": -0.2,
    "SPF_FAIL": 1.0,
    "SPF_SOFTFAIL": 0.5,
    "SPF_NA": 0.0,
    "DKIM_ALLOW": -0.2,
    "DKIM_NA": 0.0,
    "HELO_NORES_A_OR_MX": 0.3,
    "AUTH_NA": 1.0,
    "RCPT_COUNT_ONE": 0.0,
    "RCPT_COUNT_SEVEN": 2.0,
}


def _parse(raw) -> object:
    message = parse_message(raw)
    if message is None:
        raise ManagementError.other("Failed to parse message.", None)
    return message


#: sandbox seconds a v0.15 training run takes (``train/status`` is true meanwhile)
TRAINING_SECONDS = 30


@api_module("spam-filter")
def handle_spam_filter(sb, req):
    if sb.at_least((0, 15)):
        return _handle_v015(sb, req)
    req.access.require("spam-filter-train")
    sub, second = path_element(req, 1), path_element(req, 2)
    if sub == "train" and second in ("spam", "ham") and req.method == "POST":
        return _train(sb, req, second)
    if sub == "classify" and req.method == "POST":
        return data_response(_classify(sb, req))
    raise ProblemError.not_found()


def _handle_v015(sb, req):
    sub, second = path_element(req, 1), path_element(req, 2)
    if sub == "upload" and second in ("spam", "ham") and req.method == "POST":
        req.access.require("spam-filter-train")
        return _upload(sb, req, second)
    if sub == "train" and req.method == "GET":
        req.access.require("spam-filter-train")
        return data_response(_trainer(sb, second))
    if sub == "classify" and req.method == "POST":
        req.access.require("spam-filter-test")
        return data_response(_classify(sb, req))
    raise ProblemError.not_found()


def _upload(sb, req, kind: str):
    """v0.15: store a training sample (not parsed) for the global model or one account."""
    access = req.access
    state = tools_state(sb)
    raw_account = path_element(req, 3)
    message = parse_message(req.body or b"")
    key = digest(message) if message is not None else hashlib.sha256(req.body or b"").hexdigest()
    if raw_account:
        principal = sb.get(decode_path_element(raw_account))
        if principal is None:
            raise ManagementError.not_found(raw_account)
        if access.tenant_id is not None and principal.tenant != access.tenant_id:
            raise ManagementError.other("Account does not belong to this tenant.", None)
        state.samples.append((kind, principal.id, key))
        state.trained.append((kind, principal.name, key))
    elif access.tenant_id is None:
        state.samples.append((kind, None, key))
        state.trained.append((kind, None, key))
    else:
        raise ManagementError.other("Account ID is required for tenants.", None)
    return data_response(None)


def _trainer(sb, action: str | None) -> bool:
    """v0.15 ``GET train/<action>``: true when the trainer did what was asked (or runs)."""
    state = tools_state(sb)
    now = sb.now()
    running = state.trainer_until > now
    if action in ("start", "reset"):
        if running:
            return False
        if action == "reset":
            state.bayes_global.clear()
            state.bayes_accounts.clear()
        for kind, account_id, key in state.samples:
            target = state.bayes_global if account_id is None else state.bayes_accounts.setdefault(account_id, {})
            target[key] = kind
        state.samples.clear()
        state.classifier_model = True
        state.trainer_until = now + TRAINING_SECONDS
        return True
    if action == "stop":
        state.trainer_until = 0
        return running
    if action == "delete":
        state.bayes_global.clear()
        state.bayes_accounts.clear()
        state.classifier_model = False
        return True
    if action == "status":
        return running
    raise ProblemError.not_found()


def _train(sb, req, kind: str):
    message = _parse(req.body or b"")
    state = tools_state(sb)
    raw_account = path_element(req, 3)
    key = digest(message)
    if raw_account:
        principal = sb.get(decode_path_element(raw_account))
        if principal is None:
            raise ManagementError.not_found(raw_account)
        state.bayes_accounts.setdefault(principal.id, {})[key] = kind
        state.trained.append((kind, principal.name, key))
    else:
        state.bayes_global[key] = kind
        state.trained.append((kind, None, key))
    return data_response(None)


def _classify_request(req) -> dict:
    body = req.json_body()
    if not isinstance(body, dict):
        raise ProblemError.json_failed()
    checks = {
        "message": lambda v: isinstance(v, str),
        "remoteIp": lambda v: isinstance(v, str),
        "envFrom": lambda v: isinstance(v, str),
        "envFromFlags": lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**64,
        "envRcptTo": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
    }
    for key, ok in checks.items():
        if key not in body or not ok(body[key]):
            raise ProblemError.json_failed()
    optional = {
        "ehloDomain": (lambda v: isinstance(v, str), ""),
        "authenticatedAs": (lambda v: v is None or isinstance(v, str), None),
        "isTls": (lambda v: isinstance(v, bool), False),
    }
    for key, (ok, default) in optional.items():
        if key not in body:
            body[key] = default
        elif not ok(body[key]):
            raise ProblemError.json_failed()
    try:
        body["remoteIp"] = ipaddress.ip_address(body["remoteIp"])
    except ValueError:
        raise ProblemError.json_failed() from None
    return body


def _classify(sb, req) -> dict:
    return classify(sb, _classify_request(req))


def classify(sb, request: dict) -> dict:
    """The classifier on a checked request (``message``, ``remoteIp`` as an address, ``envFrom``,
    ``envRcptTo``, ``ehloDomain``, ``authenticatedAs``, ``isTls``); shared with the 0.16 front-end."""
    message = _parse(request["message"])
    text = f"{message.get('subject') or ''}\n{message.body}".lower()
    tags: list[str] = []
    if GTUBE.lower() in text:
        tags.append("GTUBE")
    if domain_of(request["envFrom"]) == "discard.test":
        tags.append("DISCARD_SENDER")
    trained = tools_state(sb).bayes_global.get(digest(message))
    if trained:
        tags.append("BAYES_SPAM" if trained == "spam" else "BAYES_HAM")
    if any(word in text for word in SPAM_WORDS):
        tags.append("SPAM_KEYWORDS")
    subject = message.get("subject")
    if subject is None:
        tags.append("MISSING_SUBJECT")
    elif len(subject) > 5 and subject.upper() == subject and any(c.isalpha() for c in subject):
        tags.append("SUBJ_ALL_CAPS")
    for header, tag in (("date", "MISSING_DATE"), ("message-id", "MISSING_MID"), ("to", "MISSING_TO")):
        if message.get(header) is None:
            tags.append(tag)
    if not request["isTls"]:
        tags.append("RCVD_NO_TLS_LAST")
    sender_domain = domain_of(request["envFrom"]) or request["ehloDomain"].lower()
    spf = spf_result(sender_domain, request["remoteIp"])["type"]
    tags.append({"pass": "SPF_ALLOW", "fail": "SPF_FAIL", "softFail": "SPF_SOFTFAIL"}.get(spf, "SPF_NA"))
    tags.append("DKIM_ALLOW" if message.get("dkim-signature") else "DKIM_NA")
    if not request["ehloDomain"] or "." not in request["ehloDomain"]:
        tags.append("HELO_NORES_A_OR_MX")
    if not request["authenticatedAs"]:
        tags.append("AUTH_NA")
    rcpts = len(request["envRcptTo"])
    tags.append("RCPT_COUNT_ONE" if rcpts == 1 else "RCPT_COUNT_SEVEN" if rcpts >= 7 else "RCPT_COUNT_FEW")

    result_tags: dict[str, dict] = {}
    score = 0.0
    for tag in tags:
        configured = SCORES.get(tag, 0.0)
        if isinstance(configured, str):
            result_tags[tag] = {"action": configured}
        else:
            result_tags[tag] = {"action": "allow", "value": configured}
            score += configured
    score = round(score, 2)
    if "GTUBE" in tags:
        disposition: dict = {"action": "reject"}
    elif "DISCARD_SENDER" in tags:
        disposition = {"action": "discard"}
    else:
        listed = ",\r\n\t".join(
            f"{tag} ({value['value']:.2f})" for tag, value in sorted(result_tags.items()) if "value" in value
        )
        verdict = "Yes" if score >= SPAM_THRESHOLD else "No"
        disposition = {
            "action": "allow",
            "value": f"X-Spam-Result: {listed}\r\nX-Spam-Status: {verdict}, score={score:.2f}\r\n",
        }
    # JSON key order of the tags is not stable on the server (a hash map): shuffle it a bit.
    ordered = dict(sorted(result_tags.items(), key=lambda item: json.dumps(item)[::-1]))
    return {"score": score, "tags": ordered, "disposition": disposition}
