"""The account fields of the tools: a login up to Stalwart 0.15, an address from 0.16."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("url", ["/tools/maintenance/reset-uids", "/tools/spam-filter/train", "/undelete/"])
def test_account_fields_ask_for_a_login_up_to_0_15_and_an_address_on_0_16(signed_in, generation, url):
    response = signed_in("admin").get(url)
    assert response.status_code == 200, url
    page = response.content.decode()
    if generation.jmap:
        assert 'placeholder="jane.doe@example.org"' in page and 'placeholder="jane.doe"' not in page
    else:
        assert 'placeholder="jane.doe"' in page and "jane.doe@example.org" not in page
