"""The security overview, permissions of every security page, and upstream failures."""

import pytest

from tests.conftest import persona
from tests.faults import broken_upstream

from .conftest import revoke_permissions

PASSWORD_PAGES = [
    ("get", "/account/security/app-passwords/"),
    ("get", "/account/security/app-passwords/new"),
    ("post", "/account/security/app-passwords/new"),
    ("get", "/account/security/app-passwords/revoke?name=x"),
    ("post", "/account/security/app-passwords/revoke"),
    ("get", "/account/security/app-passwords/revoke-all"),
    ("post", "/account/security/app-passwords/revoke-all"),
    ("get", "/account/security/two-factor/"),
    ("get", "/account/security/two-factor/enable"),
    ("post", "/account/security/two-factor/enable"),
    ("post", "/account/security/two-factor/disable"),
    ("get", "/account/security/password"),
    ("post", "/account/security/password"),
    ("post", "/account/security/password/strength"),
]
ENCRYPTION_PAGES = [
    ("get", "/account/security/encryption"),
    ("post", "/account/security/encryption"),
    ("post", "/account/security/encryption/disable"),
]


def api_calls(sandbox):
    return [(r.method, r.path) for r in sandbox.requests]


def test_plain_user_sees_the_next_step(signed_in, sandbox):
    client = signed_in("user")
    response = client.get("/account/security/")
    assert response.status_code == 200
    content = response.content.decode()
    assert "Recommended next step" in content and "Turn on two-factor" in content
    assert "Your password alone signs you in." in content
    assert "None yet." in content
    assert "Messages are stored as they arrive" in content
    assert sorted(api_calls(sandbox)) == [("GET", "/api/account/auth"), ("GET", "/api/account/crypto")]
    assert "no-store" in response["Cache-Control"]


def test_two_factor_user_is_well_protected(signed_in_totp, sandbox):
    content = signed_in_totp().get("/account/security/").content.decode()
    assert "Your account is well protected" in content
    assert "Recommended next step" not in content
    assert "Newest: “<bdi>Phone mail app</bdi>”" in content and " ago</time>" in content


def test_two_factor_without_app_passwords_suggests_one(signed_in_totp, sandbox):
    client = signed_in_totp()
    theo = sandbox.get(persona("totp_user").name)
    theo.secrets = [s for s in theo.secrets if not s.startswith("$app$")]
    content = client.get("/account/security/").content.decode()
    assert "Create an app password for your phone" in content
    assert 'href="/account/security/app-passwords/new"' in content


def test_overview_shows_only_what_the_person_holds(signed_in, sandbox):
    revoke_permissions(persona("user").name, "manage-encryption")
    client = signed_in("user")
    content = client.get("/account/security/").content.decode()
    assert api_calls(sandbox) == [("GET", "/api/account/auth")]
    assert "Encryption at rest" not in content and 'href="/account/security/encryption"' not in content
    assert 'href="/account/security/app-passwords/"' in content


def test_overview_without_either_permission_calls_nothing(signed_in, sandbox):
    revoke_permissions(persona("user").name, "manage-encryption", "manage-passwords")
    client = signed_in("user")
    response = client.get("/account/security/")
    assert response.status_code == 200
    assert "Nothing to change here" in response.content.decode()
    assert sandbox.requests == []
    # and the menu does not offer the page
    assert 'href="/account/security/"' not in client.get("/account/").content.decode()


def test_menu_links_to_security(signed_in):
    content = signed_in("user").get("/account/").content.decode()
    assert 'href="/account/security/"' in content


def test_plain_user_lands_on_security(client, sandbox):
    from tests.conftest import sign_in

    assert sign_in(client, "user").url == "/account/security/"


@pytest.mark.parametrize(("method", "url"), PASSWORD_PAGES)
def test_password_pages_need_manage_passwords(signed_in, sandbox, method, url):
    revoke_permissions(persona("user").name, "manage-passwords")
    client = signed_in("user")
    response = getattr(client, method)(
        url, {"name": "x", "password": "x", "code": "123456"} if method == "post" else None
    )
    assert response.status_code == 403
    assert b"manage-passwords" in response.content
    assert sandbox.requests == []


@pytest.mark.parametrize(("method", "url"), ENCRYPTION_PAGES)
def test_encryption_pages_need_manage_encryption(signed_in, sandbox, method, url):
    revoke_permissions(persona("user").name, "manage-encryption")
    client = signed_in("user")
    response = getattr(client, method)(url, {"password": "x"} if method == "post" else None)
    assert response.status_code == 403
    assert b"manage-encryption" in response.content
    assert sandbox.requests == []


@pytest.mark.parametrize(
    "url", ["/account/security/", *[u for m, u in PASSWORD_PAGES + ENCRYPTION_PAGES if m == "get"]]
)
def test_signed_out_visitors_go_to_sign_in(client, sandbox, url):
    response = client.get(url)
    assert response.status_code == 302 and response.url.startswith("/auth/sign-in?next=")
    assert sandbox.requests == []


@pytest.mark.parametrize(
    "url",
    [
        "/account/security/",
        "/account/security/app-passwords/",
        "/account/security/two-factor/",
        "/account/security/password",
        "/account/security/encryption",
    ],
)
def test_upstream_failure_renders_the_error_page(signed_in, settings, url):
    client = signed_in("user")
    with broken_upstream("500") as broken:
        settings.STALWART_URL = broken
        response = client.get(url)
    assert response.status_code == 502
    content = response.content.decode()
    assert "Stalwart reported an internal error" in content
    assert "GET /api/account/" in content


def test_upstream_failure_on_a_change(signed_in, settings):
    client = signed_in("user")
    form = client.get("/account/security/app-passwords/new").content.decode()
    token = form.split('name="form_token" value="')[1].split('"')[0]
    with broken_upstream("500") as broken:
        settings.STALWART_URL = broken
        response = client.post("/account/security/app-passwords/new", {"label": "Phone", "form_token": token})
    assert response.status_code == 502
    # The form comes back with the label typed, saying the change may have been applied.
    content = response.content.decode()
    assert "Stalwart reported an internal error" in content and "may or may not have been applied" in content
    assert 'value="Phone"' in content


def test_unreachable_server(signed_in, settings, closed_port):
    client = signed_in("user")
    settings.STALWART_URL = f"http://127.0.0.1:{closed_port}"
    response = client.get("/account/security/")
    assert response.status_code == 502
    assert "Stalwart could not be reached" in response.content.decode()
