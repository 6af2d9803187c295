"""The scope and rank rules as people see them, at desktop and phone width."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.browser.test_accessibility import sign_in


@pytest.mark.browser
@pytest.mark.parametrize("width", [1280, 390])
def test_helpdesk_sees_the_administrator_without_change_actions(page, portal_url, width):
    page.set_viewport_size({"width": width, "height": 860})
    sign_in(page, portal_url, "helpdesk")
    page.goto(portal_url + "/directory/accounts/admin/")
    expect(page.get_by_text("it holds Stalwart permissions that your account does not have")).to_be_visible()
    expect(page.get_by_role("link", name="Edit")).to_have_count(0)
    expect(page.get_by_role("link", name="Reset password")).to_have_count(0)
    expect(page.get_by_role("button", name="Disable sign-in")).to_have_count(0)
    screenshot(page, f"scope-helpdesk-admin-detail-{width}")
    page.goto(portal_url + "/directory/accounts/admin/password")
    expect(page.get_by_role("heading", name="You don't have access to this page")).to_be_visible()
    screenshot(page, f"scope-helpdesk-admin-password-{width}")


@pytest.mark.browser
@pytest.mark.parametrize("width", [1280, 390])
def test_tenant_admin_gets_not_found_for_another_tenant(page, portal_url, width):
    page.set_viewport_size({"width": width, "height": 860})
    sign_in(page, portal_url, "tenant_admin")
    response = page.goto(portal_url + "/undelete/jane.doe/")
    assert response.status == 404
    expect(page.get_by_text("jane.doe was not found, or is not yours to manage.")).to_be_visible()
    screenshot(page, f"scope-tenant-admin-undelete-other-{width}")
    page.goto(portal_url + "/directory/accounts/wile.coyote@acme.org/")
    expect(page.get_by_role("link", name="ops@acme.org")).to_be_visible()
    screenshot(page, f"scope-tenant-admin-own-account-{width}")
