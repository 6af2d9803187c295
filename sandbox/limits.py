"""Rate limits and the authentication fail2ban of spec §2.5 (defaults of the server).

* anonymous requests (no Authorization header, every Bearer token not seen before, unknown
  schemes, ``/auth/token`` and ``/auth/device``): 100 per minute per IP -> 429;
* authenticated requests: 1000 per minute per account unless it holds ``unlimited-requests``;
* failed logins (``server.auto-ban.auth.rate``, default ``100/1d``): counted per IP and per
  login in fixed windows aligned to the epoch (as the server's in-memory counters are); the
  failure that goes over the rate for either bans the IP (setting ``server.blocked-ip.<ip>`` =
  "") and is answered 429 "Too Many Authentication Attempts". An IP or network listed in
  ``server.allowed-ip.<ip-or-cidr>`` is never banned. The server also never bans loopback
  outside its test mode; the sandbox behaves like the test mode (no implicit loopback), so
  that tests on loopback can see a ban.
* the address: the connecting socket's, or with ``server.http.use-x-forwarded = true``
  (v0.11; ``http.use-x-forwarded`` from v0.12) the first address of the ``Forwarded: for=``
  or ``X-Forwarded-For`` header when there is one.
* a banned connecting address: the listener drops the connection before reading a request,
  so every request from it gets a connection reset; a banned forwarded address gets an empty
  403 (``crates/jmap/src/api/http.rs``).

The per-account concurrency limit (4 in flight) cannot trigger: the sandbox serves one request
at a time. Disable everything with ``Sandbox(rate_limits=False)``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

from .errors import ProblemError

ANONYMOUS_PER_MINUTE = 100
ACCOUNT_PER_MINUTE = 1000
AUTH_FAILURES_PER_DAY = 100


def _hit(sb, key: tuple, window: int, limit: int) -> bool:
    """Count one event in a fixed window; True when the limit is exceeded."""
    bucket = (key, sb.now() // window)
    count = sb.rate_counters.get(bucket, 0) + 1
    sb.rate_counters[bucket] = count
    return count > limit


_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd])\s*$")


def auth_rate(sb) -> tuple[int, int] | None:
    """(failures, period in seconds) of ``server.auto-ban.auth.rate``; None when it is off."""
    text = sb.settings.get("server.auto-ban.auth.rate")
    if text is None:
        return AUTH_FAILURES_PER_DAY, 86400
    match = _RATE.match(text)
    if match is None:  # "false", "" or unreadable: the server parses it as no rate
        return None
    count, amount, unit = match.groups()
    return int(count), int(amount or 1) * _PERIODS[unit]


def _forwarded_setting(sb) -> str:
    return "http.use-x-forwarded" if sb.at_least((0, 12)) else "server.http.use-x-forwarded"


def uses_forwarded(sb) -> bool:
    return sb.settings.get(_forwarded_setting(sb), "false").strip().lower() == "true"


_FORWARDED_FOR = re.compile(r"for=[\s\"\[]*([0-9a-f:.]+)")


def client_address(sb, peer: str, headers: dict[str, str]) -> str:
    """The address the server acts on: the socket's, or the forwarded one when it trusts it."""
    if not uses_forwarded(sb):
        return peer
    match = _FORWARDED_FOR.search(headers.get("forwarded", "").lower())
    candidates = [match.group(1)] if match else []
    candidates.append(headers.get("x-forwarded-for", "").split(",", 1)[0].strip())
    for candidate in candidates:
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            continue
    return peer


def _listed(sb, prefix: str, ip: str, live: Callable[[str], bool] = lambda key: True) -> bool:
    """Whether ``ip`` is a ``<prefix><ip>`` key, or inside a ``<prefix><network>`` key, that is ``live``."""
    if f"{prefix}{ip}" in sb.settings and live(f"{prefix}{ip}"):
        return True
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    for key in sb.settings:
        if key.startswith(prefix) and "/" in key:
            try:
                if address in ipaddress.ip_network(key[len(prefix) :], strict=False) and live(key):
                    return True
            except ValueError:
                continue
    return False


def _in_force(sb, key: str) -> bool:
    """0.16: a blocked address written by ``x:BlockedIp`` has its expiry as the value (epoch
    seconds, empty for none) and stops applying once it has passed, as the server's does
    (``IpWithTtl::is_expired``); <= 0.15 keeps no expiry."""
    value = sb.settings.get(key, "")
    return sb.generation != "jmap" or not value.isdigit() or int(value) > sb.now()


def is_blocked(sb, ip: str) -> bool:
    return sb.rate_limits and _listed(sb, "server.blocked-ip.", ip, live=lambda key: _in_force(sb, key))


def is_allowed(sb, ip: str) -> bool:
    return _listed(sb, "server.allowed-ip.", ip)


def anonymous_request(sb, ip: str) -> None:
    if sb.rate_limits and _hit(sb, ("anon", ip), 60, ANONYMOUS_PER_MINUTE):
        raise ProblemError.too_many_requests()


def authenticated_request(sb, access) -> None:
    if not sb.rate_limits or access.has("unlimited-requests"):
        return
    if _hit(sb, ("account", access.account_id), 60, ACCOUNT_PER_MINUTE):
        raise ProblemError.too_many_requests()


def authentication_failed(sb, ip: str, login: str | None) -> None:
    """Record a failed login; ban the IP when either counter is over the rate.

    As the server does: an allowed IP counts nothing, and the login is counted only while
    the IP is within the rate (``is_auth_fail2banned``).
    """
    rate = auth_rate(sb)
    if not sb.rate_limits or rate is None or is_allowed(sb, ip):
        return
    limit, period = rate
    banned = _hit(sb, ("auth-ip", ip), period, limit)
    if not banned and login and _hit(sb, ("auth-login", login), period, limit):
        banned = True
    if banned:
        sb.settings[f"server.blocked-ip.{ip}"] = ""
        raise ProblemError.too_many_auth_attempts()
