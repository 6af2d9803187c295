"""Settings on Stalwart 0.16: lists of objects (an expression's rules, a store's read replicas) and
maps (HTTP headers) get rows of their own fields instead of JSON (`schema_forms.Many`)."""

from __future__ import annotations

from sandbox.jmap import ids
from sandbox.jmap.ops import ops_state

from .test_settings import _as_posted, preview_then_save

RULES = {"0": {"if": "cpu > 90", "then": "'cpu'"}, "1": {"if": "disk > 80", "then": "'disk'"},
         "2": {"if": "mem > 95", "then": "'mem'"}}




def _alert(sandbox, rules: dict) -> tuple[int, str]:
    state = ops_state(sandbox)
    number = state.new_id()
    state.collections.setdefault("Alert", {})[number] = {
        "enable": True, "emailAlert": {"@type": "Disabled"}, "eventAlert": {"@type": "Disabled"},
        "condition": {"else": "false", "match": dict(rules)},
    }
    return number, f"/settings/objects/Alert/items/{ids.encode(number)}/"


def _webhook(sandbox, headers: dict) -> tuple[int, str]:
    state = ops_state(sandbox)
    number = state.new_id()
    state.collections.setdefault("WebHook", {})[number] = {"url": "https://hooks.example/in", "httpHeaders": headers}
    return number, f"/settings/objects/WebHook/items/{ids.encode(number)}/"


def _posted(page) -> dict:
    """What a browser posts untouched: every field, and the rows each list showed."""
    content = page.content.decode()
    form = page.context["form"]
    if form.is_bound:  # the page "Add another" showed again: what was posted
        data = {k: form.data.getlist(k) for k in form.data if k not in ("csrfmiddlewaretoken", "add", "step")}
    else:
        data = _as_posted(form)
    for name, kind in form.kinds.items():
        if kind == "rows":
            data[name] = str(_rows(content, name))
    return data


def _rows(content: str, rows_name: str) -> int:
    marker = f'name="{rows_name}" value="'
    start = content.index(marker) + len(marker)
    return int(content[start : content.index('"', start)])


def test_an_expressions_rules_are_fieldsets_with_a_blank_one_and_add_another(signed_in, sandbox):
    _, url = _alert(sandbox, RULES)
    client = signed_in("admin")
    page = client.get(url)
    content = page.content.decode()
    # one fieldset per rule, each with its own fields and a Remove box, then one blank rule
    for index in range(4):
        assert f'name="condition/match/{index}/if"' in content
        assert f'name="condition/match/{index}.remove"' in content
    assert 'name="condition/match/4/if"' not in content
    assert 'value="disk &gt; 80"' in content
    assert 'name="condition/match.rows" value="4"' in content
    assert '<button type="submit" name="add" value="condition/match"' in content
    assert "<script>" not in content and " style=" not in content
    assert "JSON, as the server stores it." not in content[content.index("condition/match"):][:4000]


def test_add_another_keeps_what_was_typed_and_saves_nothing(signed_in, sandbox, sent):
    number, url = _alert(sandbox, RULES)
    client = signed_in("admin")
    page = client.get(url)
    data = {**_posted(page), "condition/match/1/then": "'disk-typed'", "condition/match/3/if": "load > 4",
            "condition/match/3/then": "'load'", "add": "condition/match"}
    again = client.post(url, data)
    assert again.status_code == 200
    content = again.content.decode()
    assert 'value="&#x27;disk-typed&#x27;"' in content and 'value="load &gt; 4"' in content
    assert 'name="condition/match/4/if"' in content and 'name="condition/match.rows" value="5"' in content
    assert "Check the changes" not in content and 'class="field-error"' not in content
    assert sent == []
    assert ops_state(sandbox).collections["Alert"][number]["condition"]["match"] == RULES


def test_rules_are_added_removed_and_edited_and_the_list_is_sent_whole(signed_in, sandbox, sent):
    number, url = _alert(sandbox, RULES)
    client = signed_in("admin")
    page = client.get(url)
    data = {**_posted(page), "condition/match/0.remove": "on", "condition/match/2/then": "'memory'",
            "condition/match/3/if": "load > 4", "condition/match/3/then": "'load'"}
    preview, saved = preview_then_save(client, url, data)
    shown = preview.content.decode()
    assert "3 items" in shown and "cpu &gt; 90" in shown  # the count, and the removed rule
    assert "load &gt; 4" in shown and "&#x27;memory&#x27;" in shown
    assert saved.status_code == 302, saved.content.decode()[:3000]
    assert sent[-1] == {"condition/match": {
        "0": {"if": "disk > 80", "then": "'disk'"}, "1": {"if": "mem > 95", "then": "'memory'"},
        "2": {"if": "load > 4", "then": "'load'"},
    }}
    match = ops_state(sandbox).collections["Alert"][number]["condition"]["match"]
    assert [match[k] for k in sorted(match, key=int)] == [
        {"if": "disk > 80", "then": "'disk'"}, {"if": "mem > 95", "then": "'memory'"},
        {"if": "load > 4", "then": "'load'"},
    ]


