"""Rate limits and the authentication fail2ban of spec §2.5 (defaults of the server).

* anonymous requests (no Authorization header, every Bearer token not seen before, unknown
  schemes, ``/auth/token`` and ``/auth/device``): 100 per minute per IP -> 429;
* authenticated requests: 1000 per minute per account unless it holds ``unlimited-requests``;
* failed logins: more than 100 per day per IP or per login bans the IP (setting
  ``server.blocked-ip.<ip>`` = "") -> 429 "Too Many Authentication Attempts", also for every
  later request from that IP.

The per-account concurrency limit (4 in flight) cannot trigger: the sandbox serves one request
at a time. Disable everything with ``Sandbox(rate_limits=False)``.
"""

from __future__ import annotations

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


def check_blocked_ip(sb, ip: str) -> None:
    if sb.rate_limits and f"server.blocked-ip.{ip}" in sb.settings:
        raise ProblemError.too_many_auth_attempts()


def anonymous_request(sb, ip: str) -> None:
    if sb.rate_limits and _hit(sb, ("anon", ip), 60, ANONYMOUS_PER_MINUTE):
        raise ProblemError.too_many_requests()


def authenticated_request(sb, access) -> None:
    if not sb.rate_limits or access.has("unlimited-requests"):
        return
    if _hit(sb, ("account", access.account_id), 60, ACCOUNT_PER_MINUTE):
        raise ProblemError.too_many_requests()


def authentication_failed(sb, ip: str, login: str | None) -> None:
    """Record a failed login; ban the IP when either counter is over the daily rate."""
    if not sb.rate_limits:
        return
    banned = _hit(sb, ("auth-ip", ip), 86400, AUTH_FAILURES_PER_DAY)
    if login is not None and _hit(sb, ("auth-login", login), 86400, AUTH_FAILURES_PER_DAY):
        banned = True
    if banned:
        sb.settings[f"server.blocked-ip.{ip}"] = ""
        raise ProblemError.too_many_auth_attempts()
