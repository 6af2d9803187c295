"""Troubleshooting and the spam filter on Stalwart 0.16+: the `troubleshoot` and `spam_filter`
areas, with the same calls and typed results as the REST areas
(`portal.stalwart.troubleshoot`, `portal.stalwart.spamfilter`).

* Delivery check: a 60-second token from `GET /api/token/delivery`, the stream at
  `GET /api/live/delivery/{target}` (header or `?token=`), read and relayed exactly as the REST
  stream (`troubleshoot.delivery_stream`). 0.16 spells `remoteIps`/`remoteIp` in camelCase;
  the stages are given the portal's (≤ 0.15) keys here, so `DeliveryStage` stays one model.
* DMARC check: the `x:Action` `TroubleshootDmarc`, whose filled-in object comes back in
  `created`. Its v0.16.18 validator requires the result fields `spfEhloDomain` and
  `spfMailFromDomain`: the EHLO name and the sender's domain are sent, the server overwrites them.
* Classify: the `x:Action` `ClassifySpam`. It answers a verdict (`spam`, `ham`, `reject`,
  `discard`), a score and tags (`{disposition: score|reject|discard, score}`), but no
  `X-Spam-*` header text. 0.16 needs an envelope sender: a bounce (null sender) cannot be tested.
* Training: the .eml is uploaded (`POST /jmap/upload/{own account id}/`) and an
  `x:SpamTrainingSample` made of it, with `isSpam` and the account it belongs to (`null`: a
  server-wide sample). Naming another account needs `impersonate`
  (`Capabilities.spam_samples_impersonate`: the view checks it); the classifier learns from
  the samples at its next training run. 0.16 has no trainer to drive from here (`trainer`).
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Mapping
from contextlib import aclosing
from typing import Any

import httpx
from django.utils.translation import gettext

from .. import errors
from ..paths import api_path, segment
from ..tools_types import AuthResult, DeliveryStage, DmarcReport, SpamClassification, SpamTag
from ..transport import api_url, failure, json_or_none, shared_client, status_failure
from ..troubleshoot import delivery_stream
from . import lookup
from .client import STALWART, JmapClient

#: 0.16 stage keys -> the keys the portal reads (the ≤ 0.15 spelling).
STAGE_KEYS = {"remoteIps": "remote_ips", "remoteIp": "remote_ip"}
DMARC_FIELDS = {"remoteIp": "remote_ip", "ehloDomain": "ehlo_domain", "mailFrom": "mail_from", "message": "message"}
CLASSIFY_FIELDS = {
    "remoteIp": "remote_ip",
    "ehloDomain": "ehlo_domain",
    "envFrom": "sender",
    "envRcptTo": "recipients",
    "authenticatedAs": "authenticated_as",
    "message": "message",
}
TRAIN_FIELDS = {"blobId": "message", "accountId": "account", "isSpam": "kind"}


async def _send(
    client: JmapClient, method: str, path: str, content: bytes | None = None, content_type: str = ""
) -> httpx.Response:
    """One plain HTTP request with the person's credentials (tokens, uploads); errors raised."""
    operation = f"{method} {path}"
    headers = {"Authorization": client.authorization}
    if content_type:
        headers["Content-Type"] = content_type
    started = time.perf_counter()
    try:
        response = await shared_client().request(method, api_url(path, {}), content=content, headers=headers)
    except httpx.HTTPError as exc:
        raise failure(exc, operation, started=started) from exc
    if response.status_code >= 300:
        raise status_failure(response, operation, started=started)
    return response


def _stage(stage: DeliveryStage) -> DeliveryStage:
    if not any(key in stage.data for key in STAGE_KEYS):
        return stage
    return DeliveryStage(stage.type, {STAGE_KEYS.get(key, key): value for key, value in stage.data.items()})


def _auth_result(value: Any) -> AuthResult:
    """An `x:DmarcTroubleshootAuthResult` (`{"@type": "SoftFail", "details": …}`) as the REST one."""
    if not isinstance(value, dict) or not isinstance(value.get("@type"), str) or not value["@type"]:
        raise errors.StalwartBadResponse(gettext("Stalwart sent an unexpected authentication result."))
    kind = value["@type"][:1].lower() + value["@type"][1:]
    return AuthResult.from_api({"type": kind, "details": value.get("details")})


