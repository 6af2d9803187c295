"""Settings on Stalwart 0.16: embedded objects (a store, an HTTP authentication, a secret wrapper)
get fields of their own instead of JSON (`schema_forms.Node`)."""

from __future__ import annotations

import re

from sandbox.jmap import ids
from sandbox.jmap.ops import ops_state

from .test_settings import _as_posted, hidden_inputs, preview_then_save

LOOKUPS = "/settings/objects/StoreLookup/"
PASSWORD = "db-Password-very-secret-1"




def _webhook(sandbox, **values) -> tuple[int, str]:
    state = ops_state(sandbox)
    number = state.new_id()
    state.collections.setdefault("WebHook", {})[number] = {"url": "https://hooks.example/in", **values}
    return number, f"/settings/objects/WebHook/items/{ids.encode(number)}/"


BASIC = {"@type": "Basic", "username": "hook-user", "secret": {"@type": "Value", "secret": "hook-password-1"}}


def test_a_store_with_its_password_is_created_from_fields_without_json(signed_in, sandbox):
    client = signed_in("admin")
    page = client.get(LOOKUPS + "create/")
    content = page.content.decode()
    # the store is a fieldset: its kind, then one group of fields per kind (all rendered: no JavaScript needed)
    assert '<select name="store/@type"' in content
    assert 'name="store/PostgreSql/host"' in content and 'name="store/Redis/' in content
    assert content.count('class="nested-group g') >= 7
    # the password inside it is a secret wrapper: its own kind, and a password box
    assert '<select name="store/PostgreSql/authSecret/@type"' in content
    assert 'type="password" name="store/PostgreSql/authSecret/Value/secret"' in content
    assert "<script>" not in content and " style=" not in content
    data = {
        **_as_posted(page.context["form"]),  # what a browser without JavaScript sends: every group
        "namespace": "customers",
        "store/@type": "PostgreSql",
        "store/PostgreSql/host": "db.example.org",
        "store/PostgreSql/authSecret/@type": "Value",
        "store/PostgreSql/authSecret/Value/secret": PASSWORD,
        "store/Redis/timeout": "not a duration",  # another kind's field: never read
    }
    preview, created = preview_then_save(client, LOOKUPS + "create/", data)
    shown = preview.content.decode()
    assert PASSWORD not in shown
    assert "store/authSecret/secret" in shown and "(new secret)" in shown
    assert "store/host" in shown and "db.example.org" in shown
    assert created.status_code == 302, created.content.decode()[:3000]
    stored = next(iter(ops_state(sandbox).collections["StoreLookup"].values()))
    store = stored["store"]
    assert store["@type"] == "PostgreSql" and store["host"] == "db.example.org" and store["port"] == 5432
    assert store["authSecret"] == {"@type": "Value", "secret": PASSWORD}
    assert not any(key in store for key in ("url", "urls"))  # nothing of the other kinds
    again = client.get(created["Location"]).content.decode()
    assert PASSWORD not in again and "****" not in again
    assert "A secret is set. Leave empty to keep it" in again


def test_a_required_secret_left_empty_on_create_is_asked_for(signed_in, sandbox):
    client = signed_in("admin")
    page = client.get(LOOKUPS + "create/")
    data = {**_as_posted(page.context["form"]), "namespace": "x", "store/@type": "PostgreSql",
            "store/PostgreSql/host": "db.example.org", "store/PostgreSql/authSecret/@type": "Value",
            "step": "preview"}
    response = client.post(LOOKUPS + "create/", data)
    assert response.status_code == 400
    content = response.content.decode()
    box = content[content.index('name="store/PostgreSql/authSecret/Value/secret"'):]
    assert "Type the secret." in box[:1500]
    assert 'value="db.example.org"' in content  # what was typed is kept
    assert "StoreLookup" not in ops_state(sandbox).collections or not ops_state(sandbox).collections["StoreLookup"]


def test_an_edited_nested_field_is_patched_by_pointer_and_previewed(signed_in, sandbox, sent):
    number, url = _webhook(sandbox, httpAuth=BASIC)
    client = signed_in("admin")
    page = client.get(url)
    content = page.content.decode()
    assert '<option value="Basic" class="v0" selected>' in content
    assert 'value="hook-user"' in content and "hook-password-1" not in content and "****" not in content
    data = {**_as_posted(page.context["form"]), "httpAuth/Basic/username": "other-user"}
    assert data["httpAuth/Basic/secret/Value/secret"] == ""  # never filled
    preview, saved = preview_then_save(client, url, data)
    shown = preview.content.decode()
    row = shown[shown.index("<bdi>httpAuth/username</bdi>"):]
    row = row[: row.index("</tr>")]
    assert "hook-user" in row and "other-user" in row
    assert "Authentication › Username" in shown
    assert "hook-password-1" not in shown and "httpAuth/secret" not in shown
    assert saved.status_code == 302, saved.content.decode()[:3000]
    assert {k: v for k, v in sent[-1].items() if k.startswith("httpAuth")} == {"httpAuth/username": "other-user"}
    stored = ops_state(sandbox).collections["WebHook"][number]["httpAuth"]
    assert stored == {**BASIC, "username": "other-user"}  # the password kept


