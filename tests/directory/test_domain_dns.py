"""The DNS page of a domain: records, zone snippet, DKIM keys (`/directory/domains/<name>/dns`)."""

import asyncio
from urllib.parse import parse_qs

import httpx
from django.urls import reverse

from portal.directory.dkim import create_default_keys
from portal.directory.zone import relative_name, txt_chunks, zone_snippet
from portal.stalwart import StalwartClient
from portal.stalwart.types import DnsRecord
from tests.conftest import persona


def url(name):
    return reverse("directory:domain-dns", kwargs={"name": name})


def api(sandbox, method, path, **kwargs):
    from django.conf import settings

    admin = persona("admin")
    return httpx.request(method, settings.STALWART_URL + path, auth=(admin.name, admin.password), **kwargs)


def paths(sandbox):
    return [r.path for r in sandbox.requests]


# ----------------------------------------------------------------------------- the page


def test_admin_sees_records_zone_accounts_and_keys(signed_in, sandbox):
    client = signed_in("admin")
    assert url("example.org") == "/directory/domains/example.org/dns"
    response = client.get(url("example.org"))
    assert response.status_code == 200
    content = response.content.decode()
    assert "DNS records of" in content
    for expected in (
        "202504r._domainkey.example.org.",
        "v=DKIM1; k=rsa; h=sha256; p=MIIB",
        "v=spf1 mx ra=postmaster -all",
        "_dmarc.example.org.",
        "_submissions._tcp.example.org.",
        "$ORIGIN example.org.",
        "Create a DKIM key",
        "ed25519-example.org",  # the signature that publishes 202504e
        "2048-bit",
    ):
        assert expected in content, expected
    assert 'data-copy="#dns-value-1"' in content and 'data-copy="#zone-snippet"' in content

    # The calls: the domain itself, its records, one count of accounts, the two default keys.
    assert paths(sandbox)[:1] == ["/api/principal/example%2Eorg"]  # the domain is checked first
    assert sorted(paths(sandbox)) == [
        "/api/dkim/ed25519-example%2Eorg",
        "/api/dkim/rsa-example%2Eorg",
        "/api/dns/records/example%2Eorg",
        "/api/principal",
        "/api/principal/example%2Eorg",
    ]
    count_call = next(r for r in sandbox.requests if r.path == "/api/principal")
    assert parse_qs(count_call.query) == {"types": ["individual"], "filter": ["example.org"], "count": ["1"]}
    total = api(sandbox, "GET", "/api/principal?types=individual&filter=example.org&count=1").json()["data"]["total"]
    assert total > 0
    assert f'<span class="dns-stat-value">{total}</span>' in content


def test_zone_snippet_on_the_page_is_relative_and_aligned(signed_in, sandbox):
    content = signed_in("admin").get(url("example.com")).content.decode()
    assert "\nmail                IN  CNAME  mail.example.org.\n" in content
    assert "\n@                   IN  MX     10 mail.example.org.\n" in content
    assert "\n202504r._domainkey  IN  TXT    ( &quot;v=DKIM1; k=rsa; h=sha256; p=" in content
    assert "\n_submissions._tcp   IN  SRV    0 1 465 mail.example.org.\n" in content


def test_helpdesk_sees_records_without_dkim_details_or_form(signed_in, sandbox):
    client = signed_in("helpdesk")
    response = client.get(url("example.org"))
    assert response.status_code == 200
    content = response.content.decode()
    assert "202504e._domainkey.example.org." in content  # the records themselves need domain-get only
    assert "Create a DKIM key" not in content
    assert 'id="dkim-title"' not in content
    assert not any(p.startswith("/api/dkim") for p in paths(sandbox))


def test_helpdesk_may_not_create_keys(signed_in, sandbox):
    client = signed_in("helpdesk")
    response = client.post(url("example.org"), {"algorithm": "Ed25519"})
    assert response.status_code == 403
    assert sandbox.requests == []


def test_plain_user_is_refused_without_calling_stalwart(signed_in, sandbox):
    client = signed_in("user")
    assert client.get(url("example.org")).status_code == 403
    assert client.post(url("example.org"), {"algorithm": "Rsa"}).status_code == 403
    assert sandbox.requests == []


def test_signed_out_goes_to_sign_in(client, sandbox):
    response = client.get(url("example.org"))
    assert response.status_code == 302 and "/auth/sign-in" in response["Location"]
    assert sandbox.requests == []


def test_unknown_domain_is_a_friendly_404(signed_in, sandbox):
    client = signed_in("admin")
    response = client.get(url("nowhere.example"))
    assert response.status_code == 404
    content = response.content.decode()
    assert "nowhere.example was not found" in content and "Traceback" not in content
    assert paths(sandbox) == ["/api/principal/nowhere%2Eexample"]  # no records for a missing domain

    sandbox.requests.clear()
    response = client.get(url(persona("user").name))  # a principal, but not a domain
    assert response.status_code == 404
    assert "There is no domain with this name." in response.content.decode()
    assert not any(p.startswith("/api/dns") for p in paths(sandbox))


