"""App passwords: list, create (shown once), revoke one, revoke all."""

import base64
import logging
import re

from portal.auth.session import IDENTITY_KEY
from sandbox.passwords import sha512_crypt_hash
from tests.conftest import persona

from .conftest import basic_api

NEW = "/account/security/app-passwords/new"
LIST = "/account/security/app-passwords/"


def form_token(client) -> str:
    content = client.get(NEW).content.decode()
    return re.search(r'name="form_token" value="([^"]+)"', content).group(1)


def shown_password(response) -> str:
    match = re.search(r'id="app-password-value"[^>]*>([^<]+)<', response.content.decode())
    assert match, response.content[:2000]
    return match.group(1).strip()


def app_secrets(sandbox, name):
    return [s for s in sandbox.get(name).secrets if s.startswith("$app$")]


def test_list_decodes_names_and_falls_back_to_the_raw_name(signed_in_totp, sandbox):
    client = signed_in_totp()
    theo = sandbox.get(persona("totp_user").name)
    theo.secrets.append(f"$app$legacy-client${sha512_crypt_hash('x')}")
    response = client.get(LIST)
    assert response.status_code == 200
    content = response.content.decode()
    assert "Phone mail app" in content
    assert re.search(r'<time datetime="2025-01-15T09:30:00\+00:00"[^>]*>[^<]* ago</time>', content)
    assert "legacy-client" in content and "Unknown" in content
    assert "2 app passwords" in content
    assert "Two-factor sign-in is on" in content


def test_empty_list_invites_to_create_one(signed_in):
    content = signed_in("user").get(LIST).content.decode()
    assert "No app passwords yet" in content
    assert "Revoke all" not in content


def test_create_shows_the_password_once_and_it_signs_in(signed_in, sandbox, caplog):
    caplog.set_level(logging.DEBUG)
    client = signed_in("user")
    user = persona("user")
    token = form_token(client)
    response = client.post(NEW, {"label": "  iPhone   Mail ", "form_token": token})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    password = shown_password(response)
    assert re.fullmatch(r"[a-z2-9]{4}(-[a-z2-9]{4}){3}", password)
    content = response.content.decode()
    assert "For “<bdi>iPhone Mail</bdi>”" in content
    assert "127.0.0.1" in content and "993" in content and "465" in content  # setup hints
    assert 'data-copy-target="app-password-value"' in content

    # Sent as addAppPassword: name = base64("label$time"), password = a hash, over the token.
    posts = [r for r in sandbox.requests if r.method == "POST" and r.path == "/api/account/auth"]
    assert len(posts) == 1 and posts[0].auth_scheme == "Bearer"
    (secret,) = app_secrets(sandbox, user.name)
    _, _, name, hashed = secret.split("$", 3)
    label, _, created = base64.b64decode(name).decode().rpartition("$")
    assert label == "iPhone Mail" and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", created)
    assert hashed.startswith("$argon2id$") and password not in secret

    # It works as a password with Basic auth, for the API and the OAuth sign-in.
    assert basic_api("GET", "/api/account/auth", user.name, password).status_code == 200
    oauth = basic_api(
        "POST",
        "/api/oauth",
        user.name,
        password,
        json={"type": "code", "client_id": "webadmin", "redirect_uri": "stalwart://auth"},
    )
    assert oauth.status_code == 200 and "code" in oauth.json()["data"]

    # The plaintext is nowhere but in that one response.
    assert password not in repr(dict(client.session))
    assert password not in caplog.text
    assert all(password not in r.path + r.query for r in sandbox.requests)
    listing = client.get(LIST).content.decode()
    assert "iPhone Mail" in listing and password not in listing


def test_reloading_the_result_creates_and_shows_nothing(signed_in, sandbox):
    client = signed_in("user")
    data = {"label": "Laptop", "form_token": form_token(client)}
    first = client.post(NEW, data)
    password = shown_password(first)
    again = client.post(NEW, data)  # what a browser reload of the result page does
    assert again.status_code == 302 and again.url == LIST
    assert password.encode() not in again.content
    page = client.get(again.url).content.decode()
    assert "cannot be shown again" in page and password not in page
    assert len(app_secrets(sandbox, persona("user").name)) == 1


