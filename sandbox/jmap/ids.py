"""Stalwart JMAP ids: an unsigned 64-bit number written in base 32 with the alphabet
``abcdefghijklmnopqrstuvwxyz792013``, most significant digit first, no leading zero digits
(0 is ``"a"``, 1 is ``"b"``). Singletons use the id ``"singleton"``."""

from __future__ import annotations

ALPHABET = "abcdefghijklmnopqrstuvwxyz792013"
_INVERSE = {ch: i for i, ch in enumerate(ALPHABET)}
SINGLETON = "singleton"


def encode(number: int) -> str:
    if number == 0:
        return "a"
    digits = []
    while number:
        digits.append(ALPHABET[number & 31])
        number >>= 5
    return "".join(reversed(digits))


def decode(text) -> int | None:
    """The number of an id string, or None when it does not parse (or overflows 64 bits)."""
    if not isinstance(text, str) or not text:
        return None
    number = 0
    for ch in text:
        value = _INVERSE.get(ch)
        if value is None:
            return None
        number = (number << 5) | value
    return number if number < 2**64 else None
