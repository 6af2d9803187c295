"""The Stalwart service layer: the only code that talks HTTP to Stalwart.

Views use `StalwartClient` (built for them by `portal.auth`), the typed results
in `types`, and catch errors from `errors`. Nothing outside this package imports
httpx.
"""

from . import errors
from .client import StalwartClient
from .types import Page, Principal

__all__ = ["Page", "Principal", "StalwartClient", "errors"]