def test_app_password_skips_two_factor(signed_in_totp, sandbox):
    client = signed_in_totp()
    response = client.post(NEW, {"label": "Tablet", "form_token": form_token(client)})
    password = shown_password(response)
    assert basic_api("GET", "/api/account/auth", persona("totp_user").name, password).status_code == 200


def test_bad_label_keeps_what_was_typed(signed_in, sandbox):
    client = signed_in("user")
    token = form_token(client)
    sandbox.requests.clear()
    too_long = "x" * 65
    response = client.post(NEW, {"label": too_long, "form_token": token})
    assert response.status_code == 400
    assert f'value="{too_long}"'.encode() in response.content
    assert b"at most 64 characters" in response.content
    empty = client.post(NEW, {"label": "   ", "form_token": token})
    assert empty.status_code == 400 and b"This field is required." in empty.content
    assert sandbox.requests == []
    # the form is still usable with the same token
    assert client.post(NEW, {"label": "Phone", "form_token": token}).status_code == 200


def test_revoke_one_asks_first_and_removes_exactly_that_one(signed_in, sandbox):
    client = signed_in("user")
    jane = sandbox.get(persona("user").name)
    jane.secrets += [f"$app$abc${sha512_crypt_hash('one')}", f"$app$abcdef${sha512_crypt_hash('two')}"]
    confirm = client.get("/account/security/app-passwords/revoke?name=abc")
    assert confirm.status_code == 200
    assert "Revoke “<bdi>abc</bdi>”?" in confirm.content.decode()
    assert app_secrets(sandbox, jane.name) == jane.secrets[1:]  # asking changed nothing
    done = client.post("/account/security/app-passwords/revoke", {"name": "abc"})
    assert done.status_code == 302 and done.url == LIST
    assert [s.split("$")[2] for s in app_secrets(sandbox, jane.name)] == ["abcdef"]
    assert "“abc” is revoked" in client.get(LIST).content.decode()


def test_revoke_a_decoded_name(signed_in_totp, sandbox):
    client = signed_in_totp()
    name = base64.b64encode(b"Phone mail app$2025-01-15T09:30:00Z").decode()
    content = client.get(LIST).content.decode()
    assert "revoke?name=" + name.replace("=", "%3D").replace("+", "%2B").replace("/", "%2F") in content
    assert client.post("/account/security/app-passwords/revoke", {"name": name}).status_code == 302
    assert app_secrets(sandbox, persona("totp_user").name) == []
    assert "“Phone mail app” is revoked" in client.get(LIST).content.decode()


def test_revoke_a_missing_one(signed_in):
    client = signed_in("user")
    response = client.get("/account/security/app-passwords/revoke?name=gone")
    assert response.status_code == 302 and response.url == LIST
    assert "no longer exists" in client.get(LIST).content.decode()


def test_revoke_all(signed_in, sandbox):
    client = signed_in("user")
    jane = sandbox.get(persona("user").name)
    jane.secrets += [f"$app$one${sha512_crypt_hash('1')}", f"$app$two${sha512_crypt_hash('2')}"]
    confirm = client.get("/account/security/app-passwords/revoke-all")
    assert "Revoke all 2 app passwords?" in confirm.content.decode()
    assert client.post("/account/security/app-passwords/revoke-all").status_code == 302
    assert app_secrets(sandbox, jane.name) == []
    assert basic_api("GET", "/api/account/auth", jane.name, persona("user").password).status_code == 200
    assert "All app passwords are revoked" in client.get(LIST).content.decode()


def test_session_holds_no_app_password_plaintext_even_sealed(signed_in, sandbox):
    client = signed_in("user")
    password = shown_password(client.post(NEW, {"label": "Phone", "form_token": form_token(client)}))
    session = dict(client.session)
    assert set(session) <= {IDENTITY_KEY, "portal.app_password_forms", "_messages"}
    assert password not in repr(session)
