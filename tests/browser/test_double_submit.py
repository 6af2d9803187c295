import pytest
from playwright.sync_api import expect

from tests.browser.test_sign_in_and_accounts import sign_in
from tests.conftest import persona

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SUBMIT_TWICE = """() => {
  const form = document.querySelector('form[method=post] button.button-primary').form;
  const seen = [];
  window.addEventListener('submit', (event) => seen.push(event.defaultPrevented));
  for (let i = 0; i < 2; i++) {
    form.dispatchEvent(new SubmitEvent('submit', {bubbles: true, cancelable: true}));
  }
  return seen;
}"""


def test_a_form_is_sent_once(page, portal_url, sandbox):
    sign_in(page, portal_url, persona("admin"))
    expect(page.get_by_role("heading", name="Accounts", level=1)).to_be_visible()
    page.goto(f"{portal_url}/directory/groups/sales/edit")
    # The first submission goes ahead; a second one while it is on its way is refused,
    # and the buttons are disabled.
    assert page.evaluate(SUBMIT_TWICE) == [False, True]
    expect(page.get_by_role("button", name="Save changes")).to_be_disabled()


def test_the_real_submission_still_works(page, portal_url, sandbox):
    sign_in(page, portal_url, persona("admin"))
    expect(page.get_by_role("heading", name="Accounts", level=1)).to_be_visible()
    page.goto(f"{portal_url}/directory/groups/sales/edit")
    page.locator("#id_description").fill("Sent once")
    sandbox.requests.clear()
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("heading", name="Sent once")).to_be_visible()
    assert len([r for r in sandbox.requests if r.method == "PATCH"]) == 1