def _members(value: Any) -> list[Any]:
    """A 0.16 list (`{"0": …, "1": …}`) or set (`{"a": true}`) — or a plain array — as a list."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        if all(isinstance(item, bool) for item in value.values()):
            return [key for key, on in value.items() if on]
        return [value[key] for key in sorted(value, key=lambda k: int(k) if str(k).isdigit() else 0)]
    return []


def dmarc_report(data: Mapping[str, Any]) -> DmarcReport:
    try:
        return DmarcReport(
            spf_ehlo_domain=str(data.get("spfEhloDomain") or ""),
            spf_ehlo=_auth_result(data.get("spfEhloResult")),
            spf_mail_from_domain=str(data.get("spfMailFromDomain") or ""),
            spf_mail_from=_auth_result(data.get("spfMailFromResult")),
            iprev=_auth_result(data.get("ipRevResult")),
            iprev_ptr=tuple(str(item) for item in _members(data.get("ipRevPtr"))),
            dkim=tuple(_auth_result(item) for item in _members(data.get("dkimResults"))),
            dkim_pass=bool(data.get("dkimPass")),
            arc=_auth_result(data.get("arcResult")),
            dmarc=_auth_result(data.get("dmarcResult")),
            dmarc_pass=bool(data.get("dmarcPass")),
            dmarc_policy=str(data.get("dmarcPolicy") or "unspecified"),
            elapsed=int(data.get("elapsed") or 0),
        )
    except (TypeError, ValueError):
        raise errors.StalwartBadResponse(gettext("Stalwart sent an unexpected DMARC analysis.")) from None


def classification(data: Mapping[str, Any]) -> SpamClassification:
    verdict = data.get("result")
    score = data.get("score", 0)
    tags = data.get("tags") or {}
    if verdict not in ("spam", "ham", "reject", "discard") or isinstance(score, bool):
        raise errors.StalwartBadResponse(gettext("Stalwart sent an unexpected spam classification."))
    if not isinstance(score, int | float) or not isinstance(tags, dict):
        raise errors.StalwartBadResponse(gettext("Stalwart sent an unexpected spam classification."))
    found = []
    for name, tag in tags.items():
        tag = tag if isinstance(tag, dict) else {}
        disposition = tag.get("disposition")
        value = tag.get("score")
        if disposition in ("reject", "discard"):
            found.append(SpamTag(str(name), str(disposition), None))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            found.append(SpamTag(str(name), "allow", float(value)))
        else:
            found.append(SpamTag(str(name), "allow", 0.0))
    found.sort(key=lambda tag: (not tag.decisive, -abs(tag.score or 0.0), tag.name))
    action = verdict if verdict in ("reject", "discard") else "allow"
    return SpamClassification(float(score), tuple(found), action, "", verdict=str(verdict))


async def _action(client: JmapClient, action: dict[str, Any], fields: Mapping[str, str]) -> dict[str, Any]:
    """Run one `x:Action`; its filled-in object."""
    result = await client.set("Action", create={"a": action}, field_map=fields)
    created = result["created"].get("a")
    if not isinstance(created, dict):
        raise errors.StalwartBadResponse(gettext("Stalwart did not answer the action."), operation="x:Action/set")
    return created


class JmapTroubleshoot:
    """`troubleshoot.token/delivery/dmarc` for a 0.16+ server (see the module's docstring)."""

    def __init__(self, client: JmapClient) -> None:
        self._client = client

    async def token(self) -> str:
        response = await _send(self._client, "GET", api_path("token", "delivery"))
        token = response.text.strip()
        if not token or len(token) > 4096:
            raise errors.StalwartBadResponse(gettext("Stalwart did not return a troubleshooting token."))
        return token

    def delivery(
        self, target: str, *, token: str | None = None, stall: float | None = None
    ) -> AsyncIterator[DeliveryStage]:
        path = api_path("live", "delivery", target.strip().lower())
        stream = delivery_stream(path, authorization=self._client.authorization, token=token, stall=stall)
        return self._renamed(stream)

    @staticmethod
    async def _renamed(stream: AsyncGenerator[DeliveryStage]) -> AsyncGenerator[DeliveryStage]:
        async with aclosing(stream) as stages:  # closing this closes Stalwart's stream at once
            async for stage in stages:
                yield _stage(stage)

    async def dmarc(self, remote_ip: str, ehlo_domain: str, mail_from: str, message: str | None = None) -> DmarcReport:
        action: dict[str, Any] = {
            "@type": "TroubleshootDmarc",
            "remoteIp": remote_ip,
            "ehloDomain": ehlo_domain,
            "mailFrom": mail_from,
            # Outputs the v0.16.18 validator requires; the server fills in the real ones.
            "spfEhloDomain": ehlo_domain,
            "spfMailFromDomain": mail_from.rpartition("@")[2] or ehlo_domain,
        }
        if message is not None:
            action["message"] = message
        return dmarc_report(await _action(self._client, action, DMARC_FIELDS))


class JmapSpamFilter:
    """`spam_filter.train/trainer/classify` for a 0.16+ server (see the module's docstring)."""

    def __init__(self, client: JmapClient) -> None:
        self._client = client

    async def _own_account(self) -> str:
        session = await self._client.session()
        primary = session.get("primaryAccounts")
        account = primary.get(STALWART) if isinstance(primary, dict) else None
        if not isinstance(account, str) or not account:
            raise errors.StalwartBadResponse(gettext("Stalwart's session names no account."), operation="session")
        return account

    async def _account_id(self, account: str) -> str:
        name = account.strip().lower()
        found = (await lookup.find_accounts(self._client, [name])).get(name)
        if found is None:
            raise errors.ItemNotFound(
                gettext("%(item)s was not found.") % {"item": account},
                body={"error": "notFound", "item": account, "field": "account"},
            )
        return str(found["id"])

    async def _upload(self, message: bytes) -> str:
        path = f"/jmap/upload/{segment(await self._own_account())}/"
        response = await _send(self._client, "POST", path, message, "message/rfc822")
        data = json_or_none(response)
        blob = data.get("blobId") if isinstance(data, dict) else None
        if not isinstance(blob, str) or not blob:
            raise errors.StalwartBadResponse(gettext("Stalwart did not accept the upload."), operation=f"POST {path}")
        return blob

    async def train(self, kind: str, message: bytes, account: str = "", *, route: str = "upload") -> None:
        """Store `message` as a spam (or ham) sample of `account`, or a server-wide one."""
        if kind not in ("spam", "ham"):
            raise ValueError("kind is 'spam' or 'ham'")
        account_id = await self._account_id(account) if account else None
        blob = await self._upload(message)
        sample = {"blobId": blob, "isSpam": kind == "spam", "accountId": account_id}
        await self._client.set("SpamTrainingSample", create={"s": sample}, field_map=TRAIN_FIELDS)

    async def trainer(self, action: str) -> bool:
        raise errors.NotOnThisServer(
            gettext("Stalwart 0.16 trains its classifier on its own schedule: there is no trainer to drive."),
            operation=f"spam_filter.trainer {action}",
        )

    async def classify(
        self,
        message: str,
        *,
        remote_ip: str,
        ehlo_domain: str,
        sender: str,
        recipients: Iterable[str],
        tls: bool = True,
        authenticated_as: str = "",
    ) -> SpamClassification:
        if not sender:
            raise errors.FieldMissing(
                gettext("Stalwart 0.16 and later need an envelope sender for this test."),
                body={"error": "fieldMissing", "field": "sender"},
                operation="x:Action/set ClassifySpam",
            )
        action: dict[str, Any] = {
            "@type": "ClassifySpam",
            "message": message,
            "remoteIp": remote_ip,
            "ehloDomain": ehlo_domain,
            "authenticatedAs": authenticated_as or None,
            "isTls": tls,
            "envFrom": sender,
            "envRcptTo": {address: True for address in recipients},
        }
        return classification(await _action(self._client, action, CLASSIFY_FIELDS))
