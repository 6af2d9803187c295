import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
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
    # A plain form (the sign-in page is not boosted): the first submission goes ahead; a
    # second one while it is on its way is refused, and the buttons are disabled.
    page.goto(f"{portal_url}/auth/sign-in")
    assert page.evaluate(SUBMIT_TWICE) == [False, True]
    expect(page.get_by_role("button", name="Sign in")).to_be_disabled()


def test_a_boosted_form_is_sent_once(page, portal_url, sandbox):
    """Forms in the page content are boosted (htmx sends them): sent once as well."""
    sign_in(page, portal_url, persona("admin"))
    expect(page.get_by_role("heading", name="Accounts", level=1)).to_be_visible()
    page.goto(f"{portal_url}/directory/groups/sales/edit")
    page.locator("#id_description").fill("Sent once, boosted")
    sandbox.requests.clear()
    sandbox.faults.latency(1000, prefix="/api/principal", methods={"PATCH"})
    assert page.evaluate(HTMX_SUBMIT_TWICE, "main form[method=post]") == {"busy": "true", "disabled": True}
    expect(page.get_by_role("heading", name="Sent once, boosted", level=1)).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert len([r for r in sandbox.requests if r.method == "PATCH"]) == 1


def test_the_real_submission_still_works(page, portal_url, sandbox):
    sign_in(page, portal_url, persona("admin"))
    expect(page.get_by_role("heading", name="Accounts", level=1)).to_be_visible()
    page.goto(f"{portal_url}/directory/groups/sales/edit")
    page.locator("#id_description").fill("Sent once")
    sandbox.requests.clear()
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("heading", name="Sent once")).to_be_visible()
    assert len([r for r in sandbox.requests if r.method == "PATCH"]) == 1


# Two submissions in the same moment, the way a double click or a double Enter sends them;
# returns how the form looks while its request is on its way.
HTMX_SUBMIT_TWICE = """(selector) => {
  const form = document.querySelector(selector);
  form.requestSubmit();
  form.requestSubmit();
  const buttons = [...form.querySelectorAll('button[type=submit]')];
  return {busy: form.getAttribute('aria-busy'), disabled: buttons.length > 0 && buttons.every((b) => b.disabled)};
}"""


def browser_posts(page, path):
    """The POST requests the browser sends to `path` from now on."""
    posts = []

    def seen(request):
        if request.method == "POST" and path in request.url:
            posts.append(request)

    page.on("request", seen)
    return posts


def dkim_creations(sandbox):
    return [r for r in sandbox.requests if r.method == "POST" and r.path == "/api/dkim"]


def test_an_htmx_form_is_sent_once(page, portal_url, sandbox):
    sign_in(page, portal_url, persona("admin"))
    expect(page.get_by_role("heading", name="Accounts", level=1)).to_be_visible()
    page.goto(f"{portal_url}/directory/domains/example.net/dns")
    expect(page.get_by_text("example.net has no DKIM key")).to_be_visible()
    page.get_by_label(re.compile(r"^Ed25519")).check()
    page.get_by_label("Selector").fill("once")
    posts = browser_posts(page, "/directory/domains/example.net/dns")
    sandbox.requests.clear()
    sandbox.faults.latency(1500, prefix="/api/dkim", methods={"POST"})  # time to look at the busy form
    assert page.evaluate(HTMX_SUBMIT_TWICE, "#dkim-form form") == {"busy": "true", "disabled": True}
    page.locator("#dkim-form").scroll_into_view_if_needed()
    screenshot(page, "double-submit-htmx-busy", full_page=False)
    expect(page.get_by_text("Ed25519 DKIM key generated with the selector once")).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert len(posts) == 1
    assert len(dkim_creations(sandbox)) == 1


def test_an_htmx_form_is_usable_again_after_the_answer(page, portal_url, sandbox):
    sign_in(page, portal_url, persona("admin"))
    expect(page.get_by_role("heading", name="Accounts", level=1)).to_be_visible()
    page.goto(f"{portal_url}/directory/domains/example.org/dns")
    # example.org has an Ed25519 key already: Stalwart refuses, the form comes back with the reason.
    page.get_by_label(re.compile(r"^Ed25519")).check()
    page.get_by_label("Selector").fill("again")
    posts = browser_posts(page, "/directory/domains/example.org/dns")
    sandbox.requests.clear()
    assert page.evaluate(HTMX_SUBMIT_TWICE, "#dkim-form form") == {"busy": "true", "disabled": True}
    expect(page.get_by_text(re.compile(r"already has an Ed25519 key"))).to_be_visible()
    form = page.locator("#dkim-form form")
    expect(page.get_by_role("button", name="Create key")).to_be_enabled()
    expect(form).not_to_have_attribute("aria-busy", "true")
    page.wait_for_load_state("networkidle")
    assert len(posts) == 1
    assert len(dkim_creations(sandbox)) == 1
    page.locator("#dkim-form").scroll_into_view_if_needed()
    screenshot(page, "double-submit-htmx-answered", full_page=False)

    # A form that stays on the page while a button of it (hx-post) asks for a preview.
    page.goto(f"{portal_url}/directory/accounts/jane.doe/permissions")
    preview = page.get_by_role("button", name="Preview the result")
    posts = browser_posts(page, "/directory/accounts/jane.doe/permissions")
    page.evaluate("(button) => { button.click(); button.click(); }", preview.element_handle())
    expect(page.locator("#permission-table")).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert len(posts) == 1
    expect(preview).to_be_enabled()
    expect(page.get_by_role("button", name="Save permissions")).to_be_enabled()
    expect(preview.locator("xpath=ancestor::form")).not_to_have_attribute("aria-busy", "true")
