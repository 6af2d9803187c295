"""The account fields of the tools on <= 0.15 servers, where account names are logins."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    "url", ["/tools/maintenance/reset-uids", "/tools/spam-filter/train", "/undelete/"]
)
def test_account_fields_ask_for_a_login_on_0_15(signed_in, sandbox, url):
    response = signed_in("admin").get(url)
    assert response.status_code == 200, url
    page = response.content.decode()
    assert 'placeholder="jane.doe"' in page and "jane.doe@example.org" not in page
