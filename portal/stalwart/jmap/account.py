"""Self-service on Stalwart 0.16+: the `account` area over `x:AccountPassword` and `x:AppPassword`.

The same calls as the REST area (`get_auth`, `update_auth` with the requests of
`portal.stalwart.account`), mapped onto the 0.16 objects (v0.16 objects.md §7, §8):

* `setPassword`, `enableOtpAuth`, `disableOtpAuth` become one `x:AccountPassword/set` update of
  the singleton, with `currentSecret` (the password just typed) and `otpAuth/otpCode` (the code,
  when the account has two-factor on). The new password goes as typed: this object checks its
  strength and hashes it itself (`Capabilities.server_hashes_passwords`).
* `addAppPassword` creates an `x:AppPassword` whose `description` is the label; the server
  generates the secret and shows it once: `update_auth` returns it.
* `removeAppPassword` destroys the app passwords of that name (all without one).

The refusals of `x:AccountPassword` come back as the errors the views already explain: a wrong
current password is `Unauthorized`, a missing code `TotpRequired`, a wrong code `Unauthorized`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils.translation import gettext

from .. import errors
from ..secrets import app_password_name
from ..types import AccountAuth, AppPassword
from .client import Call, JmapClient

SINGLETON = "singleton"


def _utc(value: Any) -> datetime | None:
    text = str(value or "")
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _app_password(item: dict[str, Any]) -> AppPassword:
    label = str(item.get("description") or "")
    created = _utc(item.get("createdAt"))
    ips = item.get("allowedIps")
    permissions = item.get("permissions")
    extra = {
        "expires": _utc(item.get("expiresAt")),
        "allowed_ips": tuple(sorted(str(ip) for ip, on in ips.items() if on)) if isinstance(ips, dict) else (),
        "scope": str(permissions.get("@type") or "") if isinstance(permissions, dict) else "",
    }
    if created is None:
        return AppPassword(raw_name=label, label=label, created=None, **extra)
    return AppPassword(raw_name=app_password_name(label, created), label=label, created=created, **extra)


def _refusal(exc: errors.StalwartError) -> errors.StalwartError:
    """x:AccountPassword's `forbidden` SetErrors, as the errors of a Basic-auth check on REST."""
    if not isinstance(exc, errors.Forbidden):
        return exc
    text = exc.message
    operation = exc.operation
    if "OTP code is required" in text:
        return errors.TotpRequired(text, status=402, operation=operation)
    if "incorrect" in text:  # the current password, or the current code
        return errors.Unauthorized(text, status=401, operation=operation)
    if "does not support password changes" in text:
        return errors.Unsupported(text, body={"error": "unsupported", "details": text}, operation=operation)
    return exc


class JmapAccount:
    """The signed-in person's own password, two-factor and app passwords on 0.16+.

    `current` is (password, code) typed for a change; `verify` is a client with the person's
    name and that password as Basic credentials, for `get_auth` as a password check.
    """

    def __init__(
        self, client: JmapClient, *, current: tuple[str, str] | None = None, verify: JmapClient | None = None
    ) -> None:
        self._client = client
        self._current = current
        self._verify = verify

    async def get_auth(self) -> AccountAuth:
        if self._verify is not None:
            # A check of the password alone: 401 wrong, 402 right but a code is needed.
            await self._verify._http("GET", "/api/account")
        password_id, apps_id = self._client.next_id(), self._client.next_id()
        results = await self._client.call(
            [
                Call("x:AccountPassword/get", {"ids": [SINGLETON]}, password_id),
                Call("x:AppPassword/get", {"ids": None}, apps_id),
            ]
        )
        found = results[password_id].get("list") or [{}]
        otp = found[0].get("otpAuth") if isinstance(found[0], dict) else None
        apps = [_app_password(item) for item in results[apps_id].get("list") or [] if isinstance(item, dict)]
        return AccountAuth(otp_enabled=bool(isinstance(otp, dict) and otp.get("otpUrl")), app_passwords=tuple(apps))

    async def _app_password_ids(self, raw_name: str | None) -> list[str]:
        found = await self._client.get("AppPassword", None, ["description", "createdAt"])
        if raw_name is None:
            return [str(item["id"]) for item in found]
        return [str(item["id"]) for item in found if _app_password(item).raw_name == raw_name]

    async def update_auth(self, requests: list[dict[str, Any]]) -> str | None:
        """Apply the requests; returns the secret of an app password the server generated."""
        if not requests:
            raise ValueError("Give at least one request.")
        patch: dict[str, Any] = {}
        issued: str | None = None
        for request in requests:
            kind = request.get("type")
            if kind == "setPassword":
                patch["secret"] = str(request["password"])
            elif kind == "enableOtpAuth":
                patch["otpAuth/otpUrl"] = str(request["url"])
            elif kind == "disableOtpAuth":
                patch["otpAuth/otpUrl"] = None
            elif kind == "addAppPassword":
                label = AppPassword.from_raw_name(str(request["name"])).label
                value: dict[str, Any] = {"description": label}
                if request.get("expiresAt"):
                    value["expiresAt"] = request["expiresAt"]
                if request.get("allowedIps"):
                    value["allowedIps"] = {str(ip): True for ip in request["allowedIps"]}
                fields = {"description": "label", "expiresAt": "expires_days", "allowedIps": "allowed_ips"}
                result = await self._client.set("AppPassword", create={"a": value}, field_map=fields)
                secret = (result["created"].get("a") or {}).get("secret")
                if not isinstance(secret, str) or not secret:
                    raise errors.StalwartBadResponse(
                        gettext("Stalwart did not return the new app password."), operation="x:AppPassword/set"
                    )
                issued = secret
            elif kind == "removeAppPassword":
                name = request.get("name")
                ids = await self._app_password_ids(None if name is None else str(name).removesuffix("$"))
                if ids:
                    await self._client.set("AppPassword", destroy=ids)
            else:
                raise ValueError(f"Unknown account request {kind!r}")
        if patch:
            password, code = self._current or ("", "")
            patch["currentSecret"] = password
            if code:
                patch["otpAuth/otpCode"] = code
            try:
                await self._client.set(
                    "AccountPassword", update={SINGLETON: patch}, field_map={"secret": "new_password"}
                )
            except errors.StalwartError as exc:
                raise _refusal(exc) from exc
        return issued
