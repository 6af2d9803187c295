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
* `update_app_password` changes an app password's name, expiry, allowed addresses and
  permission scope (0.16 only).

API keys (objects.md §6) are credentials of the person's own account on 0.16, made by their
owner: `api_keys`, `create_api_key` (the server generates the secret and returns it once),
`update_api_key` (description, expiry, allowed addresses, scope; never the secret),
`revoke_api_key`. Their scope (`x:CredentialPermissions`) is every permission of the account
(`Inherit`), only some (`Replace`) or all but some (`Disable`); a scope beyond the caller's own
is refused by the server (`forbidden`, raised as `errors.Forbidden`). An administrator sees
another account's credentials only as `x:Account.credentials` (masked) and removes an app
password or API key there with `credentials/<id>: null` (`revoke_credential`).

Encryption at rest (objects.md §9, §10; rest-to-jmap 37, 38) is the `encryptionAtRest` of the
`x:AccountSettings` singleton, which names an `x:PublicKey` of the account. Turning it on or
replacing the key creates the key and points the setting at it in one request (`#k`); the key
it replaces (or the new one, when the setting was refused) is then destroyed, so keys do not
pile up against the account's quota. The server needs no password for this; the portal still
confirms the one the person typed (Basic check of the password alone: a code cannot be checked
without a change on 0.16).

The refusals of `x:AccountPassword` come back as the errors the views already explain: a wrong
current password is `Unauthorized`, a missing code `TotpRequired`, a wrong code `Unauthorized`.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from django.utils.translation import gettext

from .. import errors
from ..secrets import app_password_name
from ..types import (
    CREDENTIAL_KINDS,
    ENCRYPTION_AEAD_ALGORITHMS,
    ENCRYPTION_ALGORITHMS,
    AccountAuth,
    AppPassword,
    Credential,
    EncryptionAtRest,
)
from .client import Call, JmapClient, pointer, set_error
from .ids import id_text
from .wire import obj as _obj

SINGLETON = "singleton"
#: x:PublicKey / x:AccountSettings properties -> the encryption form's fields
CRYPTO_FIELDS = {"key": "certs", "description": "certs", "encryptionAtRest": "algo", "publicKey": "certs"}
APP_PASSWORD_FIELDS = {
    "description": "label",
    "expiresAt": "expires",
    "allowedIps": "allowed_ips",
    "permissions": "permissions",
}
#: x:ApiKey properties -> the API key forms' fields
API_KEY_FIELDS = {
    "description": "description",
    "expiresAt": "expires",
    "allowedIps": "allowed_ips",
    "permissions": "permissions",
}
#: x:CredentialPermissions types
SCOPES = ("Inherit", "Replace", "Disable")
KEY_DESCRIPTION = "Encryption at rest"


def _utc(value: Any) -> datetime | None:
    text = str(value or "")
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _ips(value: Any) -> tuple[str, ...]:
    return tuple(sorted(str(ip) for ip, on in value.items() if on)) if isinstance(value, dict) else ()


def _scope(value: Any) -> tuple[str, tuple[str, ...]]:
    """(type, names) of an x:CredentialPermissions."""
    perms = _obj(value)
    kind = str(perms.get("@type") or "")
    listed = perms.get("permissions")
    names = tuple(sorted(str(n) for n, on in listed.items() if on)) if isinstance(listed, dict) else ()
    return kind, names if kind in ("Replace", "Disable") else ()


def scope_value(scope: str, permissions: tuple[str, ...] | frozenset[str] = ()) -> dict[str, Any]:
    """The x:CredentialPermissions for a scope and its names."""
    if scope not in SCOPES:
        raise ValueError(f"Unknown credential scope {scope!r}")
    if scope == "Inherit":
        return {"@type": "Inherit"}
    return {"@type": scope, "permissions": {str(name): True for name in sorted(permissions)}}


