"""The scope rule and the rank rule (portal/access.py), against the sandbox.

Scope: a principal named in a URL must be in the person's tenant, or the page answers 404
before any other upstream call about it. Rank: nobody changes a principal that holds
permissions they lack, nor grants roles or permissions they do not hold.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import unquote, urldefrag, urlsplit

import pytest

from portal.permissions import PortalUser
from tests.test_url_walk import PERSONAS, ROUTES, _identity, verdict, walk


@pytest.fixture
def sandbox(versioned_sandbox):
    """The scope and rank rules hold on every supported Stalwart version (tests/conftest.py)."""
    return versioned_sandbox


PRINCIPAL_KWARGS = {"name", "account"}
OUTSIDE_ACME = "jane.doe"  # an account of no tenant: outside the tenant admin's scope


def _writes(sandbox) -> list:
    return [r for r in sandbox.requests if r.path.startswith("/api/") and r.method != "GET"]


def _api(sandbox) -> list[str]:
    return [f"{r.method} {unquote(r.path)}" for r in sandbox.requests if r.path.startswith("/api/")]


# --- every URL that names a principal declares it -------------------------------------
def _targets() -> list[tuple[str, str, dict, object, object]]:
    found = []
    for name, route, pattern in walk():
        if not name:
            continue
        kwargs_in_route = set(re.findall(r"<(?:\w+:)?(\w+)>", route))
        target = getattr(pattern.callback, "access_target", None)
        if kwargs_in_route & PRINCIPAL_KWARGS:
            entry = next(r for r in ROUTES if r[0] == name)
            found.append((name, entry[1], entry[2], entry[3], target))
    return found


TARGET_ROUTES = _targets()


def test_every_url_naming_a_principal_declares_the_scope_rule():
    assert TARGET_ROUTES, "the walk found no URL naming a principal"
    missing = [name for name, _url, _kwargs, _rule, target in TARGET_ROUTES if target is None]
    assert missing == [], f"URLs naming a principal without require(..., target=Target(...)): {missing}"


def _outside_url(url: str, kwargs: dict, name: str) -> str:
    for key in PRINCIPAL_KWARGS & kwargs.keys():
        url = url.replace("/" + kwargs[key] + "/", "/" + name + "/").replace("/" + kwargs[key], "/" + name)
    return url


@pytest.mark.parametrize("who", PERSONAS)
def test_scope_rule_on_every_url_naming_a_principal(signed_in, client, sandbox, who):
    """As every persona: a principal outside their scope (for those outside any tenant, one that
    does not exist) answers 404 on every such URL, after no upstream call but reading it."""
    signed_in(who)
    user = PortalUser(**_identity(client))
    outside = OUTSIDE_ACME if user.tenant else "nobody.outside@nowhere.example"
    for name, url, kwargs, rule, _target in TARGET_ROUTES:
        allowed = verdict(rule, kwargs, user)
        if allowed is None:
            continue
        probe_kwargs = dict(kwargs)
        if name == "directory:domain-dns":
            outside_name = "example.org" if user.tenant else "nowhere.example"
        else:
            outside_name = outside
        target_url = _outside_url(url, probe_kwargs, outside_name)
        post_rule = getattr(next(p for n, _r, p in walk() if n == name).callback, "access_post", None)
        for method in ("get", "post"):
            sandbox.requests.clear()
            response = getattr(client, method)(target_url)
            if method == "post" and post_rule is not None and not post_rule.allows(user):
                allowed = False
            if allowed is False:
                assert response.status_code in (403, 405), (who, name, method, response.status_code)
                assert _api(sandbox) == [], (who, name, method)
                continue
            if not user.tenant:
                # Outside any tenant everything is in scope: the page's own answer for a missing name.
                assert response.status_code < 500, (who, name, method, response.status_code)
                continue
            assert response.status_code in (404, 405), (who, name, method, response.status_code)
            if response.status_code == 404:
                # Only the scope check's own read of the principal reached Stalwart.
                assert set(_api(sandbox)) <= {f"GET /api/principal/{outside_name}"}, (who, name, method, _api(sandbox))


# --- item 1: cross-tenant undelete -----------------------------------------------------
def test_tenant_admin_cannot_see_or_restore_deleted_mail_of_another_tenant(signed_in, sandbox):
    client = signed_in("tenant_admin")
    response = client.get(f"/undelete/{OUTSIDE_ACME}/")
    assert response.status_code == 404
    assert _api(sandbox) == [f"GET /api/principal/{OUTSIDE_ACME}"]
    sandbox.requests.clear()
    response = client.post(f"/undelete/{OUTSIDE_ACME}/restore", {"all": "1", "confirmed": "yes"})
    assert response.status_code == 404
    assert not any("/api/store/undelete" in line for line in _api(sandbox))


def test_tenant_admin_still_restores_mail_in_their_tenant(signed_in, sandbox):
    client = signed_in("tenant_admin")
    response = client.get("/undelete/wile.coyote@acme.org/")
    assert response.status_code == 200
    assert any(line.startswith("GET /api/store/undelete/") for line in _api(sandbox))


# --- item 12: confirmation pages of other tenants --------------------------------------
@pytest.mark.parametrize(
    "url",
    [
        f"/directory/accounts/{OUTSIDE_ACME}/delete",
        f"/directory/accounts/{OUTSIDE_ACME}/edit",
        f"/directory/accounts/{OUTSIDE_ACME}/password",
        f"/tools/accounts/{OUTSIDE_ACME}/empty-trash",
    ],
)
def test_out_of_scope_confirmation_pages_answer_404(signed_in, sandbox, url):
    client = signed_in("tenant_admin")
    response = client.get(url)
    assert response.status_code in (403, 404)  # 403 where the permission itself is missing
    assert _writes(sandbox) == []


# --- item 3: helpdesk and the administrator ---------------------------------------------
def test_helpdesk_is_not_offered_changes_to_the_administrator(signed_in, sandbox):
    client = signed_in("helpdesk")
    page = client.get("/directory/accounts/admin/").content.decode()
    assert "/directory/accounts/admin/edit" not in page
    assert "/directory/accounts/admin/password" not in page
    assert "/directory/accounts/admin/sign-in" not in page
    assert "holds Stalwart permissions that your account does not have" in page
    assert "/tools/accounts/admin/empty-trash" not in page
    # ... while an ordinary account keeps them.
    page = client.get("/directory/accounts/jane.doe/").content.decode()
    assert "/directory/accounts/jane.doe/edit" in page and "/directory/accounts/jane.doe/password" in page
    assert "/tools/accounts/jane.doe/empty-trash" in page


@pytest.mark.parametrize(
    ("method", "url", "data"),
    [
        ("get", "/directory/accounts/admin/edit", {}),
        ("post", "/directory/accounts/admin/edit", {"description": "owned"}),
        ("get", "/directory/accounts/admin/password", {}),
        ("post", "/directory/accounts/admin/password", {"password": "Taken-Over-123!", "confirm": "Taken-Over-123!"}),
        ("post", "/directory/accounts/admin/sign-in", {"enable": "0"}),
        ("get", "/directory/accounts/admin/permissions", {}),
        ("get", "/tools/accounts/admin/empty-trash", {}),
        ("post", "/tools/accounts/admin/empty-trash", {"confirmed": "yes"}),
    ],
)
def test_helpdesk_cannot_change_the_administrator(signed_in, sandbox, method, url, data):
    client = signed_in("helpdesk")
    response = getattr(client, method)(url, data)
    assert response.status_code == 403, response.status_code
    assert _writes(sandbox) == []
    if method == "get" and "edit" in url:
        assert "holds Stalwart permissions that your account does not have" in response.content.decode()


def test_helpdesk_resets_an_ordinary_password(signed_in, sandbox):
    client = signed_in("helpdesk")
    response = client.get("/directory/accounts/jane.doe/password")
    assert response.status_code == 200


def test_a_role_holding_more_cannot_be_granted(signed_in, sandbox):
    """A tenant administrator may edit accounts of their tenant, but not make one an administrator."""
    client = signed_in("tenant_admin")
    page = client.get("/directory/accounts/wile.coyote@acme.org/edit")
    assert page.status_code == 200
    snapshot = re.search(r'name="snapshot" value="([^"]+)"', page.content.decode()).group(1)
    sandbox.requests.clear()
    response = client.post(
        "/directory/accounts/wile.coyote@acme.org/edit",
        {
            "snapshot": snapshot,
            "name": "wile.coyote@acme.org",
            "description": "Wile E. Coyote",
            "emails": "wile.coyote@acme.org",
            "roles": "user\nadmin",
            "memberOf": "ops@acme.org",
            "quota_value": "2",
            "quota_unit": "GiB",
        },
    )
    assert response.status_code == 403
    assert "cannot grant these roles" in response.content.decode()
    assert _writes(sandbox) == []


def test_a_permission_one_lacks_cannot_be_granted(signed_in, sandbox):
    client = signed_in("tenant_admin")
    response = client.post(
        "/directory/accounts/wile.coyote@acme.org/permissions",
        {"action": "save", "p:settings-update": "on"},
    )
    assert response.status_code == 403
    assert "settings-update" in response.content.decode()
    assert _writes(sandbox) == []


def test_spam_training_for_another_account_needs_scope_and_rank(signed_in, sandbox):
    client = signed_in("user")
    message = "From: a@example.org\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nhello\r\n"
    response = client.post("/tools/spam-filter/train", {"kind": "spam", "account": "admin", "message": message})
    if sandbox.at_least((0, 15)):  # 0.15 moved spam-filter-train from user to tenant-admin
        assert response.status_code == 403 and _writes(sandbox) == []
        return
    assert response.status_code == 422
    # A plain user may not read other accounts: the portal cannot confirm the account is theirs.
    assert "admin was not found, or is not yours to manage." in response.content.decode()
    assert _writes(sandbox) == []
    # Their own filter, and the server-wide one, stay theirs to train.
    response = client.post("/tools/spam-filter/train", {"kind": "spam", "account": "jane.doe", "message": message})
    assert response.status_code in (200, 302)
    assert [r.method for r in _writes(sandbox)] == ["POST"]


# --- item 14: every link a scoped person is shown leads somewhere ------------------------
class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            attributes = dict(attrs)
            href = attributes.get("href") or ""
            if href.startswith("/") and "download" not in attributes:
                self.links.append(urldefrag(href)[0])


SKIP = ("/auth/", "/static/", "/i18n/", "/healthz")


@pytest.mark.parametrize("who", ["tenant_admin", "helpdesk"])
def test_no_link_shown_to_a_scoped_person_leads_to_a_404(signed_in, sandbox, who):
    client = signed_in(who)
    seen: set[str] = set()
    queue = ["/", "/directory/accounts/", "/directory/groups/", "/directory/lists/", "/directory/domains/"]
    broken = []
    while queue and len(seen) < 120:
        url = queue.pop(0)
        if url in seen or url.startswith(SKIP) or url.endswith((".csv", "/stream", "/live", "/events")):
            continue
        seen.add(url)
        response = client.get(url)
        if response.status_code == 404:
            broken.append(url)
            continue
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            continue
        parser = _Links()
        parser.feed(response.content.decode())
        for link in parser.links:
            path = urlsplit(link).path
            if path and link not in seen:
                queue.append(link)
    assert len(seen) > 10
    assert broken == [], f"{who} was shown links to 404 pages: {broken}"


# --- bulk deletes skip what outranks the person ----------------------------------------
def _grant_as_admin(signed_in, name: str, permission: str) -> None:
    client = signed_in("admin")
    response = client.post(f"/directory/accounts/{name}/permissions", {"action": "save", f"p:{permission}": "on"})
    assert response.status_code == 302, response.status_code


def test_bulk_delete_skips_principals_that_outrank_the_person(signed_in, sandbox):
    _grant_as_admin(signed_in, "wile.coyote@acme.org", "settings-list")
    client = signed_in("tenant_admin")
    response = client.post(
        "/directory/accounts/delete",
        {"names": ["wile.coyote@acme.org", "daisy.duck@acme.org", OUTSIDE_ACME], "confirmed": "yes"},
    )
    page = response.content.decode()
    assert "it holds permissions that your account does not have" in page
    assert "nothing by this name that you can manage" in page
    deletes = [unquote(r.path) for r in _writes(sandbox) if r.method == "DELETE"]
    assert deletes == ["/api/principal/daisy.duck@acme.org"]


def test_delete_matching_refuses_when_a_match_outranks_the_person(signed_in, sandbox):
    _grant_as_admin(signed_in, "wile.coyote@acme.org", "settings-list")
    client = signed_in("tenant_admin")
    preview = client.get("/directory/accounts/delete-matching?q=coyote")
    assert preview.status_code == 200
    response = client.post("/directory/accounts/delete-matching", {"q": "coyote", "count": "1"})
    assert response.status_code == 403
    assert "wile.coyote@acme.org holds permissions" in response.content.decode()
    assert _writes(sandbox) == []


def test_csv_import_follows_the_rank_rule(signed_in, sandbox):
    from django.core.files.uploadedfile import SimpleUploadedFile

    _grant_as_admin(signed_in, "wile.coyote@acme.org", "settings-list")
    client = signed_in("tenant_admin")
    data = (
        "name,description,roles\n"
        "wile.coyote@acme.org,Taken over,\n"
        "daisy.duck@acme.org,,admin\n"
        "road.runner@acme.org,Meep meep,\n"
    )
    preview = client.post("/directory/accounts/import", {"file": SimpleUploadedFile("a.csv", data.encode())})
    content = preview.content.decode()
    assert "0 to create · 1 to change · 0 unchanged · 2 with errors" in content
    assert "holds permissions that your account does not have" in content
    assert "cannot grant these roles: admin" in content
    plan_id = content.split('name="apply" value="')[1].split('"')[0]
    sandbox.requests.clear()
    client.post("/directory/accounts/import", {"apply": plan_id})
    patched = [unquote(r.path) for r in _writes(sandbox)]
    assert patched == ["/api/principal/road.runner@acme.org"]
