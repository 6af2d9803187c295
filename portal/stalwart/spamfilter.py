"""`/api/spam-filter/*`: Bayes training and test classification (api-behaviour §13).

Both need the spam-filter-train permission (classify too) up to Stalwart 0.14; 0.15 takes
samples at `upload/` and trains in runs (`trainer`), and classify needs spam-filter-test.
Messages are raw RFC 5322 text; Stalwart reads at most 1 MiB of a body (`MAX_MESSAGE`), and answers "Failed to parse
message." (`errors.OtherError`) for text without a header it recognises.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from . import errors
from .paths import api_path
from .tools_types import SpamClassification

if TYPE_CHECKING:
    from .transport import Caller

MAX_MESSAGE = 1024 * 1024
TRAINER_ACTIONS = ("start", "reset", "stop", "delete", "status")


class SpamFilterApi:
    def __init__(self, client: Caller) -> None:
        self._client = client

    async def train(self, kind: str, message: bytes, account: str = "", *, route: str = "train") -> None:
        """Train the global Bayes model, or one account's, with a spam or ham message.

        `route` is `Capabilities.spam_training_route`: "train" trains at once (up to 0.14);
        "upload" (0.15) stores a sample that the next trainer run learns from (`trainer`).
        An unknown account raises `errors.ItemNotFound`.
        """
        if kind not in ("spam", "ham"):
            raise ValueError("kind is 'spam' or 'ham'")
        if route not in ("train", "upload"):
            raise ValueError("route is 'train' or 'upload'")
        elements = ("spam-filter", route, kind, account) if account else ("spam-filter", route, kind)
        await self._client.request("POST", api_path(*elements), content=message, content_type="message/rfc822")

    async def trainer(self, action: str) -> bool:
        """Stalwart 0.15's trainer: `start`, `reset` (false while it runs), `stop` (whether it
        ran), `delete` (the models) or `status` (whether it runs)."""
        if action not in TRAINER_ACTIONS:
            raise ValueError(f"Unknown trainer action {action!r}")
        data = await self._client.request("GET", api_path("spam-filter", "train", action))
        if not isinstance(data, bool):
            raise errors.StalwartBadResponse("Unexpected trainer answer.", operation=f"GET train/{action}")
        return data

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