def test_rules_are_moved_by_their_positions_and_the_list_is_sent_whole(signed_in, sandbox, sent):
    """An expression's rules apply in order: each has a position, and giving the last one the
    first place moves it there (the preview says so; the list is sent whole). A position that
    is not a number is an error next to it, and what was typed stays."""
    number, url = _alert(sandbox, RULES)
    client = signed_in("admin")
    page = client.get(url)
    content = page.content.decode()
    assert 'name="condition/match/2.position" value="3"' in content
    assert "change their positions to move them" in content
    refused = client.post(url, {**_posted(page), "condition/match/2.position": "first", "step": "preview"})
    assert refused.status_code == 400
    shown = refused.content.decode()
    assert 'id="id_condition/match/2.position_error"><bdi>Enter a whole number.</bdi>' in shown
    assert 'name="condition/match/2.position" value="first"' in shown and sent == []
    data = {**_posted(page), "condition/match/2.position": "1", "condition/match/1/then": "'disk-moved'"}
    preview, saved = preview_then_save(client, url, data)
    lines = preview.content.decode()
    assert "Conditions › Order" in lines and "1, 2, 3" in lines and "3, 1, 2" in lines
    assert saved.status_code == 302, saved.content.decode()[:3000]
    assert sent[-1] == {"condition/match": {
        "0": {"if": "mem > 95", "then": "'mem'"}, "1": {"if": "cpu > 90", "then": "'cpu'"},
        "2": {"if": "disk > 80", "then": "'disk-moved'"},
    }}
    match = ops_state(sandbox).collections["Alert"][number]["condition"]["match"]
    assert [match[k]["if"] for k in sorted(match, key=int)] == ["mem > 95", "cpu > 90", "disk > 80"]
    # Moved down to a taken place, an item goes after the one there.
    page = client.get(url)
    _preview, saved = preview_then_save(client, url, {**_posted(page), "condition/match/0.position": "3"})
    assert saved.status_code == 302, saved.content.decode()[:3000]
    match = ops_state(sandbox).collections["Alert"][number]["condition"]["match"]
    assert [match[k]["if"] for k in sorted(match, key=int)] == ["cpu > 90", "disk > 80", "mem > 95"]


def test_an_edit_in_place_is_patched_by_pointer(signed_in, sandbox, sent):
    number, url = _alert(sandbox, RULES)
    client = signed_in("admin")
    page = client.get(url)
    preview, saved = preview_then_save(client, url, {**_posted(page), "condition/match/1/if": "disk > 85"})
    assert "disk &gt; 85" in preview.content.decode()
    assert saved.status_code == 302, saved.content.decode()[:3000]
    assert sent[-1] == {"condition/match/1/if": "disk > 85"}
    assert ops_state(sandbox).collections["Alert"][number]["condition"]["match"]["1"]["if"] == "disk > 85"


def test_an_untouched_form_changes_nothing(signed_in, sandbox, sent):
    _, url = _alert(sandbox, RULES)
    client = signed_in("admin")
    page = client.get(url)
    response = client.post(url, {**_posted(page), "step": "preview"})
    assert response.status_code == 200
    assert "Nothing changed" in response.content.decode()
    assert sent == []


def _dns_with_three_servers(client) -> tuple[str, dict]:
    """The custom DNS resolver's form with three servers typed, each added with "Add another"."""
    url = "/settings/objects/DnsResolver/"
    page = client.get(url + "?type=Custom")  # its custom DNS servers: a list the server checks item by item
    assert page.status_code == 200, page.content.decode()[:2000]
    typed = {"servers/0/address": "192.0.2.1", "servers/1/address": "192.0.2.2", "servers/2/address": "192.0.2.3"}
    for _ in range(2):
        page = client.post(url, {**_posted(page), **typed, "type": "Custom", "add": "servers"})
        assert page.status_code == 200
    content = page.content.decode()
    assert 'name="servers/2/address"' in content and 'name="servers/3/address"' not in content
    return url, {**_posted(page), **typed, "type": "Custom"}


