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
    # Scripts come from the portal itself only: no nonce, so no inline script can ever run.
    assert "script-src 'self';" in csp and "nonce-" not in csp
    scripts = re.findall(rb"<script[^>]*>", response.content)
    assert scripts, "htmx and the portal script are loaded"
    for tag in scripts:
        assert re.search(rb'src="/[^/]', tag)  # same origin, no inline script bodies
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"


def test_the_script_words_come_from_a_public_catalog(client, sandbox):
    """Django's JavaScript catalog, loaded before portal.js on every page,
    the sign-in page included."""
    page = client.get("/auth/sign-in").content.decode()
    catalog = page.index('<script src="/i18n/catalog.js"')
    assert catalog < page.index('/js/portal.js"')
    response = client.get("/i18n/catalog.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert "django.gettext" in response.content.decode() and "interpolate" in response.content.decode()
    assert "max-age=3600" in response["Cache-Control"]


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


def test_deploy_checks_are_clean_with_production_settings():
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if k not in {"SECURE_COOKIES", "STATIC_MANIFEST", "DJANGO_ALLOW_ASYNC_UNSAFE"}
        },
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "SECRET_KEY": "x" * 20 + "production-like-secret-key-with-enough-entropy-0123456789",
        "ALLOWED_HOSTS": "portal.example.org",
        "SECURE_SSL_REDIRECT": "1",
        "DEBUG": "0",
    }
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_hsts_when_secure(client, settings):
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    response = client.get("/auth/sign-in", secure=True)
    assert response["Strict-Transport-Security"].startswith("max-age=31536000")


def test_the_page_chrome_is_kept_per_person_and_the_csrf_token_is_new_on_each_page(sandbox):
    """The top bar is rendered once and reused (templates/base.html): each person sees their
    own name, every page carries a token of its own, and signing in rotates the CSRF secret."""
    from django.test import Client

    from tests.conftest import persona

    client = Client(enforce_csrf_checks=True)

    def token(page: str) -> str:
        return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)

    def sign_in(key: str) -> None:
        who = persona(key)
        form = client.get("/auth/sign-in").content.decode()
        data = {"csrfmiddlewaretoken": token(form), "step": "password", "username": who.name, "password": who.password}
        assert client.post("/auth/sign-in", data).status_code == 302

    def user_menu(page: str) -> str:
        return page[page.index('<details class="user-menu">') : page.index("</details>")]

    sign_in("admin")
    first = client.get("/search/").content.decode()
    second = client.get("/search/").content.decode()
    assert "Signed in as <strong><bdi>admin</bdi></strong>" in user_menu(first)
    assert token(first) != token(second)
    assert f'"X-CSRFToken": "{token(second)}"' in second

    assert client.post("/auth/sign-out", {"csrfmiddlewaretoken": token(first)}).status_code == 302

    sign_in("helpdesk")
    page = client.get("/search/").content.decode()
    assert "Signed in as <strong><bdi>hannah.becker</bdi></strong>" in user_menu(page)
    assert "admin" not in user_menu(page)
    assert client.post("/auth/sign-out", {"csrfmiddlewaretoken": token(second)}).status_code == 403
    assert client.post("/auth/sign-out", {"csrfmiddlewaretoken": token(page)}).status_code == 302
    assert '<details class="user-menu">' not in client.get("/auth/sign-in").content.decode()
