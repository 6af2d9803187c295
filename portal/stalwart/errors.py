"""The one error tree of the Stalwart service layer.

Stalwart reports failures in two families (api-behaviour §1.5):

* management errors: HTTP 200 with a body `{"error": "<code>", ...}`;
* problem errors: a 4xx/5xx status with an `application/problem+json` body.

Both become subclasses of `StalwartError`; nothing from httpx crosses the
package boundary. Messages never contain credentials; the sentences the portal writes
itself are shown to people, so they are translated (Stalwart's own words are not).
"""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime
from typing import Any

from django.utils.translation import gettext


class StalwartError(Exception):
    """Root of every failure raised by the service layer."""

    def __init__(self, message: str, *, operation: str = "") -> None:
        super().__init__(message)
        self.message = message
        # "GET /api/principal": what was being done, for error pages and logs.
        self.operation = operation


# --- transport -------------------------------------------------------------
class StalwartUnavailable(StalwartError):
    """Stalwart could not be reached, or the connection broke.

    `sent` says whether the request may have reached Stalwart: False when the connection
    could not be made (so nothing was changed), True when it broke or timed out afterwards
    (so a change may have been applied).
    """

    def __init__(self, message: str, *, operation: str = "", sent: bool = True) -> None:
        super().__init__(message, operation=operation)
        self.sent = sent


class StalwartTimeout(StalwartUnavailable):
    """Stalwart did not answer within the configured timeout."""


class StalwartBadResponse(StalwartError):
    """Stalwart answered with something that is not what the API promises."""


# --- problem+json (and other non-2xx) ---------------------------------------
class StalwartStatusError(StalwartError):
    status: int = 0

    def __init__(
        self,
        message: str,
        *,
        status: int,
        title: str = "",
        detail: str = "",
        body: Any = None,
        operation: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, operation=operation)
        self.status = status
        self.title = title
        self.detail = detail
        self.body = body
        # Seconds from the answer's `Retry-After` header, when it had one.
        self.retry_after = retry_after


class BadRequest(StalwartStatusError):
    """400: Stalwart could not parse the parameters or the body."""


class Unauthorized(StalwartStatusError):
    """401: missing, wrong or expired credentials."""


class TotpRequired(StalwartStatusError):
    """402: the password was right, a two-factor code is needed as well."""


class Forbidden(StalwartStatusError):
    """403: the account lacks a permission."""


class TenantQuotaExceeded(Forbidden):
    """403 "Tenant quota exceeded": the tenant's per-type limit is reached."""


class NotFound(StalwartStatusError):
    """404: unknown route, queue message or report."""


class RateLimited(StalwartStatusError):
    """429: too many requests, or too many failed sign-ins from this address.

    Stalwart itself sends no `Retry-After` (api-behaviour §1.5); a proxy in front of it may.
    `wait` is the header's value when there was one, otherwise what Stalwart's own text
    promises: "a few seconds" (its limits count per minute) or, for the authentication
    ban, "a few minutes".
    """

    AUTH_ATTEMPTS_TITLE = "Too Many Authentication Attempts"

    @property
    def banned(self) -> bool:
        """The server blocked the portal's address after too many failed sign-ins."""
        return self.title == self.AUTH_ATTEMPTS_TITLE

    @property
    def wait(self) -> int:
        if self.retry_after is not None:
            return max(1, min(int(self.retry_after + 0.999), MAX_RETRY_AFTER))
        return 300 if self.banned else 60


class ConcurrencyLimited(StalwartStatusError):
    """400 with `limit: maxConcurrentRequests`: too many requests in flight."""


class ServerError(StalwartStatusError):
    """5xx: Stalwart failed while handling the request."""


class MethodFailed(ServerError):
    """A JMAP method answered `serverFail`/`serverUnavailable`: the request reached Stalwart and
    the rest of it was handled; this one method failed there (e.g. reading its log files)."""


_STATUS_CLASSES: dict[int, type[StalwartStatusError]] = {
    400: BadRequest,
    401: Unauthorized,
    402: TotpRequired,
    403: Forbidden,
    404: NotFound,
    429: RateLimited,
}


# A Retry-After longer than this is taken as this (an hour): the page still says when to retry.
MAX_RETRY_AFTER = 3600


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(min(int(value), MAX_RETRY_AFTER))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    seconds = when.timestamp() - (time.time() if now is None else now)
    return float(min(max(seconds, 0.0), MAX_RETRY_AFTER))


def status_error(status: int, body: Any, *, operation: str, retry_after: float | None = None) -> StalwartStatusError:
    """Build the error for a non-2xx answer; `body` is the decoded JSON or None."""
    title = detail = ""
    if isinstance(body, dict):
        title = str(body.get("title") or "")
        detail = str(body.get("detail") or "")
    if status == 400 and isinstance(body, dict) and body.get("limit") == "maxConcurrentRequests":
        cls: type[StalwartStatusError] = ConcurrencyLimited
    elif status == 403 and title == "Tenant quota exceeded":
        cls = TenantQuotaExceeded
    elif status >= 500:
        cls = ServerError
    else:
        cls = _STATUS_CLASSES.get(status, StalwartStatusError)
    message = detail or title or f"HTTP {status}"
    return cls(
        message, status=status, title=title, detail=detail, body=body, operation=operation, retry_after=retry_after
    )


