"""htmx navigation gets whole pages; htmx swaps get fragments; caches keep them apart."""

from __future__ import annotations

PAGE = "/directory/accounts/"


def test_an_htmx_swap_gets_the_results_fragment(signed_in):
    client = signed_in("admin")
    response = client.get(PAGE, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="results"') and "<html" not in html
    assert "HX-Request" in response["Vary"]


def test_a_boosted_link_gets_the_whole_page(signed_in):
    client = signed_in("admin")
    response = client.get(PAGE, headers={"HX-Request": "true", "HX-Boosted": "true"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" in html and '<nav class="sidebar"' in html and html.count('id="results"') == 1
    assert "HX-Request" in response["Vary"]


def test_a_history_restore_gets_the_whole_page(signed_in):
    """Back and forward after hx-push-url: htmx asks for the page again (no history cache)."""
    client = signed_in("admin")
    response = client.get(PAGE + "?q=jane", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert "<html" in response.content.decode()


def test_plain_pages_vary_on_hx_request_too(signed_in):
    client = signed_in("admin")
    assert "HX-Request" in client.get(PAGE)["Vary"]


def test_a_boosted_upstream_failure_is_a_whole_error_page(signed_in, sandbox):
    client = signed_in("admin")
    sandbox.faults.add("error", prefix="/api/principal")
    response = client.get(PAGE, headers={"HX-Request": "true", "HX-Boosted": "true"})
    assert response.status_code >= 500 and "<html" in response.content.decode()


BOOSTED = {"HX-Request": "true", "HX-Boosted": "true"}


def test_a_boosted_download_is_left_to_the_browser(signed_in, sandbox):
    """A boosted link to a CSV export is answered with HX-Redirect: the browser fetches the
    file itself (and saves it) instead of htmx swapping it into the page."""
    client = signed_in("admin")
    for url in ("/directory/accounts/export.csv?q=jane", "/audit/export.csv"):
        response = client.get(url, headers=BOOSTED)
        assert response.status_code == 200, url
        assert response["HX-Redirect"] == url
        assert "Content-Disposition" not in response
    plain = client.get("/directory/accounts/export.csv")
    assert plain["Content-Disposition"].startswith("attachment") and "HX-Redirect" not in plain


def test_a_boosted_form_that_redirects_shows_its_message_on_the_next_page(signed_in, sandbox):
    client = signed_in("admin")
    response = client.post("/queue/status", {"running": "0"}, headers=BOOSTED)
    assert response.status_code == 302 and "HX-Push-Url" not in response
    # The browser follows the redirect with the same headers: the next page is whole, with
    # the message, and its URL goes into the address bar.
    page = client.get(response.url, headers=BOOSTED)
    html = page.content.decode()
    assert page.status_code == 200 and "<html" in html and "HX-Push-Url" not in page
    assert "Delivery paused." in html
    client.post("/queue/status", {"running": "1"})


def test_a_boosted_form_answered_in_place_keeps_the_address(signed_in, sandbox):
    """Errors (or a confirmation step) come back as the whole page, and the address bar stays
    on the page of the form: its POST-only URL would fail on back or reload."""
    client = signed_in("admin")
    response = client.post("/account/security/app-passwords/new", {"label": ""}, headers=BOOSTED)
    html = response.content.decode()
    assert response.status_code == 400 and "<html" in html
    assert response["HX-Push-Url"] == "false"
    # Boosted GETs push their URL as usual; htmx swaps (not boosted) are not touched.
    assert "HX-Push-Url" not in client.get(PAGE, headers=BOOSTED)
    assert "HX-Push-Url" not in client.post(
        "/account/security/app-passwords/new", {"label": ""}, headers={"HX-Request": "true"}
    )
