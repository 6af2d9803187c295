"""A domain's DNS records and DKIM keys on Stalwart 0.16 (x:Domain.dnsZoneFile, x:DkimSignature)."""

from __future__ import annotations

import inspect

import pytest
from django.urls import reverse

from portal.stalwart import backend
from portal.stalwart.dns import DnsApi
from portal.stalwart.jmap.domains import JmapDns, parse_zone
from sandbox.jmap.directory import signatures
from tests.conftest import persona


def url(name: str = "example.org") -> str:
    return reverse("directory:domain-dns", kwargs={"name": name})


def keys_of(sandbox, domain: str) -> list[str]:
    return [sid for sid, name in signatures(sandbox) if name == domain]


@pytest.mark.parametrize("area", [DnsApi, JmapDns])
def test_dns_areas_share_one_protocol(area):
    for name, value in vars(backend.DnsArea).items():
        if inspect.isfunction(value) and not name.startswith("_"):
            assert list(inspect.signature(value).parameters) == list(inspect.signature(getattr(area, name)).parameters)
            assert inspect.iscoroutinefunction(getattr(area, name))


def test_the_zone_file_is_split_into_records():
    zone = (
        'v1._domainkey.example.org. IN TXT "v=DKIM1; k=rsa; " "p=ABC"\n'
        "example.org. IN MX 10 mail.example.org.\n"
        "garbage line\n"
        '_dmarc.example.org. IN TXT "v=DMARC1; p=reject; rua=mailto:\\"x\\"@example.org"\n'
    )
    records = parse_zone(zone)
    assert [(r.type, r.name) for r in records] == [
        ("TXT", "v1._domainkey.example.org."),
        ("MX", "example.org."),
        ("TXT", "_dmarc.example.org."),
    ]
    assert records[0].content == "v=DKIM1; k=rsa; p=ABC" and records[0].dkim.public_key == "ABC"
    assert records[1].content == "10 mail.example.org."
    assert records[2].content == 'v=DMARC1; p=reject; rua=mailto:"x"@example.org'


def test_the_page_shows_the_records_and_keys_the_server_has(signed_in, sandbox):
    client = signed_in("admin")
    response = client.get(url())
    assert response.status_code == 200, response.content[-2000:]
    content = response.content.decode()
    assert "v=spf1 mx -all" in content and "_dmarc" in content
    assert keys_of(sandbox, "example.org")  # the seeded keys
    assert "._domainkey" in content and "Signs mail" in content
    assert "Generate missing keys" in content  # automatic DKIM management, the default
    assert "****" not in content and "PRIVATE KEY" not in content


def test_generating_keys_runs_the_dkim_task(signed_in, sandbox):
    client = signed_in("admin")
    created = client.post(reverse("directory:create", kwargs={"kind": "domains"}), {"name": "fresh.test"})
    assert created.status_code == 302, created.content[-2000:]
    assert keys_of(sandbox, "fresh.test") == []  # the task has not run yet
    page = client.get(url("fresh.test"))
    assert page.status_code == 200
    # The DkimManagement task the new domain scheduled has run before that request's methods.
    made = keys_of(sandbox, "fresh.test")
    assert len(made) == 2
    content = page.content.decode()
    assert "._domainkey.fresh.test" in content or "._domainkey" in content
    again = client.post(url("fresh.test"))
    assert again.status_code == 302
    assert len(keys_of(sandbox, "fresh.test")) == 2  # nothing missing: no new key


def test_a_manual_domain_is_switched_to_automatic(signed_in, sandbox):
    import asyncio

    from portal.stalwart.jmap.client import JmapClient

    admin = JmapClient(basic=(persona("admin").name, persona("admin").password))
    manual = {"name": "manual.test", "dkimManagement": {"@type": "Manual"}}
    created = asyncio.run(admin.set("Domain", create={"d": manual}))
    assert created["created"]["d"]["id"]
    client = signed_in("admin")
    page = client.get(url("manual.test")).content.decode()
    assert "Turn on automatic DKIM" in page and "has no DKIM key" in page
    response = client.post(url("manual.test"))
    assert response.status_code == 302
    follow = client.get(url("manual.test")).content.decode()
    assert "now manages the DKIM keys" in follow
    assert len(keys_of(sandbox, "manual.test")) == 2
    assert "Generate missing keys" in follow


def test_the_page_is_refused_before_any_call(signed_in, sandbox):
    client = signed_in("user")
    sandbox.requests.clear()
    assert client.get(url()).status_code == 403
    assert client.post(url()).status_code == 403
    assert sandbox.requests == []


def test_an_unknown_domain_is_404(signed_in, sandbox):
    client = signed_in("admin")
    assert client.get(url("nowhere.test")).status_code == 404


def test_upstream_failure_while_generating_keeps_the_page(signed_in, sandbox, settings, closed_port):
    client = signed_in("admin")
    settings.STALWART_URL = f"http://127.0.0.1:{closed_port}"
    response = client.get(url())
    assert response.status_code == 502
    assert persona("admin").password not in response.content.decode()
