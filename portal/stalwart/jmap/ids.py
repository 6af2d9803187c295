"""Stalwart ids: a number written in base 32 with the server's own alphabet, most significant
digit first, no leading zero digits (a queue id, a trace's span id, a principal's id)."""

from __future__ import annotations

import re
from typing import Any

#: the digits of Stalwart ids
ALPHABET = "abcdefghijklmnopqrstuvwxyz792013"
#: a Stalwart id, as the portal accepts it back from a URL
_ID = re.compile(r"^[a-z0-9]{1,13}$")


def id_number(text: Any) -> int | None:
    """The number of a Stalwart id, None when it is not one."""
    if not isinstance(text, str) or not text:
        return None
    number = 0
    for ch in text:
        value = ALPHABET.find(ch)
        if value < 0:
            return None
        number = (number << 5) | value
    return number if number < 2**64 else None


def id_text(number: int) -> str:
    """A number written as a Stalwart id."""
    if number <= 0:
        return ALPHABET[0]
    digits = []
    while number:
        digits.append(ALPHABET[number & 31])
        number >>= 5
    return "".join(reversed(digits))


def is_id(text: str) -> bool:
    return bool(_ID.match(text or "")) and id_number(text) is not None
