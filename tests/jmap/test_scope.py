"""The scope rule on Stalwart 0.16 (portal/access.py), against the 0.16 sandbox.

The same walk as tests/test_scope.py: every URL naming a principal, as every persona, answers
404 for a principal outside the person's tenant after no upstream call but the scope check's
own read of it; and no link shown to a scoped person leads to a 404. On 0.16 every request is
a POST /jmap/, so the methods that reached the sandbox are recorded by name.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from portal.capabilities import for_server, unavailable
from portal.permissions import PortalUser
from tests.test_scope import SKIP, TARGET_ROUTES, _Links, _outside_url
from tests.test_url_walk import PERSONAS, _identity, verdict, walk

OUTSIDE_ACME = "jane.doe@example.org"  # an account of no tenant: outside the tenant admin's scope
#: What the scope check reads to find a principal by name (portal/stalwart/jmap/principals.py `_find`).
SCOPE_READ = {"x:Account/query", "x:Account/get", "x:Domain/query", "x:Domain/get", "x:MailingList/query",
              "x:MailingList/get", "x:Tenant/query", "x:Tenant/get", "x:Role/query", "x:Role/get",
              "x:OAuthClient/query", "x:OAuthClient/get"}




@pytest.mark.parametrize("who", PERSONAS)
def test_scope_rule_on_every_url_naming_a_principal(signed_in, client, sandbox, called, who):
    signed_in(who)
    user = PortalUser(**_identity(client))
    assert user.generation == "jmap"
    capabilities = for_server("jmap", user.version, user.enterprise)
    # 0.16 confines a tenant member itself and shows them no tenant: the portal records none
    # (portal/auth/views.py), so the tenant administrator is known here by persona.
    tenant_member = who == "tenant_admin"
    outside = OUTSIDE_ACME if tenant_member else "nobody.outside@nowhere.example"
    failures = []
    for name, url, kwargs, rule, _target in TARGET_ROUTES:
        allowed = verdict(rule, kwargs, user)
        if allowed is None or unavailable(capabilities, name, kwargs):
            continue
        if name == "directory:domain-dns":
            outside_name = "example.org" if tenant_member else "nowhere.example"
        else:
            outside_name = outside
        target_url = _outside_url(url, kwargs, outside_name)
        post_rule = getattr(next(p for n, _r, p in walk() if n == name).callback, "access_post", None)
        for method in ("get", "post"):
            sandbox.requests.clear()
            called.clear()
            response = getattr(client, method)(target_url)
            status = response.status_code
            refused = allowed is False or (method == "post" and post_rule is not None and not post_rule.allows(user))
            if refused:
                if status not in (403, 405) or called:
                    failures.append((name, method, "refused late", status, called[:]))
            elif not tenant_member:
                if status >= 500:
                    failures.append((name, method, status))
            elif status not in (404, 405) and called:  # a page that asks nothing shows nothing
                failures.append((name, method, "reached", status, called[:]))
            elif status == 404 and not set(called) <= SCOPE_READ:
                failures.append((name, method, "called beyond the scope check", called[:]))
    assert failures == [], (who, failures)


def _foreign_names(sandbox) -> set[str]:
    """The addresses and domains of every principal outside tenant acme (the server's own report
    contact, postmaster@example.org, is configuration, not a principal shown)."""
    tenant = next(p for p in sandbox.principals.values() if p.type == "tenant")
    names: set[str] = set()
    for principal in sandbox.principals.values():
        if principal.type == "tenant" or principal.tenant == tenant.id:
            continue
        names.update(principal.emails or ())
        if principal.type == "domain" and principal.name != "example.org":
            names.add(principal.name)
    return names - {"postmaster@example.org"}


START = ["/", "/directory/accounts/", "/directory/groups/", "/directory/lists/", "/directory/domains/", "/queue/",
         "/queue/reports/", "/reports/dmarc/", "/reports/tls/", "/reports/arf/", "/undelete/", "/audit/",
         "/search/?q=example", "/search/?q=jane"]


@pytest.mark.parametrize("who", ["tenant_admin", "helpdesk"])
def test_no_link_shown_to_a_scoped_person_leads_to_a_404(signed_in, sandbox, who):
    """The crawl of tests/test_scope.py on 0.16, over the mail-flow pages too; a tenant
    administrator is never shown the name of a principal outside their tenant."""
    client = signed_in(who)
    foreign = _foreign_names(sandbox) if who == "tenant_admin" else set()
    seen: set[str] = set()
    queue = list(START)
    broken, leaks = [], []
    while queue and len(seen) < 60:
        url = queue.pop(0)
        if url in seen or url.startswith(SKIP) or url.endswith((".csv", "/stream", "/live", "/events")):
            continue
        seen.add(url)
        response = client.get(url)
        if response.status_code == 404:
            broken.append(url)
            continue
        if response.status_code != 200 or response.streaming or "text/html" not in response.get("Content-Type", ""):
            continue
        content = response.content.decode()
        shown = re.sub(r'placeholder="[^"]*"', "", content)
        leaks += [(url, name) for name in foreign if name in shown]
        parser = _Links()
        parser.feed(content)
        for link in parser.links:
            if urlsplit(link).path and link not in seen:
                queue.append(link)
    assert len(seen) > 10
    assert broken == [], f"{who} was shown links to 404 pages: {broken}"
    assert leaks == [], f"{who} was shown names outside their tenant: {leaks}"


def test_a_tenant_administrator_sees_the_records_of_their_own_domain(signed_in, sandbox, called):
    """Their role may get DKIM signatures but not query them: the records show, the keys do not
    (neither a server error nor a refusal for the whole page)."""
    client = signed_in("tenant_admin")
    response = client.get("/directory/domains/acme.org/dns")
    assert response.status_code == 200, response.status_code
    page = response.content.decode()
    assert "acme.org" in page and 'id="dkim-title"' not in page and 'id="dkim-form"' not in page
    assert client.get("/directory/domains/example.org/dns").status_code == 404  # another tenant's


# --- outgoing reports: 0.16 keeps one queue for every tenant ---------------------------------
def _outgoing(sandbox) -> list:
    from sandbox.mailflow import state

    return list(state(sandbox).outgoing.values())


def _report_links(page: str) -> list[str]:
    return list(dict.fromkeys(re.findall(r'href="(/queue/reports/[^"/?]+/)"', page)))


def test_a_tenant_administrator_sees_only_their_domains_outgoing_reports(signed_in, sandbox, called):
    everyone = _report_links(signed_in("admin").get("/queue/reports/").content.decode())
    assert len(everyone) == len(_outgoing(sandbox)) > 1
    client = signed_in("tenant_admin")
    page = client.get("/queue/reports/").content.decode()
    own = _report_links(page)
    assert own and set(own) < set(everyone)
    shown = re.sub(r'placeholder="[^"]*"', "", page)
    assert "acme.org" in shown and "contoso.net" not in shown and "gmail.com" not in shown
    assert _report_links(client.get("/queue/reports/?q=contoso.net").content.decode()) == []
    other = next(url for url in everyone if url not in own)
    before = len(_outgoing(sandbox))
    assert client.get(other).status_code == 404
    called.clear()
    assert client.post(other + "cancel").status_code == 404
    assert not any(name.endswith("/set") for name in called)
    assert len(_outgoing(sandbox)) == before


def test_cancel_matching_for_a_tenant_cancels_only_their_domains_reports(signed_in, sandbox):
    client = signed_in("tenant_admin")
    preview = client.get("/queue/reports/cancel-matching").content.decode()
    expected = re.search(r'name="expected" value="(\d+)"', preview).group(1)
    mine = [r for r in _outgoing(sandbox) if r.domain == "acme.org"]
    assert int(expected) == len(mine) >= 1
    others = len(_outgoing(sandbox)) - len(mine)
    response = client.post("/queue/reports/cancel-matching", {"expected": expected})
    assert response.status_code == 302
    assert len(_outgoing(sandbox)) == others and all(r.domain != "acme.org" for r in _outgoing(sandbox))
