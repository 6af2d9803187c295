"""Settings on Stalwart 0.16: pages generated from the server's own schema (`/api/schema`)."""

from __future__ import annotations

import html
import re

import pytest

from portal.stalwart.backend import SettingsRegistryArea
from portal.stalwart.jmap.backend import JmapBackend
from sandbox.jmap.ops import ops_state

NETWORK = "/settings/objects/SystemSettings.NetworkSettings/"
LISTENERS = "/settings/objects/NetworkListener/"


def posts(sandbox) -> list:
    return [r for r in sandbox.requests if r.path == "/jmap/"]


def hidden_inputs(content: str) -> list[tuple[str, str]]:
    return [
        (html.unescape(name), html.unescape(value))
        for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', content)
        if name != "csrfmiddlewaretoken"
    ]


def preview_then_save(client, url: str, data: dict):
    """The two steps of a change: the preview (checked), then saving what it carries."""
    preview = client.post(url, {**data, "step": "preview"})
    assert preview.status_code == 200, preview.content.decode()[:3000]
    content = preview.content.decode()
    assert "Check the changes" in content
    fields: dict[str, list[str]] = {}
    for name, value in hidden_inputs(content):
        fields.setdefault(name, []).append(value)
    return preview, client.post(url, {**fields, "step": "save"})


def listener(sandbox, name: str) -> tuple[int, dict] | None:
    for number, values in ops_state(sandbox).collections.get("NetworkListener", {}).items():
        if values.get("name") == name:
            return number, values
    return None


def test_the_jmap_area_has_the_protocol():
    assert isinstance(JmapBackend("token").registry, SettingsRegistryArea)


def test_the_index_shows_the_schemas_settings_navigation_and_the_schema_is_read_once(signed_in, sandbox):
    client = signed_in("admin")
    response = client.get("/settings/objects/")
    assert response.status_code == 200
    content = response.content.decode()
    assert 'href="/settings/objects/NetworkListener/"' in content
    assert 'href="/settings/objects/SystemSettings.NetworkSettings/"' in content
    assert "Spam Filter" in content and "Reload settings" in content
    sandbox.requests.clear()
    again = client.get(LISTENERS)
    assert again.status_code == 200
    # The schema is kept: the list page is one JMAP round trip.
    assert [(r.method, r.path) for r in sandbox.requests] == [("POST", "/jmap/")]


def test_the_menu_offers_the_schema_settings_on_0_16(signed_in, sandbox):
    page = signed_in("admin").get("/settings/objects/").content.decode()
    assert 'href="/settings/objects/"' in page
    assert 'href="/settings/"' not in page


def test_a_singleton_view_shows_what_the_server_holds(signed_in, sandbox):
    client = signed_in("admin")
    response = client.get(NETWORK)
    assert response.status_code == 200
    content = response.content.decode()
    assert "Network Settings" in content and "Default Hostname" in content
    assert 'value="mail.example.org"' in content
    assert "example.org</option>" in content  # the default domain, named (x:Domain in the same request)
    assert len(posts(sandbox)) == 1


def test_a_change_is_previewed_then_saved(signed_in, sandbox):
    client = signed_in("admin")
    data = {"defaultHostname": "mx.example.org", "maxConnections": "100", "proxyTrustedNetworks": "10.0.0.0/8"}
    current = client.get(NETWORK).content.decode()
    domain = re.search(r'<option value="([^"]+)" selected>example.org', current)
    assert domain
    data["defaultDomainId"] = domain.group(1)
    preview = client.post(NETWORK, {**data, "step": "preview"})
    content = preview.content.decode()
    assert "mail.example.org" in content and "mx.example.org" in content and "8192" in content
    assert "SystemSettings" not in ops_state(sandbox).singletons  # nothing saved yet
    _, saved = preview_then_save(client, NETWORK, data)
    assert saved.status_code == 302, saved.content.decode()[:2000]
    stored = ops_state(sandbox).singletons["SystemSettings"]
    assert stored["defaultHostname"] == "mx.example.org"
    assert stored["maxConnections"] == 100
    assert stored["proxyTrustedNetworks"] == {"10.0.0.0/8": True}
    page = client.get(NETWORK).content.decode()
    assert 'value="mx.example.org"' in page and "Saved." in page


def test_a_save_after_the_server_changed_shows_the_preview_again(signed_in, sandbox):
    client = signed_in("admin")
    current = client.get(NETWORK).content.decode()
    domain = re.search(r'<option value="([^"]+)" selected>example.org', current).group(1)
    data = {"defaultHostname": "mx.example.org", "maxConnections": "100", "defaultDomainId": domain}
    preview = client.post(NETWORK, {**data, "step": "preview"})
    fields = dict(hidden_inputs(preview.content.decode()))
    ops_state(sandbox).singletons["SystemSettings"] = {"maxConnections": 50}
    again = client.post(NETWORK, {**fields, "step": "save"})
    assert again.status_code == 200
    assert "changed on the server since the preview" in again.content.decode()
    assert ops_state(sandbox).singletons["SystemSettings"] == {"maxConnections": 50}


