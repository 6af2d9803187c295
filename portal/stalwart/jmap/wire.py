"""Reading the values of Stalwart 0.16 objects: lists as index-keyed objects
(`{"0": {...}, "1": {...}}`), sets as objects (`{"a": true}`), dates as UTCDate strings.
Whatever the server sends, these give the expected type (empty or None otherwise)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .. import errors
from ..queue_types import parse_time


def obj(value: Any) -> dict[str, Any]:
    """A JSON object, or an empty one for anything else."""
    return value if isinstance(value, dict) else {}


def entries(value: Any) -> list[dict[str, Any]]:
    """The objects of a JMAP list (`{"0": {...}, "1": {...}}`) in index order, or of a JSON array."""
    if isinstance(value, dict):
        pairs = sorted(value.items(), key=lambda kv: int(kv[0]) if str(kv[0]).isdigit() else 0)
        return [item for _, item in pairs if isinstance(item, dict)]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, dict)]
    return []


def members(value: Any) -> list[str]:
    """A JMAP set (`{"a": true}`) as its members."""
    if isinstance(value, dict):
        return [str(key) for key, on in value.items() if on]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


def when(value: Any) -> datetime | None:
    """A UTCDate, None when absent or unreadable."""
    try:
        return parse_time(value, field="date") if isinstance(value, str) else None
    except errors.StalwartBadResponse:
        return None
