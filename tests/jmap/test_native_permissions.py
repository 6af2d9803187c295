"""Stalwart 0.16's own permission names at sign-in: the schema settings gated per object.

A role made through the 0.16 sandbox grants the right to read one settings object (the
network listeners, a collection) and nothing else of the settings: the menu and the schema
index offer that object alone, its pages work, and every other object, and every change, is
refused before any upstream call.
"""

from __future__ import annotations

import asyncio

import pytest
from django.urls import reverse

from portal.permissions import PortalUser
from portal.stalwart.jmap import permissions as native_names
from portal.stalwart.jmap.client import JmapClient
from tests.conftest import Persona, persona, sign_in

READER = Persona("reader", "jane.doe@example.org", "User-Sandbox-1")
LISTENERS = "NetworkListener"
SECURITY = "Security"


def _admin() -> JmapClient:
    return JmapClient(basic=(persona("admin").name, persona("admin").password))


def give_role(sandbox, address: str, *names: str) -> str:
    """A new x:Role enabling `names` (and sign-in), held by `address` alone: its id."""
    admin = _admin()
    enabled = {name: True for name in ("authenticate", *names)}
    created = asyncio.run(
        admin.set("Role", create={"r": {"description": "Settings reader", "enabledPermissions": enabled}})
    )
    role = created["created"]["r"]["id"]
    found = asyncio.run(admin.one("x:Account/query", {"filter": {"name": address.split("@")[0]}}))
    asyncio.run(admin.set("Account", update={found["ids"][0]: {"roles": {"@type": "Custom", "roleIds": {role: True}}}}))
    return role


@pytest.fixture
def reader(client, sandbox):
    """The test client signed in as an account whose one role reads the network listeners."""
    give_role(sandbox, READER.name, f"sys{LISTENERS}Get", f"sys{LISTENERS}Query")
    response = sign_in(client, READER)
    assert response.status_code == 302, response.content[:500]
    sandbox.requests.clear()
    return client


def identity(client) -> dict:
    return client.session["portal.identity"]


def page(slug: str) -> str:
    return reverse("config:schema-page", kwargs={"slug": slug})


def test_sign_in_keeps_the_server_names_held(reader):
    data = identity(reader)
    assert data["generation"] == "jmap"
    assert "sysNetworkListenerGet" in data["native"] and "sysNetworkListenerQuery" in data["native"]
    assert "sysSecurityGet" not in data["native"]
    assert data["native_all"] is False and data["reads_settings"] is True
    assert "settings-list" not in data["permissions"]  # the <= 0.15 rule stays an administrator's


def test_an_administrator_is_one_flag_not_660_names(signed_in, sandbox):
    client = signed_in("admin")
    data = identity(client)
    assert data["native_all"] is True and data["native"] == [] and data["reads_settings"] is True


def test_a_plain_user_reads_no_settings(signed_in, sandbox):
    client = signed_in("user")
    data = identity(client)
    assert data["reads_settings"] is False and data["native"]  # its own objects, not settings
    assert all(not name.startswith("sysNetwork") for name in data["native"])
    sandbox.requests.clear()
    assert client.get(reverse("config:schema-index")).status_code == 403
    assert client.get(page(LISTENERS)).status_code == 403
    assert sandbox.requests == []
    home = client.get(reverse("account:overview")).content.decode()
    assert f'href="{reverse("config:schema-index")}"' not in home


def test_the_menu_and_the_index_offer_only_the_readable_object(reader, sandbox):
    index = reader.get(reverse("config:schema-index"))
    assert index.status_code == 200, index.content[-2000:]
    content = index.content.decode()
    assert f'href="{page(LISTENERS)}"' in content
    assert f'href="{page(SECURITY)}"' not in content and "SystemSettings" not in content
    assert "Reload settings" not in content
    assert f'href="{reverse("config:schema-index")}"' in content  # the menu's Settings entry


def test_the_readable_collection_lists_and_opens_but_offers_no_change(reader, sandbox):
    listing = reader.get(page(LISTENERS))
    assert listing.status_code == 200, listing.content[-2000:]
    content = listing.content.decode()
    assert reverse("config:schema-create", kwargs={"slug": LISTENERS}) not in content
    admin = _admin()
    listener = {"name": "smtp-in", "protocol": "smtp", "bind": {"0.0.0.0:25": True}}
    made = asyncio.run(admin.set("NetworkListener", create={"l": listener}))["created"]["l"]["id"]
    assert "smtp-in" in reader.get(page(LISTENERS)).content.decode()
    item = reader.get(reverse("config:schema-item", kwargs={"slug": LISTENERS, "object_id": made}))
    assert item.status_code == 200, item.content[-2000:]
    text = item.content.decode()
    assert "smtp-in" in text
    assert reverse("config:schema-delete", kwargs={"slug": LISTENERS, "object_id": made}) not in text
    assert 'value="preview"' not in text and 'name="protocol"' not in text  # shown, not editable


