"""Who may open what: every route and navigation item, per persona."""

import pytest
from django.urls import reverse

from portal.navigation import SECTIONS, landing_url
from portal.permissions import (
    PERMISSIONS,
    Access,
    PortalUser,
    builtin_role_permissions,
    from_oauth,
    needs,
    needs_any,
    version_permissions,
)
from tests.conftest import sign_in

DIRECTORY = ["accounts", "groups", "lists", "domains", "tenants", "roles", "api-keys", "oauth-clients"]

# What each seeded persona may open (their roles are defined by the sandbox seed).
EXPECTED = {
    "admin": {**dict.fromkeys(DIRECTORY, 200), "account": 200},
    "helpdesk": {
        "accounts": 200,
        "groups": 200,
        "lists": 200,
        "domains": 200,
        "tenants": 403,
        "roles": 403,
        "api-keys": 403,
        "oauth-clients": 403,
        "account": 200,
    },
    "tenant_admin": {
        "accounts": 200,
        "groups": 200,
        "lists": 200,
        "domains": 200,
        "tenants": 403,
        "roles": 200,
        "api-keys": 200,
        "oauth-clients": 403,
        "account": 200,
    },
    "user": {**dict.fromkeys(DIRECTORY, 403), "account": 200},
}


def url_for(page):
    return reverse("account:overview") if page == "account" else reverse("directory:list", kwargs={"kind": page})


@pytest.mark.parametrize("who", sorted(EXPECTED))
def test_every_route_answers_as_expected(signed_in, sandbox, who):
    client = signed_in(who)
    for page, status in EXPECTED[who].items():
        sandbox.requests.clear()
        response = client.get(url_for(page))
        assert response.status_code == status, (who, page, response.status_code)
        if status == 403:
            assert sandbox.requests == [], f"{who} {page}: a refused page called Stalwart"
            assert b"You don't have access to this page" in response.content


@pytest.mark.parametrize("who", sorted(EXPECTED))
def test_navigation_shows_only_what_may_be_opened(signed_in, who):
    client = signed_in(who)
    content = client.get(reverse("account:overview")).content.decode()
    for page, status in EXPECTED[who].items():
        link = f'href="{url_for(page)}"'
        assert (link in content) == (status == 200), (who, page)


def test_htmx_partials_are_gated_too(signed_in, sandbox):
    client = signed_in("user")
    response = client.get("/directory/accounts/?q=a", headers={"HX-Request": "true"})
    assert response.status_code == 403
    assert response["HX-Retarget"] == "#main"
    assert b"<html" not in response.content
    assert sandbox.requests == []


def test_403_page_names_the_missing_permission(signed_in):
    client = signed_in("user")
    response = client.get("/directory/roles/")
    assert b"role-list" in response.content


def test_enterprise_pages_explain_the_licence(signed_in, client):
    signed_in("admin")
    session = client.session
    session["portal.identity"] = {**session["portal.identity"], "enterprise": False}
    session.save()
    response = client.get("/directory/tenants/")
    assert response.status_code == 403
    assert b"Enterprise feature" in response.content


@pytest.mark.parametrize("page", [*DIRECTORY, "account"])
def test_signed_out_visitors_are_sent_to_sign_in(client, sandbox, page):
    response = client.get(url_for(page))
    assert response.status_code == 302
    assert response.url.startswith("/auth/sign-in?next=")
    assert sandbox.requests == []


def test_unknown_directory_is_404(signed_in):
    assert signed_in("admin").get("/directory/nope/").status_code == 404


def test_landing_follows_permissions():
    def user(*perms, enterprise=True):
        return PortalUser("x", frozenset(perms), "0.11.8", enterprise)

    assert landing_url(user("individual-list", "group-list")) == "/directory/accounts/"
    assert landing_url(user("domain-list")) == "/directory/domains/"
    assert landing_url(user("tenant-list", enterprise=False)) == "/account/"
    assert landing_url(user()) == "/account/"


def test_access_rules():
    admin_like = PortalUser("a", frozenset(PERMISSIONS), "0.11.8", True)
    nobody = PortalUser("n", frozenset(), "0.11.8", True)
    assert needs("logs-view").allows(admin_like) and not needs("logs-view").allows(nobody)
    assert needs_any("restart", "logs-view").missing(nobody) == ("logs-view", "restart")
    assert not Access(enterprise=True).allows(PortalUser("c", frozenset(), "0.11.8", False))
    with pytest.raises(Exception, match="Unknown Stalwart permission"):
        needs("no-such-permission")


def test_permission_table_matches_the_server():
    assert len(PERMISSIONS) == 268  # 266 ids of 0.14/0.15, two of them with an older name too
    assert PERMISSIONS["impersonate"].id == 0
    assert PERMISSIONS["spam-filter-classify"].id == 180
    assert PERMISSIONS["spam-filter-classify"].until == (0, 14)
    assert PERMISSIONS["spam-filter-test"].since == (0, 15)
    assert PERMISSIONS["dav-cal-free-busy-query"].since == (0, 12)
    assert PERMISSIONS["individual-list"].mark == "T"


@pytest.mark.parametrize("version", ["0.11.8", "0.12.4", "0.13.4", "0.14.1", "0.15.5"])
def test_each_version_table_is_the_servers_entry_for_entry(version):
    """The portal keeps its own copy of each version's table (it may not import the
    sandbox); both were read from the server's source, and must agree."""
    from sandbox.permissions import permission_table

    ours = [(p.name, p.mark) for p in sorted(version_permissions(version).values(), key=lambda p: p.id)]
    assert ours == permission_table(version)
    assert builtin_role_permissions("admin", version) == frozenset(name for name, _ in ours)


def test_0_15_spells_the_oauth_answer_as_principals_do():
    assert from_oauth({"delete-system-folders-", "spam-filter-test"}, "0.15.5") == {
        "delete-system-folders_",
        "spam-filter-test",
    }
    assert from_oauth({"delete-system-folders"}, "0.14.1") == {"delete-system-folders"}
    assert "spam-filter-train" not in builtin_role_permissions("user", "0.15.5")
    assert "spam-filter-train" in builtin_role_permissions("user", "0.14.1")


def test_every_navigation_item_has_a_valid_rule():
    for section in SECTIONS:
        for item in section.items:
            assert item.access.all_of | item.access.any_of <= PERMISSIONS.keys() | set()
            if item.url_name:
                assert item.url().startswith("/")


def test_sign_in_page_is_public(client, sandbox):
    assert sign_in(client, "admin").status_code == 302
