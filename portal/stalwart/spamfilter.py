"""`/api/spam-filter/*`: Bayes training and test classification (api-behaviour §13).

Both need the spam-filter-train permission (classify too). Messages are raw RFC 5322 text;
Stalwart reads at most 1 MiB of a body (`MAX_MESSAGE`), and answers "Failed to parse
message." (`errors.OtherError`) for text without a header it recognises.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from .paths import api_path
from .tools_types import SpamClassification

if TYPE_CHECKING:
    from .transport import Caller

MAX_MESSAGE = 1024 * 1024


class SpamFilterApi:
    def __init__(self, client: Caller) -> None:
        self._client = client

    async def train(self, kind: str, message: bytes, account: str = "") -> None:
        """Train the global Bayes model, or one account's, with a spam or ham message.

        An unknown account raises `errors.ItemNotFound`.
        """
        if kind not in ("spam", "ham"):
            raise ValueError("kind is 'spam' or 'ham'")
        elements = ("spam-filter", "train", kind, account) if account else ("spam-filter", "train", kind)
        await self._client.request("POST", api_path(*elements), content=message, content_type="message/rfc822")

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
        """Run the spam filter on a message as if it arrived now (nothing is delivered)."""
        body = {
            "message": message,
            "remoteIp": remote_ip,
            "ehloDomain": ehlo_domain,
            "authenticatedAs": authenticated_as or None,
            "isTls": tls,
            "envFrom": sender,
            "envFromFlags": 0,
            "envRcptTo": list(recipients),
        }
        data = await self._client.request("POST", api_path("spam-filter", "classify"), json_body=body)
        return SpamClassification.from_api(data)
