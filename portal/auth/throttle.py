"""A budget of failed sign-ins the portal forwards to Stalwart (docs/security.md).

Stalwart bans the *connecting address* once more than `server.auto-ban.auth.rate` (100 a
day) authentications fail for one address or for one login; behind the portal that address
may be the portal's own, and then every user gets errors. So the portal counts the failures
it forwards and answers by itself (HTTP 429, with the time to try again) before any count
reaches the server's rate:

* per client address and account name: `SIGNIN_MAX_FAILURES` in `SIGNIN_THROTTLE_WINDOW`
  seconds, then a pause as long as the window that doubles with each further pause that day;
* per client address: `SIGNIN_MAX_FAILURES_PER_IP_PER_DAY`, whatever the account;
* per account name: `SIGNIN_MAX_FAILURES_PER_ACCOUNT_PER_DAY`. Past it, only an address that
  has failed fewer than `SIGNIN_FRESH_ADDRESS_FAILURES` times for that account in the day may
  still try, so an attacker on one address does not lock the real user out of another;
* what Stalwart itself has counted, which clearing an entry on the throttle page does not
  forget: nobody may try an account or from an address once its failures reach 90 % of
  `STALWART_AUTH_BAN_RATE` (the server would ban at its rate whoever fails next);
* all failures together: `SIGNIN_MAX_FAILURES_PER_DAY` (0: no such cap), for a Stalwart that
  counts every portal sign-in as coming from the portal's address.

"A day" is the last 24 hours, counted in hourly buckets over 25 hours: whatever the server's
day boundaries, no 24 hours of its own see more than the caps. Only failures count, and an
attempt is counted *before* it is forwarded (a reservation, taken back when the password was
right or Stalwart failed otherwise), so parallel guesses cannot overshoot a cap.

Counters live in Django's cache, shared by every portal process when REDIS_URL is set. The
cache also keeps an index of what has failed recently, for the page that lists and clears them.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings
from django.core.cache import cache
from django.utils.formats import date_format
from django.utils.timezone import localtime
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

HOUR = 3600
DAY = 24 * HOUR
HOURS_KEPT = 25  # a day of hourly buckets plus the current one
INDEX_KEY = "signin-throttle:index"
INDEX_SIZE = 500  # subjects listed at most (the most recent kept)
SHOWN_LENGTH = 200  # longest account name or address kept in the index


@dataclass(frozen=True, slots=True)
class Subject:
    """What is counted: an address and account pair, an address, an account, or everything."""

    #: "pair", "address", "account" (the portal's own caps, which an administrator may clear),
    #: "server-address", "server-account" (what Stalwart has counted) or "all"
    kind: str
    address: str = ""
    account: str = ""

    @property
    def id(self) -> str:
        raw = f"{self.kind}\0{self.address}\0{self.account}".encode("utf-8", "surrogatepass")
        return hashlib.sha256(raw).hexdigest()[:32]

    def bucket(self, hour: int) -> str:
        return f"signin-throttle:{self.id}:h{hour}"

    def window(self, index: int) -> str:
        return f"signin-throttle:{self.id}:w{index}"

    @property
    def lock(self) -> str:
        return f"signin-throttle:{self.id}:lock"


@dataclass(frozen=True, slots=True)
class Limits:
    window: int
    per_pair: int
    per_address: int
    per_account: int
    fresh_address: int
    ceiling: int | None  # failures per account nobody may go past (under the server's rate)
    total: int


def limits() -> Limits:
    rate = int(settings.STALWART_AUTH_BAN_RATE)
    ceiling = max(1, rate - max(1, math.ceil(rate / 10))) if rate > 0 else None

    def capped(value: int) -> int:
        value = max(1, int(value))
        return min(value, ceiling) if ceiling else value

    total = int(settings.SIGNIN_MAX_FAILURES_PER_DAY)
    return Limits(
        window=max(1, int(settings.SIGNIN_THROTTLE_WINDOW)),
        per_pair=max(1, int(settings.SIGNIN_MAX_FAILURES)),
        per_address=capped(settings.SIGNIN_MAX_FAILURES_PER_IP_PER_DAY),
        per_account=capped(settings.SIGNIN_MAX_FAILURES_PER_ACCOUNT_PER_DAY),
        fresh_address=max(1, int(settings.SIGNIN_FRESH_ADDRESS_FAILURES)),
        ceiling=ceiling,
        total=capped(total) if total > 0 else 0,
    )


def _subjects(ip: str | None, account: str) -> dict[str, Subject]:
    account = account[:SHOWN_LENGTH]
    subjects = {
        "account": Subject("account", account=account),
        "server-account": Subject("server-account", account=account),
        "all": Subject("all"),
    }
    if ip:
        ip = ip[:SHOWN_LENGTH]
        subjects["pair"] = Subject("pair", ip, account)
        subjects["address"] = Subject("address", ip)
        subjects["server-address"] = Subject("server-address", ip)
    return subjects


CLEARABLE = ("pair", "address", "account")


@dataclass(slots=True)
class Counts:
    """The hourly buckets of each subject (hour -> failures), the pair's window and lock."""

    now: float
    hours: dict[str, dict[int, int]]
    window: int = 0
    locked_until: float = 0.0

    def day(self, name: str) -> int:
        return sum(self.hours.get(name, {}).values())

    def released(self, name: str, cap: int, own: int = 0) -> float:
        """When the day's count of `name` (less `own`, a reservation) falls below `cap`."""
        buckets = self.hours.get(name, {})
        hour = int(self.now // HOUR)
        total = sum(buckets.values()) - own
        for step in range(1, HOURS_KEPT + 1):
            total -= buckets.get(hour - HOURS_KEPT + step, 0)
            if total < cap:
                return float((hour + step) * HOUR)
        return float((hour + HOURS_KEPT) * HOUR)


async def _read(subjects: dict[str, Subject], now: float, window: int) -> Counts:
    hour = int(now // HOUR)
    hours = range(hour - HOURS_KEPT + 1, hour + 1)
    keys = {subject.bucket(h): (name, h) for name, subject in subjects.items() for h in hours}
    extra = []
    if "pair" in subjects:
        extra = [subjects["pair"].window(int(now // window)), subjects["pair"].lock]
    found = await cache.aget_many([*keys, *extra])
    counts = Counts(now, {name: {} for name in subjects})
    for key, value in found.items():
        if key in keys and value:
            name, h = keys[key]
            counts.hours[name][h] = int(value)
    if extra:
        counts.window = int(found.get(extra[0]) or 0)
        counts.locked_until = float(found.get(extra[1]) or 0)
    return counts


async def _add(key: str, amount: int, ttl: int) -> None:
    if amount > 0 and await cache.aadd(key, amount, timeout=ttl):
        return
    try:
        await cache.aincr(key, amount)
    except ValueError:  # expired in between
        if amount > 0:
            await cache.aset(key, amount, timeout=ttl)


@dataclass(frozen=True, slots=True)
class Refusal:
    """The portal refuses to forward this attempt until `until` (epoch seconds)."""

    until: float
    reason: str  # "pair", "address", "account", "all"

    @property
    def seconds(self) -> int:
        return max(1, math.ceil(self.until - time.time()))


def _refusal(counts: Counts, limit: Limits, own: int) -> Refusal | None:
    """The reasons this attempt may not be forwarded, as the latest time they all end."""
    found: list[Refusal] = []
    if counts.locked_until > counts.now:
        found.append(Refusal(counts.locked_until, "pair"))
    if "pair" in counts.hours and counts.window - own >= limit.per_pair:
        found.append(Refusal(counts.now + limit.window, "pair"))
    if "address" in counts.hours and counts.day("address") - own >= limit.per_address:
        found.append(Refusal(counts.released("address", limit.per_address, own), "address"))
    for name in ("server-address", "server-account"):
        if limit.ceiling and name in counts.hours and counts.day(name) - own >= limit.ceiling:
            found.append(Refusal(counts.released(name, limit.ceiling, own), name.removeprefix("server-")))
    if counts.day("account") - own >= limit.per_account and counts.day("pair") - own >= limit.fresh_address:
        # Past the account's cap, this address has had its chances: it may try again when
        # the account falls below its cap or the address below its few tries.
        until = min(
            counts.released("account", limit.per_account, own),
            counts.released("pair", limit.fresh_address, own),
        )
        found.append(Refusal(until, "account"))
    if limit.total and counts.day("all") - own >= limit.total:
        found.append(Refusal(counts.released("all", limit.total, own), "all"))
    return max(found, key=lambda refusal: refusal.until) if found else None


def explain(refusal: Refusal) -> str:
    """The sentence that says when to try again (a time of day and a number of minutes)."""
    minutes = max(1, -(-refusal.seconds // 60))
    at = localtime(datetime.fromtimestamp(refusal.until, tz=UTC))
    when = date_format(at, "DATETIME_FORMAT" if refusal.seconds > 12 * 3600 else "TIME_FORMAT")
    reason = {
        "all": _("The portal has paused sign-ins after too many failed attempts."),
        "account": _("This account has had too many failed attempts."),
    }.get(refusal.reason, _("Your network has used up its attempts for now."))
    if minutes > 120:
        hours = round(minutes / 60)
        return ngettext(
            "Too many failed sign-ins. %(reason)s Try again at %(time)s (%(tz)s), in about %(hours)d hour.",
            "Too many failed sign-ins. %(reason)s Try again at %(time)s (%(tz)s), in about %(hours)d hours.",
            hours,
        ) % {"reason": reason, "time": when, "tz": at.tzname(), "hours": hours}
    return ngettext(
        "Too many failed sign-ins. %(reason)s Try again at %(time)s (%(tz)s), in %(minutes)d minute.",
        "Too many failed sign-ins. %(reason)s Try again at %(time)s (%(tz)s), in %(minutes)d minutes.",
        minutes,
    ) % {"reason": reason, "time": when, "tz": at.tzname(), "minutes": minutes}


@dataclass(slots=True)
class Reservation:
    """One attempt counted as a failure before it is forwarded; `settle()` decides."""

    subjects: dict[str, Subject]
    hour: int
    window_key: str
    limit: Limits
    settled: bool = field(default=False)

    async def settle(self, *, failed: bool) -> None:
        """Keep the count (the password was wrong) or take it back (anything else)."""
        if self.settled:
            return
        self.settled = True
        if not failed:
            for subject in self.subjects.values():
                await _add(subject.bucket(self.hour), -1, 0)
            if "pair" in self.subjects:
                await _add(self.window_key, -1, 0)
            return
        now = time.time()
        if "pair" in self.subjects:
            counts = await _read({"pair": self.subjects["pair"]}, now, self.limit.window)
            if counts.window >= self.limit.per_pair and counts.locked_until <= now:
                # Each pause of the day lasts twice the one before, at most a day.
                pauses = max(1, counts.day("pair") // self.limit.per_pair)
                until = now + min(DAY, self.limit.window * 2 ** min(pauses - 1, 16))
                await cache.aset(self.subjects["pair"].lock, until, timeout=math.ceil(until - now) + 1)
        await _remember(self.subjects.values(), now)


async def reserve(ip: str | None, account: str) -> Refusal | Reservation:
    """Count one attempt of `account` from `ip`, or say why and until when it is refused.

    The caller forwards the attempt only on a `Reservation`, and settles it afterwards.
    """
    limit = limits()
    subjects = _subjects(ip, account)
    now = time.time()
    counts = await _read(subjects, now, limit.window)
    refused = _refusal(counts, limit, own=0)
    if refused is not None:
        return refused
    hour = int(now // HOUR)
    window_key = subjects["pair"].window(int(now // limit.window)) if "pair" in subjects else ""
    for subject in subjects.values():
        await _add(subject.bucket(hour), 1, HOURS_KEPT * HOUR + HOUR)
    if window_key:
        await _add(window_key, 1, 2 * limit.window)
    reservation = Reservation(subjects, hour, window_key, limit)
    # Parallel attempts may have reserved at the same time: count again with everyone's.
    refused = _refusal(await _read(subjects, now, limit.window), limit, own=1)
    if refused is not None:
        await reservation.settle(failed=False)
        return refused
    return reservation


# --- the index of recent failures, for the throttle page ------------------------------------
async def _remember(subjects, now: float) -> None:
    index = dict(await cache.aget(INDEX_KEY) or {})
    for subject in subjects:
        index[subject.id] = (subject.kind, subject.address, subject.account, now)
    if len(index) > INDEX_SIZE:
        newest = sorted(index.items(), key=lambda item: item[1][3], reverse=True)[:INDEX_SIZE]
        index = dict(newest)
    await cache.aset(INDEX_KEY, index, timeout=HOURS_KEPT * HOUR)


@dataclass(frozen=True, slots=True)
class Entry:
    """One row of the throttle page."""

    id: str
    kind: str
    address: str
    account: str
    failures: int  # in the last 24 hours (for a pair: also the current window's, see `window`)
    cap: int
    last_failure: float
    refused_until: float | None

    @property
    def last_at(self) -> datetime:
        return datetime.fromtimestamp(self.last_failure, tz=UTC)

    @property
    def until_at(self) -> datetime | None:
        return datetime.fromtimestamp(self.refused_until, tz=UTC) if self.refused_until else None

    @property
    def clearable(self) -> bool:
        return self.kind in CLEARABLE


async def entries() -> list[Entry]:
    """What failed in the last day, most refused first, then the most recent."""
    index = dict(await cache.aget(INDEX_KEY) or {})
    limit = limits()
    now = time.time()
    rows = []
    for subject_id, (kind, address, account, last) in index.items():
        if last < now - HOURS_KEPT * HOUR:
            continue
        subject = Subject(kind, address, account)
        counts = await _read({kind: subject}, now, limit.window)
        failures = counts.day(kind)
        if failures <= 0 and counts.locked_until <= now:
            continue
        cap = {
            "pair": limit.per_pair,
            "address": limit.per_address,
            "account": limit.per_account,
            "server-address": limit.ceiling or 0,
            "server-account": limit.ceiling or 0,
            "all": limit.total,
        }.get(kind, 0)
        until = None
        if kind == "pair":
            until = counts.locked_until if counts.locked_until > now else None
        elif cap and failures >= cap:
            # (an account past its cap is refused only from addresses that had their tries)
            until = counts.released(kind, cap)
        rows.append(Entry(subject_id, kind, address, account, failures, cap, last, until))
    rows.sort(key=lambda row: (row.refused_until is None, -row.last_failure))
    return rows


async def clear(subject_id: str) -> Entry | None:
    """Forget the portal's own count of one entry (an address or an account also frees their
    pairs); Stalwart's counts stay. Returns what was cleared, or None."""
    index = dict(await cache.aget(INDEX_KEY) or {})
    found = index.get(subject_id)
    if found is None or found[0] not in CLEARABLE:
        return None
    kind, address, account, last = found
    chosen = [subject_id]
    if kind in ("address", "account"):
        chosen += [
            other
            for other, (other_kind, other_address, other_account, _) in index.items()
            if other_kind == "pair" and (other_address == address if kind == "address" else other_account == account)
        ]
    now = time.time()
    hour = int(now // HOUR)
    window = limits().window
    keys = []
    for chosen_id in chosen:
        subject = Subject(*index.pop(chosen_id)[:3])
        keys += [subject.bucket(h) for h in range(hour - HOURS_KEPT, hour + 1)]
        keys += [subject.window(int(now // window)), subject.window(int(now // window) - 1), subject.lock]
    await cache.adelete_many(keys)
    await cache.aset(INDEX_KEY, index, timeout=HOURS_KEPT * HOUR)
    return Entry(subject_id, kind, address, account, 0, 0, last, None)