def test_hostile_domain_name_stays_one_path_element(signed_in, sandbox):
    hostile = "a/../x"
    created = api(sandbox, "POST", "/api/principal", json={"type": "domain", "name": hostile}).json()
    assert isinstance(created.get("data"), int), created  # Stalwart accepts such a name
    client = signed_in("admin")
    page = url(hostile)
    assert page == "/directory/domains/a%252F..%252Fx/dns"
    response = client.get(page)
    assert response.status_code == 200
    content = response.content.decode()
    assert "a/../x._domainkey" not in content and "_dmarc.a/../x." in content
    encoded = "a%2F%2E%2E%2Fx"
    assert sorted(paths(sandbox)) == [
        f"/api/dkim/ed25519-{encoded}",
        f"/api/dkim/rsa-{encoded}",
        f"/api/dns/records/{encoded}",
        "/api/principal",
        f"/api/principal/{encoded}",
    ]
    assert f'action="{page}"' in content  # the form posts back to the same encoded address


def test_domain_with_hostile_characters_in_links_round_trips(signed_in, sandbox):
    name = "we?ird#name&x=1"
    page = url(name)
    assert "?" not in page and "#" not in page
    response = signed_in("admin").get(page)
    assert response.status_code == 404
    assert paths(sandbox) == ["/api/principal/we%3Fird%23name%26x%3D1"]


def test_hostile_dns_content_is_escaped(signed_in, sandbox):
    sandbox.settings["server.hostname"] = '<script>alert(1)</script>"><img src=x onerror=alert(2)>{{7*7}}'
    content = signed_in("admin").get(url("example.org")).content.decode()
    assert "<script>alert(1)</script>" not in content and "<img src=x" not in content
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content
    assert "{{7*7}}" in content


def test_upstream_failure_gives_the_502_page(signed_in, settings, closed_port):
    client = signed_in("admin")
    settings.STALWART_URL = f"http://127.0.0.1:{closed_port}"
    response = client.get(url("example.org"))
    assert response.status_code == 502
    assert "Stalwart could not be reached" in response.content.decode()


def test_tenant_admin_sees_only_their_domain(signed_in, sandbox):
    client = signed_in("tenant_admin")
    response = client.get(url("acme.org"))
    assert response.status_code == 200
    assert "202506e._domainkey.acme.org." in response.content.decode()
    sandbox.requests.clear()
    assert client.get(url("example.org")).status_code == 404
    assert not any(p.startswith("/api/dns") for p in paths(sandbox))


# ----------------------------------------------------------------------------- creating keys


def test_create_key_round_trip(signed_in, sandbox):
    client = signed_in("admin")
    response = client.post(url("example.net"), {"algorithm": "Rsa", "selector": "Sel-1"})
    assert response.status_code == 302 and response["Location"] == url("example.net")
    assert sandbox.settings["signature.rsa-example.net.selector"] == "sel-1"
    assert sandbox.settings["signature.rsa-example.net.algorithm"] == "rsa-sha256"
    page = client.get(url("example.net")).content.decode()
    assert "RSA DKIM key generated with the selector sel-1" in page
    assert "sel-1._domainkey.example.net." in page
    assert "rsa-example.net" in page  # the signature id is known to dkim-signature-get holders


def test_create_key_with_the_servers_selector(signed_in, sandbox):
    client = signed_in("admin")
    response = client.post(url("example.net"), {"algorithm": "Ed25519", "selector": ""})
    assert response.status_code == 302
    selector = sandbox.settings["signature.ed25519-example.net.selector"]
    assert selector.endswith("e") and len(selector) == 7
    assert f"{selector}._domainkey.example.net." in client.get(url("example.net")).content.decode()


def test_existing_key_is_explained_and_the_private_key_never_shown(signed_in, sandbox):
    client = signed_in("admin")
    private = sandbox.settings["signature.ed25519-example.org.private-key"]
    response = client.post(url("example.org"), {"algorithm": "Ed25519", "selector": "next"})
    assert response.status_code == 422
    content = response.content.decode()
    assert "already has an Ed25519 key" in content and "ed25519-example.org" in content
    assert 'id="id_algorithm_error"' in content
    assert 'value="next"' in content  # what was typed stays
    body = private.splitlines()[1]
    assert body not in content and "PRIVATE KEY" not in content
    # nor does the audit trail keep it
    from portal.models import AuditEntry

    entries = list(AuditEntry.objects.filter(path="/api/dkim"))
    assert entries and all(e.outcome == AuditEntry.FAILURE for e in entries)
    assert not any(body in e.error or "PRIVATE KEY" in e.error or body in str(e.params) for e in entries)


def test_bad_selector_is_refused_before_stalwart(signed_in, sandbox):
    client = signed_in("admin")
    response = client.post(url("example.net"), {"algorithm": "Rsa", "selector": "-bad_selector"})
    assert response.status_code == 422
    content = response.content.decode()
    assert 'value="-bad_selector"' in content and "Use letters, digits and hyphens" in content
    assert not any(r.method == "POST" for r in sandbox.requests)
    response = client.post(url("example.net"), {"algorithm": "DSA"})
    assert response.status_code == 422