def test_a_new_nested_secret_is_sent_alone_and_shown_only_as_set(signed_in, sandbox, sent):
    number, url = _webhook(sandbox, httpAuth=BASIC)
    client = signed_in("admin")
    page = client.get(url)
    data = {**_as_posted(page.context["form"]), "httpAuth/Basic/secret/Value/secret": "hook-password-2"}
    preview, saved = preview_then_save(client, url, data)
    shown = preview.content.decode()
    assert "hook-password-2" not in shown and "hook-password-1" not in shown
    assert "(set)" in shown and "(new secret)" in shown
    assert any(name == "sealed:httpAuth/Basic/secret/Value/secret" for name, _ in hidden_inputs(shown))
    assert saved.status_code == 302, saved.content.decode()[:3000]
    assert {k: v for k, v in sent[-1].items() if k.startswith("httpAuth")} == {
        "httpAuth/secret/secret": "hook-password-2"
    }
    assert ops_state(sandbox).collections["WebHook"][number]["httpAuth"]["secret"] == {
        "@type": "Value", "secret": "hook-password-2",
    }


def test_another_kind_replaces_the_nested_object(signed_in, sandbox, sent):
    number, url = _webhook(sandbox, httpAuth=BASIC)
    client = signed_in("admin")
    page = client.get(url)
    data = {**_as_posted(page.context["form"]), "httpAuth/@type": "Bearer",
            "httpAuth/Bearer/bearerToken/@type": "Value", "httpAuth/Bearer/bearerToken/Value/secret": "tok-123456"}
    preview, saved = preview_then_save(client, url, data)
    shown = preview.content.decode()
    row = shown[shown.index("<bdi>httpAuth/@type</bdi>"):]
    row = row[: row.index("</tr>")]
    assert "Basic Authentication" in row and "Bearer Token" in row
    assert "tok-123456" not in shown
    assert saved.status_code == 302, saved.content.decode()[:3000]
    whole = {"@type": "Bearer", "bearerToken": {"@type": "Value", "secret": "tok-123456"}}
    assert sent[-1]["httpAuth"] == whole
    assert ops_state(sandbox).collections["WebHook"][number]["httpAuth"] == whole


def test_a_kind_switch_without_its_secret_is_refused_before_any_write(signed_in, sandbox, sent):
    _, url = _webhook(sandbox, httpAuth=BASIC)
    client = signed_in("admin")
    page = client.get(url)
    data = {**_as_posted(page.context["form"]), "httpAuth/@type": "Bearer", "step": "preview"}
    response = client.post(url, data)
    assert response.status_code == 400
    content = response.content.decode()
    box = content[content.index('name="httpAuth/Bearer/bearerToken/Value/secret"'):]
    assert "Type the secret." in box[:1500]
    assert '<option value="Bearer" class="v1" selected>' in content  # the kind chosen is kept
    assert sent == []


def test_the_servers_refusal_of_a_nested_value_is_shown_next_to_it(signed_in, sandbox):
    state = ops_state(sandbox)
    number = state.new_id()
    state.collections.setdefault("Alert", {})[number] = {"enable": True, "emailAlert": {"@type": "Disabled"}}
    url = f"/settings/objects/Alert/items/{ids.encode(number)}/"
    client = signed_in("admin")
    page = client.get(url)
    data = {**_as_posted(page.context["form"]), "emailAlert/@type": "Enabled",
            "emailAlert/Enabled/fromAddress": "not an address", "emailAlert/Enabled/subject": "Alert <b>x</b>",
            "emailAlert/Enabled/body": "Something happened.", "emailAlert/Enabled/to": "ops@example.org"}
    _, refused = preview_then_save(client, url, data)
    assert refused.status_code == 400, refused.content.decode()[:2000]
    content = refused.content.decode()
    field = content[content.index('id="id_emailAlert/Enabled/fromAddress"'):]
    assert 'class="field-error"' in field[:1500] and "Invalid e-mail address." in field[:1500]
    assert 'value="not an address"' in content and 'value="Alert &lt;b&gt;x&lt;/b&gt;"' in content
    assert '<option value="Enabled" class="v0" selected>' in content
    assert state.collections["Alert"][number]["emailAlert"] == {"@type": "Disabled"}


def test_a_bad_nested_value_is_refused_by_the_form_and_kept(signed_in, sandbox):
    client = signed_in("admin")
    page = client.get(LOOKUPS + "create/")
    data = {**_as_posted(page.context["form"]), "namespace": "x", "store/@type": "PostgreSql",
            "store/PostgreSql/host": "db.example.org", "store/PostgreSql/port": "99999",
            "store/PostgreSql/timeout": "soon", "step": "preview"}
    response = client.post(LOOKUPS + "create/", data)
    assert response.status_code == 400
    content = response.content.decode()
    port = content[content.index('name="store/PostgreSql/port"'):]
    assert 'class="field-error"' in port[:800]
    timeout = content[content.index('name="store/PostgreSql/timeout"'):]
    assert "Give a duration" in timeout[:800]
    assert 'value="99999"' in content and 'value="soon"' in content


def test_an_embedded_secret_is_never_in_the_page_or_the_preview_hidden_fields(signed_in, sandbox):
    _, url = _webhook(sandbox, httpAuth=BASIC, signatureKey={"@type": "Value", "secret": "sig-secret-1"})
    client = signed_in("admin")
    page = client.get(url)
    content = page.content.decode()
    assert "sig-secret-1" not in content and "hook-password-1" not in content
    preview = client.post(url, {**_as_posted(page.context["form"]), "httpAuth/Basic/username": "u2",
                                "step": "preview"})
    assert re.search(r"sig-secret-1|hook-password-1|\*\*\*\*", preview.content.decode()) is None
