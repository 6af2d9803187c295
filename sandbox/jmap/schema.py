"""The server's own schema (``resources/schema/schema.json.gz`` of Stalwart v0.16.18, kept
verbatim next to this module) and what the sandbox reads from it: the ``Permission`` enum."""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
import json
from pathlib import Path

_PATH = Path(__file__).with_name("schema.json.gz")


@functools.cache
def schema_gz() -> bytes:
    return _PATH.read_bytes()


@functools.cache
def schema_hash() -> str:
    """base64url (no padding) of the SHA-256 of the gzip file, as in ``/api/schema/<hash>``."""
    return base64.urlsafe_b64encode(hashlib.sha256(schema_gz()).digest()).rstrip(b"=").decode()


@functools.cache
def schema() -> dict:
    return json.loads(gzip.decompress(schema_gz()))


@functools.cache
def permission_names() -> tuple[str, ...]:
    """The 0.16 permissions in enum order (the position is taken as the permission id)."""
    return tuple(entry["name"] for entry in schema()["enums"]["Permission"])


@functools.cache
def permission_ids() -> dict[str, int]:
    return {name: i for i, name in enumerate(permission_names())}
