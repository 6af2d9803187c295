"""Undelete on Stalwart 0.16 (Enterprise) only: searching x:ArchivedItem, forged items, a failed
restore and tenant scope. What behaves alike on both generations is tested once, against each,
in tests/undelete/."""

from __future__ import annotations

import re

import pytest

from portal.stalwart import backend
from portal.stalwart.blobs import UndeleteApi
from portal.stalwart.jmap.undelete import JmapUndelete
from sandbox.mailflow import state
from tests.conftest import persona
from tests.jmap.test_api_keys import account_id, admin, jmap
from tests.jmap.test_backend import _methods

JANE = "jane.doe@example.org"
LIST = f"/undelete/{JANE}/"
RESTORE = f"/undelete/{JANE}/restore"


def posts(sandbox) -> list:
    """The JMAP requests that reached the sandbox."""
    return [r for r in sandbox.requests if r.path == "/jmap/"]


def values(content: str) -> list[str]:
    return [v.replace("&#x27;", "'").replace("&amp;", "&") for v in re.findall(r'name="item" value="([^"]+)"', content)]


def jane(sandbox) -> int:
    for pid, principal in sandbox.principals.items():
        if principal.emails and principal.emails[0] == JANE:
            return pid
    raise AssertionError("no jane")


@pytest.mark.parametrize("area", [UndeleteApi, JmapUndelete])
def test_undelete_areas_share_one_protocol(area):
    for name in _methods(backend.UndeleteArea):
        import inspect

        wanted = inspect.signature(getattr(backend.UndeleteArea, name)).parameters
        offered = inspect.signature(getattr(area, name)).parameters
        assert list(wanted) == [p for p in offered if p in wanted], (area, name)
        assert inspect.iscoroutinefunction(getattr(area, name)), (area, name)
    assert isinstance(area.__new__(area), backend.UndeleteArea)


def test_search_by_subject_sender_and_date(signed_in, sandbox):
    client = signed_in("admin")
    items = client.get(LIST).content.decode()
    subject = re.search(r'<span class="cell-sub"><bdi[^>]*>([^<]+)</bdi>', items).group(1)
    found = client.get(LIST, {"q": subject[:8].upper()}).content.decode()
    assert 1 <= len(values(found)) < 3 and subject in found and "Restore all" not in found
    nothing = client.get(LIST, {"q": "no such thing anywhere"})
    assert nothing.status_code == 200 and "Nothing found" in nothing.content.decode()
    year = re.search(r"Received (\d{4})-", items).group(1)
    assert len(values(client.get(LIST, {"q": year}).content.decode())) >= 1


def test_a_forged_item_of_another_account_is_not_restored(signed_in, sandbox):
    client = signed_in("admin")
    others = [(pid, items) for pid, items in state(sandbox).deleted.items() if pid != jane(sandbox) and items]
    assert others, "the seed archives mail of more than one account"
    pid, items = others[0]
    principal = sandbox.principals[pid]
    theirs = values(client.get(f"/undelete/{principal.emails[0]}/").content.decode())[0]
    before = len(items)
    response = client.post(RESTORE, {"item": theirs, "confirmed": "yes"})
    assert response.status_code == 302
    assert len(state(sandbox).deleted[pid]) == before
    assert "could not be found" in client.get(LIST).content.decode()


def test_upstream_failure_on_restore_explains(signed_in, sandbox):
    client = signed_in("admin")
    first = values(client.get(LIST).content.decode())[0]
    sandbox.faults.server_error(503, prefix="/jmap/")
    response = client.post(RESTORE, {"item": first, "confirmed": "yes"})
    assert response.status_code == 502  # Stalwart answered with an error: the change may have been applied
    assert "submit-failure" in response.content.decode() and state(sandbox).restored.get(jane(sandbox)) is None


def test_a_tenant_administrator_sees_only_the_tenant(signed_in, sandbox):
    who = persona("tenant_admin")
    tenant = next(p for p in sandbox.principals.values() if p.type == "tenant")
    member = next(
        p for p in sandbox.principals.values()
        if p.type == "individual" and p.tenant == tenant.id and who.name not in p.emails
    )  # fmt: skip
    client = signed_in("tenant_admin")
    # the seeded tenant administrator lacks impersonate: refused for any other account
    assert client.get(f"/undelete/{member.emails[0]}/").status_code == 403
    # with it (a sign-in reads the permissions again), the tenant's accounts and only those
    own = account_id(who.name)
    more = {"@type": "Merge", "enabledPermissions": {"impersonate": True}, "disabledPermissions": {}}
    grant = {own: {"permissions": more}}
    ((_n, answer, _i),) = jmap([["x:Account/set", {"update": grant}, "u"]], auth=admin())
    assert own in answer.get("updated", {}), answer
    client = signed_in("tenant_admin")
    assert client.get(LIST).status_code == 404  # another tenant's account: out of scope
    response = client.get(f"/undelete/{member.emails[0]}/")
    assert response.status_code == 200, response.content[-1500:]


def test_another_accounts_archive_needs_impersonate_on_016(signed_in, sandbox):
    """0.16 ignores the account filter of a caller without impersonate and answers with the
    caller's own items: the portal refuses before any call and says why."""
    client = signed_in("helpdesk")
    assert client.get("/undelete/").status_code == 200  # the helpdesk may undelete...
    before = len(posts(sandbox))
    for response in (client.get(LIST), client.post(RESTORE, {"all": "1", "confirmed": "yes"})):
        assert response.status_code == 403
        page = response.content.decode()
        assert "<code>impersonate</code>" in page and "your own account" in page
    assert len(posts(sandbox)) == before  # ...but another account's archive is not asked for
    assert signed_in("admin").get(LIST).status_code == 200  # the administrator holds impersonate
