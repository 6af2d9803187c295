"""The URL walk on Stalwart 0.16: every URL as every persona, GET and POST.

A page the person may not use is refused before any upstream call, as on <= 0.15; a page
without a 0.16 equivalent says so (404 with the explanation) without calling Stalwart; no
page answers with a server error.
"""

from __future__ import annotations

import pytest

from portal.capabilities import for_server, unavailable
from portal.permissions import PortalUser
from tests.test_url_walk import ROUTES, _identity, verdict

PERSONAS = ["admin", "helpdesk", "tenant_admin", "user"]


@pytest.mark.parametrize("who", PERSONAS)
def test_every_url_as_every_persona(signed_in, client, sandbox, who):
    signed_in(who)
    user = PortalUser(**_identity(client))
    assert user.generation == "jmap"
    capabilities = for_server("jmap", user.version, user.enterprise)
    failures = []
    for name, url, kwargs, rule in ROUTES:
        if rule is None:
            continue
        allowed = verdict(rule, kwargs, user)
        missing = unavailable(capabilities, name, kwargs)
        for method in ("get", "post"):
            sandbox.requests.clear()
            response = getattr(client, method)(url)
            status = response.status_code
            if status >= 500:
                failures.append((name, method, status))
            elif allowed is False or status == 403:
                if status not in (403, 405) or sandbox.requests:
                    failures.append((name, method, "refused late", status))
            elif allowed and missing and status not in (403, 405):  # 403: a POST needing more (view's `post` rule)
                if status != 404 or b"Not available on this server" not in response.content or sandbox.requests:
                    failures.append((name, method, "not explained", status))
        if not client.session.get("portal.identity"):
            failures.append((name, "signed out"))
            signed_in(who)
    assert failures == [], failures


def test_the_menu_offers_only_pages_the_server_has(signed_in, sandbox):
    client = signed_in("admin")
    page = client.get("/directory/accounts/").content.decode()
    assert 'href="/directory/accounts/"' in page and 'href="/directory/domains/"' in page
    assert 'href="/reports/' in page  # incoming reports work on 0.16
    assert 'href="/queue/"' in page  # the message queue works on 0.16
    for missing in ('href="/directory/api-keys/"',):
        assert missing not in page, missing


def test_a_plain_user_lands_on_a_page_that_works(client, sandbox):
    from tests.conftest import sign_in

    response = sign_in(client, "user")
    assert response.status_code == 302
    landing = client.get(response["Location"])
    assert landing.status_code == 200
