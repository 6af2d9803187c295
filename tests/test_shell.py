"""The page shell: health, security headers, CSP, static files."""

import re


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_security_headers_and_csp(client, sandbox):
    response = client.get("/auth/sign-in")
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    nonce = re.search(r"'nonce-([^']+)'", csp).group(1)
    scripts = re.findall(rb"<script[^>]*>", response.content)
    assert scripts, "htmx and the portal script are loaded"
    for tag in scripts:
        assert f'nonce="{nonce}"'.encode() in tag
        assert b"src=" in tag  # no inline script bodies
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"


def test_no_inline_handlers_or_styles(signed_in):
    content = signed_in("admin").get("/directory/accounts/").content.decode()
    assert not re.search(r"\son[a-z]+=", content)
    assert "style=" not in content
    assert "hx-on" not in content


def test_session_cookie_flags(client, sandbox):
    from tests.conftest import sign_in

    sign_in(client, "admin")
    cookie = client.cookies["portal_session"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"


def test_unknown_page_is_a_friendly_404(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert b"Not found" in response.content