def credential(item: dict[str, Any], kind: str = "") -> Credential:
    """An x:ApiKey / x:AppPassword / x:Credential as read (the secret is never kept)."""
    scope, names = _scope(item.get("permissions"))
    found = kind or str(item.get("@type") or "")
    return Credential(
        id=str(item.get("credentialId") or item.get("id") or ""),
        kind=found if found in CREDENTIAL_KINDS else "",
        description=str(item.get("description") or ""),
        created=_utc(item.get("createdAt")),
        expires=_utc(item.get("expiresAt")),
        allowed_ips=_ips(item.get("allowedIps")),
        scope=scope,
        permissions=names,
    )


def account_credentials(value: Any) -> tuple[Credential, ...]:
    """The credentials of an x:Account as read, each with the key its patch pointer takes
    (`credentials/<key>`: the key of the list as the server returned it)."""
    if isinstance(value, dict):
        pairs = sorted(value.items(), key=lambda kv: int(kv[0]) if str(kv[0]).isdigit() else 0)
    elif isinstance(value, list):
        pairs = [(str(n), item) for n, item in enumerate(value)]
    else:
        return ()
    return tuple(
        dataclasses.replace(credential(item), id=str(key)) for key, item in pairs if isinstance(item, dict)
    )


def _app_password(item: dict[str, Any]) -> AppPassword:
    label = str(item.get("description") or "")
    created = _utc(item.get("createdAt"))
    ips = item.get("allowedIps")
    permissions = item.get("permissions")
    scope, names = _scope(permissions)
    extra: dict[str, Any] = {
        "expires": _utc(item.get("expiresAt")),
        "allowed_ips": _ips(ips),
        "scope": scope,
        "scope_permissions": names,
    }
    ident = str(item.get("id") or "")
    if created is None:
        return AppPassword(raw_name=label, label=label, created=None, id=ident, **extra)
    return AppPassword(raw_name=app_password_name(label, created), label=label, created=created, id=ident, **extra)


def _key_method(text: str) -> str:
    """The method, "pGP" or "sMIME", from the armor/PEM headers of a key ("" when neither or both)."""
    headers = [line.strip("- ").upper() for line in text.splitlines() if line.startswith("-----BEGIN")]
    pgp = any("PGP" in h for h in headers)
    smime = any("CERTIFICATE" in h for h in headers)
    return "pGP" if pgp and not smime else "sMIME" if smime and not pgp else ""


def _key_count(text: str, method: str) -> int:
    tag = "PGP" if method == "pGP" else "CERTIFICATE"
    return sum(1 for line in text.splitlines() if line.startswith("-----BEGIN") and tag in line.upper()) or 1


def _crypto(setting: Any, key: dict[str, Any] | None) -> EncryptionAtRest:
    if not isinstance(setting, dict) or setting.get("@type") in (None, "Disabled"):
        return EncryptionAtRest("disabled")
    algo = str(setting.get("@type") or "")
    if algo not in ENCRYPTION_ALGORITHMS and algo not in ENCRYPTION_AEAD_ALGORITHMS:
        raise errors.StalwartBadResponse(gettext("Unknown encryption type."), operation="x:AccountSettings/get")
    text = str((key or {}).get("key") or "")
    allow, append = setting.get("allowSpamTraining"), setting.get("encryptOnAppend")
    return EncryptionAtRest(
        _key_method(text) or ("sMIME" if algo in ENCRYPTION_AEAD_ALGORITHMS else "pGP"),
        algo,
        allow if isinstance(allow, bool) else None,
        encrypt_on_append=append if isinstance(append, bool) else None,
        key_label=str((key or {}).get("description") or ""),
        key_added=_utc((key or {}).get("createdAt")),
    )


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


