"""The two error families of the management API (spec §1.5).

Handlers raise these exceptions; ``sandbox.app`` turns them into responses in one place.
"""

from __future__ import annotations


class ApiError(Exception):
    """Base class of every error a handler may raise."""


class ManagementError(ApiError):
    """ME: HTTP 200 with a body tagged by ``error`` (§1.5A)."""

    def __init__(self, body: dict):
        super().__init__(body.get("error"))
        self.body = body

    @classmethod
    def field_already_exists(cls, field: str, value: str) -> ManagementError:
        return cls({"error": "fieldAlreadyExists", "field": field, "value": value})

    @classmethod
    def field_missing(cls, field: str) -> ManagementError:
        return cls({"error": "fieldMissing", "field": field})

    @classmethod
    def not_found(cls, item: str = "") -> ManagementError:
        return cls({"error": "notFound", "item": item})

    @classmethod
    def unsupported(cls, details: str) -> ManagementError:
        return cls({"error": "unsupported", "details": details})

    @classmethod
    def enterprise(cls) -> ManagementError:
        return cls.unsupported("Enterprise feature")

    @classmethod
    def assert_failed(cls) -> ManagementError:
        return cls({"error": "assertFailed"})

    @classmethod
    def other(cls, details: str, reason: str | None = None) -> ManagementError:
        return cls({"error": "other", "details": details, "reason": reason})


class ProblemError(ApiError):
    """PP: an ``application/problem+json`` error (§1.5B)."""

    def __init__(
        self,
        status: int,
        title: str | None,
        detail: str,
        *,
        extra: dict | None = None,
        auth_failed: bool = False,
        type_: str = "about:blank",
    ):
        super().__init__(f"{status} {detail}")
        self.status = status
        self.title = title
        self.detail = detail
        self.extra = extra or {}
        #: True for "authentication failed" 401s (v0.12 adds WWW-Authenticate headers).
        self.auth_failed = auth_failed
        self.type = type_

    def body(self) -> dict:
        body = {"type": self.type, "status": self.status}
        if self.title is not None:
            body["title"] = self.title
        body["detail"] = self.detail
        body.update(self.extra)
        return body

    @classmethod
    def not_found(cls) -> ProblemError:
        return cls(404, "Not Found", "The requested resource does not exist on this server.")

    @classmethod
    def bad_parameters(cls, detail: str | None = None) -> ProblemError:
        return cls(
            400,
            "Invalid parameters",
            detail or "One or multiple parameters could not be parsed.",
        )

    @classmethod
    def json_failed(cls) -> ProblemError:
        return cls.bad_parameters("JSON deserialization failed")

    @classmethod
    def unauthorized(cls, *, auth_failed: bool = False) -> ProblemError:
        return cls(401, "Unauthorized", "You have to authenticate first.", auth_failed=auth_failed)

    @classmethod
    def totp_required(cls) -> ProblemError:
        return cls(
            402,
            "TOTP code required",
            "A TOTP code is required to authenticate this account. Try authenticating again using 'secret$totp_token'.",
        )

    @classmethod
    def forbidden(cls) -> ProblemError:
        return cls(403, "Forbidden", "You do not have enough permissions to access this resource.")

    @classmethod
    def tenant_quota(cls) -> ProblemError:
        return cls(403, "Tenant quota exceeded", "Your organization has exceeded its quota.")

    @classmethod
    def too_many_requests(cls) -> ProblemError:
        return cls(
            429,
            "Too Many Requests",
            "Your request has been rate limited. Please try again in a few seconds.",
        )

    @classmethod
    def too_many_auth_attempts(cls) -> ProblemError:
        return cls(
            429,
            "Too Many Authentication Attempts",
            "Your request has been rate limited. Please try again in a few minutes.",
        )

    @classmethod
    def internal(cls) -> ProblemError:
        return cls(
            500,
            "Internal Server Error",
            "There was a problem while processing your request. "
            "Please contact the system administrator if this problem persists.",
        )

    @classmethod
    def concurrency_limit(cls) -> ProblemError:
        return cls(
            400,
            None,
            "The request exceeds the maximum number of concurrent requests.",
            extra={"limit": "maxConcurrentRequests"},
            type_="urn:ietf:params:jmap:error:limit",
        )
