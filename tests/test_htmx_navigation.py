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
