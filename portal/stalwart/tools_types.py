"""Typed results of the troubleshooting, spam-filter and maintenance calls (api-behaviour §10-§14)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import errors
from .sse import SSEEvent


def _bad(what: str, operation: str = "") -> errors.StalwartBadResponse:
    return errors.StalwartBadResponse(f"Stalwart sent an unexpected {what}.", operation=operation)


# --- delivery troubleshooting ------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DeliveryStage:
    """One stage of a delivery check: `type` (camelCase) and its other fields (snake_case)."""

    type: str
    data: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_api(cls, value: Any) -> DeliveryStage:
        if not isinstance(value, dict) or not isinstance(value.get("type"), str) or not value["type"]:
            raise _bad("troubleshooting stage")
        return cls(value["type"], {key: item for key, item in value.items() if key != "type"})

    @classmethod
    def from_event(cls, event: SSEEvent) -> DeliveryStage:
        """A frame is `data: [<one stage>]` (api-behaviour §14)."""
        try:
            value = json.loads(event.data)
        except ValueError:
            raise _bad("troubleshooting frame") from None
        if not isinstance(value, list) or len(value) != 1:
            raise _bad("troubleshooting frame")
        return cls.from_api(value[0])

    @property
    def outcome(self) -> str:
        """ "start", "success", "notFound", "error", "completed" or "info" (from the name)."""
        if self.type == "completed":
            return "completed"
        for suffix, outcome in (("Start", "start"), ("Success", "success"), ("Completed", "success")):
            if self.type.endswith(suffix):
                return outcome
        if self.type.endswith("NotFound"):
            return "notFound"
        if self.type.endswith("Error"):
            return "error"
        return "info"

    @property
    def elapsed(self) -> int | None:
        value = self.data.get("elapsed")
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def reason(self) -> str:
        value = self.data.get("reason")
        return value if isinstance(value, str) else ""

    def text(self, key: str) -> str:
        value = self.data.get(key)
        return value if isinstance(value, str) else ""


# --- DMARC troubleshooting ---------------------------------------------------------------
AUTH_RESULTS = ("pass", "fail", "softFail", "tempError", "permError", "neutral", "none")


@dataclass(frozen=True, slots=True)
class AuthResult:
    """An SPF, reverse-IP, DKIM, ARC or DMARC result: `kind` is one of `AUTH_RESULTS`."""

    kind: str
    details: str = ""

    @classmethod
    def from_api(cls, value: Any) -> AuthResult:
        if not isinstance(value, dict) or value.get("type") not in AUTH_RESULTS:
            raise _bad("authentication result")
        details = value.get("details")
        return cls(value["type"], details if isinstance(details, str) else "")

    @property
    def passed(self) -> bool:
        return self.kind == "pass"


@dataclass(frozen=True, slots=True)
class DmarcReport:
    spf_ehlo_domain: str
    spf_ehlo: AuthResult
    spf_mail_from_domain: str
    spf_mail_from: AuthResult
    iprev: AuthResult
    iprev_ptr: tuple[str, ...]
    dkim: tuple[AuthResult, ...]
    dkim_pass: bool
    arc: AuthResult
    dmarc: AuthResult
    dmarc_pass: bool
    dmarc_policy: str  # "none", "quarantine", "reject" or "unspecified"
    elapsed: int

    @classmethod
    def from_api(cls, data: Any) -> DmarcReport:
        if not isinstance(data, dict):
            raise _bad("DMARC analysis")
        try:
            ptr = data.get("ipRevPtr") or []
            dkim = data.get("dkimResults") or []
            if not isinstance(ptr, list) or not isinstance(dkim, list):
                raise _bad("DMARC analysis")
            return cls(
                spf_ehlo_domain=str(data.get("spfEhloDomain") or ""),
                spf_ehlo=AuthResult.from_api(data["spfEhloResult"]),
                spf_mail_from_domain=str(data.get("spfMailFromDomain") or ""),
                spf_mail_from=AuthResult.from_api(data["spfMailFromResult"]),
                iprev=AuthResult.from_api(data["ipRevResult"]),
                iprev_ptr=tuple(str(item) for item in ptr),
                dkim=tuple(AuthResult.from_api(item) for item in dkim),
                dkim_pass=bool(data.get("dkimPass")),
                arc=AuthResult.from_api(data["arcResult"]),
                dmarc=AuthResult.from_api(data["dmarcResult"]),
                dmarc_pass=bool(data.get("dmarcPass")),
                dmarc_policy=str(data.get("dmarcPolicy") or "unspecified"),
                elapsed=int(data.get("elapsed") or 0),
            )
        except (KeyError, TypeError, ValueError):
            raise _bad("DMARC analysis") from None


# --- spam filter -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SpamTag:
    name: str
    action: str  # "allow", "discard" or "reject"
    score: float | None  # only for "allow"

    @property
    def decisive(self) -> bool:
        return self.action in ("discard", "reject")


@dataclass(frozen=True, slots=True)
class SpamClassification:
    score: float
    tags: tuple[SpamTag, ...]  # decisive tags first, then by absolute score
    action: str  # the disposition: "allow", "discard" or "reject"
    headers: str  # the X-Spam-* header text of an "allow" disposition (none on 0.16+)
    verdict: str = ""  # 0.16+: the server's own "spam", "ham", "reject" or "discard"

    @classmethod
    def from_api(cls, data: Any) -> SpamClassification:
        if not isinstance(data, dict) or not isinstance(data.get("tags"), dict):
            raise _bad("spam classification")
        score = data.get("score")
        disposition = data.get("disposition")
        if isinstance(score, bool) or not isinstance(score, int | float) or not isinstance(disposition, dict):
            raise _bad("spam classification")
        tags = [cls._tag(name, value) for name, value in data["tags"].items()]
        tags.sort(key=lambda tag: (not tag.decisive, -abs(tag.score or 0.0), tag.name))
        action = disposition.get("action")
        if action not in ("allow", "discard", "reject"):
            raise _bad("spam classification")
        headers = disposition.get("value") if action == "allow" else ""
        return cls(float(score), tuple(tags), action, headers if isinstance(headers, str) else "")

    @staticmethod
    def _tag(name: Any, value: Any) -> SpamTag:
        if not isinstance(value, dict) or value.get("action") not in ("allow", "discard", "reject"):
            raise _bad("spam tag")
        score = value.get("value") if value["action"] == "allow" else None
        if score is not None and (isinstance(score, bool) or not isinstance(score, int | float)):
            raise _bad("spam tag")
        return SpamTag(str(name), value["action"], None if score is None else float(score))

    @property
    def is_spam(self) -> bool:
        """What the official web admin shows: the X-Spam-Status header says Yes (0.16+: the verdict)."""
        if self.verdict:
            return self.verdict == "spam"
        return self.action == "allow" and ": Yes" in self.headers
