"""Both Stalwart error families map onto the one error tree."""

import httpx
import pytest

from portal.stalwart import errors
from portal.stalwart.client import decode_response

OP = "GET /api/principal/x"


def answer(status, body=None, content_type="application/json; charset=utf-8", text=None):
    headers = {"content-type": content_type}
    if text is not None:
        return httpx.Response(status, headers=headers, text=text)
    return httpx.Response(status, headers=headers, json=body)


def problem(status, title, detail, **extra):
    return answer(
        status,
        {"type": "about:blank", "status": status, "title": title, "detail": detail, **extra},
        "application/problem+json",
    )


def test_success_returns_data():
    assert decode_response(answer(200, {"data": {"items": [], "total": 0}}), operation=OP) == {"items": [], "total": 0}
    assert decode_response(answer(200, {"data": None}), operation=OP) is None


@pytest.mark.parametrize(
    ("body", "cls", "checks"),
    [
        (
            {"error": "fieldAlreadyExists", "field": "name", "value": "jane"},
            errors.FieldAlreadyExists,
            {"field": "name", "value": "jane"},
        ),
        ({"error": "fieldMissing", "field": "name"}, errors.FieldMissing, {"field": "name"}),
        ({"error": "notFound", "item": "john@example.org"}, errors.ItemNotFound, {"item": "john@example.org"}),
        (
            {"error": "unsupported", "details": "Enterprise feature"},
            errors.EnterpriseRequired,
            {"details": "Enterprise feature"},
        ),
        ({"error": "unsupported", "details": "LDAP directory cannot be managed."}, errors.Unsupported, {}),
        ({"error": "assertFailed"}, errors.AssertFailed, {}),
        (
            {"error": "other", "details": "Invalid role", "reason": 'Your account cannot grant the "admin" role'},
            errors.OtherError,
            {"details": "Invalid role", "reason": 'Your account cannot grant the "admin" role'},
        ),
        ({"error": "other", "details": "Client ID is invalid.", "reason": None}, errors.OtherError, {"reason": ""}),
        ({"error": "somethingNew"}, errors.ManagementError, {}),
    ],
)
def test_management_errors_arrive_with_http_200(body, cls, checks):
    with pytest.raises(errors.ManagementError) as caught:
        decode_response(answer(200, body), operation=OP)
    assert type(caught.value) is cls
    assert caught.value.operation == OP
    for attribute, expected in checks.items():
        assert getattr(caught.value, attribute) == expected


def test_other_error_message_carries_details_and_reason():
    body = {"error": "other", "details": "Invalid role", "reason": 'Your account cannot grant the "admin" role'}
    with pytest.raises(errors.OtherError) as caught:
        decode_response(answer(200, body), operation=OP)
    assert caught.value.message == 'Invalid role: Your account cannot grant the "admin" role'


@pytest.mark.parametrize(
    ("status", "title", "cls"),
    [
        (400, "Invalid parameters", errors.BadRequest),
        (401, "Unauthorized", errors.Unauthorized),
        (402, "TOTP code required", errors.TotpRequired),
        (403, "Forbidden", errors.Forbidden),
        (403, "Tenant quota exceeded", errors.TenantQuotaExceeded),
        (404, "Not Found", errors.NotFound),
        (429, "Too Many Requests", errors.RateLimited),
        (429, "Too Many Authentication Attempts", errors.RateLimited),
        (500, "Internal Server Error", errors.ServerError),
        (503, "Service Unavailable", errors.ServerError),
        (418, "I'm a teapot", errors.StalwartStatusError),
    ],
)
def test_problem_errors_map_by_status(status, title, cls):
    with pytest.raises(errors.StalwartStatusError) as caught:
        decode_response(problem(status, title, "some detail"), operation=OP)
    assert type(caught.value) is cls
    assert caught.value.status == status
    assert caught.value.title == title
    assert caught.value.detail == "some detail"


def test_rate_limited_without_retry_after_waits_as_stalwart_says():
    """Stalwart sends no Retry-After: "a few seconds" (per-minute limits) or, for the
    authentication ban, "a few minutes"."""
    limited = problem(
        429, "Too Many Requests", "Your request has been rate limited. Please try again in a few seconds."
    )
    with pytest.raises(errors.RateLimited) as caught:
        decode_response(limited, operation=OP)
    assert caught.value.retry_after is None and caught.value.wait == 60 and not caught.value.banned
    banned = problem(429, "Too Many Authentication Attempts", "Please try again in a few minutes.")
    with pytest.raises(errors.RateLimited) as caught:
        decode_response(banned, operation=OP)
    assert caught.value.banned and caught.value.wait == 300


@pytest.mark.parametrize(
    ("header", "wait"),
    [("17", 17), ("0", 1), ("86400", 3600), ("Wed, 21 Oct 2015 07:28:00 GMT", 1), ("soon", 60)],
)
def test_rate_limited_carries_retry_after(header, wait):
    response = problem(429, "Too Many Requests", "x")
    response.headers["Retry-After"] = header
    with pytest.raises(errors.RateLimited) as caught:
        decode_response(response, operation=OP)
    assert caught.value.wait == wait


def test_retry_after_as_a_date():
    assert errors.parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now=1445412480.0) == 30.0
    assert errors.parse_retry_after("", now=0) is None
    assert errors.parse_retry_after("-5") is None


def test_status_only_problem_without_title():
    response = answer(404, {"type": "about:blank", "status": 404, "detail": "Not Found"}, "application/problem+json")
    with pytest.raises(errors.NotFound) as caught:
        decode_response(response, operation=OP)
    assert caught.value.message == "Not Found"


def test_concurrency_limit_shape():
    body = {
        "type": "urn:ietf:params:jmap:error:limit",
        "status": 400,
        "detail": "The request exceeds the maximum number of concurrent requests.",
        "limit": "maxConcurrentRequests",
    }
    with pytest.raises(errors.ConcurrencyLimited):
        decode_response(answer(400, body, "application/problem+json"), operation=OP)


def test_error_status_without_json_body():
    with pytest.raises(errors.ServerError) as caught:
        decode_response(answer(502, content_type="text/html", text="<h1>Bad gateway</h1>"), operation=OP)
    assert caught.value.status == 502


@pytest.mark.parametrize(
    "response",
    [
        answer(200, content_type="text/html", text="<html>not stalwart</html>"),
        answer(200, text="{not json"),
        answer(200, {"items": []}),
        answer(200, ["data"]),
    ],
)
def test_unreadable_success_is_a_bad_response(response):
    with pytest.raises(errors.StalwartBadResponse):
        decode_response(response, operation=OP)
