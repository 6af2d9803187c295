"""`JmapBackend`: what `request.stalwart` is for a session on Stalwart 0.16+.

It has the area attributes views use (`principals`, ...) with the same typed results as
`StalwartClient`; an area 0.16 has no equivalent for is absent here, and the pages that
need it are not offered (`portal.capabilities`, generation "jmap").
"""

from __future__ import annotations

from functools import cached_property

from .client import JmapClient
from .principals import JmapPrincipals


class JmapBackend:
    generation = "jmap"

    def __init__(self, access_token: str) -> None:
        self.jmap = JmapClient(access_token)

    def __repr__(self) -> str:  # never show the credential
        return "<JmapBackend>"

    @property
    def authorization(self) -> str:
        return self.jmap.authorization

    @cached_property
    def principals(self) -> JmapPrincipals:
        return JmapPrincipals(self.jmap)
