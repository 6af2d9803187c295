"""RFC 3339 dates as the server writes and reads them (spec §1.2, §1.4)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:([Zz])|([+-])(\d{2}):?(\d{2}))?"
)


def rfc3339(timestamp: int) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` (UTC, no fractional part)."""
    return datetime.fromtimestamp(int(timestamp), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(value: str | None) -> int | None:
    """Lenient parse: fractional seconds are skipped, ``Z`` or ``±hh:mm`` accepted. None if invalid."""
    if not value:
        return None
    match = _RFC3339.fullmatch(value.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    offset = timedelta(0)
    if match.group(8):
        sign = 1 if match.group(8) == "+" else -1
        offset = sign * timedelta(hours=int(match.group(9)), minutes=int(match.group(10)))
    try:
        moment = datetime(year, month, day, hour, minute, min(second, 59), tzinfo=timezone(offset))
    except ValueError:
        return None
    return int(moment.timestamp())


#: Start of Stalwart's snowflake ids (``utils::snowflake``), in seconds.
SNOWFLAKE_EPOCH = 1632280000


def snowflake(timestamp: float, sequence: int = 0) -> int:
    """A time-ordered u64 id like the server's (milliseconds since its epoch << 21 | sequence)."""
    millis = max(0, int((timestamp - SNOWFLAKE_EPOCH) * 1000))
    return (millis << 21) | (sequence & 0xFFF)


def snowflake_shift(seconds: int) -> int:
    """What adding ``seconds`` to the time adds to a snowflake id."""
    return (seconds * 1000) << 21
