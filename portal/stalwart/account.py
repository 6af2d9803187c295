"""`/api/account/*`: the signed-in person's own secrets and encryption at rest (api-behaviour §6).

`update_auth` takes a list of requests built with the functions below; they are applied by
Stalwart as one update. Password and two-factor changes are refused unless the client uses
Basic auth with the current password (`StalwartClient(basic=(name, password))`); a 401 then
means a wrong password, a 402 that the account has two-factor and the code is missing
(send `password$code`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import errors
from .paths import api_path
from .types import ENCRYPTION_ALGORITHMS, ENCRYPTION_METHODS, AccountAuth, EncryptionAtRest

if TYPE_CHECKING:
    from .transport import Caller

AuthRequest = dict[str, Any]


def set_password(password_hash: str) -> AuthRequest:
    """Replace every password by this one (already hashed: Stalwart stores it verbatim)."""
    return {"type": "setPassword", "password": password_hash}


def enable_otp(url: str) -> AuthRequest:
    return {"type": "enableOtpAuth", "url": url}


def disable_otp(url: str | None = None) -> AuthRequest:
    """Without a URL every `otpauth://` secret goes."""
    return {"type": "disableOtpAuth", "url": url}


def add_app_password(
    name: str, password_hash: str, *, expires: str | None = None, allowed_ips: tuple[str, ...] = ()
) -> AuthRequest:
    """`expires` (UTC, `YYYY-MM-DDTHH:MM:SSZ`) and `allowed_ips` exist on Stalwart 0.16+ only
    (`Capabilities.app_password_options`); they are sent only when given."""
    if "$" in name:
        raise ValueError("An app password name cannot contain '$'.")
    request: AuthRequest = {"type": "addAppPassword", "name": name, "password": password_hash}
    if expires:
        request["expiresAt"] = expires
    if allowed_ips:
        request["allowedIps"] = list(allowed_ips)
    return request


def remove_app_password(name: str | None = None) -> AuthRequest:
    """Remove the app passwords called exactly `name`, or all of them without a name.

    Stalwart removes by prefix (`$app$<name>`, so "foo" would take "foobar" too); the name is
    sent with the `$` that ends it in the stored secret, which matches that one name only.
    """
    return {"type": "removeAppPassword", "name": None if name is None else f"{name}$"}


class AccountApi:
    def __init__(self, client: Caller) -> None:
        self._client = client

    async def get_auth(self) -> AccountAuth:
        return AccountAuth.from_api(await self._client.request("GET", api_path("account", "auth")))

    async def update_auth(self, requests: list[AuthRequest]) -> None:
        if not requests:
            raise ValueError("Give at least one request (Stalwart refuses an empty list).")
        await self._client.request("POST", api_path("account", "auth"), json_body=list(requests))

    async def get_crypto(self) -> EncryptionAtRest:
        return EncryptionAtRest.from_api(await self._client.request("GET", api_path("account", "crypto")))

    async def set_crypto(
        self,
        method: str,
        algo: str = "",
        certs: str = "",
        *,
        allow_spam_training: bool | None = None,
        encrypt_on_append: bool | None = None,
    ) -> int | None:
        """Turn encryption at rest on (`method` "pGP" or "sMIME") or off ("disabled").

        Stalwart 0.15 requires `allow_spam_training` when turning it on
        (`Capabilities.allow_spam_training`); earlier versions take None (not sent).

        Returns how many certificates Stalwart accepted, None when turned off. Unusable
        certificates raise `errors.OtherError` (its `details` say why), a server where the
        administrator turned the feature off raises `errors.Unsupported`. `encrypt_on_append`
        exists on 0.16+ only (`Capabilities.encryption_settings`): here it must stay None.
        """
        if encrypt_on_append is not None:
            raise ValueError("Stalwart before 0.16 has no encrypt-on-append setting.")
        if method == "disabled":
            body: dict[str, str | bool] = {"type": "disabled"}
        elif method in ENCRYPTION_METHODS and algo in ENCRYPTION_ALGORITHMS:
            body = {"type": method, "algo": algo, "certs": certs}
            if allow_spam_training is not None:
                body["allow_spam_training"] = allow_spam_training
        else:
            raise ValueError(f"Unknown encryption method or algorithm: {method!r}, {algo!r}")
        data = await self._client.request("POST", api_path("account", "crypto"), json_body=body)
        if method == "disabled":
            return None
        if isinstance(data, bool) or not isinstance(data, int):
            raise errors.StalwartBadResponse("Unexpected answer to the encryption change.")
        return data