def _options(
    description: str | None,
    expires: str | None | bool,
    allowed_ips: tuple[str, ...] | None,
    scope: tuple[str, tuple[str, ...]] | None,
) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if description is not None:
        changes["description"] = description
    if expires is not False:
        changes["expiresAt"] = expires
    if allowed_ips is not None:
        changes["allowedIps"] = {ip: True for ip in allowed_ips}
    if scope is not None:
        changes["permissions"] = scope_value(*scope)
    return changes


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

    async def update_app_password(
        self,
        app_id: str,
        *,
        label: str | None = None,
        expires: str | None | bool = False,
        allowed_ips: tuple[str, ...] | None = None,
        scope: tuple[str, tuple[str, ...]] | None = None,
    ) -> None:
        """Change what is given: the name, the expiry (UTC `YYYY-MM-DDTHH:MM:SSZ`, None for never,
        False to keep it), the allowed addresses (() for anywhere, None to keep them) and the
        scope ((type, names), None to keep it)."""
        changes = _options(label, expires, allowed_ips, scope)
        if changes:
            await self._client.set("AppPassword", update={app_id: changes}, field_map=APP_PASSWORD_FIELDS)

    # --- API keys (0.16+) -----------------------------------------------------------------
    async def api_keys(self) -> tuple[Credential, ...]:
        """The person's own API keys (secrets masked by the server, never kept)."""
        found = await self._client.get(
            "ApiKey", None, ["description", "createdAt", "expiresAt", "allowedIps", "permissions"]
        )
        keys = [credential(item, "ApiKey") for item in found if isinstance(item, dict)]
        return tuple(sorted(keys, key=lambda k: (k.created.timestamp() if k.created else 0.0), reverse=True))

    async def held_permissions(self) -> frozenset[str]:
        """What the person holds, in 0.16 names (`GET /api/account`): what a scope may name."""
        data = await self._client._http("GET", "/api/account")
        held = data.get("permissions") if isinstance(data, dict) else None
        return frozenset(str(name) for name in held) if isinstance(held, list) else frozenset()

    async def create_api_key(
        self,
        description: str,
        *,
        expires: str | None = None,
        allowed_ips: tuple[str, ...] = (),
        scope: tuple[str, tuple[str, ...]] = ("Inherit", ()),
    ) -> tuple[str, str]:
        """Create a key; returns (id, secret). The secret is shown once and never kept."""
        value: dict[str, Any] = {"description": description, "permissions": scope_value(*scope)}
        if expires:
            value["expiresAt"] = expires
        if allowed_ips:
            value["allowedIps"] = {ip: True for ip in allowed_ips}
        result = await self._client.set("ApiKey", create={"k": value}, field_map=API_KEY_FIELDS)
        made = result["created"].get("k") or {}
        secret = made.get("secret") if isinstance(made, dict) else None
        if not isinstance(secret, str) or not secret:
            raise errors.StalwartBadResponse(
                gettext("Stalwart did not return the new API key."), operation="x:ApiKey/set"
            )
        return str(made.get("id") or ""), secret

    async def update_api_key(
        self,
        key_id: str,
        *,
        description: str | None = None,
        expires: str | None | bool = False,
        allowed_ips: tuple[str, ...] | None = None,
        scope: tuple[str, tuple[str, ...]] | None = None,
    ) -> None:
        """Change what is given (as `update_app_password`); the secret never changes."""
        changes = _options(description, expires, allowed_ips, scope)
        if changes:
            await self._client.set("ApiKey", update={key_id: changes}, field_map=API_KEY_FIELDS)

    async def revoke_api_key(self, key_id: str) -> None:
        await self._client.set("ApiKey", destroy=[key_id])

    async def revoke_credential(self, account_id: int | str, credential_id: str, *, name: str = "") -> None:
        """Remove another account's app password or API key (an administrator, x:Account);
        the account's id as a number (`Principal.id`) or as written; `name` (the account's
        address) is what the audit trail records as the target."""
        if credential_id == "0":
            raise ValueError("The password credential is not revoked this way.")
        if isinstance(account_id, int):
            account_id = id_text(account_id)
        await self._client.set(
            "Account",
            update={account_id: {pointer("credentials", credential_id): None}},
            labels={account_id: name} if name else None,
        )

    # --- encryption at rest ---------------------------------------------------------------
    async def get_crypto(self) -> EncryptionAtRest:
        found = await self._client.get("AccountSettings", [SINGLETON], ["encryptionAtRest"])
        setting = found[0].get("encryptionAtRest") if found else None
        key_id = setting.get("publicKey") if isinstance(setting, dict) else None
        key = None
        if isinstance(key_id, str) and key_id:
            keys = await self._client.get("PublicKey", [key_id], ["description", "createdAt", "key"])
            key = keys[0] if keys else None
        return _crypto(setting, key)

    async def _confirm_password(self) -> None:
        """The password the person typed, checked alone (402 "code needed" means it is right)."""
        if self._verify is None:
            return
        try:
            await self._verify._http("GET", "/api/account")
        except errors.TotpRequired:
            return

    async def set_crypto(
        self,
        method: str,
        algo: str = "",
        certs: str = "",
        *,
        allow_spam_training: bool | None = None,
        encrypt_on_append: bool | None = None,
    ) -> int | None:
        """Turn encryption at rest on with this key (`method` "pGP" or "sMIME") or off ("disabled").

        Returns how many certificates the key holds, None when turned off. A key the server
        cannot use raises `errors.OtherError` naming the field (`certs`, or `algo` for a cipher
        the key cannot take)."""
        if method != "disabled" and (
            method not in ("pGP", "sMIME")
            or (algo not in ENCRYPTION_ALGORITHMS and algo not in ENCRYPTION_AEAD_ALGORITHMS)
        ):
            raise ValueError(f"Unknown encryption method or algorithm: {method!r}, {algo!r}")
        await self._confirm_password()
        if method != "disabled":
            found = _key_method(certs)
            if found and found != method:
                text = (
                    gettext("This is an S/MIME certificate, not an OpenPGP key.")
                    if found == "sMIME"
                    else gettext("This is an OpenPGP key, not an S/MIME certificate.")
                )
                raise errors.OtherError(
                    text, body={"error": "other", "field": "certs", "details": text}, operation="x:PublicKey/set"
                )
        read, make, point = self._client.next_id(), self._client.next_id(), self._client.next_id()
        calls = [Call("x:AccountSettings/get", {"ids": [SINGLETON], "properties": ["encryptionAtRest"]}, read)]
        if method == "disabled":
            value: dict[str, Any] = {"@type": "Disabled"}
        else:
            calls.append(
                Call("x:PublicKey/set", {"create": {"k": {"description": KEY_DESCRIPTION, "key": certs}}}, make)
            )
            value = {
                "@type": algo,
                "publicKey": "#k",
                "encryptOnAppend": bool(encrypt_on_append),
                "allowSpamTraining": bool(allow_spam_training),
            }
        calls.append(Call("x:AccountSettings/set", {"update": {SINGLETON: {"encryptionAtRest": value}}}, point))
        results = await self._client.call(calls)
        before = (results[read].get("list") or [{}])[0].get("encryptionAtRest")
        old_key = before.get("publicKey") if isinstance(before, dict) else None
        new_key: str | None = None
        if method != "disabled":
            created = results[make]
            failed = (created.get("notCreated") or {}).get("k")
            if isinstance(failed, dict):
                raise set_error(failed, field_map=CRYPTO_FIELDS, operation="x:PublicKey/set")
            new_key = str(((created.get("created") or {}).get("k") or {}).get("id") or "") or None
        refused = (results[point].get("notUpdated") or {}).get(SINGLETON)
        if isinstance(refused, dict):
            if new_key:  # the setting still names the old key: the new one goes again
                await self._client.set("PublicKey", destroy=[new_key])
            raise set_error(refused, field_map=CRYPTO_FIELDS, operation="x:AccountSettings/set")
        if isinstance(old_key, str) and old_key and old_key != new_key:
            try:
                await self._client.set("PublicKey", destroy=[old_key])
            except errors.StalwartError:
                pass  # the change is made; a key left behind only counts against the quota
        return None if method == "disabled" else _key_count(certs, method)