@pytest.mark.parametrize(
    ("method", "name", "kwargs", "missing"),
    [
        ("get", "config:schema-page", {"slug": SECURITY}, "sysSecurityGet"),
        ("get", "config:schema-page", {"slug": "SystemSettings.NetworkSettings"}, "sysSystemSettingsGet"),
        ("post", "config:schema-page", {"slug": LISTENERS}, "sysNetworkListenerUpdate"),
        ("get", "config:schema-create", {"slug": LISTENERS}, "sysNetworkListenerCreate"),
        ("post", "config:schema-item", {"slug": LISTENERS, "object_id": "a"}, "sysNetworkListenerUpdate"),
        ("get", "config:schema-delete", {"slug": LISTENERS, "object_id": "a"}, "sysNetworkListenerDestroy"),
        ("post", "config:schema-reload", {}, "settings-reload"),
    ],
)
def test_other_objects_and_changes_are_refused_before_any_call(reader, sandbox, method, name, kwargs, missing):
    response = getattr(reader, method)(reverse(name, kwargs=kwargs))
    assert response.status_code == 403
    assert f"<code>{missing}</code>" in response.content.decode()
    assert sandbox.requests == []


def test_a_role_that_may_change_the_object_gets_the_form(client, sandbox):
    give_role(sandbox, READER.name, f"sys{SECURITY}Get", f"sys{SECURITY}Update")
    assert sign_in(client, READER).status_code == 302
    form = client.get(page(SECURITY))
    assert form.status_code == 200, form.content[-2000:]
    assert 'value="preview"' in form.content.decode()
    sandbox.requests.clear()
    assert client.get(page(LISTENERS)).status_code == 403 and sandbox.requests == []


def test_the_gate_is_each_generations_own():
    """On <= 0.15 the schema pages keep the kebab-case rules (and say they are not available)."""
    from portal.settings_pages.schema_views import READ

    rest_admin = PortalUser("admin", frozenset({"settings-list"}), "0.15.5", True)
    assert READ(slug=LISTENERS).allows(rest_admin)
    reader_016 = PortalUser(
        "r",
        frozenset(),
        "0.16",
        True,
        generation="jmap",
        native_permissions=frozenset({"sysNetworkListenerGet"}),
        reads_settings=True,
    )
    assert READ(slug=LISTENERS).allows(reader_016) and not READ(slug=SECURITY).allows(reader_016)
    assert READ(slug=SECURITY).missing(reader_016) == ("sysSecurityGet",)
    assert not READ(slug=LISTENERS).allows(
        PortalUser("r", frozenset({"settings-list"}), "0.16", True, generation="jmap")
    )


def test_native_names_are_bounded_by_the_enum():
    held, everything = native_names.native(["sysLogGet", "madeUp", "authenticate"], ["authenticate", "sysLogGet", "x"])
    assert held == frozenset({"sysLogGet", "authenticate"}) and everything is False
    assert native_names.native(["a", "b"], ["a", "b"]) == (frozenset(), True)
    assert native_names.native(["a"], []) == (frozenset(), False)


# --- readable event names ------------------------------------------------------------------
def test_log_lines_show_the_schemas_label_with_the_name(signed_in, sandbox):
    from sandbox.observability import Event, state

    state(sandbox).emit([Event("auth.failed", sandbox.now() + 5, {"accountName": "x"})], store_span=False)
    client = signed_in("admin")
    html = client.get("/observability/logs/?q=auth.failed").content.decode()
    assert '<span class="cell-title"><bdi>Authentication failed</bdi></span>' in html
    assert ">auth.failed<" in html  # the name stays beside it
    assert sum(1 for r in sandbox.requests if r.path == "/jmap/") == 1  # the labels cost no JMAP call


def test_the_span_timeline_shows_labels_and_explanations(signed_in, sandbox):
    from sandbox.observability import state

    client = signed_in("admin")
    span_id = next(
        sid for sid, s in sorted(state(sandbox).spans.items()) if s.events[0].type == "smtp.connection-start"
    )
    html = client.get(f"/observability/history/span/{span_id}/").content.decode()
    assert ">SMTP connection started<" in html and "smtp.connection-start" in html
    assert "A new SMTP connection was started" in html


def test_labels_reach_nested_events_and_unknown_names_stay_bare():
    from portal.stalwart.jmap.observe import labelled
    from portal.stalwart.observability_types import TraceEvent

    texts = {"a.b": ("A B", "What A B is"), "c.d": ("C D", "")}
    inner = TraceEvent("c.d", "", "", None, ())
    outer = TraceEvent("a.b", "", "", None, (("causedBy", inner), ("list", (inner, "x")), ("n", 1)))
    shown = labelled(outer, texts)
    assert (shown.text, shown.details) == ("A B", "What A B is")
    assert shown.data[0][1].text == "C D" and shown.data[1][1][0].text == "C D" and shown.data[2] == ("n", 1)
    bare = labelled(TraceEvent("e.f", "", "", None, ()), texts)
    assert (bare.text, bare.details) == ("", "")
