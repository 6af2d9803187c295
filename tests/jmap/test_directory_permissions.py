"""The permission editor on Stalwart 0.16: the server's own permission names."""

from __future__ import annotations

from django.urls import reverse

from sandbox.jmap.objects import new_permissions
from tests.conftest import persona

ALICE = "alice.novak@example.com"


def url(name: str = ALICE, kind: str = "accounts") -> str:
    return reverse("directory:permissions", kwargs={"kind": kind, "name": name})


def account(sandbox, address: str):
    for principal in sandbox.principals.values():
        if principal.emails and principal.emails[0] == address:
            return principal
    return None


def test_the_editor_lists_0_16_permissions_in_groups(signed_in, sandbox):
    client = signed_in("admin")
    response = client.get(url())
    assert response.status_code == 200, response.content[-2000:]
    content = response.content.decode()
    for name in ("sysAccountGet", "jmapEmailGet", "imapIdle", "actionReloadSettings", "sysQueuedMessageQuery"):
        assert f'name="p:{name}"' in content, name
    assert "message-queue-list" not in content  # no <= 0.15 names
    for group in ("General", "Directory", "Mail queue, reports and archive", "IMAP", "Server settings"):
        assert f"<summary>{group} " in content, group
    assert "of 660 permissions" in content


def test_search_narrows_the_list(signed_in, sandbox):
    client = signed_in("admin")
    content = client.get(url(), {"q": "pop3"}).content.decode()
    assert 'name="p:pop3Retr"' in content and 'name="p:imapIdle"' not in content


def test_saving_writes_x_permissions_and_the_preview_counts(signed_in, sandbox):
    client = signed_in("admin")
    before = client.get(url()).content.decode()
    preview = client.post(
        url(), {"p:sysLogGet": "on", "p:emailSend": "off", "action": "preview"}, headers={"HX-Request": "true"}
    )
    assert preview.status_code == 200
    assert 'value="on" aria-label="sysLogGet: on" checked' in preview.content.decode()
    assert before.count('badge-ok">Held') != preview.content.decode().count('badge-ok">Held')
    assert new_permissions(account(sandbox, ALICE), sandbox).get("enabledPermissions", {}).get("sysLogGet") is None
    saved = client.post(url(), {"p:sysLogGet": "on", "p:emailSend": "off", "action": "save"})
    assert saved.status_code == 302, saved.content[-2000:]
    stored = new_permissions(account(sandbox, ALICE), sandbox)
    assert stored["@type"] == "Merge"
    assert stored["enabledPermissions"].get("sysLogGet") and stored["disabledPermissions"].get("emailSend")
    page = client.get(url()).content.decode()
    assert 'value="on" aria-label="sysLogGet: on" checked' in page
    assert 'value="off" aria-label="emailSend: off" checked' in page
    # Back to the roles alone: Inherit.
    cleared = client.post(url(), {"p:sysLogGet": "default", "p:emailSend": "default", "action": "save"})
    assert cleared.status_code == 302
    assert new_permissions(account(sandbox, ALICE), sandbox) == {"@type": "Inherit"}


def test_a_role_is_edited_in_its_own_sets(signed_in, sandbox):
    client = signed_in("admin")
    created = client.post(reverse("directory:create", kwargs={"kind": "roles"}), {"name": "auditors"})
    assert created.status_code == 302, created.content[-2000:]
    response = client.post(url("auditors", "roles"), {"p:sysLogGet": "on", "action": "save"})
    assert response.status_code == 302, response.content[-2000:]
    page = client.get(url("auditors", "roles")).content.decode()
    assert 'value="on" aria-label="sysLogGet: on" checked' in page
    assert "will hold <strong>1</strong> of 660" in page


def test_nobody_grants_what_they_lack(signed_in, sandbox):
    client = signed_in("helpdesk")
    page = client.get(url())
    assert page.status_code == 200, page.content[-1500:]
    marked = client.post(url(), {"p:sysTenantCreate": "on", "action": "preview"})
    assert "You don&#x27;t hold this" in marked.content.decode() or "You don't hold this" in marked.content.decode()
    refused = client.post(url(), {"p:sysTenantCreate": "on", "action": "save"})
    assert refused.status_code == 403
    assert "sysTenantCreate" in refused.content.decode()
    assert new_permissions(account(sandbox, ALICE), sandbox).get("@type") in (None, "Inherit")


def test_a_person_without_the_permission_is_refused_before_any_call(signed_in, sandbox):
    client = signed_in("user")
    sandbox.requests.clear()
    assert client.get(url()).status_code == 403
    assert client.post(url(), {"p:sysLogGet": "on", "action": "save"}).status_code == 403
    assert sandbox.requests == []


def test_upstream_failure_gives_the_error_page(signed_in, sandbox, settings, closed_port):
    client = signed_in("admin")
    settings.STALWART_URL = f"http://127.0.0.1:{closed_port}"
    response = client.get(url())
    assert response.status_code == 502
    assert persona("admin").password not in response.content.decode()