# --- management errors (HTTP 200, {"error": ...}) ---------------------------
class ManagementError(StalwartError):
    """A management error; `code` is the wire value of `error`."""

    code: str = ""

    def __init__(self, message: str, *, body: dict[str, Any], operation: str = "") -> None:
        super().__init__(message, operation=operation)
        self.body = body

    @property
    def field(self) -> str | None:
        """The principal field the error concerns, when Stalwart names one."""
        value = self.body.get("field")
        return str(value) if value else None


class FieldAlreadyExists(ManagementError):
    code = "fieldAlreadyExists"

    @property
    def value(self) -> str:
        return str(self.body.get("value") or "")


class FieldMissing(ManagementError):
    code = "fieldMissing"


class ItemNotFound(ManagementError):
    """Unknown principal, role, group, domain, tenant or account."""

    code = "notFound"

    @property
    def item(self) -> str:
        return str(self.body.get("item") or "")


class Unsupported(ManagementError):
    code = "unsupported"

    @property
    def details(self) -> str:
        return str(self.body.get("details") or "")


class EnterpriseRequired(Unsupported):
    """`unsupported` with details "Enterprise feature": the server has no licence."""


class AssertFailed(ManagementError):
    code = "assertFailed"


class OtherError(ManagementError):
    """`other`: a validation error with `details` and `reason`."""

    code = "other"

    @property
    def details(self) -> str:
        return str(self.body.get("details") or "")

    @property
    def reason(self) -> str:
        return str(self.body.get("reason") or "")


_MANAGEMENT_CLASSES: dict[str, type[ManagementError]] = {
    cls.code: cls for cls in (FieldAlreadyExists, FieldMissing, ItemNotFound, Unsupported, AssertFailed, OtherError)
}


def management_error(body: dict[str, Any], *, operation: str) -> ManagementError:
    code = str(body.get("error"))
    if code == "fieldAlreadyExists" and _is_private_key(body):
        # POST /api/dkim answers "already exists" with the stored private key as the value
        # (api-behaviour §11): drop it here, before any message, log or audit entry sees it.
        body = {**body, "value": ""}
    cls = _MANAGEMENT_CLASSES.get(code, ManagementError)
    if cls is Unsupported and body.get("details") == "Enterprise feature":
        cls = EnterpriseRequired
    return cls(_management_message(code, body), body=body, operation=operation)


def _is_private_key(body: dict[str, Any]) -> bool:
    field, value = str(body.get("field") or ""), str(body.get("value") or "")
    return field.endswith("private-key") or "PRIVATE KEY" in value


def _management_message(code: str, body: dict[str, Any]) -> str:
    field, value = body.get("field"), body.get("value")
    match code:
        case "fieldAlreadyExists":
            if not field:
                return gettext("The value is already in use.")
            if not value:
                return gettext("The %(field)s is already in use.") % {"field": field}
            return gettext("The %(field)s %(value)s is already in use.") % {"field": field, "value": value}
        case "fieldMissing":
            if not field:
                return gettext("The field is required.")
            return gettext("The %(field)s is required.") % {"field": field}
        case "notFound":
            item = body.get("item") or ""
            return gettext("%(item)s was not found.") % {"item": item} if item else gettext("Not found.")
        case "unsupported":
            return str(body.get("details") or gettext("Not supported by this server."))
        case "assertFailed":
            return gettext("The value changed on the server in the meantime.")
        case "other":
            details, reason = body.get("details"), body.get("reason")
            if details and reason:
                return gettext("%(details)s: %(reason)s") % {"details": details, "reason": reason}
            return str(details or reason or gettext("Rejected."))
    return gettext("Stalwart refused the request (%(code)s).") % {"code": code}


# --- OAuth token endpoint ----------------------------------------------------
class OAuthError(StalwartError):
    """`/auth/token` answered 400 `{"error": "invalid_grant"}` or similar."""

    def __init__(self, error: str, *, operation: str = "POST /auth/token") -> None:
        super().__init__(gettext("The token request was refused (%(error)s).") % {"error": error}, operation=operation)
        self.error = error


class NotOnThisServer(StalwartError):
    """The connected server's generation has no equivalent of this call (shown as the
    "not available on this server" page, not as a failure)."""


class UnknownMethod(StalwartError):
    """JMAP `unknownMethod`: the server has no such method (another generation, or an older release)."""


class UnsupportedVersion(StalwartError):
    """The server is older than the portal supports."""

    def __init__(self, version: str) -> None:
        super().__init__(
            gettext("This portal needs Stalwart 0.11 or newer; the server reports version %(version)s.")
            % {"version": version or gettext("unknown")}
        )
        self.version = version