def test_the_servers_refusal_is_shown_next_to_its_field(signed_in, sandbox):
    client = signed_in("admin")
    current = client.get(NETWORK).content.decode()
    domain = re.search(r'<option value="([^"]+)" selected>example.org', current).group(1)
    data = {"defaultHostname": "mail.example.org", "maxConnections": "8192", "defaultDomainId": domain,
            "proxyTrustedNetworks": "not-a-network"}
    _, refused = preview_then_save(client, NETWORK, data)
    assert refused.status_code == 400
    content = refused.content.decode()
    field = content[content.index('id="id_proxyTrustedNetworks"'):]
    assert 'class="field-error"' in field[:1500] and "Invalid IP address." in field[:1500]
    assert "not-a-network" in content  # what was typed is kept
    assert "SystemSettings" not in ops_state(sandbox).singletons


def test_bad_input_keeps_what_was_typed(signed_in, sandbox):
    client = signed_in("admin")
    response = client.post(NETWORK, {"defaultHostname": "typed.example", "maxConnections": "many",
                                     "step": "preview"})
    assert response.status_code == 400
    assert 'value="typed.example"' in response.content.decode()
    assert len(posts(sandbox)) == 1  # the read only


def test_a_collection_is_listed_created_edited_and_deleted(signed_in, sandbox):
    client = signed_in("admin")
    assert "There are none yet." in client.get(LISTENERS).content.decode()
    form = client.get(LISTENERS + "create/").content.decode()
    assert 'name="protocol"' in form and 'name="bind"' in form
    data = {"name": "smtp-in", "protocol": "smtp", "bind": "0.0.0.0:25\n[::]:25", "socketNoDelay": "on"}
    preview, created = preview_then_save(client, LISTENERS + "create/", data)
    assert "smtp-in" in preview.content.decode()
    assert created.status_code == 302, created.content.decode()[:3000]
    found = listener(sandbox, "smtp-in")
    assert found is not None
    number, values = found
    assert values["bind"] == {"0.0.0.0:25": True, "[::]:25": True} and values["protocol"] == "smtp"
    sandbox.requests.clear()
    listing = client.get(LISTENERS)
    assert len(sandbox.requests) == 1
    assert "smtp-in" in listing.content.decode()
    item = created["Location"]
    page = client.get(item).content.decode()
    assert "smtp-in" in page and 'name="name"' not in page  # the name is set once (immutable)
    _, saved = preview_then_save(client, item, {"protocol": "lmtp", "bind": "127.0.0.1:24", "socketNoDelay": "on"})
    assert saved.status_code == 302
    assert ops_state(sandbox).collections["NetworkListener"][number]["protocol"] == "lmtp"
    assert client.get(item + "delete/").status_code == 200
    deleted = client.post(item + "delete/")
    assert deleted.status_code == 302
    assert listener(sandbox, "smtp-in") is None


def test_a_polymorphic_collection_asks_the_kind_first(signed_in, sandbox):
    client = signed_in("admin")
    choose = client.get("/settings/objects/SpamRule/create/").content.decode()
    assert "?type=Any" in choose and "?type=Header" in choose
    form = client.get("/settings/objects/SpamRule/create/?type=Any").content.decode()
    assert 'name="priority"' in form and 'name="condition/else"' in form  # the expression's own fields


def test_secrets_are_never_shown(signed_in, sandbox):
    client = signed_in("admin")
    url = "/settings/objects/AcmeProvider/create/"
    data = {"directory": "https://acme.example/dir", "contact": "ops@example.org", "challengeType": "Http01",
            "eabHmacKey": "hmac-secret-value", "renewBefore": "R23", "maxRetries": "3"}
    preview, created = preview_then_save(client, url, data)
    assert "hmac-secret-value" not in preview.content.decode()
    assert created.status_code == 302, created.content.decode()[:3000]
    stored = next(iter(ops_state(sandbox).collections["AcmeProvider"].values()))
    assert stored["eabHmacKey"] == "hmac-secret-value"
    page = client.get(created["Location"]).content.decode()
    assert "hmac-secret-value" not in page and "****" not in page