def test_the_servers_refusal_of_item_3_is_shown_next_to_it_and_every_item_kept(signed_in, sandbox):
    client = signed_in("admin")
    url, data = _dns_with_three_servers(client)
    _, refused = preview_then_save(client, url, {**data, "servers/2/address": "not an address"})
    assert refused.status_code == 400, refused.content.decode()[:2000]
    content = refused.content.decode()
    field = content[content.index('id="id_servers/2/address"'):]
    assert 'class="field-error"' in field[:1500] and "Invalid IP address." in field[:1500]
    assert 'value="192.0.2.1"' in content and 'value="192.0.2.2"' in content and 'value="not an address"' in content
    assert "DnsResolver" not in ops_state(sandbox).singletons
    _, saved = preview_then_save(client, url, data)
    assert saved.status_code == 302, saved.content.decode()[:2000]
    servers = ops_state(sandbox).singletons["DnsResolver"]["servers"]
    assert [servers[k]["address"] for k in sorted(servers, key=int)] == ["192.0.2.1", "192.0.2.2", "192.0.2.3"]


def test_a_bad_value_in_one_item_keeps_every_item_as_typed(signed_in, sandbox):
    client = signed_in("admin")
    url, data = _dns_with_three_servers(client)
    response = client.post(url, {**data, "servers/1/port": "99999", "step": "preview"})
    assert response.status_code == 400
    content = response.content.decode()
    port = content[content.index('name="servers/1/port"'):]
    assert 'class="field-error"' in port[:1000]
    assert 'value="99999"' in content
    assert all(f'value="192.0.2.{n}"' in content for n in (1, 2, 3))
    assert "DnsResolver" not in ops_state(sandbox).singletons


def test_a_refusal_of_an_item_edited_in_place_is_shown_next_to_it(signed_in, sandbox, sent):
    number, url = _alert(sandbox, RULES)
    client = signed_in("admin")
    page = client.get(url)
    _, refused = preview_then_save(client, url, {**_posted(page), "condition/match/1/if": ""})
    assert refused.status_code == 400, refused.content.decode()[:2000]
    assert sent[-1] == {"condition/match/1/if": None}
    content = refused.content.decode()
    field = content[content.index('id="id_condition/match/1/if"'):]
    assert 'class="field-error"' in field[:1500]
    assert 'value="mem &gt; 95"' in content
    assert ops_state(sandbox).collections["Alert"][number]["condition"]["match"] == RULES


def test_headers_are_rows_of_a_name_and_a_value(signed_in, sandbox, sent):
    number, url = _webhook(sandbox, {"X-One": "1", "X-Two": "2"})
    client = signed_in("admin")
    page = client.get(url)
    content = page.content.decode()
    assert 'name="httpHeaders/0.key"' in content and 'name="httpHeaders/0.value"' in content
    assert 'name="httpHeaders/2.key"' in content and 'name="httpHeaders/3.key"' not in content
    assert 'value="X-Two"' in content
    rows = [n for n in page.context["form"].kinds if n.startswith("httpHeaders/") and n.endswith(".key")]
    first = next(n for n in rows if page.context["form"].initial[n] == "X-One").removesuffix(".key")
    second = next(n for n in rows if page.context["form"].initial[n] == "X-Two").removesuffix(".key")
    data = {**_posted(page), f"{first}.remove": "on", f"{second}.value": "two",
            "httpHeaders/2.key": "X-Three", "httpHeaders/2.value": "3"}
    preview, saved = preview_then_save(client, url, data)
    shown = preview.content.decode()
    assert "2 entries" in shown and "X-Three" in shown
    assert saved.status_code == 302, saved.content.decode()[:3000]
    assert sent[-1]["httpHeaders"] == {"X-Two": "two", "X-Three": "3"}
    assert ops_state(sandbox).collections["WebHook"][number]["httpHeaders"] == {"X-Two": "two", "X-Three": "3"}


def test_a_header_needs_a_name_and_names_are_unique(signed_in, sandbox, sent):
    _, url = _webhook(sandbox, {"X-One": "1"})
    client = signed_in("admin")
    page = client.get(url)
    data = {**_posted(page), "httpHeaders/1.key": "X-One", "httpHeaders/1.value": "again", "step": "preview"}
    response = client.post(url, data)
    assert response.status_code == 400
    assert "This name is already used above." in response.content.decode()
    data = {**_posted(page), "httpHeaders/1.value": "nameless", "step": "preview"}
    response = client.post(url, data)
    assert response.status_code == 400 and "Give this entry a name." in response.content.decode()
    assert sent == []


