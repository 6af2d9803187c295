"""Detail, create, edit and delete of principals against the sandbox."""

import base64
import re
from urllib.parse import parse_qs, unquote

import httpx
import pytest
from django.test import Client
from django.urls import reverse

from portal.auth.session import IDENTITY_KEY
from tests.conftest import persona, sign_in


def detail(kind, name):
    return reverse("directory:detail", kwargs={"kind": kind, "name": name})


def edit_form(client, kind, name):
    response = client.get(reverse("directory:edit", kwargs={"kind": kind, "name": name}))
    assert response.status_code == 200
    snapshot = re.search(rb'name="snapshot" value="([^"]+)"', response.content).group(1).decode()
    return response, snapshot


def patches(sandbox):
    return [r for r in sandbox.requests if r.method == "PATCH"]


def test_account_360(signed_in, sandbox):
    client = signed_in("admin")
    name = persona("totp_user").name
    response = client.get(detail("accounts", name))
    assert response.status_code == 200
    content = response.content.decode()
    assert "Two-factor" in content and 'badge-ok">On' in content
    assert "Reset password" in content and "Disable sign-in" in content
    # Secrets are summarised, never shown.
    assert "$6$" not in content and "otpauth://" not in content


def test_detail_of_wrong_type_is_404(signed_in):
    client = signed_in("admin")
    assert client.get(detail("groups", persona("user").name)).status_code == 404
    assert client.get(detail("accounts", "nobody-here")).status_code == 404