def test_reload_is_the_reload_settings_action(signed_in, sandbox):
    client = signed_in("admin")
    before = getattr(sandbox, "action_counter", 0)
    response = client.post("/settings/objects/reload", {"back": NETWORK})
    assert response.status_code == 302 and response["Location"] == NETWORK
    assert getattr(sandbox, "action_counter", 0) == before + 1  # one x:Action created
    assert client.post("/settings/objects/reload", {"back": "https://elsewhere.example/"})["Location"] == (
        "/settings/objects/"
    )


def test_an_unknown_object_is_not_found(signed_in, sandbox):
    assert signed_in("admin").get("/settings/objects/Nothing.Here/").status_code == 404


@pytest.mark.parametrize("url", ["/settings/objects/", NETWORK, LISTENERS, LISTENERS + "create/"])
def test_a_person_without_the_permission_is_refused_before_any_call(signed_in, sandbox, url):
    client = signed_in("user")
    assert client.get(url).status_code == 403
    assert sandbox.requests == []


def test_an_upstream_failure_gives_the_explanatory_page(signed_in, sandbox, settings, closed_port):
    client = signed_in("admin")
    settings.STALWART_URL = f"http://127.0.0.1:{closed_port}"
    response = client.get(LISTENERS)
    assert response.status_code == 502
    assert "Stalwart" in response.content.decode()


def test_an_id_column_shows_the_name_of_what_it_points_at_and_links_to_it(signed_in, sandbox):
    from sandbox.jmap import ids

    state = ops_state(sandbox)
    queue = state.new_id()
    state.collections.setdefault("MtaVirtualQueue", {})[queue] = {"name": "bulk <b>mail</b>", "threadsPerNode": 4}
    schedule = state.new_id()
    state.collections.setdefault("MtaDeliverySchedule", {})[schedule] = {
        "name": "slow lane", "queueId": ids.encode(queue), "description": None,
    }
    client = signed_in("admin")
    client.get("/settings/objects/")  # the schema is kept from here on
    sandbox.requests.clear()
    response = client.get("/settings/objects/MtaDeliverySchedule/")
    assert response.status_code == 200
    assert len(posts(sandbox)) == 1  # the list and the queues' names in one request
    content = response.content.decode()
    assert "slow lane" in content
    link = f'<a href="/settings/objects/MtaVirtualQueue/items/{ids.encode(queue)}/">'
    assert link + "<bdi>bulk &lt;b&gt;mail&lt;/b&gt;</bdi></a>" in content


def _as_posted(form) -> dict:
    """What the form posts untouched (its initial values)."""
    data: dict = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, "")
        if isinstance(value, bool):
            if value:
                data[name] = "on"
        elif isinstance(value, list):
            data[name] = value
        elif value is not None:
            data[name] = str(value)
    return data


def test_an_optional_secret_can_be_removed_after_a_preview(signed_in, sandbox):
    state = ops_state(sandbox)
    number = state.new_id()
    state.collections.setdefault("WebHook", {})[number] = {
        "url": "https://hooks.example/in", "signatureKey": {"@type": "Value", "secret": "hook-secret-value"},
    }
    from sandbox.jmap import ids

    client = signed_in("admin")
    url = f"/settings/objects/WebHook/items/{ids.encode(number)}/"
    page = client.get(url)
    content = page.content.decode()
    # an embedded secret is removed by choosing its kind that holds nothing ("No secret")
    assert '<option value="None">No secret</option>' in content and 'name="signatureKey/Value/secret"' in content
    assert 'name="httpAuth.remove"' not in content  # not a secret of its own
    data = _as_posted(page.context["form"])
    assert data["signatureKey/@type"] == "Value"
    preview, saved = preview_then_save(client, url, {**data, "signatureKey/@type": "None"})
    content = preview.content.decode()
    row = content[content.index("<code class=\"setting-key\"><bdi>signatureKey"):]
    row = row[: row.index("</tr>")]
    assert "(set)" in row and "(not set)" in row and "hook-secret-value" not in row
    assert saved.status_code == 302, saved.content.decode()[:3000]
    stored = state.collections["WebHook"][number]
    assert stored["signatureKey"] == {"@type": "None"}
    assert '<option value="None" selected>' in client.get(url).content.decode()  # nothing left to remove


def test_a_long_set_of_choices_folds_away(signed_in, sandbox):
    """A webhook's events are hundreds of checkboxes: they sit in a closed <details> that says
    how many are chosen, so the form stays a page long (a short set is shown as it is)."""
    client = signed_in("admin")
    page = client.get("/settings/objects/WebHook/create/").content.decode()
    folded = re.search(r'<details class="choice-many">\s*<summary>(\d+) chosen of (\d+)</summary>', page)
    assert folded is not None, page[:2000]
    assert folded.group(1) == "0" and int(folded.group(2)) > 100
    assert page.count('type="checkbox" name="events"') == int(folded.group(2))