def test_add_another_header_on_a_new_webhook(signed_in, sandbox):
    client = signed_in("admin")
    page = client.get("/settings/objects/WebHook/create/")
    content = page.content.decode()
    assert 'name="httpHeaders/0.key"' in content and 'name="httpHeaders.rows" value="1"' in content
    data = {**_posted(page), "url": "https://hooks.example/new", "events": ["auth.success"], "httpHeaders/0.key": "X-A",
            "httpHeaders/0.value": "a", "add": "httpHeaders"}
    again = client.post("/settings/objects/WebHook/create/", data)
    assert again.status_code == 200
    content = again.content.decode()
    assert 'value="X-A"' in content and 'name="httpHeaders/1.key"' in content
    data = {**data, "httpHeaders.rows": "2", "httpHeaders/1.key": "X-B", "httpHeaders/1.value": "b"}
    data.pop("add")
    _, created = preview_then_save(client, "/settings/objects/WebHook/create/", data)
    assert created.status_code == 302, created.content.decode()[:3000]
    stored = [v for v in ops_state(sandbox).collections["WebHook"].values() if v["url"].endswith("/new")]
    assert stored[0]["httpHeaders"] == {"X-A": "a", "X-B": "b"}


REPLICA = {"host": "replica-1.example", "port": 5432, "database": "stalwart", "authUsername": "reader",
           "authSecret": {"@type": "Value", "secret": "replica-Secret-1"}}


def _store(sandbox) -> str:
    ops_state(sandbox).singletons["DataStore"] = {
        "@type": "PostgreSql", "host": "db.example", "readReplicas": {"0": dict(REPLICA)},
    }
    return "/settings/objects/DataStore/"


def test_a_replicas_secret_is_kept_when_it_is_edited_in_place(signed_in, sandbox, sent):
    url = _store(sandbox)
    client = signed_in("admin")
    page = client.get(url)
    content = page.content.decode()
    assert 'name="readReplicas/0/host"' in content and "replica-Secret-1" not in content
    assert "the secrets of the items kept must then be typed again" in content
    preview, saved = preview_then_save(client, url, {**_posted(page), "readReplicas/0/host": "replica-2.example"})
    assert "replica-Secret-1" not in preview.content.decode()
    assert saved.status_code == 302, saved.content.decode()[:3000]
    assert {k: v for k, v in sent[-1].items() if k.startswith("readReplicas")} == {
        "readReplicas/0/host": "replica-2.example"
    }
    stored = ops_state(sandbox).singletons["DataStore"]["readReplicas"]["0"]
    assert stored["authSecret"] == REPLICA["authSecret"] and stored["host"] == "replica-2.example"


def test_adding_a_replica_asks_for_the_kept_replicas_secret_again(signed_in, sandbox, sent):
    url = _store(sandbox)
    client = signed_in("admin")
    page = client.get(url)
    new = {"readReplicas/1/host": "replica-3.example", "readReplicas/1/authSecret/@type": "Value",
           "readReplicas/1/authSecret/Value/secret": "replica-Secret-3"}
    response = client.post(url, {**_posted(page), **new, "step": "preview"})
    assert response.status_code == 400
    content = response.content.decode()
    box = content[content.index('name="readReplicas/0/authSecret/Value/secret"'):]
    assert "Type this secret again: the list is saved whole." in box[:1500]
    assert 'value="replica-3.example"' in content and "replica-Secret-3" not in content
    preview, saved = preview_then_save(
        client, url, {**_posted(page), **new, "readReplicas/0/authSecret/Value/secret": "replica-Secret-1b"}
    )
    shown = preview.content.decode()
    assert "1 item" in shown and "2 items" in shown and "replica-Secret" not in shown
    assert saved.status_code == 302, saved.content.decode()[:3000]
    replicas = ops_state(sandbox).singletons["DataStore"]["readReplicas"]
    assert [replicas[k]["host"] for k in sorted(replicas, key=int)] == ["replica-1.example", "replica-3.example"]
    assert replicas["0"]["authSecret"]["secret"] == "replica-Secret-1b"
    assert replicas["1"]["authSecret"]["secret"] == "replica-Secret-3"
