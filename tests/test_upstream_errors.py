"""Upstream failures become explanatory pages with the right status, never a traceback."""

import pytest

from tests.conftest import persona
from tests.faults import broken_upstream


@pytest.mark.parametrize(
    ("kind", "status", "title"),
    [
        ("500", 502, "Stalwart reported an internal error"),
        ("html", 502, "Stalwart sent an unexpected answer"),
        ("truncated-json", 502, "Stalwart sent an unexpected answer"),
    ],
)
def test_broken_answers(signed_in, settings, kind, status, title):
    client = signed_in("admin")
    with broken_upstream(kind) as url:
        settings.STALWART_URL = url
        response = client.get("/directory/accounts/?q=jane")
    assert response.status_code == status
    content = response.content.decode()
    assert title in content
    assert "GET /api/principal" in content
    assert 'href="/directory/accounts/?q=jane"' in content  # retry
    assert "Traceback" not in content


def test_unreachable(signed_in, settings, closed_port):
    client = signed_in("admin")
    settings.STALWART_URL = f"http://127.0.0.1:{closed_port}"
    response = client.get("/directory/accounts/")
    assert response.status_code == 502
    assert "Stalwart could not be reached" in response.content.decode()


def test_timeout(signed_in, settings):
    client = signed_in("admin")
    settings.STALWART_TIMEOUT = 0.3
    with broken_upstream("silent") as url:
        settings.STALWART_URL = url
        response = client.get("/directory/accounts/")
    assert response.status_code == 504
    assert "did not answer in time" in response.content.decode()


def test_htmx_request_gets_the_error_panel(signed_in, settings, closed_port):
    client = signed_in("admin")
    settings.STALWART_URL = f"http://127.0.0.1:{closed_port}"
    response = client.get("/directory/accounts/?q=x", headers={"HX-Request": "true"})
    assert response.status_code == 502
    assert response["HX-Retarget"] == "#main"
    assert response["HX-Reswap"] == "innerHTML"
    assert "<html" not in response.content.decode()


def test_sign_in_page_survives_a_broken_server(client, sandbox, settings):
    with broken_upstream("html") as url:
        settings.STALWART_URL = url
        response = client.post("/auth/sign-in", {"username": "admin", "password": "x"})
    assert response.status_code == 502
    assert "did not answer like Stalwart" in response.content.decode()


def test_a_busy_server_says_when_to_retry(signed_in, sandbox):
    """Stalwart's 429 (no Retry-After of its own): the page says the server is busy and when to
    try again, and the portal's 503 carries Retry-After."""
    client = signed_in("admin")
    sandbox.faults.rate_limit(prefix="/api/principal")
    response = client.get("/directory/accounts/")
    assert response.status_code == 503
    assert response["Retry-After"] == "60"
    content = response.content.decode()
    assert "The mail server is busy" in content and "Try again in 60 seconds." in content
    assert 'href="/directory/accounts/"' in content  # retry


def test_retry_after_from_the_server_is_honoured(signed_in, sandbox):
    client = signed_in("admin")
    sandbox.faults.rate_limit(retry_after=7, prefix="/api/principal")
    response = client.get("/directory/accounts/?q=x", headers={"HX-Request": "true"})
    assert response.status_code == 503
    assert response["Retry-After"] == "7"
    assert response["HX-Retarget"] == "#main"
    assert "Try again in 7 seconds." in response.content.decode()


def test_a_banned_portal_is_explained(signed_in, sandbox):
    client = signed_in("admin")
    sandbox.faults.rate_limit(auth=True, prefix="/api/principal")
    response = client.get("/directory/accounts/")
    assert response.status_code == 503
    assert response["Retry-After"] == "300"
    content = response.content.decode()
    assert "The mail server has blocked the portal" in content and "5 minutes" in content


def test_a_busy_server_during_a_submit_keeps_the_form_and_says_when_to_retry(signed_in, sandbox):
    client = signed_in("admin")
    sandbox.faults.rate_limit(retry_after=12, prefix="/api/spam-filter", methods={"POST"})
    response = client.post(
        "/tools/spam-filter/train",
        {"kind": "spam", "account": persona("user").name, "message": "From: a@example.net\r\nSubject: Typed\r\n\r\nHi"},
    )
    assert response.status_code == 503
    assert response["Retry-After"] == "12"
    assert "Nothing was changed" in response.content.decode()
