"""`/api/dkim`: DKIM signing keys (api-behaviour §11)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils.translation import gettext

from .errors import StalwartBadResponse
from .paths import api_path

if TYPE_CHECKING:
    from .transport import Caller

# Stalwart's wire names (exact, PascalCase) and what people call them.
ALGORITHMS = {"Ed25519": "Ed25519", "Rsa": "RSA"}


def default_signature_id(algorithm: str, domain: str) -> str:
    """The id Stalwart gives a key created without one: `ed25519-<domain>` or `rsa-<domain>`."""
    return f"{algorithm.lower()}-{domain}"


class DkimApi:
    def __init__(self, client: Caller) -> None:
        self._client = client

    async def create(
        self, domain: str, algorithm: str, selector: str | None = None, *, signature_id: str | None = None
    ) -> None:
        """Generate a key (Stalwart picks the id and, without one, the selector `YYYYMM` + r/e).

        An existing key with the same id raises `FieldAlreadyExists`, whose `value` is the stored
        private key: never show or log it.
        """
        if algorithm not in ALGORITHMS:
            raise ValueError(f"Unknown DKIM algorithm {algorithm!r}; use one of {', '.join(ALGORITHMS)}.")
        body = {"id": signature_id or None, "algorithm": algorithm, "domain": domain, "selector": selector or None}
        await self._client.request("POST", api_path("dkim"), json_body=body)

    async def public_key(self, signature_id: str) -> str:
        """The base64 public key of a signature (RSA: SubjectPublicKeyInfo; Ed25519: 32 raw bytes).

        An unknown id raises `NotFound`.
        """
        data = await self._client.request("GET", api_path("dkim", signature_id))
        if not isinstance(data, str):
            raise StalwartBadResponse(gettext("Stalwart did not return a public key."), operation="GET /api/dkim")
        return data
