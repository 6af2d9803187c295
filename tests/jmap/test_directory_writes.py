"""Directory writes on Stalwart 0.16 from the typed changes: an account's mailing lists (kept
on x:MailingList.recipients), through the edit form and the CSV import, and what the
delete-matching page says."""

from __future__ import annotations

import re

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from sandbox.jmap import ids
from tests.conftest import persona

JANE = "jane.doe@example.org"  # in all@example.org and newsletter@example.com (seed)


def _id(sandbox, address: str) -> int:
    return sandbox.emails[address.lower()]


def in_list(sandbox, account: str, mailing_list: str) -> bool:
    return _id(sandbox, account) in sandbox.member_ids(_id(sandbox, mailing_list))


def edit(client, name: str, /, **changes: str):
    url = reverse("directory:edit", kwargs={"kind": "accounts", "name": name})
    form = client.get(url).content.decode()
    snapshot = re.search(r'name="snapshot" value="([^"]*)"', form).group(1)
    lists = re.search(r'<textarea[^>]*name="lists"[^>]*>([^<]*)</textarea>', form).group(1).split()
    data = {
        "snapshot": snapshot,
        "name": name,
        "description": "Jane Doe",
        "email": name,
        "aliases": "jane@example.org",
        "roles": "user",
        "memberOf": "sales@example.org",
        "lists": "\n".join(lists),
        "quota_amount": "5",
        "quota_unit": "GiB",
        **changes,
    }
    return lists, client.post(url, data)


def test_an_accounts_lists_show_on_0_16(signed_in, sandbox):
    client = signed_in("admin")
    page = client.get(reverse("directory:detail", kwargs={"kind": "accounts", "name": JANE})).content.decode()
    assert "all@example.org" in page and "newsletter@example.com" in page
    assert "eng-announce@example.org" not in page


def test_the_edit_form_joins_and_leaves_lists(signed_in, sandbox):
    client = signed_in("admin")
    assert in_list(sandbox, JANE, "newsletter@example.com")
    loaded, response = edit(client, JANE, lists="all@example.org\neng-announce@example.org")
    assert sorted(loaded) == ["all@example.org", "newsletter@example.com"]
    assert response.status_code == 302, response.content[-3000:]
    assert in_list(sandbox, JANE, "eng-announce@example.org")
    assert not in_list(sandbox, JANE, "newsletter@example.com")
    assert in_list(sandbox, JANE, "all@example.org")
    # The other recipients of the list it left are untouched.
    newsletter = sandbox.principals[_id(sandbox, "newsletter@example.com")]
    assert newsletter.external_members == ["partner@fabrikam.com", "press@contoso.net"]
    # The form shows what the server now holds.
    loaded, _response = edit(client, JANE)
    assert sorted(loaded) == ["all@example.org", "eng-announce@example.org"]


def test_an_unknown_list_is_refused_next_to_the_field_and_nothing_is_written(signed_in, sandbox):
    client = signed_in("admin")
    _loaded, response = edit(client, JANE, description="Changed", lists="nosuch@example.org")
    assert response.status_code == 422
    content = response.content.decode()
    assert "“nosuch@example.org” does not exist on the server." in content
    assert sandbox.principals[_id(sandbox, JANE)].description == "Jane Doe"
    assert in_list(sandbox, JANE, "newsletter@example.com")


def test_the_csv_import_joins_lists_on_0_16(signed_in, sandbox):
    client = signed_in("admin")
    data = (
        "name,email,lists,password\n"
        f"{JANE},,eng-announce@example.org,\n"
        "new.person@example.org,new.person@example.org,all@example.org,Long-Initial-Pass-1\n"
    )
    preview = client.post(reverse("directory:import"), {"file": SimpleUploadedFile("a.csv", data.encode())})
    content = preview.content.decode()
    assert "1 to create · 1 to change · 0 unchanged · 0 with errors" in content, content[-3000:]
    assert "add lists <bdi>eng-announce@example.org</bdi>" in content
    plan_id = content.split('name="apply" value="')[1].split('"')[0]
    applied = client.post(reverse("directory:import"), {"apply": plan_id}).content.decode()
    assert "2 done" in applied, applied[-3000:]
    assert in_list(sandbox, JANE, "eng-announce@example.org")
    assert in_list(sandbox, JANE, "newsletter@example.com")  # an import never removes
    assert in_list(sandbox, "new.person@example.org", "all@example.org")


def test_delete_matching_says_the_entries_are_gone(signed_in, sandbox):
    client = signed_in("admin")
    for name in ("temp.one", "temp.two"):
        client.post(
            reverse("directory:create", kwargs={"kind": "accounts"}),
            {"name": name, "email": f"{name}@example.org", "roles": "user"},
        )
    url = reverse("directory:delete-matching", kwargs={"kind": "accounts"})
    done = client.post(url, {"q": "temp", "count": 2}, follow=True)
    content = done.content.decode()
    assert "2 accounts deleted." in content
    assert "in the background" not in content


def test_a_person_without_the_permission_cannot_edit_lists(signed_in, sandbox):
    client = signed_in("user")
    url = reverse("directory:edit", kwargs={"kind": "accounts", "name": JANE})
    sandbox.requests.clear()
    response = client.post(url, {"name": JANE, "lists": "eng-announce@example.org"})
    assert response.status_code == 403
    assert [r for r in sandbox.requests if r.method == "POST" and r.path == "/jmap/"] == []
    assert persona("user").password not in response.content.decode()


def test_renaming_an_account_keeps_it_on_its_lists(signed_in, sandbox):
    """0.16 keeps a list's recipients as addresses: Stalwart leaves the old address on the list
    when an account is renamed (the sandbox does too), so the portal moves each of the account's
    lists to its new address in the same request, and leaves the list's other recipients alone."""
    client = signed_in("admin")
    _loaded, response = edit(client, JANE, name="jane.d@example.org", email="jane.d@example.org")
    assert response.status_code == 302, re.findall(r"error[^<]{0,200}", response.content.decode())
    renamed = "jane.d@example.org"
    for mailing_list in ("all@example.org", "newsletter@example.com"):
        assert in_list(sandbox, renamed, mailing_list), mailing_list
        assert JANE not in sandbox.principals[_id(sandbox, mailing_list)].external_members
    newsletter = sandbox.principals[_id(sandbox, "newsletter@example.com")]
    assert newsletter.external_members == ["partner@fabrikam.com", "press@contoso.net"]
    page = client.get(reverse("directory:detail", kwargs={"kind": "accounts", "name": renamed})).content.decode()
    assert "all@example.org" in page and "newsletter@example.com" in page


def test_the_sandbox_leaves_the_old_address_on_the_lists_of_a_renamed_account(sandbox):
    """What the portal works around: renamed through JMAP alone, the account is no longer on its
    lists, and its old address is."""
    from tests.jmap.test_directory_names_at_scale import jmap

    account = ids.encode(_id(sandbox, JANE))
    jmap([["x:Account/set", {"update": {account: {"name": "jane.x"}}}, "u"]])
    assert not in_list(sandbox, "jane.x@example.org", "all@example.org")
    assert JANE in sandbox.principals[_id(sandbox, "all@example.org")].external_members


def test_the_sandbox_leaves_a_deleted_accounts_address_on_its_lists(sandbox):
    from tests.jmap.test_directory_names_at_scale import jmap

    jmap([["x:Account/set", {"destroy": [ids.encode(_id(sandbox, JANE))]}, "d"]])
    assert JANE in sandbox.principals[_id(sandbox, "newsletter@example.com")].external_members