def test_create_account_with_defaults_and_password(signed_in, sandbox):
    client = signed_in("admin")
    response = client.post(
        reverse("directory:create", kwargs={"kind": "accounts"}),
        {
            "name": " New.Person ",
            "description": "New Person",
            "email": "new.person@example.org",
            "aliases": "np@example.org\nNP@example.org",
            "password": "a long enough password",
            "quota_amount": "2",
            "quota_unit": "GiB",
            "roles": "user",
            "memberOf": "sales",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    assert response.url == detail("accounts", "new.person")
    created = sandbox.get("new.person")
    assert created is not None
    # Signing in with the new password works: the hash verifies in Stalwart.
    check = httpx.get(f"{sandbox_url()}/api/principal/new.person", auth=("new.person", "a long enough password"))
    assert check.status_code in (200, 403)  # authenticated (a user may not read principals)
    wrong = httpx.get(f"{sandbox_url()}/api/principal/new.person", auth=("new.person", "wrong"))
    assert wrong.status_code == 401
    page = client.get(response.url).content.decode()
    assert "np@example.org" in page and "sales" in page and "2 GiB" in page


def sandbox_url():
    from django.conf import settings

    return settings.STALWART_URL


def test_create_errors_go_next_to_the_field_and_keep_input(signed_in, sandbox):
    client = signed_in("admin")
    taken = persona("user").name
    response = client.post(
        reverse("directory:create", kwargs={"kind": "accounts"}),
        {"name": taken, "description": "Keep me", "email": "keep@example.org", "roles": "user"},
    )
    assert response.status_code == 422
    content = response.content.decode()
    assert "already used" in content
    assert 'value="Keep me"' in content and 'value="keep@example.org"' in content
    assert re.search(r'field-invalid">\s*<label for="id_name"', content)


def test_create_with_unknown_group_points_at_the_group_field(signed_in, sandbox):
    client = signed_in("admin")
    response = client.post(
        reverse("directory:create", kwargs={"kind": "accounts"}),
        {"name": "x.person", "memberOf": "no-such-group", "roles": "user"},
    )
    assert response.status_code == 422
    content = response.content.decode()
    assert "“no-such-group” does not exist" in content
    assert re.search(r'field-invalid">\s*<label for="id_memberOf"', content)


def test_create_at_unknown_domain(signed_in, sandbox):
    client = signed_in("admin")
    response = client.post(
        reverse("directory:create", kwargs={"kind": "accounts"}),
        {"name": "y.person", "email": "y@unknown-domain.test", "roles": "user"},
    )
    assert response.status_code == 422
    assert re.search(r'field-invalid">\s*<label for="id_email"', response.content.decode())


def test_create_group_gets_mail_permissions(signed_in, sandbox):
    client = signed_in("admin")
    response = client.post(reverse("directory:create", kwargs={"kind": "groups"}), {"name": "newgroup"})
    assert response.status_code == 302
    assert set(sandbox.permission_names(sandbox.get("newgroup"))) >= {"email-send", "email-receive"}


def test_create_api_key_shows_the_token_once(signed_in, sandbox):
    client = signed_in("admin")
    response = client.post(
        reverse("directory:create", kwargs={"kind": "api-keys"}), {"name": "ci-bot", "description": "CI"}
    )
    assert response.status_code == 200
    token = re.search(r'id="api-token" class="secret">(api_[A-Za-z0-9+/=]+)<', response.content.decode()).group(1)
    name, _, secret = base64.b64decode(token[4:]).decode().partition(":")
    assert name == "ci-bot" and len(secret) == 30
    # The key works as a bearer credential.
    check = httpx.get(f"{sandbox_url()}/api/principal/ci-bot", headers={"Authorization": f"Bearer {token}"})
    assert check.status_code in (200, 403)
    assert check.status_code != 401
    # And it is not shown again.
    assert token not in client.get(detail("api-keys", "ci-bot")).content.decode()


def test_edit_sends_a_diff_never_set_on_lists(signed_in, sandbox):
    client = signed_in("admin")
    name = persona("user").name
    response, snapshot = edit_form(client, "accounts", name)
    form = {
        key: value
        for key, value in re.findall(r'name="([^"]+)" value="([^"]*)"', response.content.decode())
        if key not in {"csrfmiddlewaretoken"}
    }
    original = sandbox.get(name)
    assert original is not None
    data = {
        "snapshot": snapshot,
        "name": name,
        "description": "Jane Changed",
        "email": form.get("email", ""),
        "aliases": "",
        "roles": "user",
        "memberOf": "support",
        "lists": "",
        "quota_amount": "",
        "quota_unit": "GiB",
    }
    sandbox.requests.clear()
    saved = client.post(reverse("directory:edit", kwargs={"kind": "accounts", "name": name}), data)
    assert saved.status_code == 302, saved.content[:3000]
    [request] = patches(sandbox)
    assert unquote(request.path) == "/api/principal/" + name
    page = client.get(detail("accounts", name)).content.decode()
    assert "Jane Changed" in page and "support" in page


def test_edit_with_stale_form_is_refused_without_losing_input(signed_in, sandbox):
    client = signed_in("admin")
    name = persona("user").name
    response = client.post(
        reverse("directory:edit", kwargs={"kind": "accounts", "name": name}),
        {"snapshot": "tampered", "name": name, "description": "My typing"},
    )
    assert response.status_code == 409
    assert "My typing" in response.content.decode()
    assert patches(sandbox) == []


def test_rename_follows_to_the_new_name(signed_in, sandbox):
    client = signed_in("admin")
    _, snapshot = edit_form(client, "groups", "sales")
    response = client.post(
        reverse("directory:edit", kwargs={"kind": "groups", "name": "sales"}),
        {
            "snapshot": snapshot,
            "name": "sales-team",
            "description": "Sales",
            "members": "\n".join(sandbox_members(sandbox, "sales")),
        },
    )
    assert response.status_code == 302
    assert response.url == detail("groups", "sales-team")
    assert sandbox.get("sales-team") is not None and sandbox.get("sales") is None


def sandbox_members(sandbox, name):
    principal = sandbox.get(name)
    return sorted(sandbox.principals[i].name for i in sandbox.members.get(principal.id, set()))


def test_delete_one(signed_in, sandbox):
    client = signed_in("admin")
    name = persona("user").name
    confirm = client.get(reverse("directory:delete", kwargs={"kind": "accounts", "name": name}))
    assert confirm.status_code == 200 and b"cannot be undone" in confirm.content
    response = client.post(reverse("directory:delete", kwargs={"kind": "accounts", "name": name}))
    assert response.status_code == 302
    assert sandbox.get(name) is None


def test_bulk_delete_confirms_then_reports(signed_in, sandbox):
    client = signed_in("admin")
    url = reverse("directory:bulk-delete", kwargs={"kind": "groups"})
    confirm = client.post(url, {"names": ["sales", "support"]})
    assert confirm.status_code == 200 and b"Delete 2 groups?" in confirm.content
    assert sandbox.get("sales") is not None
    done = client.post(url, {"names": ["sales", "support", "ghost-group"], "confirmed": "yes"})
    content = done.content.decode()
    assert "Deleted 2 of 3 groups" in content and "ghost-group" in content
    assert sandbox.get("sales") is None and sandbox.get("support") is None
    # One is one group, not "1 groups".
    one = client.post(url, {"names": ["engineering"]}).content.decode()
    assert "Delete 1 group?" in one and "Delete 1 group</button>" in one
    assert "This is deleted for good, with its mail" in one and "These are" not in one
    assert "These are deleted for good, with their mail" in confirm.content.decode()
    done = client.post(url, {"names": ["engineering"], "confirmed": "yes"}).content.decode()
    assert "Deleted 1 of 1 group" in done and "1 groups" not in done


def test_delete_matching_previews_and_needs_the_count(signed_in, sandbox):
    client = signed_in("admin")
    url = reverse("directory:delete-matching", kwargs={"kind": "accounts"})
    sandbox.requests.clear()
    preview = client.get(url, {"q": "sales"})
    content = preview.content.decode()
    total = int(re.search(r"Delete (\d+) accounts? matching", content).group(1))
    assert total > 0
    assert not [r for r in sandbox.requests if r.method == "DELETE"]
    wrong = client.post(url, {"q": "sales", "count": total + 1})
    assert wrong.status_code == 422 and f"Type {total} to confirm" in wrong.content.decode()
    assert not [r for r in sandbox.requests if r.method == "DELETE"]
    one = client.get(url, {"q": persona("user").name}).content.decode()
    assert f"Delete 1 account matching “<bdi>{persona('user').name}</bdi>”?" in one and "1 accounts" not in one
    # The list's link to this page says so too.
    listed = client.get(reverse("directory:list", kwargs={"kind": "accounts"}), {"q": persona("user").name})
    assert "Delete the 1 matching account…" in listed.content.decode()
    assert f"Delete all {total} matching…" in client.get(listed.request["PATH_INFO"], {"q": "sales"}).content.decode()
    done = client.post(url, {"q": "sales", "count": total})
    assert done.status_code == 302
    [request] = [r for r in sandbox.requests if r.method == "DELETE"]
    query = parse_qs(request.query)
    assert query == {"type": ["individual"], "confirm": ["true"], "filter": ["sales"]}


def test_password_reset_keeps_app_passwords_and_totp(signed_in, sandbox):
    client = signed_in("admin")
    who = persona("totp_user")
    url = reverse("directory:account-password", kwargs={"name": who.name})
    mismatch = client.post(url, {"password": "brand new password", "confirm": "other"})
    assert mismatch.status_code == 422
    response = client.post(url, {"password": "brand new password", "confirm": "brand new password"})
    assert response.status_code == 302
    secrets = sandbox.get(who.name).secrets
    assert any(s.startswith("otpauth://") for s in secrets)
    assert any(s.startswith("$app$") for s in secrets)
    assert httpx.get(f"{sandbox_url()}/api/principal/x", auth=(who.name, "App-Sandbox-1")).status_code != 401


def test_password_reset_ends_the_portal_sessions_of_that_account(signed_in, sandbox):
    admin = signed_in("admin")
    target = Client()
    assert sign_in(target, "user").status_code == 302
    bystander = Client()
    assert sign_in(bystander, "helpdesk").status_code == 302
    assert target.get("/account/security/").status_code == 200
    url = reverse("directory:account-password", kwargs={"name": persona("user").name})
    mismatch = admin.post(url, {"password": "brand new password", "confirm": "other"})
    assert mismatch.status_code == 422
    assert target.get("/account/security/").status_code == 200  # nothing changed, nothing ends

    response = admin.post(url, {"password": "brand new password", "confirm": "brand new password"})
    assert response.status_code == 302
    assert "they are signed out of the portal" in admin.get(response.url).content.decode()  # the admin stays
    ended = target.get("/account/security/", follow=True)
    assert ended.redirect_chain[0][0].startswith("/auth/sign-in")
    assert "Your password was changed. Sign in again with your new password." in ended.content.decode()
    assert IDENTITY_KEY not in target.session
    assert bystander.get("/account/security/").status_code == 200


def test_password_set_in_the_edit_form_ends_the_sessions(signed_in, sandbox):
    admin = signed_in("admin")
    name = persona("user").name
    target = Client()
    assert sign_in(target, "user").status_code == 302
    url = reverse("directory:edit", kwargs={"kind": "accounts", "name": name})

    def form(**extra):
        response, snapshot = edit_form(admin, "accounts", name)
        values = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', response.content.decode()))
        data = {
            "snapshot": snapshot,
            "name": name,
            "description": "Jane Changed",
            "email": values.get("email", ""),
            "roles": "user",
            "quota_unit": "GiB",
        }
        return {**data, **extra}

    assert admin.post(url, form()).status_code == 302  # no password: the session stays
    assert target.get("/account/security/").status_code == 200
    assert admin.post(url, form(password="a long enough password")).status_code == 302
    assert target.get("/account/security/").status_code == 302
    assert IDENTITY_KEY not in target.session
    assert admin.get(detail("accounts", name)).status_code == 200


def test_disable_and_enable_sign_in(signed_in, client, sandbox):
    admin = signed_in("admin")
    who = persona("user")
    url = reverse("directory:account-sign-in", kwargs={"name": who.name})
    assert admin.post(url, {"enable": "0"}).status_code == 302
    blocked = httpx.post(
        f"{sandbox_url()}/api/oauth", auth=(who.name, who.password), json={"type": "code", "client_id": "x"}
    )
    assert blocked.status_code == 403
    assert admin.post(url, {"enable": "1"}).status_code == 302
    allowed = httpx.post(
        f"{sandbox_url()}/api/oauth", auth=(who.name, who.password), json={"type": "code", "client_id": "x"}
    )
    assert allowed.status_code == 200


def test_permissions_editor_preview_and_save(signed_in, sandbox):
    client = signed_in("admin")
    name = persona("user").name
    url = reverse("directory:permissions", kwargs={"kind": "accounts", "name": name})
    page = client.get(url)
    assert page.status_code == 200
    held = int(re.search(rb"will hold <strong>(\d+)</strong>", page.content).group(1))
    sandbox.requests.clear()
    preview = client.post(
        url, {"p:email-send": "off", "p:logs-view": "on", "action": "preview"}, headers={"HX-Request": "true"}
    )
    assert preview.status_code == 200
    assert int(re.search(rb"will hold <strong>(\d+)</strong>", preview.content).group(1)) == held
    assert patches(sandbox) == []
    saved = client.post(url, {"p:email-send": "off", "p:logs-view": "on", "action": "save"})
    assert saved.status_code == 302
    principal = sandbox.get(name)
    names = sandbox.permission_names(principal)
    assert "logs-view" in names and "email-send" not in names


def test_permissions_beyond_the_editor_are_refused_by_the_portal(signed_in, sandbox):
    client = signed_in("helpdesk")
    name = persona("user").name
    url = reverse("directory:permissions", kwargs={"kind": "accounts", "name": name})
    page = client.get(url)
    assert page.status_code == 200
    sandbox.requests.clear()
    response = client.post(url, {"p:settings-update": "on", "action": "save"})
    assert response.status_code == 403
    assert "settings-update" in response.content.decode()
    assert [r for r in sandbox.requests if r.method != "GET"] == []


def test_picker_searches_stalwart(signed_in, sandbox):
    client = signed_in("admin")
    response = client.get(reverse("directory:picker", kwargs={"field": "memberOf"}), {"q": "sal"})
    assert response.status_code == 200
    assert b'data-pick-value="sales"' in response.content
    query = parse_qs(sandbox.requests[-1].query)
    assert query["types"] == ["group"] and query["limit"] == ["20"]


def test_picker_respects_permissions(signed_in, sandbox):
    client = signed_in("user")
    assert client.get(reverse("directory:picker", kwargs={"field": "roles"}), {"q": "a"}).status_code == 403
    assert sandbox.requests == []


@pytest.mark.parametrize("name", ["a/../../store/purge/data", "x+y&z=1@example.org", "..", "100%"])
def test_hostile_names_work_end_to_end(signed_in, sandbox, name):
    client = signed_in("admin")
    created = httpx.post(
        f"{sandbox_url()}/api/principal",
        auth=(persona("admin").name, persona("admin").password),
        json={"type": "group", "name": name},
    ).json()
    stored = name.lower()
    assert "data" in created, created
    url = detail("groups", stored)
    assert client.get(url).status_code == 200
    _, snapshot = edit_form(client, "groups", stored)
    assert (
        client.post(
            reverse("directory:edit", kwargs={"kind": "groups", "name": stored}),
            {"snapshot": snapshot, "name": stored, "description": "renamed"},
        ).status_code
        == 302
    )
    sandbox.requests.clear()
    assert client.post(reverse("directory:delete", kwargs={"kind": "groups", "name": stored})).status_code == 302
    [request] = [r for r in sandbox.requests if r.method == "DELETE"]
    assert request.path.startswith("/api/principal/") and request.path.count("/") == 3
    assert sandbox.get(stored) is None


@pytest.mark.parametrize(
    ("who", "url", "method"),
    [
        ("user", "/directory/accounts/new", "get"),
        ("user", "/directory/groups/sales/edit", "get"),
        ("user", "/directory/groups/sales/delete", "post"),
        ("helpdesk", "/directory/roles/helpdesk/permissions", "get"),
        ("helpdesk", "/directory/groups/delete-matching", "get"),
        ("user", "/directory/accounts/jane.doe/password", "post"),
    ],
)
def test_refused_actions_make_no_upstream_call(signed_in, sandbox, who, url, method):
    client = signed_in(who)
    response = getattr(client, method)(url)
    assert response.status_code == 403
    assert sandbox.requests == []


def test_account_page_links_to_helpdesk_tools(signed_in, sandbox):
    client = signed_in("admin")
    who = persona("user").name
    content = client.get(detail("accounts", who)).content.decode()
    assert "in the queue" in content and "/queue/?q=" in content
    assert "Restore deleted mail" in content and f"/undelete/{who}/" in content
    assert "Empty deleted mail" in content and "Reset spam-filter training" in content
    helpdesk = signed_in("helpdesk").get(detail("accounts", who)).content.decode()
    assert "Reset spam-filter training" not in helpdesk  # the helpdesk role lacks purge-in-memory-store
