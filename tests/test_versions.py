"""The portal against every supported Stalwart version (sandbox/VERSIONS.md lists what differs).

Each test runs once per version through the `stalwart_version` fixture (tests/conftest.py);
version-specific expectations read the version from the sandbox.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

import pytest

from portal.access import known_permissions
from tests.conftest import persona


@pytest.fixture
def sandbox(versioned_sandbox):
    return versioned_sandbox


def _at_least(sandbox, minor: int) -> bool:
    return sandbox.at_least((0, minor))


def _api(sandbox) -> list[str]:
    return [f"{r.method} {unquote(r.path)}" for r in sandbox.requests if r.path.startswith("/api/")]


# --- permissions ------------------------------------------------------------------------
def test_permission_editor_offers_exactly_the_versions_permissions(signed_in, sandbox):
    client = signed_in("admin")
    name = persona("user").name
    page = client.get(f"/directory/accounts/{name}/permissions").content.decode()
    offered = set(re.findall(r'name="p:([^"]+)" value="on"', page))
    assert offered == known_permissions(sandbox.version)
    if _at_least(sandbox, 15):
        assert "delete-system-folders_" in offered and "spam-filter-test" in offered
        assert "spam-filter-classify" not in offered
    else:
        assert "delete-system-folders" in offered and "spam-filter-classify" in offered
    assert ("jmap-calendar-get" in offered) == _at_least(sandbox, 14)
    assert ("calendar-alarms" in offered) == _at_least(sandbox, 13)


def test_permission_editor_saves_in_the_versions_spelling(signed_in, sandbox):
    client = signed_in("admin")
    name = persona("user").name
    spelled = "delete-system-folders_" if _at_least(sandbox, 15) else "delete-system-folders"
    response = client.post(f"/directory/accounts/{name}/permissions", {f"p:{spelled}": "on", "action": "save"})
    assert response.status_code == 302, response.content[:2000]
    page = client.get(f"/directory/accounts/{name}/permissions").content.decode()
    assert f'name="p:{spelled}" value="on" aria-label="{spelled}: on" checked' in page.replace("&#x27;", "'")


def test_the_administrator_holds_every_permission_of_the_version(signed_in, client, sandbox):
    signed_in("admin")
    held = frozenset(client.session["portal.identity"]["permissions"])
    assert held == known_permissions(sandbox.version)


# --- password resets keep the second factor and the app passwords -------------------------
def _second_factor_and_app_passwords(sandbox, name: str) -> tuple[list[str], list[str]]:
    secrets = sandbox.get(name).secrets
    return (
        sorted(s for s in secrets if s.startswith("otpauth://")),
        sorted(s for s in secrets if s.startswith("$app$")),
    )


def _can_sign_in(sandbox, name: str, password: str) -> bool:
    import httpx
    from django.conf import settings

    return httpx.get(f"{settings.STALWART_URL}/api/principal/x", auth=(name, password)).status_code != 401


def test_password_reset_keeps_totp_and_app_passwords(signed_in, sandbox):
    client = signed_in("admin")
    who = persona("totp_user")
    before = _second_factor_and_app_passwords(sandbox, who.name)
    assert before[0] and before[1]
    response = client.post(
        f"/directory/accounts/{who.name}/password", {"password": "brand new password", "confirm": "brand new password"}
    )
    assert response.status_code == 302
    assert _second_factor_and_app_passwords(sandbox, who.name) == before
    assert _can_sign_in(sandbox, who.name, "App-Sandbox-1")
    passwords = [s for s in sandbox.get(who.name).secrets if not s.startswith(("otpauth://", "$app$"))]
    assert len(passwords) == 1  # the new one only
    sent = [r for r in sandbox.requests if r.method == "PATCH"]
    assert len(sent) == 1


def test_csv_import_password_keeps_totp_and_app_passwords(signed_in, sandbox):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = signed_in("admin")
    who = persona("totp_user")
    before = _second_factor_and_app_passwords(sandbox, who.name)
    data = f"name,password\n{who.name},Long-Imported-Pass-1\n"
    preview = client.post("/directory/accounts/import", {"file": SimpleUploadedFile("a.csv", data.encode())})
    plan_id = preview.content.decode().split('name="apply" value="')[1].split('"')[0]
    assert "1 done" in client.post("/directory/accounts/import", {"apply": plan_id}).content.decode()
    assert _second_factor_and_app_passwords(sandbox, who.name) == before


# --- undelete -----------------------------------------------------------------------------
def test_undelete_restores_on_every_version(signed_in, sandbox):
    from sandbox.mailflow import state

    client = signed_in("admin")
    content = client.get("/undelete/jane.doe/").content.decode()
    value = content.split('name="item" value="', 1)[1].split('"', 1)[0].replace("&#x27;", "'").replace("&amp;", "&")
    response = client.post("/undelete/jane.doe/restore", {"item": value, "confirmed": "yes"})
    assert response.status_code == 302
    restores = [r for r in sandbox.requests if r.method == "POST" and "/api/store/undelete" in r.path]
    assert [r.status for r in restores] == [200]
    jane = sandbox.get("jane.doe").id
    assert state(sandbox).restored[jane] == 1
    page = client.get(response.url).content.decode()
    assert "Restored 1 message" in page
    if _at_least(sandbox, 15):  # 0.15 says what was deleted: the portal shows it
        listed = client.get("/undelete/jane.doe/").content.decode()
        assert "cell-sub" in listed and " · " in listed