def test_htmx_form_gets_the_partial_or_a_client_redirect(signed_in, sandbox):
    client = signed_in("admin")
    response = client.post(url("example.org"), {"algorithm": "Rsa"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    content = response.content.decode()
    assert content.lstrip().startswith('<section class="card dns-section form-narrow" id="dkim-form"')
    assert "<html" not in content and "already has an RSA key" in content
    response = client.post(url("example.net"), {"algorithm": "Ed25519"}, headers={"HX-Request": "true"})
    assert response.status_code == 200 and response["HX-Redirect"] == url("example.net")


def test_default_keys_after_a_new_domain(sandbox):
    admin = persona("admin")
    user = persona("user")

    async def run(who):
        return await create_default_keys(StalwartClient(basic=(who.name, who.password)), "example.net")

    assert asyncio.run(run(admin)) == ["Ed25519 DKIM key generated.", "RSA DKIM key generated."]
    assert sandbox.settings["signature.ed25519-example.net.algorithm"] == "ed25519-sha256"
    assert sandbox.settings["signature.rsa-example.net.algorithm"] == "rsa-sha256"
    assert asyncio.run(run(admin)) == [
        "Ed25519 DKIM key: example.net already has one.",
        "RSA DKIM key: example.net already has one.",
    ]
    refused = asyncio.run(run(user))
    assert len(refused) == 2 and all("may not create DKIM keys" in line for line in refused)


# ----------------------------------------------------------------------------- the zone builder


def rec(typ, name, content):
    return DnsRecord(type=typ, name=name, content=content)


def test_relative_names():
    assert relative_name("example.org.", "example.org") == "@"
    assert relative_name("EXAMPLE.org.", "example.org") == "@"
    assert relative_name("_dmarc.example.org.", "example.org") == "_dmarc"
    assert relative_name("a.b.example.org", "example.org.") == "a.b"
    assert relative_name("mail.notexample.org.", "example.org") is None
    assert relative_name("mail.example.com.", "example.org") is None


def test_txt_chunks_respect_255_bytes_and_characters():
    assert txt_chunks("a" * 255) == [b"a" * 255]
    assert [len(c) for c in txt_chunks("a" * 600)] == [255, 255, 90]
    text = "a" * 254 + "é" + "b"  # é is two bytes: it must not be cut
    chunks = txt_chunks(text)
    assert chunks == [b"a" * 254, "é".encode() + b"b"]
    assert b"".join(chunks).decode() == text


def test_zone_snippet_format():
    long_value = "v=DKIM1; k=rsa; h=sha256; p=" + "A" * 400
    records = [
        rec("MX", "example.org.", "10 mail.example.org."),
        rec("TXT", "202504r._domainkey.example.org.", long_value),
        rec("TXT", "example.org.", "v=spf1 mx ra=postmaster -all"),
        rec("SRV", "_submissions._tcp.example.org.", "0 1 465 mail.example.org."),
        rec("TXT", "mail.other.net.", "v=spf1 a -all"),
    ]
    snippet = zone_snippet("example.org", records)
    first = long_value[:255]
    second = long_value[255:]
    assert snippet == (
        "; DNS records for example.org. suggested by Stalwart\n"
        "$ORIGIN example.org.\n"
        "@                   IN  MX   10 mail.example.org.\n"
        f'202504r._domainkey  IN  TXT  ( "{first}"\n'
        f'                               "{second}" )\n'
        '@                   IN  TXT  "v=spf1 mx ra=postmaster -all"\n'
        "_submissions._tcp   IN  SRV  0 1 465 mail.example.org.\n"
        "; 1 more record belongs to another zone; see the table.\n"
    )


def test_zone_snippet_with_three_chunks_and_hostile_content():
    records = [
        rec("TXT", "x.example.org.", "B" * 600),
        rec("TXT", "evil.example.org.", 'a"b\\c\nd;e'),
        rec("CNAME", "we ird.example.org.", "target; $INCLUDE /etc/passwd\n@ IN A 1.2.3.4"),
    ]
    lines = zone_snippet("example.org", records).splitlines()
    # names are padded to the longest ("we\\032ird", 9 characters), types to "CNAME"
    assert lines[2] == f'x          IN  TXT    ( "{"B" * 255}"'
    assert lines[3] == " " * 22 + f'  "{"B" * 255}"'
    assert lines[4] == " " * 22 + f'  "{"B" * 90}" )'
    assert lines[5] == 'evil       IN  TXT    "a\\"b\\\\c\\010d;e"'
    assert lines[6] == "we\\032ird  IN  CNAME  target\\; $INCLUDE /etc/passwd\\010@ IN A 1.2.3.4"
    assert len(lines) == 7  # nothing hostile starts a line of its own


def test_empty_zone():
    assert (
        zone_snippet("example.org", [])
        == "; DNS records for example.org. suggested by Stalwart\n$ORIGIN example.org.\n"
    )
