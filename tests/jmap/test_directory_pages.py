"""Directory pages on Stalwart 0.16 beyond the lists and forms: the account list's layout,
CSV import, delete-matching."""

from __future__ import annotations

import re

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.conftest import persona


def account(sandbox, address: str):
    for principal in sandbox.principals.values():
        if principal.emails and principal.emails[0] == address:
            return principal
    return None


# --- the account list -------------------------------------------------------------------
def test_the_account_list_folds_the_address_into_the_name(signed_in, sandbox):
    client = signed_in("admin")
    content = client.get("/directory/accounts/?q=alice").content.decode()
    head = content[content.find("<thead>") : content.find("</thead>")]
    assert "E-mail" not in head and "Quota" in head and "Roles" in head
    [row] = [tr for tr in re.findall(r"<tr>.*?</tr>", content, re.S) if "alice.novak@example.com" in tr]
    assert 'data-label="E-mail"' not in row and row.count("<bdi>alice.novak@example.com</bdi>") == 1
    assert "+2 aliases" in row and 'title="alice@example.com, alice.novak@example.net"' in row
    for kind in ("groups", "lists"):
        page = client.get(f"/directory/{kind}/").content.decode()
        assert "<th scope=\"col\">E-mail</th>" not in page and "<th scope=\"col\">Address</th>" not in page


# --- CSV import --------------------------------------------------------------------------
CSV_FILE = """name,description,email,aliases,password,quota,groups,roles
anna.berg,Anna Berg,anna.berg@example.org,anna@example.org,Long-Initial-Pass-1,2GiB,sales,user
alice.novak,Alice (imported),,,,,,
bad row,,not-an-email,,short,lots,,
ghost,Ghost,ghost@nowhere-domain.test,,,,,
"""


def test_import_preview_then_apply_on_0_16(signed_in, sandbox):
    client = signed_in("admin")
    upload = SimpleUploadedFile("accounts.csv", CSV_FILE.encode(), content_type="text/csv")
    preview = client.post(reverse("directory:import"), {"file": upload})
    content = preview.content.decode()
    assert preview.status_code == 200, content[:2000]
    assert "2 to create · 1 to change · 0 unchanged · 1 with errors" in content
    assert account(sandbox, "anna.berg@example.org") is None  # nothing happened yet
    assert "Long-Initial-Pass-1" not in content
    plan_id = content.split('name="apply" value="')[1].split('"')[0]
    applied = client.post(reverse("directory:import"), {"apply": plan_id})
    content = applied.content.decode()
    assert "2 done, 1 failed" in content, content[:3000]  # ghost's domain does not exist
    anna = account(sandbox, "anna.berg@example.org")
    assert anna is not None and "anna@example.org" in anna.emails and anna.quota == 2 * 1024**3
    assert "sales" in [sandbox.principals[g].name for g in anna.member_of if g in sandbox.principals]
    assert account(sandbox, "alice.novak@example.com").description == "Alice (imported)"


def test_import_is_refused_without_the_permissions(signed_in, sandbox):
    client = signed_in("helpdesk")
    response = client.post(reverse("directory:import"), {"file": SimpleUploadedFile("a.csv", b"name\nx\n")})
    assert response.status_code == 403
    assert sandbox.requests == []


# --- delete everything a search matches -------------------------------------------------
def test_delete_matching_on_0_16(signed_in, sandbox):
    client = signed_in("admin")
    for name in ("temp.one", "temp.two", "temp.three"):
        created = client.post(
            reverse("directory:create", kwargs={"kind": "accounts"}),
            {"name": name, "email": f"{name}@example.org", "description": "Temporary", "roles": "user"},
        )
        assert created.status_code == 302, created.content[-2000:]
    url = reverse("directory:delete-matching", kwargs={"kind": "accounts"})
    preview = client.get(url, {"q": "temp"})
    total = int(re.search(r"Delete (\d+) accounts? matching", preview.content.decode()).group(1))
    assert total == 3
    wrong = client.post(url, {"q": "temp", "count": 4})
    assert wrong.status_code == 422
    assert account(sandbox, "temp.one@example.org") is not None
    sandbox.requests.clear()
    done = client.post(url, {"q": "temp", "count": 3})
    assert done.status_code == 302, done.content[-2000:]
    assert all(account(sandbox, f"{n}@example.org") is None for n in ("temp.one", "temp.two", "temp.three"))
    assert account(sandbox, "alice.novak@example.com") is not None


def test_delete_matching_stops_at_an_upstream_refusal(signed_in, sandbox):
    """A domain still in use is not destroyed: the page says why, nothing is claimed deleted."""
    client = signed_in("admin")
    url = reverse("directory:delete-matching", kwargs={"kind": "domains"})
    preview = client.get(url, {"q": "example.com"})
    total = int(re.search(r"Delete (\d+) domains? matching", preview.content.decode()).group(1))
    response = client.post(url, {"q": "example.com", "count": total})
    assert response.status_code == 409, response.status_code
    assert "Deletion stopped: It is still in use" in response.content.decode()
    assert persona("admin").password not in response.content.decode()
    assert any(p.type == "domain" and p.name == "example.com" for p in sandbox.principals.values())


def test_delete_matching_is_refused_to_the_helpdesk(signed_in, sandbox):
    client = signed_in("helpdesk")
    response = client.post(reverse("directory:delete-matching", kwargs={"kind": "accounts"}), {"q": "a", "count": 1})
    assert response.status_code == 403
    assert sandbox.requests == []
